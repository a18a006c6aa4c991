package sla

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRuleGroupsRatio(t *testing.T) {
	s := SLA{Name: "orders", Service: "matching-engine", Objective: 99.9, Indicator: Indicator{Ratio: &Ratio{}}}
	s.Normalise()
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
	// A burn alert also needs its short window 95% covered by data: a
	// sample within the lookback at 95% of its minutes (a hole counts as
	// uncovered); its long window counts over the data it holds.
	burn := func(long, short, factor, need string) string {
		return `sla:error_ratio:rate` + long + `{sla="orders"} > (` + factor + ` * (1 - 0.999)) and sla:error_ratio:rate` + short + `{sla="orders"} > (` + factor + ` * (1 - 0.999))` +
			` and on() count_over_time(count(` + total + `)[` + short + `:1m]) >= ` + need
	}
	// Not while a faster pair fired within its short window: that burst
	// was paged (t-user13 F7).
	pagedBy := func(faster, short string) string {
		return ` unless on(sla) max_over_time(ALERTS{alertname="SLAErrorBudgetBurn",alertstate="firing",sla="orders",long_window` + faster + `}[` + short + `])`
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
			{"SLAErrorBudgetBurn", burn("1h", "5m", "14.4", "5"), "map[long_window:1h severity:page short_window:5m]"},
			{"SLAErrorBudgetBurn", burn("6h", "30m", "6", "29") + pagedBy(`="1h"`, "30m"), "map[long_window:6h severity:page short_window:30m]"},
		},
		"sla:orders:slow": {
			{"sla:error_ratio:rate1d", ratio("1d"), ""},
			{"sla:error_ratio:rate3d", ratio("3d"), ""},
			{"sla:error_ratio:rate7d", ratio("7d"), ""},
			{"sla:error_ratio:rate30d", ratio("30d"), ""},
			{"SLAErrorBudgetBurn", burn("1d", "2h", "3", "114") + pagedBy(`=~"1h|6h"`, "2h"), "map[long_window:1d severity:ticket short_window:2h]"},
			{"SLAErrorBudgetBurn", burn("3d", "6h", "1", "342") + pagedBy(`=~"1h|6h|1d"`, "6h"), "map[long_window:3d severity:ticket short_window:6h]"},
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
		s.Normalise()
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
	if err := s.Validate(); err == nil || !strings.HasPrefix(err.Error(), "windows:") {
		t.Errorf("an SLA not normalised (no windows): err = %v", err)
	}
	s.Normalise()
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
		s.Normalise()
		err := s.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want one naming the field", tc.field, err)
		}
	}
}

// TestBurnAlertsFollowPeriod: the burn windows scale with the SLA's period
// (its longest window) and each pair keeps the workbook's budget fraction,
// factor = fraction × period / long window.
func TestBurnAlertsFollowPeriod(t *testing.T) {
	const m, h, d = time.Minute, time.Hour, 24 * time.Hour
	for _, tc := range []struct {
		name    string
		windows []Duration
		want    []BurnAlert
	}{
		{"30d: the workbook's table", nil, []BurnAlert{
			{"page", 14.4, h, 5 * m, 0.02}, {"page", 6, 6 * h, 30 * m, 0.05},
			{"ticket", 3, d, 2 * h, 0.1}, {"ticket", 1, 3 * d, 6 * h, 0.1}}},
		// 2% of a week's budget in 14 minutes is 14.4×; 70s rounds to 1m and
		// is raised to 5m.
		{"7d", []Duration{Duration(h), Duration(d), Duration(7 * d)}, []BurnAlert{
			{"page", 14.4, 14 * m, 5 * m, 0.02}, {"page", 6, 84 * m, 7 * m, 0.05},
			{"ticket", 3, 336 * m, 28 * m, 0.1}, {"ticket", 1, 1008 * m, 84 * m, 0.1}}},
		// 1h/30 = 2m is raised to 5m: 2% of a day's budget in 5m is 5.76×.
		{"1d", []Duration{Duration(h), Duration(d)}, []BurnAlert{
			{"page", 5.76, 5 * m, 5 * m, 0.02}, {"page", 6, 12 * m, 5 * m, 0.05},
			{"ticket", 3, 48 * m, 5 * m, 0.1}, {"ticket", 1, 144 * m, 12 * m, 0.1}}},
		// A 90d period stretches the windows threefold.
		{"90d", []Duration{Duration(90 * d)}, []BurnAlert{
			{"page", 14.4, 3 * h, 15 * m, 0.02}, {"page", 6, 18 * h, 90 * m, 0.05},
			{"ticket", 3, 3 * d, 6 * h, 0.1}, {"ticket", 1, 9 * d, 18 * h, 0.1}}},
		// 5m: every long window is the whole period, so each pair's factor
		// is its budget fraction (0.02…0.1), a burn the budget sustains:
		// none is kept.
		{"5m", []Duration{Duration(5 * m)}, nil},
		// 1h: the pages' windows are raised to 5m and their factors fall
		// below 1; the 1d ticket's too (0.1 × 1h / 5m = 1.2); the 3d
		// ticket scales to 6m & 5m at 1×.
		{"1h", []Duration{Duration(5 * m), Duration(h)}, []BurnAlert{{"ticket", 1.2, 5 * m, 5 * m, 0.1}, {"ticket", 1, 6 * m, 5 * m, 0.1}}},
		// 2h: the 6h page and the 1d ticket both become 5m & 5m; the page
		// (first) is kept, the ticket would be the same series.
		{"2h", []Duration{Duration(2 * h)}, []BurnAlert{{"page", 1.2, 5 * m, 5 * m, 0.05}, {"ticket", 1, 12 * m, 5 * m, 0.1}}},
	} {
		s := SLA{Name: "x", Service: "svc", Objective: 99.9, Windows: tc.windows, Indicator: Indicator{Ratio: &Ratio{}}}
		s.Normalise()
		if err := s.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := s.BurnAlerts(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: BurnAlerts =\n %v, want\n %v", tc.name, got, tc.want)
		}
	}
}

