package api

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// TestSystemStatusLiveness checks that a service's liveness comes only from
// what it sent itself: the series gmc writes for it (alerts, recording rules,
// benchmark results) and the scraper's own series do not keep a stopped
// service up, one failed scrape does not show a scraped service down (its
// scrapes must fail for its down_after, as TargetDown), a service that
// pushes every second is down 10s after it stopped with the default
// thresholds and keeps its last_seen while silent (up to LivenessLookback),
// a Pushgateway group is "pushed" (not judged by down_after), and a deleted
// group (its series ended with staleness markers) is gone.
func TestSystemStatusLiveness(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	stale := math.Float64frombits(value.StaleNaN)
	var samples []sample
	every := func(lset []string, from, to time.Duration, step time.Duration, v float64) {
		for ago := from; ago >= to; ago -= step {
			samples = append(samples, sample{lset: ls(lset...), ago: ago, v: v})
		}
	}
	// old-batch's group was deleted 90 minutes ago (first: a fresh head
	// takes older samples only before newer ones set its range).
	every([]string{"__name__", "push_time_seconds", "service", "old-batch", "job", "old-batch"}, 100*time.Minute, 90*time.Minute, time.Minute, 1)
	// backtester pushed every second until 12s ago; gmc kept writing its
	// alert, a recording rule and a benchmark result up to 1s ago.
	every([]string{"__name__", "gmc_requests_total", "service", "backtester", "instance", "bt-1"}, 60*time.Second, 12*time.Second, time.Second, 1)
	every([]string{"__name__", "ALERTS", "service", "backtester", "alertname", "ServiceSilent", "alertstate", "firing"}, 5*time.Second, time.Second, time.Second, 1)
	every([]string{"__name__", "ALERTS_FOR_STATE", "service", "backtester", "alertname", "ServiceSilent"}, 5*time.Second, time.Second, time.Second, 1)
	every([]string{"__name__", "sla:requests:rate5m", "service", "backtester", "sla", "bt"}, 5*time.Second, time.Second, time.Second, 1)
	every([]string{"__name__", "gmc_bench_median", "service", "backtester", "benchmark", "b"}, time.Second, time.Second, time.Second, 1)
	// risk pushes every second, newest 6s ago: stale; engine 2s ago: up.
	every([]string{"__name__", "gmc_orders_total", "service", "risk", "instance", "r-1"}, 60*time.Second, 6*time.Second, time.Second, 1)
	every([]string{"__name__", "gmc_orders_total", "service", "engine", "instance", "e-1"}, 60*time.Second, 2*time.Second, time.Second, 1)
	// market-data is scraped: its last scrape (1s ago) failed, the one
	// before succeeded; the scraper wrote staleness markers and scrape_*.
	every([]string{"__name__", "gmc_messages_total", "service", "market-data", "job", "md", "instance", "md:1"}, 30*time.Second, 2*time.Second, time.Second, 1)
	samples = append(samples, sample{lset: ls("__name__", "gmc_messages_total", "service", "market-data", "job", "md", "instance", "md:1"), ago: time.Second, v: stale})
	every([]string{"__name__", "up", "service", "market-data", "job", "md", "instance", "md:1"}, 30*time.Second, 2*time.Second, time.Second, 1)
	samples = append(samples, sample{lset: ls("__name__", "up", "service", "market-data", "job", "md", "instance", "md:1"), ago: time.Second, v: 0})
	every([]string{"__name__", "scrape_duration_seconds", "service", "market-data", "job", "md", "instance", "md:1"}, 30*time.Second, time.Second, time.Second, 0.01)
	// quotes is scraped and has failed every scrape for 12s (> down_after).
	every([]string{"__name__", "up", "service", "quotes", "job", "q", "instance", "q:1"}, 30*time.Second, 13*time.Second, time.Second, 1)
	every([]string{"__name__", "up", "service", "quotes", "job", "q", "instance", "q:1"}, 12*time.Second, time.Second, time.Second, 0)
	every([]string{"__name__", "quotes_total", "service", "quotes", "job", "q", "instance", "q:1"}, 30*time.Second, 13*time.Second, time.Second, 1)
	// pricer stopped 5 minutes ago: beyond the 2×down_after window read
	// first, its last sample is still known.
	every([]string{"__name__", "gmc_requests_total", "service", "pricer"}, 10*time.Minute, 5*time.Minute, time.Second, 1)
	// batch's Pushgateway group was deleted 5s ago: staleness markers.
	every([]string{"__name__", "job_last_success_unixtime", "service", "batch", "job", "batch"}, 60*time.Second, 6*time.Second, time.Second, 1)
	samples = append(samples, sample{lset: ls("__name__", "job_last_success_unixtime", "service", "batch", "job", "batch"), ago: 5 * time.Second, v: stale})
	every([]string{"__name__", "push_time_seconds", "service", "batch", "job", "batch"}, 60*time.Second, 6*time.Second, time.Second, 1)
	samples = append(samples, sample{lset: ls("__name__", "push_time_seconds", "service", "batch", "job", "batch"), ago: 5 * time.Second, v: stale})
	// feed is scraped and answering.
	every([]string{"__name__", "up", "service", "feed", "job", "feed", "instance", "f:1"}, 30*time.Second, time.Second, time.Second, 1)
	every([]string{"__name__", "feed_messages_total", "service", "feed", "job", "feed", "instance", "f:1"}, 30*time.Second, time.Second, time.Second, 1)
	// db-standin exists only through its benchmark results: not a service.
	every([]string{"__name__", "gmc_bench_median", "service", "db-standin", "benchmark", "db"}, 2*time.Minute, 2*time.Minute, time.Second, 1)
	// eod pushes every minute; its override keeps it up between pushes.
	every([]string{"__name__", "gmc_pnl", "service", "eod", "instance", "eod-1"}, 100*time.Second, 40*time.Second, time.Minute, 1)

	// nightly pushed its Pushgateway group 30 minutes ago; gmc rewrote the
	// group's values every second since (PushedAt tells them apart).
	every([]string{"__name__", "job_last_success_unixtime", "service", "nightly", "job", "nightly"}, 60*time.Second, time.Second, time.Second, 1)
	// weekly's group is rewritten every 10 minutes (refresh_interval), last
	// 400 s ago: before the 2×(longest down_after) window read first (6m
	// here, eod's), so it was shown down between two refreshes and pushed
	// after each (with the default 30 s refresh and 8 s down_after, half
	// the time).
	every([]string{"__name__", "job_last_success_unixtime", "service", "weekly", "job", "weekly"}, 1000*time.Second, 400*time.Second, 600*time.Second, 1)

	app := st.AppenderV2(context.Background())
	for _, s := range samples {
		if _, err := app.Append(0, s.lset, 0, testNow.Add(-s.ago).UnixMilli(), s.v, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatalf("append %s: %v", s.lset, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	qa, err := query.New(query.Options{Queryable: st, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	own := func(name string) bool {
		return name == "ALERTS" || name == "ALERTS_FOR_STATE" || strings.HasPrefix(name, "gmc_bench_") || name == "sla:requests:rate5m"
	}
	a := New(Options{
		Queryable: st, Engine: qa.Engine(), Now: func() time.Time { return testNow }, OwnSeries: own,
		ServiceLiveness: map[string]Liveness{"eod": {StaleAfter: 90 * time.Second, DownAfter: 3 * time.Minute}},
		PushedAt: func(l labels.Labels) (int64, bool) {
			return testNow.Add(-30 * time.Minute).UnixMilli(), l.Get("service") == "nightly" || l.Get("service") == "weekly"
		},
	})
	_, body := get(t, a.SystemStatus, "/system/status", nil)
	var got struct{ Services []ServiceStatus }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	type want struct {
		state, reason string
		ageSeconds    float64
	}
	wants := map[string]want{
		"backtester":  {StateDown, "silent", 12},
		"engine":      {StateUp, "", 2},
		"eod":         {StateUp, "", 40},
		"feed":        {StateUp, "", 1},
		"market-data": {StateUp, "", 2},
		"nightly":     {StatePushed, "Pushgateway group: its last push stays current until deleted; not judged by down_after", 1800},
		"pricer":      {StateDown, "silent", 300},
		"quotes":      {StateDown, "scrape failing", 13},
		"risk":        {StateStale, "", 6},
		"weekly":      {StatePushed, "Pushgateway group: its last push stays current until deleted; not judged by down_after", 1800},
	}
	var names []string
	for _, s := range got.Services {
		names = append(names, s.Service)
		w, ok := wants[s.Service]
		if !ok {
			continue
		}
		if s.State != w.state || s.Reason != w.reason || s.AgeSeconds == nil || *s.AgeSeconds != w.ageSeconds {
			age := "null"
			if s.AgeSeconds != nil {
				age = time.Duration(*s.AgeSeconds * float64(time.Second)).String()
			}
			t.Errorf("%s: state %s (%s), age %s; want %s (%s), age %vs", s.Service, s.State, s.Reason, age, w.state, w.reason, w.ageSeconds)
		}
	}
	for _, s := range got.Services {
		if (s.Service == "weekly" || s.Service == "nightly") && s.Series != 1 {
			t.Errorf("%s: %d series, want its group's 1", s.Service, s.Series)
		}
	}
	if strings.Join(names, ",") != "backtester,engine,eod,feed,market-data,nightly,pricer,quotes,risk,weekly" {
		t.Errorf("services = %v, want those that send data (not db-standin, known only from benchmark results; not batch and old-batch, deleted groups)", names)
	}
}
