package notify

import (
	"strings"
	"testing"
	"time"
)

// TestSilenceLimits: beyond the count of active and pending silences, or a
// silence's size, a new one is refused with Alertmanager's messages; an
// expired silence does not count, and updating one does not add one.
func TestSilenceLimits(t *testing.T) {
	c := newClock()
	s, err := newSilences(c.Now, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	s.maxCount, s.maxSize = 2, 1024
	add := func(id, comment string) (string, error) {
		return s.Add(Silence{ID: id, Matchers: mustMatchers(t, `service="a"`), EndsAt: c.Now().Add(time.Hour), CreatedBy: "ops", Comment: comment})
	}
	first, err := add("", "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := add("", "two"); err != nil {
		t.Fatal(err)
	}
	if _, err := add("", "three"); err == nil || err.Error() != "exceeded maximum number of silences: 2 (limit: 2)" {
		t.Fatalf("third silence: %v", err)
	}
	if _, err := add(first, "one, updated"); err != nil {
		t.Fatalf("updating an existing silence at the limit: %v", err)
	}
	if err := s.Expire(first); err != nil {
		t.Fatal(err)
	}
	if _, err := add("", "three"); err != nil {
		t.Fatalf("after one expired: %v", err)
	}
	s.maxCount = 0
	if _, err := add("", strings.Repeat("x", 2000)); err == nil || !strings.HasPrefix(err.Error(), "silence exceeded maximum size: ") || !strings.HasSuffix(err.Error(), "(limit: 1024 bytes)") {
		t.Fatalf("2 KB comment: %v", err)
	}
}
