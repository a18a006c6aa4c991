package tier

import (
	"context"
	"testing"
	"time"
)

// A 10-minute step over 1h ranges reads the 1m tier merged into 10-minute
// buckets: the same answers as raw data (exactly for max, min, last and
// the plain selector; sums and averages to rounding; rate within the
// tier's precision), from a tenth of the samples the engine walked.
func TestCoarseBucketsOnTheStepGrid(t *testing.T) {
	f := newUnevenFixture(t, t0.Add(unevenSpan-40*time.Minute)) // the last 40 minutes on the fly
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
