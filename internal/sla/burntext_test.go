package sla_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"

	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// TestBurnAlertTextSaysMeasuredBurn expands the page alert's summary and
// description as Prometheus's rule manager does, over recorded error
// ratios of 9.23% (1h) and 11.46% (5m) against a 0.1% budget: the text
// gives the threshold as "at least 14.4×" and the measured 92.3× and 115×,
// not the threshold as if it were the rate.
func TestBurnAlertTextSaysMeasuredBurn(t *testing.T) {
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC)
	app := db.AppenderV2(context.Background())
	for name, v := range map[string]float64{"sla:error_ratio:rate1h": 0.0923, "sla:error_ratio:rate5m": 0.1146} {
		ls := labels.FromStrings("__name__", name, "sla", "orders", "service", "gw")
		if _, err := app.Append(0, ls, 0, now.Add(-10*time.Second).UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	s := sla.SLA{Name: "orders", Service: "gw", Objective: 99.9, Indicator: sla.Indicator{Ratio: &sla.Ratio{}},
		Windows: []sla.Duration{sla.Duration(30 * 24 * time.Hour)}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	qf := promrules.EngineQueryFunc(engine, db)
	found := false
	for _, g := range s.RuleGroups() {
		for _, rl := range g.Rules {
			if rl.Alert == "" || rl.Labels["long_window"] != "1h" {
				continue
			}
			found = true
			expand := func(text string) string {
				data := template.AlertTemplateData(nil, nil, "", promql.Sample{F: 0.0923})
				defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
				e := template.NewTemplateExpander(context.Background(), defs+text, "test", data, model.TimeFromUnixNano(now.UnixNano()), template.QueryFunc(qf), nil, nil)
				out, err := e.Expand()
				if err != nil {
					t.Fatalf("expand %q: %v", text, err)
				}
				return out
			}
			sum, desc := expand(rl.Annotations["summary"]), expand(rl.Annotations["description"])
			if want := "burns its error budget at least 14.4× faster than sustainable over 1h and 5m (1h: 92.3×, 5m: 115×)"; !strings.Contains(sum, want) {
				t.Errorf("summary %q, want it to contain %q", sum, want)
			}
			// t-user3 #12: the resolved notification printed the summary,
			// "burns … (1h: 61.2×, 5m: 14.8×)", as if firing now.
			if want := "SLA orders (gw, objective 99.9%) stopped burning its error budget at least 14.4× faster than sustainable over both 1h and 5m; at its last firing evaluation the burn was 1h: 92.3×, 5m: 115×"; expand(rl.Annotations["resolved_summary"]) != want {
				t.Errorf("resolved_summary %q, want %q", expand(rl.Annotations["resolved_summary"]), want)
			}
			if want := "error ratio over 1h is 9.23% (a burn rate of 92.3×, alerting at 14.4× or more"; !strings.Contains(desc, want) {
				t.Errorf("description %q, want it to contain %q", desc, want)
			}
		}
	}
	if !found {
		t.Fatal("no 1h burn alert")
	}
}
