package rules

import (
	"context"
	"testing"

	"github.com/prometheus/prometheus/promql"
	promtemplate "github.com/prometheus/prometheus/template"
	"gopkg.in/yaml.v3"
)

// TestDefaultAlertsHaveUnits: the dashboard formats an alert's value by its
// unit annotation and says "unit unknown" without one, so every shipped
// alert names its unit.
func TestDefaultAlertsHaveUnits(t *testing.T) {
	groups := defaultAlertRules(t)
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if r.Annotations["unit"] == "" {
				t.Errorf("default alert %s has no unit annotation", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no default alerts parsed")
	}
}

// TestDefaultSummariesCarryTheValue: a latency page read "p99 order latency
// of matching-engine above 1ms" and a CPU one "CPU of vm above 90%": the
// figure was only in the description, which the Slack, Telegram and
// console messages do not show (t-user12 F15). The threshold alerts'
// summaries say the value, rendered as Prometheus renders them.
func TestDefaultSummariesCarryTheValue(t *testing.T) {
	groups := defaultAlertRules(t)
	want := map[string]struct {
		value float64
		says  string
	}{
		"HostCPUHigh":        {95.123, "CPU of vm at 95.1%, above 90%"},
		"HostMemoryHigh":     {91.04, "Memory of vm at 91.0%, above 85%"},
		"ServiceLatencyHigh": {0.0022, "p99 order latency of engine at 2.2ms, above 1ms"},
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			w, ok := want[r.Alert]
			if !ok {
				continue
			}
			delete(want, r.Alert)
			ls := map[string]string{"instance": "vm", "service": "engine"}
			data := promtemplate.AlertTemplateData(ls, nil, "", promql.Sample{F: w.value})
			defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
			got, err := promtemplate.NewTemplateExpander(context.Background(), defs+r.Annotations["summary"], r.Alert, data, 0, nil, nil, nil).Expand()
			if err != nil || got != w.says {
				t.Errorf("%s summary %q (%v), want %q", r.Alert, got, err, w.says)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("default alerts not found: %v", want)
	}
}

// defaultAlertRules parses the default rules' groups: their alerts' names
// and annotations.
func defaultAlertRules(t *testing.T) (groups struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}) {
	t.Helper()
	if err := yaml.Unmarshal(DefaultRules(), &groups); err != nil {
		t.Fatal(err)
	}
	return groups
}
