package notify

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkSilenceAdd measures adding a silence (an 8 KiB comment) to a
// store that keeps 1000 such silences in its file, fsync included; one op is
// one Add, as one POST /api/v2/silences.
func BenchmarkSilenceAdd(b *testing.B) {
	c := newClock()
	file := filepath.Join(b.TempDir(), "silences.json")
	s, err := newSilences(c.Now, time.Hour, file)
	if err != nil {
		b.Fatal(err)
	}
	s.maxCount = 0
	comment := strings.Repeat("x", 8<<10)
	add := func(i int) {
		if _, err := s.Add(Silence{Matchers: mustMatchers(b, fmt.Sprintf(`service="s%d"`, i)),
			EndsAt: c.Now().Add(time.Hour), CreatedBy: "ops", Comment: comment}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 1000 {
		add(i)
	}
	b.ResetTimer()
	for i := range b.N {
		add(1000 + i)
	}
}
