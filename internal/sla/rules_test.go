package sla

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRuleGroupsRatio(t *testing.T) {
	s := SLA{Name: "orders", Service: "matching-engine", Objective: 99.9, Indicator: Indicator{Ratio: &Ratio{}}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	const (
		errs  = `gmc_orders_total{service="matching-engine",result!="success"}`
		total = `gmc_orders_total{service="matching-engine"}`
	)
	// Every window from the raw series (traffic-weighted whatever gmc's
	// uptime); a missing error counter counts zero errors.
	ratio := func(w string) string {
		return "(sum(rate(" + errs + "[" + w + "])) or vector(0)) / sum(rate(" + total + "[" + w + "]))"
	}
	burn := func(long, short, factor string) string {
		return `sla:error_ratio:rate` + long + `{sla="orders"} > (` + factor + ` * (1 - 0.999)) and sla:error_ratio:rate` + short + `{sla="orders"} > (` + factor + ` * (1 - 0.999))`
	}
	type r struct{ name, expr, labels string }
	want := map[string][]r{
		"sla:orders:raw": {
			{"sla:requests:rate5m", "sum(rate(" + total + "[5m]))", ""},
			{"sla:errors:rate5m", "(sum(rate(" + errs + "[5m])) or vector(0))", ""},
			{"sla:error_ratio:rate5m", ratio("5m"), ""},
			{"sla:error_ratio:rate30m", ratio("30m"), ""},
			{"sla:error_ratio:rate1h", ratio("1h"), ""},
			{"sla:error_ratio:rate2h", ratio("2h"), ""},
			{"sla:error_ratio:rate6h", ratio("6h"), ""},
			{"SLAErrorBudgetBurn", burn("1h", "5m", "14.4"), "map[long_window:1h severity:page short_window:5m]"},
			{"SLAErrorBudgetBurn", burn("6h", "30m", "6"), "map[long_window:6h severity:page short_window:30m]"},
		},
		"sla:orders:slow": {
			{"sla:error_ratio:rate1d", ratio("1d"), ""},
			{"sla:error_ratio:rate3d", ratio("3d"), ""},
			{"sla:error_ratio:rate7d", ratio("7d"), ""},
			{"sla:error_ratio:rate30d", ratio("30d"), ""},
			{"SLAErrorBudgetBurn", burn("1d", "2h", "3"), "map[long_window:1d severity:ticket short_window:2h]"},
			{"SLAErrorBudgetBurn", burn("3d", "6h", "1"), "map[long_window:3d severity:ticket short_window:6h]"},
		},
	}
	groups := s.RuleGroups()
	if len(groups) != 2 {
		t.Fatalf("groups = %d", len(groups))
	}
	for _, g := range groups {
		if !reflect.DeepEqual(g.Labels, map[string]string{"sla": "orders", "service": "matching-engine"}) {
			t.Errorf("%s labels = %v", g.Name, g.Labels)
		}
		var got []r
		for _, rl := range g.Rules {
			l := ""
			if rl.Labels != nil {
				l = fmtMap(rl.Labels)
			}
			got = append(got, r{rl.Record + rl.Alert, rl.Expr, l})
		}
		if !reflect.DeepEqual(got, want[g.Name]) {
			t.Errorf("group %s:\n got  %q\n want %q", g.Name, got, want[g.Name])
		}
	}
}

func fmtMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	var b strings.Builder
	b.WriteString("map[")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(k + ":" + m[k])
	}
	b.WriteString("]")
	return b.String()
}

func TestIndicatorExpressions(t *testing.T) {
	us := Duration(500 * time.Microsecond)
	for _, tc := range []struct {
		name        string
		ind         Indicator
		total, errs string
	}{
		{"latency native", Indicator{Latency: &Latency{Threshold: us}},
			`histogram_count(sum(rate(gmc_order_latency_seconds{service="me"}[1h])))`,
			`(histogram_count(sum(rate(gmc_order_latency_seconds{service="me"}[1h]))) * (1 - histogram_fraction(0, 0.0005, sum(rate(gmc_order_latency_seconds{service="me"}[1h])))))`},
		{"latency classic", Indicator{Latency: &Latency{Metric: "rpc_seconds", Threshold: us, Buckets: "classic"}},
			`sum(rate(rpc_seconds_count{service="me"}[1h]))`,
			`(sum(rate(rpc_seconds_count{service="me"}[1h])) - sum(rate(rpc_seconds_bucket{service="me",le="0.0005"}[1h])))`},
		{"ratio selectors", Indicator{Ratio: &Ratio{Errors: `http_requests_total{code=~"5.."}`, Total: `http_requests_total`}},
			`sum(rate(http_requests_total[1h]))`, `(sum(rate(http_requests_total{code=~"5.."}[1h])) or vector(0))`},
		{"custom", Indicator{Custom: &Custom{Good: `jobs_total{ok="true"}`, Total: `jobs_total`}},
			`sum(rate(jobs_total[1h]))`, `(sum(rate(jobs_total[1h])) - sum(rate(jobs_total{ok="true"}[1h])))`},
	} {
		s := SLA{Name: "x", Service: "me", Objective: 99, Indicator: tc.ind}
		if err := s.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := s.TotalRate(time.Hour); got != tc.total {
			t.Errorf("%s: total = %s, want %s", tc.name, got, tc.total)
		}
		if got := s.ErrorsRate(time.Hour); got != tc.errs {
			t.Errorf("%s: errors = %s, want %s", tc.name, got, tc.errs)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := func() SLA {
		return SLA{Name: "a", Service: "svc", Objective: 99.9, Indicator: Indicator{Ratio: &Ratio{}}}
	}
	s := ok()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Windows, DefaultWindows()) {
		t.Fatalf("default windows = %v", s.Windows)
	}
	for _, tc := range []struct {
		field string
		edit  func(*SLA)
	}{
		{"name:", func(s *SLA) { s.Name = "a b" }},
		{"objective:", func(s *SLA) { s.Objective = 100 }},
		{"objective:", func(s *SLA) { s.Objective = 0 }},
		{"windows[1]:", func(s *SLA) { s.Windows = []Duration{Duration(time.Hour), Duration(time.Minute)} }},
		{"windows[1]:", func(s *SLA) { s.Windows = []Duration{Duration(time.Hour), Duration(time.Hour)} }},
		{"indicator:", func(s *SLA) { s.Indicator.Custom = &Custom{Good: "a", Total: "b"} }},
		{"indicator:", func(s *SLA) { s.Indicator = Indicator{} }},
		{"indicator.ratio:", func(s *SLA) { s.Indicator.Ratio.Errors = "x" }},
		{"indicator.ratio.total:", func(s *SLA) { s.Indicator.Ratio = &Ratio{Errors: "x", Total: "rate(y[1m])"} }},
		{"service:", func(s *SLA) { s.Service = "" }},
		{"indicator.latency.threshold:", func(s *SLA) { s.Indicator = Indicator{Latency: &Latency{}} }},
		{"indicator.latency.buckets:", func(s *SLA) { s.Indicator = Indicator{Latency: &Latency{Threshold: 1, Buckets: "exp"}} }},
		{"indicator.custom:", func(s *SLA) { s.Indicator = Indicator{Custom: &Custom{Good: "x"}} }},
	} {
		s := ok()
		tc.edit(&s)
		err := s.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want one naming the field", tc.field, err)
		}
	}
}
