package main

import (
	"runtime"
	"testing"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestHeavyProcs checks when gmc adds scheduler slots for niced heavy
// queries: one per heavy slot and per small slot a heavy query may borrow
// (all but one) with the nice on (Linux), none with it off or with
// GOMAXPROCS set by the operator.
func TestHeavyProcs(t *testing.T) {
	q := config.Default()
	q.Query.MaxConcurrency = 3
	q.Query.SmallQueryMaxConcurrency = 2
	t.Setenv("GOMAXPROCS", "")
	want := 4
	if runtime.GOOS != "linux" {
		want = 0
	}
	if got := heavyProcs(q); got != want {
		t.Errorf("nice %d, 3 heavy slots, 2 small: %d more, want %d", q.Query.HeavyQueryNice, got, want)
	}
	off := q
	off.Query.HeavyQueryNice = 0
	if got := heavyProcs(off); got != 0 {
		t.Errorf("nice off: %d more, want 0", got)
	}
	t.Setenv("GOMAXPROCS", "2")
	if got := heavyProcs(q); got != 0 {
		t.Errorf("GOMAXPROCS set: %d more, want 0", got)
	}
}
