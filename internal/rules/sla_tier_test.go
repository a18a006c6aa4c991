package rules

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// TestSLA30dRuleTierEdge: the SLA's slow rules read the tiers through the
// server's transparent reader, which, at the rules' unaligned evaluation
// times, read a 30d window from the 1h tier (500 buckets suffice there):
// while an hour's error burst sat at the window's trailing edge, the 1h
// bucket holding it was outside the window and rate() extrapolated the
// window's mean over it, so the recorded 30d ratio lost up to the whole
// burst (0.001 recorded against 0.00157 raw: 0.37 relative, for up to an
// hour). Read through Options.SLAQueryable as the server builds it (a tier
// only over 1440 of its buckets, as /sla reads them: the 1m tier), the
// recorded ratio stays within 1 % of raw at the edge (one minute of the
// burst extrapolated) and equal elsewhere.
func TestSLA30dRuleTierEdge(t *testing.T) {
	dir := t.TempDir()
	// A month and more of data: a retention beyond the default 15 days.
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: filepath.Join(dir, "tsdb"), Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour, MinBlockDuration: testBlock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	end := t0.Add(32 * 24 * time.Hour).Add(14*time.Hour + 7*time.Minute + 31*time.Second)
	burst := end.Add(-30*24*time.Hour - 40*time.Minute).Truncate(time.Hour) // an hour at 50 % errors
	ok := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "success")
	bad := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "reject")
	var refs [2]storage.SeriesRef
	app := db.AppenderV2(context.Background())
	var g, b float64
	for ts := t0.Add(17 * time.Second); !ts.After(end); ts = ts.Add(time.Minute) {
		e := 0.001
		if !ts.Before(burst) && ts.Before(burst.Add(time.Hour)) {
			e = 0.5
		}
		g, b = g+6000*(1-e), b+6000*e
		for i, v := range []float64{g, b} {
			if refs[i], err = app.Append(refs[i], []labels.Labels{ok, bad}[i], 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	now := end
	cfg := tier.Config{}
	cfg.Normalise()
	set, err := tier.Open(tier.Options{BlockDuration: testBlock, Config: cfg, Dir: filepath.Join(dir, "tsdb"), Raw: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	ctx := context.Background()
	for _, tr := range set.Tiers() {
		for range 10_000 {
			if moved, err := set.Step(ctx, tr); err != nil {
				t.Fatal(err)
			} else if !moved {
				break
			}
		}
	}
	tiered := set.Queryable(query.DefaultLookbackDelta.Milliseconds())
	s := sla.SLA{Name: "orders", Service: "gw", Objective: 99, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}
	w := 30 * 24 * time.Hour
	expr := s.ErrorsRate(w) + " / " + s.TotalRate(w)
	engine := newEngine(nil)
	instant := func(qa storage.Queryable, at time.Time) float64 {
		t.Helper()
		qry, err := engine.NewInstantQuery(ctx, qa, nil, expr, at)
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		v, err := qry.Exec(ctx).Vector()
		if err != nil || len(v) != 1 {
			t.Fatalf("%s at %s: %v %v", expr, at, v, err)
		}
		return v[0].F
	}
	// The rules record into a store of their own: they run up to 90
	// minutes behind the data's newest sample.
	rec := openTSDB(t, filepath.Join(dir, "rec"))
	m := newManager(t, rec, Options{Queryable: tiered, SLAQueryable: tiered.WithUnaligned(sla.TierEdgeBuckets), Engine: engine,
		Now: func() time.Time { return now }, EvalInterval: time.Minute, SLAs: []sla.SLA{s}})
	// The window's start 20 minutes before the burst, then 10, 30 and 40
	// minutes into it, and past it; at unaligned times, as rules run.
	for _, at := range []time.Duration{-50 * time.Minute, -20 * time.Minute, 0, 10 * time.Minute, 30*time.Minute + 7*time.Second} {
		now = burst.Add(w).Add(30 * time.Minute).Add(at).Add(1234 * time.Millisecond)
		m.EvalAll(ctx, now)
		for _, g := range m.Groups() {
			for _, r := range g.Rules() {
				if r.LastError() != nil {
					t.Fatalf("at %s: %s: %v", now.Format(time.TimeOnly), r.Name(), r.LastError())
				}
			}
		}
		q, err := rec.Querier(now.UnixMilli(), now.UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", sla.ErrorRatioRecord(w)))
		got := math.NaN()
		for ss.Next() {
			it := ss.At().Iterator(nil)
			for it.Next() != chunkenc.ValNone {
				_, got = it.At()
			}
		}
		q.Close()
		raw := instant(db, now)
		old := instant(tiered, now)
		if d := math.Abs(got-raw) / raw; !(d < 0.01) {
			t.Errorf("at %s: recorded 30d ratio %.6g, raw %.6g (%.3g relative; the 1h tier read %.6g)", now.Format(time.TimeOnly), got, raw, d, old)
		}
		t.Logf("at %s: recorded %.6g, raw %.6g, through the default tier reader %.6g", now.Format(time.TimeOnly), got, raw, old)
	}
}

// testBlock is the least block of this test's raw TSDB and tiers: a block
// a day, not one every 2 hours (cutting and compacting 2-hour blocks over
// 32 days was most of its time; see sla's testBlock).
const testBlock = 24 * time.Hour
