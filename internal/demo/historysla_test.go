package demo

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	promapi "github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/storage"
)

// TestHistoryFillsTheLatencySLA backfills 1d of history and evaluates the
// demo's own SLAs over it, as /sla does: matching-latency has an error
// ratio and its 1d window is covered by the history (it read native
// histograms the history never wrote, and stayed "not judged"), and the
// history's pushed series carry the host label the live pushes carry.
func TestHistoryFillsTheLatencySLA(t *testing.T) {
	dir := t.TempDir()
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := Backfill(context.Background(), HistoryOptions{Dir: dir, End: end, Span: 24 * time.Hour, Seed: 1, Host: "h1"}); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(storage.Options{Dir: dir, Retention: 30 * 24 * time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	qa, err := promapi.New(promapi.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Config(ConfigParams{Listen: "127.0.0.1:0", DataDir: t.TempDir(), MarketData: "127.0.0.1:9", ReceiverURL: "http://127.0.0.1:8/",
		BenchEvery: time.Minute, EvalInterval: 5 * time.Second, Getenv: func(string) string { return "" }, GatewayURL: "http://127.0.0.1:9910/orders"})
	if err != nil {
		t.Fatal(err)
	}
	var s sla.SLA
	for _, c := range cfg.SLAs {
		if c.Name == "matching-latency" {
			s = c
		}
	}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	at := end.Add(-time.Minute) // the history's last sample
	r := sla.NewReporter(sla.ReporterOptions{SLAs: []sla.SLA{s}, Engine: qa.Engine(), Queryable: st, Now: func() time.Time { return at }})
	ratios, err := r.ErrorRatios(context.Background(), s, at)
	if err != nil {
		t.Fatal(err)
	}
	cov, err := r.Coverage(context.Background(), s, at)
	if err != nil {
		t.Fatal(err)
	}
	// The history's engine latency stays inside the objective (99% within
	// 500µs): some slow orders, far fewer than 1%.
	if e, ok := ratios["1d"]; !ok || e <= 0 || e >= 0.01 {
		t.Errorf("matching-latency 1d error ratio = %v (present %v), want in (0, 1%%)", e, ok)
	}
	if c := cov["1d"]; c < 0.99 {
		t.Errorf("matching-latency 1d coverage = %v, want the whole day of history", c)
	}
	q, err := qa.Engine().NewInstantQuery(context.Background(), st, nil, `count(gmc_order_latency_seconds_bucket{service="matching-engine",host="h1"})`, at)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if v, err := q.Exec(context.Background()).Vector(); err != nil || len(v) != 1 || v[0].F < 10 {
		t.Errorf("engine latency buckets with host=\"h1\": %v %v", v, err)
	}
	// The gateway's, like its live metrics, carry stage="entry" too.
	q2, err := qa.Engine().NewInstantQuery(context.Background(), st, nil, `count(gmc_orders_total{service="order-gateway",host="h1",stage="entry"})`, at)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if v, err := q2.Exec(context.Background()).Vector(); err != nil || len(v) != 1 || v[0].F != 3 {
		t.Errorf("gateway order counters with stage=\"entry\": %v %v, want 3 (success, reject, error)", v, err)
	}
}

// TestHistoryRecordsSLARatios: the history carries the SLAs' recorded
// error ratios, as the rule manager records them live and as promtool's
// create-blocks-from rules backfills them, so the SLA page's achievement
// and burn charts (sla:error_ratio:rate1h) cover the backfilled days
// (t-user3 #7: one dot, at now, over a 7-day history).
func TestHistoryRecordsSLARatios(t *testing.T) {
	dir := t.TempDir()
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cfg, _, err := Config(ConfigParams{Listen: "127.0.0.1:0", DataDir: t.TempDir(), MarketData: "127.0.0.1:9", ReceiverURL: "http://127.0.0.1:8/",
		BenchEvery: time.Minute, EvalInterval: 5 * time.Second, Getenv: func(string) string { return "" }, GatewayURL: "http://127.0.0.1:9910/orders"})
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	res, err := Backfill(context.Background(), HistoryOptions{Dir: dir, End: end, Span: 2 * 24 * time.Hour, Seed: 1, Host: "h1", SLAs: cfg.SLAs})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 days of history with SLA records: %d samples in %v", res.Samples, time.Since(started))
	st, query := openHistory(t, dir)
	// One block a day, the records merged into the history's: no
	// overlapping blocks for the TSDB to warn of at every start.
	if s := st.Stats(); s.Blocks != 2 {
		t.Errorf("%d blocks, want 2 (one a day)", s.Blocks)
	}
	at := single(t, query)
	for _, s := range cfg.SLAs {
		s.Normalise()
		sel := `sla:error_ratio:rate1h{sla="` + s.Name + `", service="` + s.Service + `"}`
		// A sample a minute over the last day (the first minute of the
		// range is the previous day's block edge).
		if n := at(`count_over_time(`+sel+`[1d])`, end); n < 1439 || n > 1441 {
			t.Errorf("%s: %v samples over the history's last day, want one a minute", sel, n)
		}
		// Each is the rule's expression at its time.
		for _, ts := range []time.Time{end.Add(-30 * time.Hour), end.Add(-4*time.Hour - 7*time.Minute)} {
			rec := at(sel, ts)
			expr := at(s.ErrorsRate(time.Hour)+" / "+s.TotalRate(time.Hour), ts)
			if rec != expr {
				t.Errorf("%s at %s: recorded %v, the expression gives %v", sel, ts, rec, expr)
			}
		}
	}
}
