package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestDirectQueryInEngineMetrics: a dashboard's sum-by-rate range query,
// which gmc evaluates outside the PromQL engine (query's direct path),
// counts in the engine's prometheus_engine_query_duration_seconds on
// /metrics as the engine's own queries do. The server built the engine
// and the API apart, as with the active query log before d99888b, so the
// direct path had the metrics to count in only if the server handed them
// over.
func TestDirectQueryInEngineMetrics(t *testing.T) {
	cfg, err := config.Load([]byte("alerting: {default_rules: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t, cfg)
	now := time.Now().Truncate(time.Second)
	var b strings.Builder
	b.WriteString("[")
	for i := range 120 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"service":"gw","timestamp":%d,"metrics":{"em_orders_total":%d}}`, now.Add(time.Duration(i-120)*time.Second).Unix(), 10*i)
	}
	b.WriteString("]")
	if code, body := do(t, "POST", base+"/api/v1/push", "application/json", []byte(b.String())); code/100 != 2 {
		t.Fatalf("push: %d %s", code, body)
	}
	innerEvals := func() float64 {
		t.Helper()
		_, body := do(t, "GET", base+"/metrics", "", nil)
		m := regexp.MustCompile(`(?m)^prometheus_engine_query_duration_seconds_count\{slice="inner_eval"\} (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no prometheus_engine_query_duration_seconds_count{slice=\"inner_eval\"} in /metrics")
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := innerEvals()
	q := url.Values{"query": {`sum by (service) (rate(em_orders_total[1m]))`}, "start": {strconv.FormatInt(now.Add(-60*time.Second).Unix(), 10)},
		"end": {strconv.FormatInt(now.Unix(), 10)}, "step": {"1"}, "nocache": {"1"}}
	if code, body := do(t, "GET", base+"/api/v1/query_range?"+q.Encode(), "", nil); code != http.StatusOK || !strings.Contains(body, `"service":"gw"`) {
		t.Fatalf("query: %d %s", code, body)
	}
	// The server's own queries (status, rules) may run meanwhile: at least one more.
	if after := innerEvals(); after < before+1 {
		t.Errorf("inner_eval count %v before the query, %v after: the direct query was not counted", before, after)
	}
}
