package storage

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
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

// TestLateWritesWatchStore: a watched TSDB's writes that are no commits
// count as changes from the oldest time they change, and move Generation
// on (they are older than Settle): a block written into its directory,
// once the TSDB loads it (before that, it changes nothing a query reads);
// a Delete, from its start (a delete from math.MinInt64 from
// math.MinInt64/2); a block the TSDB drops past its retention, from the
// dropped block's start.
func TestLateWritesWatchStore(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, Registerer: prometheus.NewRegistry(), BlockReloadInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const base = 1_800_000_000_000
	late := NewLateWrites(time.Minute, func() time.Time { return time.UnixMilli(base + 600_000) })
	late.WatchStore(db)
	ctx := context.Background()
	app := late.Wrap(db).AppenderV2(ctx)
	for ts := int64(base + 500_000); ts <= base+590_000; ts += 10_000 {
		if _, err := app.Append(0, labels.FromStrings("__name__", "x"), 0, ts, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	tick := func() { time.Sleep(2 * changeGrain) }
	loaded := func(id ulid.ULID) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !db.BlockLoaded(id); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("block %s not loaded after 20 s", id)
			}
		}
	}
	changed := func(what string, mark string, want int64) {
		t.Helper()
		if got, ok := late.ChangedSince(mark); !ok || got != want {
			t.Errorf("%s: ChangedSince %d %v, want %d", what, got, ok, want)
		}
	}
	tick()
	m := late.Mark()
	gen := late.Generation()
	changed("nothing written since the mark", m, math.MaxInt64)

	y := writeTestBlock(t, dir, "y", base+100_000, base+200_000)
	loaded(y)
	changed("a block loaded", m, base+100_000)
	if late.Generation() == gen {
		t.Errorf("a block of samples 500 s old loaded: Generation stood at %d", gen)
	}
	tick()
	m = late.Mark()
	changed("nothing since the load's mark", m, math.MaxInt64)

	if err := db.Delete(ctx, base+150_000, base+160_000, labels.MustNewMatcher(labels.MatchEqual, "__name__", "y")); err != nil {
		t.Fatal(err)
	}
	changed("a delete", m, base+150_000)
	tick()
	m = late.Mark()
	if err := db.Delete(ctx, math.MinInt64, base+120_000, labels.MustNewMatcher(labels.MatchEqual, "__name__", "y")); err != nil {
		t.Fatal(err)
	}
	changed("a delete from math.MinInt64", m, math.MinInt64/2)

	// A block 100 h later with a retention of an hour: y goes.
	if err := db.SetRetention(time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	tick()
	m = late.Mark()
	z := writeTestBlock(t, dir, "z", base+100*3_600_000, base+100*3_600_000+10_000)
	loaded(z)
	for deadline := time.Now().Add(20 * time.Second); db.BlockLoaded(y); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("block y not dropped past the retention after 20 s")
		}
	}
	changed("a block loaded, an older one dropped", m, base+100_000)
}

// writeTestBlock writes a block of series name, a sample every 10 s from
// mint to maxt (ms), into dir, and returns its id.
func writeTestBlock(t testing.TB, dir, name string, mint, maxt int64) ulid.ULID {
	t.Helper()
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, 2*3_600_000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	app := w.AppenderV2(context.Background())
	for ts := mint; ts <= maxt; ts += 10_000 {
		if _, err := app.Append(0, labels.FromStrings("__name__", name), 0, ts, float64(ts), nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	id, err := w.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}
