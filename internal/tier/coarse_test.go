package tier

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// A 10-minute step over 1h ranges reads the 1m tier merged into 10-minute
// buckets where there is no 10m tier (and the plain selectors always): the
// same answers as raw data (exactly for max, min, last and the plain
// selector; sums and averages to rounding; rate within the tier's
// precision), from a tenth of the samples the engine walked. The same with
// the default tiers (the 10m tier's own buckets). Steps off the 10-minute
// grid (the query's end on it) read the 1m tier's buckets.
func TestCoarseBucketsOnTheStepGrid(t *testing.T) {
	for name, tiers := range map[string][]Level{"1m and 1h": minuteAndHour, "default": nil} {
		t.Run(name, func(t *testing.T) { coarseBucketsOnTheStepGrid(t, tiers) })
	}
}

func coarseBucketsOnTheStepGrid(t *testing.T, tiers []Level) {
	f := newUnevenFixture(t, t0.Add(unevenSpan-40*time.Minute), tiers...) // the last 40 minutes on the fly
	end := t0.Add(unevenSpan)
	start := end.Add(-5 * time.Hour)
	for _, c := range []struct {
		expr string
		rel  float64
	}{
		{"max_over_time(u[1h])", 0},
		{"min_over_time(u[1h])", 0},
		{"last_over_time(u[1h])", 0},
		{"u", 0},
		{"max(u)", 0},
		{"sum_over_time(u[1h])", 1e-12},
		{"avg_over_time(u[1h])", 1e-12},
		{"max_over_time(u[30m] offset 20m)", 0},
		{"histogram_count(lat)", 0},
	} {
		f.compare(t, c.expr, start, end, 10*time.Minute, c.rel)
	}
	f.compare(t, "max_over_time(u[1h])", start.Add(5*time.Minute), end, 10*time.Minute, 0) // off the 10m grid: 1m buckets
	samples := func(expr string, step time.Duration) int64 {
		qry, err := f.eng.NewRangeQuery(context.Background(), f.set.Queryable(5*60*1000), nil, expr, start, end, step)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		Prepare(qry, f.set.Queryable(5*60*1000))
		if res := qry.Exec(context.Background()); res.Err != nil {
			t.Fatal(res.Err)
		}
		return qry.Stats().Samples.TotalSamples
	}
	// 2 series × 31 steps × 6 ten-minute buckets per window (60 one-minute ones without).
	if n := samples("max_over_time(u[1h])", 10*time.Minute); n > 2*31*6 {
		t.Errorf("max_over_time(u[1h]) at a 10m step walked %d samples, want at most %d", n, 2*31*6)
	}
}

// absent() answers with its selector's equality matchers as labels: the
// grid marker must not be among them (the e2e differential test against
// Prometheus read {__grid__="…", job="x"} for absent(nonexistent{job="x"})).
func TestCoarseMarkerNotInAbsent(t *testing.T) {
	f := newUnevenFixture(t, t0.Add(unevenSpan-40*time.Minute))
	end := t0.Add(unevenSpan)
	start := end.Add(-5 * time.Hour)
	for _, expr := range []string{`absent(nonexistent{job="x"})`, `absent_over_time(nonexistent{job="x"}[1h])`} {
		f.compare(t, expr, start, end, 10*time.Minute, 0)
	}
}

