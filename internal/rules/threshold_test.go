package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gmc-dev/gmc/internal/duration"
)

func TestThresholdCompile(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Threshold
		expr string
	}{
		{"service", Threshold{Name: "LatencyHigh", Metric: "gmc_order_latency_p99_seconds", Op: ">", Value: 0.001, Service: "matching-engine"},
			`gmc_order_latency_p99_seconds{service="matching-engine"} > 0.001`},
		{"no service", Threshold{Name: "Down", Metric: "up", Op: "==", Value: 0}, `up == 0`},
		{"tiny value", Threshold{Name: "T", Metric: "x", Op: ">=", Value: 1e-6}, `x >= 1e-06`},
		{"negative", Threshold{Name: "T", Metric: "x", Op: "!=", Value: -3.5}, `x != -3.5`},
		{"less", Threshold{Name: "T", Metric: "x", Op: "<", Value: 100}, `x < 100`},
		{"less or equal", Threshold{Name: "T", Metric: "x", Op: "<=", Value: 2.25}, `x <= 2.25`},
		{"quoted service", Threshold{Name: "T", Metric: "x", Op: ">", Value: 1, Service: `a"b`}, `x{service="a\"b"} > 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.in.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tc.in.Expr(); got != tc.expr {
				t.Fatalf("Expr() = %s, want %s", got, tc.expr)
			}
			// The expression is valid PromQL comparing the metric with
			// exactly the value.
			e, err := parser.NewParser(parser.Options{}).ParseExpr(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			be, ok := e.(*parser.BinaryExpr)
			if !ok || be.Op.String() != tc.in.Op || be.RHS.(*parser.NumberLiteral).Val != tc.in.Value {
				t.Fatalf("parsed %s: %#v", tc.expr, e)
			}
			if vs := be.LHS.(*parser.VectorSelector); vs.Name != tc.in.Metric {
				t.Fatalf("selector %s, want metric %s", vs, tc.in.Metric)
			}
		})
	}
}

func TestThresholdRule(t *testing.T) {
	th := Threshold{
		Name: "QueueDeep", Metric: "gmc_queue_depth", Op: ">", Value: 10, For: duration.Duration(30 * time.Second),
		Service: "gateway", Labels: map[string]string{"team": "core", "severity": "page"},
		Annotations: map[string]string{"runbook": "https://runbooks/queue"},
	}
	if err := th.Validate(); err != nil {
		t.Fatal(err)
	}
	r := th.Rule()
	if r.Alert != "QueueDeep" || r.Expr != `gmc_queue_depth{service="gateway"} > 10` || r.For != model.Duration(30*time.Second) {
		t.Fatalf("rule = %+v", r)
	}
	want := map[string]string{"severity": "page", "service": "gateway", "team": "core"}
	if len(r.Labels) != len(want) {
		t.Fatalf("labels = %v, want %v", r.Labels, want)
	}
	for k, v := range want {
		if r.Labels[k] != v {
			t.Fatalf("labels = %v, want %v", r.Labels, want)
		}
	}
	if r.Annotations["summary"] != "gmc_queue_depth > 10" || r.Annotations["runbook"] != "https://runbooks/queue" || r.Annotations["description"] == "" {
		t.Fatalf("annotations = %v", r.Annotations)
	}
	// The unit annotation: from the metric name's base unit, else none (the
	// dashboard then says the unit is unknown); an annotation given wins.
	for metric, want := range map[string]string{
		"gmc_queue_depth": "", "node_filesystem_avail_bytes": "bytes", "http_request_duration_seconds": "seconds",
		"cache_hit_ratio": "ratio", "cpu_percent": "percent",
	} {
		if got, ok := (Threshold{Name: "A", Metric: metric, Op: ">", Value: 1}).Rule().Annotations["unit"]; got != want || ok != (want != "") {
			t.Errorf("%s: unit annotation %q (set %v), want %q", metric, got, ok, want)
		}
	}
	if u := (Threshold{Name: "A", Metric: "x_seconds", Op: ">", Value: 1, Annotations: map[string]string{"unit": "ms"}}).Rule().Annotations["unit"]; u != "ms" {
		t.Errorf("unit annotation %q, want the one given (ms)", u)
	}
	// Default severity.
	d := Threshold{Name: "A", Metric: "x", Op: ">", Value: 1}
	if err := d.Validate(); err != nil || d.Severity != "" {
		t.Fatalf("Validate: %v, and it set severity %q (it must not mutate)", err, d.Severity)
	}
	d.Normalise()
	if d.Severity != "warning" || d.Rule().Labels["severity"] != "warning" {
		t.Fatalf("default severity: %q %v", d.Severity, d.Rule().Labels)
	}
}

func TestThresholdValidate(t *testing.T) {
	ok := Threshold{Name: "A", Metric: "x", Op: ">", Value: 1}
	for _, tc := range []struct {
		field string
		edit  func(*Threshold)
	}{
		{"name:", func(t *Threshold) { t.Name = "bad name" }},
		{"metric:", func(t *Threshold) { t.Metric = "x{a=\"b\"}" }},
		{"op:", func(t *Threshold) { t.Op = "=>" }},
		{"for:", func(t *Threshold) { t.For = -1 }},
		{"labels:", func(t *Threshold) { t.Labels = map[string]string{"a-b": "c"} }},
	} {
		th := ok
		tc.edit(&th)
		err := th.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want one naming the field", tc.field, err)
		}
	}
}

func TestDefaultRulesLoad(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	m := newManager(t, db, Options{DefaultRules: true})
	var got []string
	for _, g := range m.Groups() {
		for _, r := range g.Rules() {
			got = append(got, g.Name()+"/"+r.Name())
		}
	}
	want := []string{"gmc-service-newest-sample/gmc:service_newest_sample_timestamp:max1h", "gmc-service-silent/ServiceSilent", "gmc-target-down/TargetDown", "gmc-benchmarks/BenchmarkRegression", "gmc-benchmarks/BenchmarkRunFailed", "gmc-host-cpu/HostCPUHigh", "gmc-host-memory/HostMemoryHigh",
		"gmc-service-latency/ServiceLatencyHigh"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("default rules = %v, want %v", got, want)
	}
}
