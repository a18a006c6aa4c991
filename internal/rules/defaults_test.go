package rules

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// TestServiceSilentOnSDKSeries checks the default ServiceSilent rule on the
// series the SDK pushes: a histogram's _sum and _count share every label
// but the name, which timestamp() drops, so the rule must keep them apart.
func TestServiceSilentOnSDKSeries(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	var s sink
	m := newManager(t, db, Options{DefaultRules: true, EvalInterval: 10 * time.Second, Sink: s.send})
	series := func(svc string) []labels.Labels {
		return []labels.Labels{
			labels.FromStrings("__name__", "gmc_order_latency_seconds_sum", "service", svc, "instance", svc+"-1"),
			labels.FromStrings("__name__", "gmc_order_latency_seconds_count", "service", svc, "instance", svc+"-1"),
			labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", svc+"-1", "result", "success"),
		}
	}
	ctx := context.Background()
	// Both services push every 5s for a minute; then "risk" stops.
	for sec := 0; sec <= 120; sec += 5 {
		ts := t0.Add(time.Duration(sec) * time.Second)
		for _, ls := range series("matching-engine") {
			appendFloat(t, db, ls, ts, float64(sec))
		}
		if sec <= 60 {
			for _, ls := range series("risk") {
				appendFloat(t, db, ls, ts, float64(sec))
			}
		}
		m.EvalAll(ctx, ts)
	}
	var silent []string
	for _, g := range m.Groups() {
		for _, r := range g.AlertingRules() {
			if r.Name() != "ServiceSilent" {
				continue
			}
			if err := r.LastError(); err != nil {
				t.Fatalf("ServiceSilent failed to evaluate: %v", err)
			}
			for _, a := range r.ActiveAlerts() {
				silent = append(silent, a.Labels.Get("service"))
			}
		}
	}
	if len(silent) != 1 || silent[0] != "risk" {
		t.Errorf("ServiceSilent active for %v, want [risk]", silent)
	}
}

// TestServiceSilentPastLookback: a service silent longer than PromQL's 5m
// lookback stays ServiceSilent (the subquery half) with its true age, up to
// an hour.
func TestServiceSilentPastLookback(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	m := newManager(t, db, Options{DefaultRules: true, EvalInterval: 10 * time.Second})
	ls := labels.FromStrings("__name__", "gmc_orders_total", "service", "risk", "result", "success")
	ctx := context.Background()
	for sec := 0; sec <= 60; sec++ { // pushes every second for a minute, then stops
		appendFloat(t, db, ls, t0.Add(time.Duration(sec)*time.Second), float64(sec))
	}
	last := t0.Add(time.Minute)
	for _, at := range []time.Duration{4 * time.Minute, 6*time.Minute + 7*time.Second, 23*time.Minute + 31*time.Second, 60 * time.Minute} {
		now := t0.Add(at)
		m.EvalAll(ctx, now)
		var got []float64
		for _, g := range m.Groups() {
			for _, r := range g.AlertingRules() {
				if r.Name() != "ServiceSilent" {
					continue
				}
				if err := r.LastError(); err != nil {
					t.Fatal(err)
				}
				for _, a := range r.ActiveAlerts() {
					got = append(got, a.Value)
				}
			}
		}
		if want := now.Sub(last).Seconds(); len(got) != 1 || got[0] != want {
			t.Errorf("at %s: ServiceSilent values %v, want one of %vs (the newest sample's age)", at, got, want)
		}
	}
}
