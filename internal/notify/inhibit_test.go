package notify

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// summary lists every notification as "groupLabels: alerts".
func summary(ns []*Notification) []string {
	var out []string
	for _, n := range ns {
		var as []string
		for _, a := range n.Alerts {
			s := string(a.Labels["alertname"]) + "/" + string(a.Labels["service"])
			if w := a.Labels["long_window"]; w != "" {
				s += "/" + string(w)
			}
			as = append(as, s)
		}
		sort.Strings(as)
		out = append(out, n.GroupLabels.String()+": "+strings.Join(as, " "))
	}
	sort.Strings(out)
	return out
}

// TestDefaultGroupingAndInhibition replays the pages of one latency
// incident and one error burst: by default alerts are grouped by alertname
// and service, a service that is down inhibits its own latency and SLA
// alerts, and an SLA's four burn-rate alerts collapse to the most severe.
func TestDefaultGroupingAndInhibition(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route: {receiver: r, group_wait: 50ms, group_interval: 1h}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	burn := func(sev, long, short string) []string {
		return []string{"alertname", "SLAErrorBudgetBurn", "sla", "order-success", "service", "gateway", "severity", sev, "long_window", long, "short_window", short}
	}
	h.d.Send(
		// The backtester is down: its latency alert is a consequence.
		h.alert("alertname", "ServiceSilent", "service", "backtester", "severity", "page"),
		h.alert("alertname", "ServiceLatencyHigh", "service", "backtester", "severity", "page"),
		// Two instances of one service's latency alert: one group.
		h.alert("alertname", "ServiceLatencyHigh", "service", "engine", "instance", "e-1"),
		h.alert("alertname", "ServiceLatencyHigh", "service", "engine", "instance", "e-2"),
		// An error burst: four burn-rate alerts of one SLA.
		h.alert(burn("page", "1h", "5m")...),
		h.alert(burn("page", "6h", "30m")...),
		h.alert(burn("ticket", "1d", "2h")...),
		h.alert(burn("ticket", "3d", "6h")...),
	)
	waitFor(t, "three notifications", func() bool { return rec.count() >= 3 })
	waitFor(t, "the four groups flushed", func() bool { return h.d.flushes.Load() >= 4 })
	got := summary(rec.notifications())
	want := []string{
		`{alertname="SLAErrorBudgetBurn", service="gateway"}: SLAErrorBudgetBurn/gateway/1h`,
		`{alertname="ServiceLatencyHigh", service="engine"}: ServiceLatencyHigh/engine ServiceLatencyHigh/engine`,
		`{alertname="ServiceSilent", service="backtester"}: ServiceSilent/backtester`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notifications:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBurnCollapse: without the fastest burn, the next most severe one is
// the one notified.
func TestBurnCollapse(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route: {receiver: r, group_wait: 50ms, group_interval: 1h}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	burn := func(sla, sev, long string) []string {
		return []string{"alertname", "SLAErrorBudgetBurn", "sla", sla, "service", "gateway", "severity", sev, "long_window", long}
	}
	h.d.Send(h.alert(burn("a", "page", "6h")...), h.alert(burn("a", "ticket", "3d")...), h.alert(burn("b", "ticket", "1d")...), h.alert(burn("b", "ticket", "3d")...))
	waitFor(t, "a notification", func() bool { return rec.count() >= 1 })
	got := summary(rec.notifications())
	want := `[{alertname="SLAErrorBudgetBurn", service="gateway"}: SLAErrorBudgetBurn/gateway/1d SLAErrorBudgetBurn/gateway/6h]`
	if fmt.Sprint(got) != want {
		t.Errorf("notifications %v, want %s (sla a: 6h page, sla b: 1d ticket)", got, want)
	}
}

// TestInhibitRulesConfig: inhibit_rules in Alertmanager's schema replace the
// defaults; an empty list turns inhibition off; group_by: [] is one group.
func TestInhibitRulesConfig(t *testing.T) {
	cfg, err := LoadConfig([]byte(`
route: {receiver: r, group_by: []}
receivers: [{name: r}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.InhibitRules) != 1 || len(cfg.InhibitRules[0].SourceMatchers) != 1 || len(cfg.Route.GroupBy) != 0 {
		t.Errorf("config = %+v", cfg)
	}
	cfg, err = LoadConfig([]byte("route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules: []\n"))
	if err != nil || len(cfg.InhibitRules) != 0 {
		t.Errorf("inhibit_rules: [] gave %v, %v; want none", cfg.InhibitRules, err)
	}
	if strings.Join(cfg.Route.GroupBy, ",") != "alertname,service" {
		t.Errorf("default group_by = %v", cfg.Route.GroupBy)
	}
	cfg, err = LoadConfig([]byte("route: {receiver: r}\nreceivers: [{name: r}]\n"))
	if err != nil || len(cfg.InhibitRules) != len(DefaultInhibitRules()) {
		t.Errorf("no inhibit_rules gave %d rules, %v; want the defaults", len(cfg.InhibitRules), err)
	}
	for _, bad := range []string{
		"inhibit_rules: [{target_matchers: ['a=b']}]",
		"inhibit_rules: [{source_matchers: ['a=b'], target_matchers: ['c=d'], equal: ['bad-name']}]",
	} {
		if _, err := LoadConfig([]byte("route: {receiver: r}\nreceivers: [{name: r}]\n" + bad)); err == nil || !strings.Contains(err.Error(), "inhibit_rules[0]") {
			t.Errorf("%s: err %v, want one naming inhibit_rules[0]", bad, err)
		}
	}
}
