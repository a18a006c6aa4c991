package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// TestReloadPushgatewayAndOTLP: a reload named pushgateway and otlp as "in
// force only after a restart". Now a group TTL set by a reload drops a
// group pushed before it (refreshed at the new interval), the Pushgateway
// API's status shows the new settings, and a resource attribute the
// reload promotes is a label of the series pushed after it.
func TestReloadPushgatewayAndOTLP(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head)
	if code, body := do(t, "POST", base+"/metrics/job/reload-pg", "text/plain", []byte("reload_pg 1\n")); code/100 != 2 {
		t.Fatalf("push: %d %s", code, body)
	}
	otlp := func(v float64) {
		t.Helper()
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "otel-svc")
		rm.Resource().Attributes().PutStr("deployment.environment", "prod")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("reload_otlp")
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		dp.SetDoubleValue(v)
		b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
		if err != nil {
			t.Fatal(err)
		}
		if code, body := do(t, "POST", base+"/api/v1/otlp/v1/metrics", "application/x-protobuf", b); code != http.StatusOK {
			t.Fatalf("otlp push: %d %s", code, body)
		}
	}
	otlp(1)
	if got := instantValue(t, base, `count(reload_otlp{deployment_environment="prod"})`, time.Time{}); got != "" {
		t.Fatalf("deployment_environment a label before it is promoted: %q", got)
	}

	write(head + "pushgateway: {group_ttl: 1s, refresh_interval: 200ms}\notlp: {promote_resource_attributes: [deployment.environment]}\n")
	if body := reload(); !strings.Contains(body, "applied: pushgateway, otlp\n") || strings.Contains(body, "NOT applied") {
		t.Fatalf("reload answer %q, want pushgateway and otlp applied", body)
	}
	if _, body := do(t, "GET", base+"/api/v1/status", "", nil); !strings.Contains(body, `"pushgateway.group_ttl":"1s"`) ||
		!strings.Contains(body, `"pushgateway.refresh_interval":"200ms"`) {
		t.Errorf("Pushgateway API status after the reload: %s, want group_ttl 1s and refresh_interval 200ms", body)
	}
	waitFor(t, 20*time.Second, "the group pushed before the reload dropped after the new 1s TTL", func() bool {
		_, body := do(t, "GET", base+"/api/v1/metrics", "", nil)
		return !strings.Contains(body, "reload-pg")
	})
	otlp(2)
	if got := instantValue(t, base, `reload_otlp{deployment_environment="prod"}`, time.Time{}); got != "2" {
		t.Errorf("reload_otlp{deployment_environment=\"prod\"} after the reload promoted it: %q, want 2", got)
	}
}

// TestReloadBenchmarks: a reload named benchmarks as "in force only after
// a restart", so a schedule added to a benchmark never ran until gmc
// restarted. Now the scheduler plans the new schedule at once: a
// benchmark that had none runs and records its gmc_bench_* series.
func TestReloadBenchmarks(t *testing.T) {
	head := "alerting: {default_rules: false}\nbenchmarks:\n  max_host_load: 1000\n  suite:\n    - name: reload_true\n      kind: exec\n      exec: {command: [\"true\"], runs: 1}\n"
	base, write, reload, _ := reloadServer(t, head)
	const q = `count({__name__=~"gmc_bench_.+",benchmark="reload_true"})`
	if got := instantValue(t, base, q, time.Time{}); got != "" {
		t.Fatalf("series of a benchmark without a schedule: %q, want none", got)
	}
	write(head + "      schedule: {every: 1s}\n")
	if body := reload(); !strings.Contains(body, "applied: benchmarks\n") || strings.Contains(body, "NOT applied") {
		t.Fatalf("reload answer %q, want benchmarks applied", body)
	}
	waitFor(t, 30*time.Second, "the benchmark the reload scheduled ran and recorded its series", func() bool {
		return instantValue(t, base, q, time.Time{}) != ""
	})
}
