package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// TestStatusSaysMetricsArriveTwice: a service whose metrics arrive both
// scraped and pushed is counted twice by every sum over them, and nothing
// said so (t-user14b F7: examples/sdk-service pushed and was scraped too;
// Risk 4.12M gross for 2.05M). /system/status names the metrics that
// arrive with one of the service's scrape jobs and without one, and the
// log says it once; the same for a service scraped under the job's name
// whose series name the pushed one in exported_service (the trial's case);
// a service only scraped, one only pushed, one
// remote-written with its up (one job throughout), and one scraping some
// metrics and pushing others are not flagged.
func TestStatusSaysMetricsArriveTwice(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := st.AppenderV2(context.Background())
	for _, l := range [][]string{
		// gw: pushed (no job) and scraped by gw-scrape: twice.
		{"__name__", "gmc_orders_total", "service", "gw", "instance", "host-1", "result", "success"},
		{"__name__", "gmc_pnl", "service", "gw", "instance", "host-1"},
		{"__name__", "up", "service", "gw", "job", "gw-scrape", "instance", "127.0.0.1:9920"},
		{"__name__", "gmc_orders_total", "service", "gw", "job", "gw-scrape", "instance", "127.0.0.1:9920", "result", "success"},
		{"__name__", "gmc_pnl", "service", "gw", "job", "gw-scrape", "instance", "127.0.0.1:9920"},
		// The trial's case: order-gateway pushed; the same process
		// scraped by job og-scrape, whose target service label renames
		// the process's own to exported_service.
		{"__name__", "gmc_orders_total", "service", "order-gateway", "instance", "host-1", "result", "success"},
		{"__name__", "gmc_risk_exposure", "service", "order-gateway", "instance", "host-1"},
		{"__name__", "up", "service", "og-scrape", "job", "og-scrape", "instance", "127.0.0.1:9920"},
		{"__name__", "gmc_orders_total", "service", "og-scrape", "exported_service", "order-gateway", "job", "og-scrape", "instance", "127.0.0.1:9920", "result", "success"},
		{"__name__", "gmc_risk_exposure", "service", "og-scrape", "exported_service", "order-gateway", "job", "og-scrape", "instance", "127.0.0.1:9920"},
		// exported_service naming a service without those metrics.
		{"__name__", "up", "service", "relay", "job", "relay", "instance", "r:2"},
		{"__name__", "relay_total", "service", "relay", "exported_service", "pusher", "job", "relay", "instance", "r:2"},
		// scraped only.
		{"__name__", "up", "service", "quoter", "job", "quoter", "instance", "q:1"},
		{"__name__", "gmc_orders_total", "service", "quoter", "job", "quoter", "instance", "q:1"},
		// pushed only.
		{"__name__", "gmc_orders_total", "service", "pusher", "instance", "p-1"},
		// remote-written from a Prometheus, its up with the same job.
		{"__name__", "up", "service", "rw", "job", "prom-sdk", "instance", "r:1"},
		{"__name__", "gmc_orders_total", "service", "rw", "job", "prom-sdk", "instance", "r:1"},
		// scraped metrics and other, pushed ones.
		{"__name__", "up", "service", "mixed", "job", "mixed", "instance", "m:1"},
		{"__name__", "gmc_orders_total", "service", "mixed", "job", "mixed", "instance", "m:1"},
		{"__name__", "eod_report_seconds", "service", "mixed", "instance", "m-batch"},
	} {
		if _, err := app.Append(0, ls(l...), 0, testNow.Add(-time.Second).UnixMilli(), 1, nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := newAPI(t, st, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 2 {
		code, body := get(t, a.SystemStatus, "/system/status", nil)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var got struct {
			Services []struct {
				Service string          `json:"service"`
				Twice   json.RawMessage `json:"twice"`
			} `json:"services"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		twice := map[string]string{}
		for _, s := range got.Services {
			twice[s.Service] = string(s.Twice)
		}
		want := map[string]string{
			"gw":            `{"metrics":["gmc_orders_total","gmc_pnl"],"scrape_jobs":["gw-scrape"],"also_as":[],"message":"2 metrics of gw arrive both scraped (job gw-scrape) and by another path: each path's series count apart, so sums over them double; report one way, push or scrape (docs/sdk.md)"}`,
			"og-scrape":     `{"metrics":["gmc_orders_total","gmc_risk_exposure"],"scrape_jobs":["og-scrape"],"also_as":["order-gateway"],"message":"2 metrics of og-scrape arrive both scraped (job og-scrape) and by another path (also as service order-gateway, which the scrape's exported_service names): each path's series count apart, so sums over them double; report one way, push or scrape (docs/sdk.md)"}`,
			"order-gateway": "", "relay": "", "quoter": "", "pusher": "", "rw": "", "mixed": "",
		}
		for svc, w := range want {
			if twice[svc] != w {
				t.Errorf("%s: twice %s, want %s", svc, twice[svc], w)
			}
		}
	}
	if n := strings.Count(logs.String(), "arrive both scraped"); n != 2 || !strings.Contains(logs.String(), "service=gw") ||
		!strings.Contains(logs.String(), "service=og-scrape") {
		t.Errorf("logged %d times, want once each for gw and og-scrape:\n%s", n, logs.String())
	}
}
