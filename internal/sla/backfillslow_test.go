package sla

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// TestBackfillSlowGroup: an SLA added over 3 days of stored data gets the
// recordings of both its groups over them: the raw group's (1h ratio) at
// every minute and the slow group's (its 3d window's and the longest burn
// window's, 7h12m, ratios) at every 5 minutes,
// read from the 1m tier as the slow rules read it, each equal to its rule's
// expression evaluated at that time; before, the slow group began at the
// SLA's creation.
func TestBackfillSlowGroup(t *testing.T) {
	dir := t.TempDir()
	open := func() *gmcstorage.TSDB {
		db, err := gmcstorage.Open(gmcstorage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), Retention: 60 * 24 * time.Hour, MinBlockDuration: testBlock})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	end := time.Date(2026, 11, 20, 14, 7, 31, 0, time.UTC)
	ok := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "success")
	bad := labels.FromStrings("__name__", "gmc_orders_total", "service", "gw", "result", "reject")
	var refs [2]storage.SeriesRef
	ctx := context.Background()
	app := db.AppenderV2(ctx)
	var g, b float64
	var err error
	for ts := end.Add(-3 * 24 * time.Hour); !ts.After(end); ts = ts.Add(time.Minute) {
		e := 0.001 * (1 + math.Sin(float64(ts.Hour())/4))
		g, b = g+6000*(1-e), b+math.Round(6000*e)
		for i, v := range []float64{g, b} {
			if refs[i], err = app.Append(refs[i], []labels.Labels{ok, bad}[i], 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	set := openTiers(t, db, dir, func() time.Time { return end })
	catchUpTiers(t, set)
	q, err := query.New(query.Options{Queryable: db, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	engine := q.Engine()
	s := SLA{Name: "orders", Service: "gw", Objective: 99.9, Indicator: Indicator{Ratio: &Ratio{}},
		Windows: []Duration{Duration(time.Hour), Duration(3 * 24 * time.Hour)}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	slow := set.Queryable(query.DefaultLookbackDelta.Milliseconds()).WithUnaligned(TierEdgeBuckets)
	ready := 0
	n, err := BackfillStore(ctx, BackfillStoreOptions{SLAs: []SLA{s}, Engine: engine, Raw: db, Dir: dir, Tiers: set,
		Slow: slow, SlowReady: func(context.Context) error { ready++; return nil }, Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	if ready != 1 {
		t.Errorf("SlowReady called %d times, want once", ready)
	}
	// The expected values, read before the blocks are loaded.
	type check struct {
		w  time.Duration
		at time.Time
	}
	var checks []check
	slowWindows := 0
	for _, w := range s.RecordedWindows() {
		if w != time.Hour && w <= rawGroupMax {
			continue
		}
		if w > rawGroupMax {
			slowWindows++
		}
		for _, at := range []time.Duration{-50 * time.Hour, -26 * time.Hour, -3 * time.Hour} {
			checks = append(checks, check{w, end.Add(at).Truncate(5 * time.Minute)})
		}
	}
	if slowWindows == 0 {
		t.Fatalf("no slow window among %v", s.RecordedWindows())
	}
	want := make([]float64, len(checks))
	for i, c := range checks {
		qa := storage.Queryable(db)
		if c.w > rawGroupMax {
			qa = slow
		}
		want[i] = instantValue(t, engine, qa, s.ErrorsRate(c.w)+" / "+s.TotalRate(c.w), c.at)
	}
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened, the TSDB loads the backfilled blocks.
	db = open()
	t.Cleanup(func() { db.Close() })
	for i, c := range checks {
		got := instantValue(t, engine, db, ErrorRatioRecord(c.w)+`{sla="orders"}`, c.at)
		// Equal bit for bit: each step of the backfill's range query
		// reads the tier as the rule's instant query does (until
		// t-tier23 a range read holding the series' start 3 days back
		// gave every bucket its edge, where the rule's read of one window
		// gave none: 4e-5 of the 7h12m ratio 50 h back; f7e25a2
		// backfilled the slow group one instant query a step instead).
		if got != want[i] {
			t.Errorf("%s at %s: backfilled %v, the rule's expression %v", ErrorRatioRecord(c.w), c.at.Format(time.DateTime), got, want[i])
		}
	}
	t.Logf("%d recordings backfilled over 3 days (both groups)", n)
}

// instantValue is expr's one value at ts on qa.
func instantValue(t *testing.T, engine promql.QueryEngine, qa storage.Queryable, expr string, ts time.Time) float64 {
	t.Helper()
	qry, err := engine.NewInstantQuery(context.Background(), qa, nil, expr, ts)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	v, err := qry.Exec(context.Background()).Vector()
	if err != nil || len(v) != 1 {
		t.Fatalf("%s at %s: %v %v", expr, ts.Format(time.DateTime), v, err)
	}
	return v[0].F
}
