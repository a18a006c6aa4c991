package notify

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestSilencesLogAndSnapshot: an Add or Expire appends its silence to the
// log without rewriting the snapshot; a reload sees snapshot + log; once the
// log outgrows the snapshot (≥ 1 MiB) it is folded into a new snapshot and
// emptied; a torn last line (a crash mid-write) is dropped, a bad line before
// the end is an error naming it.
func TestSilencesLogAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "silences.json")
	c := newClock()
	open := func() *Silences {
		t.Helper()
		s, err := newSilences(c.Now, time.Hour, file)
		if err != nil {
			t.Fatal(err)
		}
		s.maxCount = 0
		return s
	}
	add := func(s *Silences, i int, comment string) string {
		t.Helper()
		id, err := s.Add(Silence{Matchers: mustMatchers(t, fmt.Sprintf(`service="s%d"`, i)), EndsAt: c.Now().Add(time.Hour), CreatedBy: "ops", Comment: comment})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	size := func(name string) int64 {
		st, err := os.Stat(name)
		if err != nil {
			return -1
		}
		return st.Size()
	}
	s := open()
	var ids []string
	for i := range 3 {
		ids = append(ids, add(s, i, "c"))
	}
	if err := s.Expire(ids[0]); err != nil {
		t.Fatal(err)
	}
	if size(file) != -1 {
		t.Errorf("snapshot written (%d bytes) before the log outgrew it", size(file))
	}
	if lines := strings.Count(readFile(t, file+".log"), "\n"); lines != 4 {
		t.Errorf("log has %d lines, want 4 (3 adds, 1 expire)", lines)
	}
	s = open()
	if got := len(s.List()); got != 3 {
		t.Errorf("reloaded %d silences, want 3", got)
	}
	if sil, _ := s.Get(ids[0]); sil.State(c.Now()) != SilenceExpired {
		t.Errorf("expired silence reloaded as %s", sil.State(c.Now()))
	}

	// Fold: ~1.1 MiB of log.
	big := strings.Repeat("x", 15<<10)
	for i := 3; i < 80; i++ {
		add(s, i, big)
	}
	if size(file) <= 0 || size(file+".log") >= logCompactBytes {
		t.Errorf("after 1.1 MiB of changes: snapshot %d bytes, log %d bytes; want a snapshot and a short log", size(file), size(file+".log"))
	}
	snap := size(file)
	last := add(s, 80, "after the snapshot")
	if size(file) != snap {
		t.Error("an Add after the snapshot rewrote it")
	}

	// A torn tail: dropped, and appending goes on after the last good line.
	f, err := os.OpenFile(file+".log", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, `{"id":"torn","matchers":[{"name":"serv`)
	f.Close()
	s = open()
	if _, ok := s.Get(last); !ok || len(s.List()) != 81 {
		t.Errorf("after a torn tail: %d silences, last present %v; want 81, true", len(s.List()), ok)
	}
	after := add(s, 81, "after the torn tail")
	s = open()
	if _, ok := s.Get(after); !ok || len(s.List()) != 82 {
		t.Errorf("appended after a torn tail: %d silences, present %v", len(s.List()), ok)
	}

	// A bad line before the end is not a torn write.
	if err := os.WriteFile(file+".log", []byte("{not json}\n"+readFile(t, file+".log")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newSilences(c.Now, time.Hour, file); err == nil || !strings.Contains(err.Error(), "silences.json.log line 1") {
		t.Errorf("a corrupt first line: %v, want an error naming line 1", err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
