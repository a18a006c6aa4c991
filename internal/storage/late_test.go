package storage

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// TestLateWritesChangedSince: ChangedSince(mark) is the oldest sample time
// of the commits from the mark's tick on, none when there were none, and
// unknown for another watcher's mark, a malformed one, or one older than
// ChangesKept; a rolled-back append is no change.
func TestLateWritesChangedSince(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const base = 1_800_000_000_000
	late := NewLateWrites(time.Minute, func() time.Time { return time.UnixMilli(base + 600_000) })
	w := late.Wrap(db)
	write := func(commit bool, ts ...int64) {
		t.Helper()
		app := w.AppenderV2(context.Background())
		for _, ts := range ts {
			if _, err := app.Append(0, labels.FromStrings("__name__", "x"), 0, ts, 1, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if !commit {
			if err := app.Rollback(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Past the mark's tick (a mark counts its own tick's commits in).
	tick := func() { time.Sleep(2 * changeGrain) }
	write(true, base+500_000)
	tick()
	m := late.Mark()
	if got, ok := late.ChangedSince(m); !ok || got != math.MaxInt64 {
		t.Errorf("no commit since the mark: %d %v, want none (MaxInt64) and known", got, ok)
	}
	write(false, base+100_000) // rolled back
	write(true, base+590_000, base+580_000)
	write(true, base+595_000)
	if got, ok := late.ChangedSince(m); !ok || got != base+580_000 {
		t.Errorf("after commits of samples at +590 s, +580 s and +595 s: %d %v, want %d", got, ok, int64(base+580_000))
	}
	tick()
	m2 := late.Mark()
	tick()
	write(true, base+450_000) // an out-of-order write
	if got, ok := late.ChangedSince(m2); !ok || got != base+450_000 {
		t.Errorf("after a late sample: %d %v, want %d", got, ok, int64(base+450_000))
	}
	if got, ok := late.ChangedSince(m); !ok || got != base+450_000 {
		t.Errorf("the first mark after every commit: %d %v, want %d", got, ok, int64(base+450_000))
	}
	other := NewLateWrites(time.Minute, nil)
	for _, mark := range []string{other.Mark(), "", "x", m + "9", late.boot + ".-1"} {
		if _, ok := late.ChangedSince(mark); ok {
			t.Errorf("ChangedSince(%q) known, want unknown", mark)
		}
	}
	// A mark older than ChangesKept.
	old := late.boot + ".0"
	late.began = late.began.Add(-ChangesKept - time.Second)
	if _, ok := late.ChangedSince(old); ok {
		t.Errorf("a mark %v old is known, want unknown", ChangesKept+time.Second)
	}
}
