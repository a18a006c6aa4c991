package tier

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
)

// lateFixture is the fixture with a native histogram series over its last
// hour, lat_seconds{i="a"} every 10 s but for a hole from 3h20m to 3h30m,
// and both tiers caught up to 4h.
func lateFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	app := f.raw.AppenderV2(context.Background())
	for d := 3*time.Hour + 10*time.Second; d <= rawSpan; d += 10 * time.Second {
		if d > 3*time.Hour+20*time.Minute && d < 3*time.Hour+30*time.Minute {
			continue
		}
		if _, err := app.Append(0, latSeconds, 0, t0.Add(d).UnixMilli(), 0, nil, latHistogram(d, 0), promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	return f
}

var latSeconds = labels.FromStrings("__name__", "lat_seconds", "i", "a")

// latHistogram is lat_seconds at d into the data: a counter histogram of
// two buckets growing with d, less base (a restarted process).
func latHistogram(d, base time.Duration) *histogram.FloatHistogram {
	n := (d - base).Seconds()
	return &histogram.FloatHistogram{
		Count: 3 * n, Sum: n / 10, Schema: 0,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []float64{n, 2 * n},
	}
}

// writeLate writes, through the tiers' watch as every gmc write path does,
// samples that reach the raw data after both tiers aggregated their
// buckets (an agent replaying its queue): a spike and more samples of
// g{i="a"} between its seconds, a reset of c_total{i="a"} (a sample of 0
// between two of its seconds: raw increase and rate grow by the value
// before it, and the tier's counter aggregate moves from there to the
// watermark), the histogram's hole filled by a process that restarted
// (counts from 0: a reset), and a counter gmc never saw.
func writeLate(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	w := f.set.Watch(f.raw)
	at := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	commit := func(add func(app promstorage.AppenderV2) error) {
		t.Helper()
		app := w.AppenderV2(ctx)
		if err := add(app); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	g := labels.FromStrings("__name__", "g", "i", "a")
	commit(func(app promstorage.AppenderV2) error {
		for i := range 120 {
			v := float64(i % 7)
			if i == 10 {
				v = 1000
			}
			if _, err := app.Append(0, g, 0, at(3*time.Hour+30*time.Minute+time.Duration(i)*time.Second+500*time.Millisecond), v, nil, nil, promstorage.AOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	commit(func(app promstorage.AppenderV2) error {
		_, err := app.Append(0, labels.FromStrings("__name__", "c_total", "i", "a"), 0, at(3*time.Hour+30*time.Minute+20*time.Second+500*time.Millisecond), 0, nil, nil, promstorage.AOptions{})
		return err
	})
	commit(func(app promstorage.AppenderV2) error {
		for d := 3*time.Hour + 20*time.Minute + 5*time.Second; d < 3*time.Hour+30*time.Minute; d += 10 * time.Second {
			if _, err := app.Append(0, latSeconds, 0, at(d), 0, nil, latHistogram(d, 3*time.Hour+20*time.Minute), promstorage.AOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	commit(func(app promstorage.AppenderV2) error {
		r := labels.FromStrings("__name__", "replayed_total", "i", "x")
		for i := range 1200 {
			if _, err := app.Append(0, r, 0, at(3*time.Hour+15*time.Minute+time.Duration(i)*time.Second+500*time.Millisecond), float64(3*i), nil, nil, promstorage.AOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
}

// tierCount is the tier's count aggregate of the float series over the
// hour before 4h, and the raw data's count of their samples.
func tierCount(t *testing.T, f *fixture, tr *Tier) (tier, raw float64) {
	t.Helper()
	end := t0.Add(rawSpan)
	const sel = `{__name__=~"g|c_total|young_total|replayed_total"`
	r := f.rangeQuery(t, f.raw, `sum(count_over_time(`+sel+`}[1h]))`, end, end, time.Minute)
	c := f.rangeQuery(t, tr.db, `sum(sum_over_time(`+sel+`, __agg__="count"}[1h]))`, end, end, time.Minute)
	if len(r) != 1 || len(c) != 1 {
		t.Fatalf("tier %s: raw count %v, tier count %v", tr.Name(), r, c)
	}
	return c[0].Floats[0].F, r[0].Floats[0].F
}

// compareLate compares, over the late samples' hour, what the tiers answer
// with what the raw data does: through the 1m tier at 5-minute steps and
// through the 1h tier at 1-hour steps (where both are read, see
// TestTieredReadsMatchRaw), and each tier's own count aggregate.
func compareLate(t *testing.T, f *fixture) {
	t.Helper()
	start, end := t0.Add(3*time.Hour), t0.Add(rawSpan)
	for _, c := range []struct {
		expr string
		rel  float64
	}{
		{"max_over_time(g[30m])", 0},
		{"min_over_time(g[30m])", 0},
		{"sum_over_time(g[30m])", 1e-9},
		{"rate(c_total[1h])", 0.03},
		{"increase(c_total[1h])", 0.03},
		{"increase(replayed_total[1h])", 0.03},
	} {
		f.compare(t, c.expr, start, end, 5*time.Minute, c.rel)
	}
	// The histogram from 3h35m: a counter that begins inside a range is
	// extrapolated differently from its first raw sample than from the
	// tier's (up to 8% at 3h05m, late samples or not).
	for _, expr := range []string{"histogram_count(rate(lat_seconds[1h]))", "histogram_sum(increase(lat_seconds[1h]))"} {
		f.compare(t, expr, start.Add(35*time.Minute), end, 5*time.Minute, 0.03)
	}
	for _, c := range []struct {
		expr string
		rel  float64
	}{
		{"max_over_time(g[1h])", 0},
		{"sum_over_time(g[1h])", 1e-9},
		{"avg_over_time(g[1h])", 1e-9},
		{"rate(c_total[1h])", 0.01},
		{"increase(c_total[2h])", 0.01},
		{"histogram_count(increase(lat_seconds[1h]))", 0.01},
	} {
		f.compare(t, c.expr, start, end, time.Hour, c.rel)
	}
}

// TestLateSamplesReaggregated: samples that land in buckets both tiers
// have aggregated make the tiers late from their buckets on (kept across a
// restart); until the job re-aggregates, readers read the raw data there;
// after it, the tiers' own aggregates hold the late samples, and max, min,
// sum, avg (over one 1h bucket: over several, the tier averages the
// buckets' means, which weighs a minute of late samples as any other),
// rate and increase of a counter (reset by a late sample), a
// counter only late samples hold, and a native histogram read from the
// tiers equal the raw data's answers — also after the tiers' TSDBs
// compacted what the rewrite left (tombstones, out-of-order blocks) and
// another restart. Before the job re-aggregated the tiers disagreed with
// the raw data (gmc only counted such samples): the count aggregates show
// it. Run with the late samples written to a tier's head (the rewrite
// goes into the head, out of order), with an empty head after the
// restart, and with a late span older than the head takes (it goes into a
// block).
func TestLateSamplesReaggregated(t *testing.T) {
	for _, c := range []struct {
		name    string
		flushed bool
		window  time.Duration
	}{
		{"head", false, oooWindow},
		{"empty head", true, oooWindow},
		// A late span older than the head takes is written as a block.
		{"block", true, 30 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			saved := headRewriteWindow
			headRewriteWindow = c.window
			defer func() { headRewriteWindow = saved }()
			f := lateFixture(t)
			if c.flushed {
				for _, tr := range f.set.Tiers() {
					if err := tr.db.FlushHead(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			writeLate(t, f)
			// The earliest late sample is at 3h15m00.5s.
			want := map[string]time.Duration{"1m": 3*time.Hour + 15*time.Minute, "10m": 3*time.Hour + 10*time.Minute, "1h": 3 * time.Hour}
			for _, tr := range f.set.Tiers() {
				if got := tr.Stats().LateFrom; got != float64(t0.Add(want[tr.Name()]).Unix()) {
					t.Fatalf("tier %s late from %v, want %v", tr.Name(), time.Unix(int64(got), 0).UTC(), t0.Add(want[tr.Name()]))
				}
				if c, r := tierCount(t, f, tr); c == r {
					t.Fatalf("tier %s: its count aggregate %v already counts every raw sample", tr.Name(), c)
				}
			}
			// Readers read the raw data after the marks.
			compareLate(t, f)
			f.set.Close()
			f.open(t)
			for _, tr := range f.set.Tiers() {
				if got := tr.Stats().LateFrom; got != float64(t0.Add(want[tr.Name()]).Unix()) {
					t.Fatalf("tier %s after a restart: late from %v, want %v", tr.Name(), time.Unix(int64(got), 0).UTC(), t0.Add(want[tr.Name()]))
				}
				cleared, err := f.set.reaggregate(ctx, tr)
				if err != nil {
					t.Fatal(err)
				}
				if st := tr.Stats(); !cleared || st.LateFrom != 0 || st.Reaggregated != 1 {
					t.Fatalf("tier %s: re-aggregation cleared %v, late from %v, %d rounds", tr.Name(), cleared, st.LateFrom, st.Reaggregated)
				}
				if c, r := tierCount(t, f, tr); c != r {
					t.Errorf("tier %s: count aggregate %v, raw samples %v", tr.Name(), c, r)
				}
			}
			compareLate(t, f)
			// What the rewrite left is compacted, and read after a restart.
			for _, tr := range f.set.Tiers() {
				if err := tr.db.FlushHead(ctx); err != nil {
					t.Fatal(err)
				}
				if err := tr.db.Compact(ctx); err != nil {
					t.Fatal(err)
				}
			}
			f.set.Close()
			f.open(t)
			for _, tr := range f.set.Tiers() {
				if c, r := tierCount(t, f, tr); c != r {
					t.Errorf("tier %s after compaction and a restart: count aggregate %v, raw samples %v", tr.Name(), c, r)
				}
			}
			compareLate(t, f)
		})
	}
}

// TestMarkOnlyWhereRead: a sample in a bucket the job has not read marks
// nothing; the job aggregates it in its turn.
func TestMarkOnlyWhereRead(t *testing.T) {
	f := newFixture(t)
	f.now = t0.Add(2 * time.Hour)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	app := f.set.Watch(f.raw).AppenderV2(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "g", "i", "a"), 0, t0.Add(3*time.Hour+500*time.Millisecond).UnixMilli(), 1, nil, nil, promstorage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, tr := range f.set.Tiers() {
		if lf := tr.lateFrom.Load(); lf != math.MaxInt64 {
			t.Errorf("tier %s (watermark %s) marked late from %s", tr.Name(), fmtMS(tr.Watermark()), fmtMS(lf))
		}
	}
}
