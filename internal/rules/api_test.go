package rules

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/sla"
)

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func getJSON(t *testing.T, h http.HandlerFunc, target string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", target, nil))
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s: %v: %s", target, err, rec.Body)
	}
	return rec.Code, v
}

func TestPrometheusAPIShape(t *testing.T) {
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	th := queueThreshold()
	th.For = 0
	m := newManager(t, db, Options{
		Thresholds: []Threshold{th}, EvalInterval: 10 * time.Second,
		SLAs: []sla.SLA{{Name: "orders", Service: "gateway", Objective: 99.9, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}},
	})
	appendFloat(t, db, labels.FromStrings("__name__", "gmc_queue_depth", "service", "gateway"), t0, 20)
	m.EvalAll(context.Background(), t0)

	code, v := getJSON(t, m.Alerts, "/api/v1/alerts")
	if code != 200 || v["status"] != "success" {
		t.Fatalf("alerts: %d %v", code, v)
	}
	alerts := v["data"].(map[string]any)["alerts"].([]any)
	if len(alerts) != 1 {
		t.Fatalf("alerts = %v", alerts)
	}
	a := alerts[0].(map[string]any)
	if got, want := keys(a), []string{"activeAt", "annotations", "labels", "state", "value"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("alert keys = %v, want %v", got, want)
	}
	if a["state"] != "firing" || a["value"] != "2e+01" || a["activeAt"] != "2026-01-01T00:00:00Z" ||
		a["labels"].(map[string]any)["alertname"] != "QueueDeep" {
		t.Fatalf("alert = %v", a)
	}

	code, v = getJSON(t, m.Rules, "/api/v1/rules")
	if code != 200 || v["status"] != "success" {
		t.Fatalf("rules: %d %v", code, v)
	}
	groups := v["data"].(map[string]any)["groups"].([]any)
	var names []string
	for _, g := range groups {
		names = append(names, g.(map[string]any)["name"].(string))
	}
	if want := []string{"sla:orders:raw", "sla:orders:slow", "threshold:QueueDeep"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("groups = %v, want %v", names, want)
	}
	g := groups[2].(map[string]any)
	if got, want := keys(g), []string{"evaluationTime", "file", "interval", "lastEvaluation", "limit", "name", "rules"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("group keys = %v, want %v", got, want)
	}
	if g["file"] != ThresholdsFile || g["interval"] != 10.0 {
		t.Fatalf("group = %v", g)
	}
	r := g["rules"].([]any)[0].(map[string]any)
	if got, want := keys(r), []string{"alerts", "annotations", "duration", "evaluationTime", "health", "keepFiringFor",
		"labels", "lastEvaluation", "name", "query", "state", "type"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("alerting rule keys = %v, want %v", got, want)
	}
	if r["type"] != "alerting" || r["health"] != "ok" || r["state"] != "firing" || r["query"] != `gmc_queue_depth{service="gateway"} > 10` ||
		len(r["alerts"].([]any)) != 1 {
		t.Fatalf("alerting rule = %v", r)
	}
	rr := groups[0].(map[string]any)["rules"].([]any)[0].(map[string]any)
	if got, want := keys(rr), []string{"evaluationTime", "health", "labels", "lastEvaluation", "name", "query", "type"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("recording rule keys = %v, want %v", got, want)
	}
	if rr["type"] != "recording" || rr["name"] != sla.RequestsRate5m || rr["labels"].(map[string]any)["sla"] != "orders" {
		t.Fatalf("recording rule = %v", rr)
	}

	// Filters.
	_, v = getJSON(t, m.Rules, "/api/v1/rules?type=alert&rule_group[]=threshold:QueueDeep&exclude_alerts=true")
	groups = v["data"].(map[string]any)["groups"].([]any)
	if len(groups) != 1 {
		t.Fatalf("filtered groups = %v", groups)
	}
	if r := groups[0].(map[string]any)["rules"].([]any)[0].(map[string]any); r["alerts"] != nil {
		t.Fatalf("exclude_alerts kept alerts: %v", r)
	}
	_, v = getJSON(t, m.Rules, "/api/v1/rules?type=record&rule_name[]="+sla.ErrorsRate5m)
	groups = v["data"].(map[string]any)["groups"].([]any)
	if len(groups) != 1 || len(groups[0].(map[string]any)["rules"].([]any)) != 1 {
		t.Fatalf("rule_name filter = %v", groups)
	}
	code, v = getJSON(t, m.Rules, "/api/v1/rules?type=bogus")
	if code != 400 || v["status"] != "error" || v["errorType"] != "bad_data" {
		t.Fatalf("bad type: %d %v", code, v)
	}
}

func TestNotifyPicksGroupsByMetricName(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	m := newManager(t, db, Options{
		DefaultRules: true,
		Thresholds: []Threshold{
			{Name: "A", Metric: "gmc_a", Op: ">", Value: 1},
			{Name: "B", Metric: "other_b", Op: ">", Value: 1},
		},
		SLAs: []sla.SLA{{Name: "orders", Service: "gw", Objective: 99, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}},
	})
	for _, tc := range []struct {
		names []string
		want  []string
	}{
		// Every series a service sends itself may end its silence, so
		// ServiceSilent reads all but gmc's own series and up / scrape_*.
		{[]string{"gmc_a"}, []string{"gmc-service-silent", "threshold:A"}},
		{[]string{"other_b"}, []string{"gmc-service-silent", "threshold:B"}},
		{[]string{"node_cpu_seconds_total", "up"}, []string{"gmc-service-silent", "gmc-target-down", "gmc-host-cpu"}},
		{[]string{"node_memory_MemTotal_bytes"}, []string{"gmc-service-silent", "gmc-host-memory"}},
		// The SLA's raw series trigger its raw group only: the slow one
		// reads only recordings.
		{[]string{"gmc_orders_total"}, []string{"gmc-service-silent", "sla:orders:raw"}},
		{[]string{"gmc_order_latency_seconds"}, []string{"gmc-service-silent", "gmc-service-latency"}},
		{[]string{"unrelated"}, []string{"gmc-service-silent"}},
		{[]string{"gmc_bench_median", "scrape_duration_seconds"}, nil},
	} {
		if got := m.readers(tc.names); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("readers(%v) = %v, want %v", tc.names, got, tc.want)
		}
	}

	// A selector without a metric name reads everything.
	var s selectors
	e, _ := newTestParser().ParseExpr(`count({service="x"}) > 0 or rate(foo[1m])`)
	s.add(e)
	if !s.readsAny([]string{"anything"}) {
		t.Fatal("a selector with no __name__ matcher must read every metric")
	}

	// Run: Notify triggers an evaluation of the group reading the metric.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var a, b = m.group("threshold:A"), m.group("threshold:B")
	waitFor(t, func() bool { return !a.GetLastEvaluation().IsZero() && !b.GetLastEvaluation().IsZero() })
	firstA, firstB := a.GetLastEvaluation(), b.GetLastEvaluation()
	m.MetricsWritten([]string{"gmc_a"})
	waitFor(t, func() bool { return a.GetLastEvaluation().After(firstA) })
	if !b.GetLastEvaluation().Equal(firstB) {
		t.Fatal("Notify(gmc_a) evaluated threshold B, which does not read gmc_a")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 5s")
}