// rate and increase on the step grid read each 10-minute K-bucket's first
// and last samples, and whole K-buckets where a window's answer reads the
// average interval (a counter starting inside it): the same answer as the
// tier's every bucket, to the bit, with counter resets (about one per 20
// minutes), a counter starting inside the windows, an offset, and the last
// 40 minutes aggregated on the fly. Merging a K-bucket into one sample was
// 7.1 % off for the counter that starts inside.
func TestCoarseRateOnTheStepGrid(t *testing.T) {
	end := t0.Add(rawSpan)
	raw, dir := openRaw(t, storage.Options{})
	f := fixtureOver(t, raw, dir, end.Add(-40*time.Minute), minuteAndHour...) // the 10m tier would answer at a 10m step
	q := f.set.Queryable(5 * 60 * 1000)
	run := func(expr string, start time.Time, step time.Duration, grid bool) (promql.Matrix, int64) {
		t.Helper()
		qry, err := f.eng.NewRangeQuery(context.Background(), q, nil, expr, start, end, step)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		if grid {
			Prepare(qry, q)
		}
		res := qry.Exec(context.Background())
		if res.Err != nil {
			t.Fatalf("%s: %v", expr, res.Err)
		}
		m, err := res.Matrix()
		if err != nil {
			t.Fatal(err)
		}
		out := make(promql.Matrix, len(m))
		for i, s := range m {
			out[i] = promql.Series{Metric: s.Metric, Floats: append([]promql.FPoint(nil), s.Floats...)}
		}
		return out, qry.Stats().Samples.TotalSamples
	}
	start := end.Add(-2 * time.Hour)
	// A counter reset about every 20 minutes; counters whose windows read
	// the average interval: one that starts inside them (from zero, the
	// engine extrapolates to its zero), one that stops inside them, one
	// that starts high inside them (a target added: no extrapolation to
	// zero), one with a 25-minute hole, one with a staleness marker.
	app := raw.AppenderV2(context.Background())
	stale := math.Float64frombits(value.StaleNaN)
	for _, c := range []struct {
		name     string
		from, to time.Duration
		v0       float64
		hole     bool
		stale    bool
	}{
		{"c_total", 0, rawSpan, 0, false, false},
		{"young_total", 2*time.Hour + 30*time.Minute, rawSpan, 0, false, false},
		{"stops_total", 0, 3*time.Hour + 17*time.Minute, 0, false, false},
		{"added_total", 2*time.Hour + 33*time.Minute, rawSpan, 1e6, false, false},
		{"holed_total", 0, rawSpan, 500, true, false},
		{"stale_total", 0, 3*time.Hour + 3*time.Minute, 0, false, true},
	} {
		l := labels.FromStrings("__name__", c.name)
		v := c.v0
		var last time.Time
		for ts := t0.Add(c.from + 15*time.Second); !ts.After(t0.Add(c.to)); ts = ts.Add(15 * time.Second) {
			if c.hole && ts.After(t0.Add(2*time.Hour+41*time.Minute)) && ts.Before(t0.Add(3*time.Hour+6*time.Minute)) {
				continue
			}
			v += 7 + float64(ts.Minute()%13)
			if c.name == "c_total" && ts.Minute()%20 == 7 && ts.Second() == 30 {
				v = 3 // a reset
			}
			if _, err := app.Append(0, l, 0, ts.UnixMilli(), v, nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			last = ts
		}
		if c.stale {
			if _, err := app.Append(0, l, 0, last.Add(15*time.Second).UnixMilli(), stale, nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	f.now = end.Add(-40 * time.Minute)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	f.now = end.Add(time.Second)
	for _, c := range []struct {
		expr    string
		step    time.Duration
		thinned bool // fewer samples walked
	}{
		{"rate(c_total[1h])", 10 * time.Minute, true},
		{"increase(c_total[90m])", 30 * time.Minute, true},
		{"sum(rate(c_total[1h]))", 10 * time.Minute, true},
		{"rate(c_total[1h] offset 10m)", 10 * time.Minute, true},
		{"increase(young_total[1h])", 10 * time.Minute, false}, // starts 2h30m in
		{"increase(young_total[1h])", 5 * time.Minute, false},
		{"increase(stops_total[1h])", 10 * time.Minute, false},
		{"rate(added_total[1h])", 10 * time.Minute, false},
		{"increase(holed_total[1h])", 10 * time.Minute, false},
		{"rate(stale_total[1h])", 10 * time.Minute, false},
		{"sum(increase({__name__=~\".+_total\"}[1h]))", 10 * time.Minute, false},
	} {
		want, wantN := run(c.expr, start, c.step, false) // no grid marker: every 1m bucket
		got, gotN := run(c.expr, start, c.step, true)
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("%s: %d series on the grid, %d without", c.expr, len(got), len(want))
		}
		for i := range want {
			if !labels.Equal(got[i].Metric, want[i].Metric) || len(got[i].Floats) != len(want[i].Floats) {
				t.Fatalf("%s: series %d: %s with %d points on the grid, %s with %d without", c.expr, i, got[i].Metric, len(got[i].Floats), want[i].Metric, len(want[i].Floats))
			}
			for j, w := range want[i].Floats {
				if g := got[i].Floats[j]; g != w {
					t.Errorf("%s %s at %s: %v on the grid, %v from every bucket", c.expr, want[i].Metric, time.UnixMilli(w.T).UTC().Format(time.TimeOnly), g.F, w.F)
					break
				}
			}
		}
		if c.thinned && gotN*3 > wantN {
			t.Errorf("%s at %s: walked %d samples on the grid, %d without: want under a third", c.expr, c.step, gotN, wantN)
		}
		t.Logf("%s at %s: %d samples walked on the grid, %d without", c.expr, c.step, gotN, wantN)
	}
}

// A range query whose end is on a tier's grid and whose start is not steps
// off that grid (the engine's hints give the query's end, not its steps):
// from 1:30 to 4:00 at a 1h step, max_over_time(g[1h]) read the 1h tier's
// buckets ending at 2:00 and 3:00 for the windows ending at 2:30 and 3:30,
// half an hour early, and the plain selector at a 1m step from 1:00:30 the
// 1m tier's last values up to 30 s old. They read a finer tier, whose grid
// the steps are on, or raw data.
func TestStepsOffTheTierGrid(t *testing.T) {
	f := newFixture(t)
	for _, tr := range f.set.Tiers() {
		f.catchUp(t, tr)
	}
	end := t0.Add(rawSpan)
	for _, c := range []struct {
		expr  string
		start time.Time
		step  time.Duration
		rel   float64
	}{
		{"max_over_time(g[1h])", t0.Add(90 * time.Minute), time.Hour, 0},
		{"min_over_time(g[2h])", t0.Add(150 * time.Minute), time.Hour, 0},
		{"sum_over_time(g[1h])", t0.Add(90 * time.Minute), time.Hour, 1e-9},
		{"avg_over_time(g[1h])", t0.Add(90 * time.Minute), time.Hour, 1e-9},
		{"g", t0.Add(time.Hour + 30*time.Second), time.Minute, 0},
	} {
		f.compare(t, c.expr, c.start, end, c.step, c.rel)
	}
}
