package tier

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// TestHourTierCatchesUpManySeries: the 1h tier catches up over six days of
// raw data of 300 counters (`gmc demo --history 30d` writes a month of 271
// series before the job starts). Its batches spanned 120 hours: one batch
// of 300 series is 252,000 samples, more than one commit holds, and after
// the first commit had moved the tier's head to the batch's end every
// later series' first days were older than the out-of-order window behind
// it: "too old sample", at every retry, and the 1h tier's watermark never
// moved (t-user6 #5). Every raw sample must be counted in the tier's
// count aggregate, and every bucket's increase must equal the raw data's.
func TestHourTierCatchesUpManySeries(t *testing.T) {
	raw, dir := openRaw(t, storage.Options{Retention: 30 * 24 * time.Hour})
	const series, step, span = 300, 5 * time.Minute, 6 * 24 * time.Hour
	start := t0.Add(-span)
	ctx := context.Background()
	app := raw.AppenderV2(ctx)
	n := 0
	lsets := make([]labels.Labels, series)
	refs := make([]promstorage.SeriesRef, series)
	var err error
	for i := range lsets {
		lsets[i] = labels.FromStrings("__name__", "many_total", "i", fmt.Sprint(i))
	}
	for k, ts := 0, start.Add(7*time.Second); !ts.After(t0); k, ts = k+1, ts.Add(step) {
		for i := range lsets {
			if refs[i], err = app.Append(refs[i], lsets[i], 0, ts.UnixMilli(), float64(k*(1+i%7)), nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if k%200 == 199 {
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			app = raw.AppenderV2(ctx)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(10 * time.Minute)
	cfg := Config{Tiers: []Level{{Resolution: duration.Duration(time.Hour), Retention: duration.Duration(2 * 365 * 24 * time.Hour)}}}
	set, err := Open(Options{Config: cfg, Dir: dir, Raw: raw, Now: func() time.Time { return now }, Settle: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	tr := set.Tiers()[0]
	for range 100 {
		moved, err := set.Step(ctx, tr)
		if err != nil {
			t.Fatalf("watermark %s: %v", time.UnixMilli(tr.Watermark()).UTC(), err)
		}
		if !moved {
			break
		}
	}
	if wm := tr.Watermark(); wm != t0.UnixMilli() {
		t.Fatalf("watermark %s, want %s", time.UnixMilli(wm).UTC(), t0)
	}
	q, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	eng := q.Engine()
	scalar := func(qa promstorage.Queryable, expr string) float64 {
		t.Helper()
		qry, err := eng.NewInstantQuery(ctx, qa, nil, expr, t0)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		v, err := qry.Exec(ctx).Vector()
		if err != nil || len(v) != 1 {
			t.Fatalf("%s: %v %v", expr, v, err)
		}
		return v[0].F
	}
	rng := fmt.Sprintf("[%dh]", int(span.Hours())+1)
	rawCount := scalar(raw, `sum(count_over_time(many_total`+rng+`))`)
	tierCount := scalar(tr.db, `sum(sum_over_time(many_total{__agg__="count"}`+rng+`))`)
	if rawCount != float64(n) || tierCount != rawCount {
		t.Errorf("tier counts %v raw samples, raw data has %v (%d written)", tierCount, rawCount, n)
	}
	// Each series' increase over 5 days, bucket edge to bucket edge, from
	// the counter aggregate and from raw samples. The counters are straight
	// and sampled 7 s past every 5 minutes: the counter at a bucket's end
	// (drawn from its last raw sample to the next, aggregator.toEnd) has
	// counted what the last raw samples before two ends 5 days apart have.
	// (The tier's last bucket, whose next raw sample the job has not read
	// yet, holds the counter at its last raw sample: an hour before it.)
	edges := `(last_over_time(many_total{__agg__="counter"}[1h] offset 1h) - last_over_time(many_total{__agg__="counter"}[1h] offset 121h))`
	rawEdges := `(last_over_time(many_total[1h] offset 1h) - last_over_time(many_total[1h] offset 121h))`
	if got, want := scalar(tr.db, `sum`+edges), scalar(raw, `sum`+rawEdges); math.Abs(got-want) > 1e-12*want || want == 0 {
		t.Errorf("increase over 120h from the tier %v, raw %v", got, want)
	}
	if m, err := filepath.Glob(filepath.Join(dir, "tiers", "1h", watermarkFile)); err != nil || len(m) != 1 {
		t.Errorf("no watermark file: %v %v", m, err)
	}
	t.Logf("%d raw samples of %d series aggregated into the 1h tier in batches of %s", n, series, time.Duration(tr.batchSpan())*time.Millisecond)
}