// TestSevenDaySLA: a 7d SLA's rules alert over its own windows, and its
// status judges burning over them.
func TestSevenDaySLA(t *testing.T) {
	s := SLA{Name: "wk", Service: "svc", Objective: 99.9, Windows: []Duration{Duration(time.Hour), Duration(24 * time.Hour), Duration(7 * 24 * time.Hour)},
		Indicator: Indicator{Ratio: &Ratio{}}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range s.RuleGroups() {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, g.Name+" "+r.Expr+" "+fmtMap(r.Labels))
			}
		}
	}
	want := []string{
		`sla:wk:raw sla:error_ratio:rate14m{sla="wk"} > (14.4 * (1 - 0.999)) and sla:error_ratio:rate5m{sla="wk"} > (14.4 * (1 - 0.999)) and on() count_over_time(count(gmc_orders_total{service="svc"})[5m:1m]) >= 5 map[long_window:14m severity:page short_window:5m]`,
		`sla:wk:raw sla:error_ratio:rate84m{sla="wk"} > (6 * (1 - 0.999)) and sla:error_ratio:rate7m{sla="wk"} > (6 * (1 - 0.999)) and on() count_over_time(count(gmc_orders_total{service="svc"})[7m:1m]) >= 7 unless on(sla) max_over_time(ALERTS{alertname="SLAErrorBudgetBurn",alertstate="firing",sla="wk",long_window="14m"}[7m]) map[long_window:84m severity:page short_window:7m]`,
		`sla:wk:raw sla:error_ratio:rate336m{sla="wk"} > (3 * (1 - 0.999)) and sla:error_ratio:rate28m{sla="wk"} > (3 * (1 - 0.999)) and on() count_over_time(count(gmc_orders_total{service="svc"})[28m:1m]) >= 27 unless on(sla) max_over_time(ALERTS{alertname="SLAErrorBudgetBurn",alertstate="firing",sla="wk",long_window=~"14m|84m"}[28m]) map[long_window:336m severity:ticket short_window:28m]`,
		`sla:wk:slow sla:error_ratio:rate1008m{sla="wk"} > (1 * (1 - 0.999)) and sla:error_ratio:rate84m{sla="wk"} > (1 * (1 - 0.999)) and on() count_over_time(count(gmc_orders_total{service="svc"})[1h24m:1m]) >= 80 unless on(sla) max_over_time(ALERTS{alertname="SLAErrorBudgetBurn",alertstate="firing",sla="wk",long_window=~"14m|84m|336m"}[1h24m]) map[long_window:1008m severity:ticket short_window:84m]`,
	}
	if !reflect.DeepEqual(alerts, want) {
		t.Errorf("alerts:\n got  %q\n want %q", alerts, want)
	}
	// Every window an alert reads is recorded.
	recorded := map[string]bool{}
	for _, g := range s.RuleGroups() {
		for _, r := range g.Rules {
			recorded[r.Record] = true
		}
	}
	for _, w := range []string{"5m", "7m", "14m", "28m", "84m", "336m", "1008m"} {
		if !recorded[ErrorRatioPrefix+w] {
			t.Errorf("%s not recorded", ErrorRatioPrefix+w)
		}
	}
	// 2% of the week's budget over 14m and 5m: page. The 30d table (1h at
	// 14.4×) would not page on this.
	ratios := map[string]float64{"5m": 0.015, "14m": 0.015, "1h": 0.004, "1d": 0.0002, "7d": 0.0001}
	if st := s.Evaluate(ratios); st.Burning != "page" || st.BurnRates["14m"] == nil || math.Abs(*st.BurnRates["14m"]-15) > 1e-9 {
		t.Errorf("status = %+v, want burning page with burn rate 15 over 14m", st)
	}
	if got := s.BurnCollapses(); !reflect.DeepEqual(got, [][2]string{{"14m", "84m"}, {"336m", "1008m"}}) {
		t.Errorf("collapses = %v", got)
	}
}

// Validate checks and never changes the SLA, normalised or not.
func TestValidateDoesNotMutate(t *testing.T) {
	for _, ind := range []func() Indicator{
		func() Indicator { return Indicator{Latency: &Latency{Threshold: Duration(time.Millisecond)}} },
		func() Indicator { return Indicator{Ratio: &Ratio{}} },
		func() Indicator { return Indicator{Custom: &Custom{Good: "a", Total: "b"}} },
	} {
		mk := func() SLA { return SLA{Name: "a", Service: "svc", Objective: 99.9, Indicator: ind()} }
		raw, want := mk(), mk()
		_ = raw.Validate()
		if !reflect.DeepEqual(raw, want) {
			t.Errorf("Validate changed a raw SLA: %+v, want %+v", raw, want)
		}
		norm, want := mk(), mk()
		norm.Normalise()
		want.Normalise()
		norm.Normalise()
		if err := norm.Validate(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(norm, want) {
			t.Errorf("Validate changed a normalised SLA: %+v, want %+v", norm, want)
		}
	}
	l := SLA{Indicator: Indicator{Latency: &Latency{}}}
	l.Normalise()
	if l.Indicator.Latency.Metric != DefaultLatencyMetric || l.Indicator.Latency.Buckets != "native" || len(l.Windows) != 4 {
		t.Errorf("Normalise left defaults unset: %+v %+v", l, *l.Indicator.Latency)
	}
}
