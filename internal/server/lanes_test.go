package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestQueryLanesWired: the query section's lanes reach the server — their
// slots show in gmc's own metrics, and a small API query is admitted to the
// small lane, a heavy one (more series than small_query_max_series) to the
// heavy lane.
func TestQueryLanesWired(t *testing.T) {
	cfg := config.Default()
	cfg.Query.MaxConcurrency, cfg.Query.SmallQueryMaxConcurrency = 1, 3
	cfg.Query.SmallQueryMaxSeries, cfg.Query.SmallQueryMaxPoints = 2, 100
	base := startServer(t, cfg)
	if code, body := do(t, "POST", base+"/api/v1/push", "application/json",
		[]byte(`{"service":"svc","metrics":{"a":1,"b":2,"c":3}}`)); code != http.StatusNoContent {
		t.Fatalf("push: %d %s", code, body)
	}
	for _, q := range []string{`a`, `{service="svc"}`} {
		if code, body := do(t, "GET", base+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), "", nil); code != http.StatusOK {
			t.Fatalf("query %s: %d %s", q, code, body)
		}
	}
	_, metrics := do(t, "GET", base+"/metrics", "", nil)
	for _, want := range []string{
		`gmc_query_lane_slots{lane="heavy"} 1`,
		`gmc_query_lane_slots{lane="small"} 3`,
		`gmc_query_lane_admitted_total{lane="heavy",source="api"} 1`,
		`gmc_query_lane_admitted_total{lane="small",source="api"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics has no %q", want)
		}
	}
}
