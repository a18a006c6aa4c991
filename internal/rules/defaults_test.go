package rules

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/gmc-dev/gmc/internal/alerthistory"
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

// activeOf lists the active alerts of the rule named name as service:state.
func activeOf(t *testing.T, m *Manager, name string) []string {
	t.Helper()
	var out []string
	for _, g := range m.Groups() {
		for _, r := range g.AlertingRules() {
			if r.Name() != name {
				continue
			}
			if err := r.LastError(); err != nil {
				t.Fatalf("%s failed to evaluate: %v", name, err)
			}
			for _, a := range r.ActiveAlerts() {
				out = append(out, a.Labels.Get("service")+":"+a.State.String())
			}
		}
	}
	return out
}

// TestServiceSilentPushgatewayGroup: issue 12's user trial pushed one
// Pushgateway group (a batch job pushing once) and was paged ServiceSilent
// 10s later, again after gmc rewrote the group's values, and for up to an
// hour after deleting the group. A group's last push stays current
// (Pushgateway semantics): its service is not judged by down_after, and
// once deleted (staleness markers) nothing fires.
func TestServiceSilentPushgatewayGroup(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	m := newManager(t, db, Options{DefaultRules: true, EvalInterval: time.Second})
	metric := labels.FromStrings("__name__", "user_test_metric", "job", "x", "service", "x")
	pushTime := labels.FromStrings("__name__", "push_time_seconds", "job", "x", "service", "x")
	staleMarker := math.Float64frombits(value.StaleNaN)
	ctx := context.Background()
	// One push at 0s; gmc rewrites the group every 30s; deleted at 95s.
	for sec := 0; sec <= 200; sec++ {
		ts := t0.Add(time.Duration(sec) * time.Second)
		switch {
		case sec <= 90 && sec%30 == 0:
			appendFloat(t, db, metric, ts, 42)
			appendFloat(t, db, pushTime, ts, float64(t0.Unix()))
		case sec == 95:
			appendFloat(t, db, metric, ts, staleMarker)
			appendFloat(t, db, pushTime, ts, staleMarker)
		}
		m.EvalAll(ctx, ts)
		if got := activeOf(t, m, "ServiceSilent"); len(got) != 0 {
			t.Fatalf("at %ds: ServiceSilent %v for a Pushgateway group (deleted at 95s)", sec, got)
		}
	}
}

// TestTargetDownNeedsDownAfter: one failed scrape (issue 12's user trial:
// single 500ms timeouts under load flipped market-data to DOWN) fires
// nothing; scrapes failing for the service's down_after (8s) fire
// TargetDown, as /system/status shows it down; one success resolves it.
func TestTargetDownNeedsDownAfter(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	m := newManager(t, db, Options{DefaultRules: true, EvalInterval: time.Second})
	up := labels.FromStrings("__name__", "up", "job", "md", "instance", "md:1", "service", "market-data")
	ctx := context.Background()
	firstFiring := -1
	for sec := 0; sec <= 60; sec++ {
		ts := t0.Add(time.Duration(sec) * time.Second)
		v := 1.0
		if sec == 20 || (sec >= 30 && sec < 50) { // one failed scrape, then 20s of failures
			v = 0
		}
		appendFloat(t, db, up, ts, v)
		m.EvalAll(ctx, ts)
		got := activeOf(t, m, "TargetDown")
		switch {
		case sec < 37 && len(got) != 0:
			t.Fatalf("at %ds: TargetDown %v before 8s of failed scrapes", sec, got)
		case len(got) != 0 && firstFiring < 0:
			firstFiring = sec
		case sec >= 50 && len(got) != 0:
			t.Fatalf("at %ds: TargetDown %v after a successful scrape", sec, got)
		}
	}
	if firstFiring != 37 && firstFiring != 38 {
		t.Errorf("TargetDown fired at %ds, want 37–38s (failing since 30s, down_after 8s)", firstFiring)
	}
}

// TestServiceSilentHistoryKeepsTheResolvedText: a service silent for 30 s
// comes back. The RESOLVED notification said "is back", but the alert
// history's episode kept the last firing evaluation's resolved_summary,
// "this is not a recovery" (t-user14b F9): the episode keeps the text
// rendered at the resolve.
func TestServiceSilentHistoryKeepsTheResolvedText(t *testing.T) {
	dir := t.TempDir()
	db := openTSDB(t, dir)
	h := openHistory(t, dir)
	var s sink
	m := newManager(t, db, Options{DefaultRules: true, EvalInterval: 5 * time.Second, Sink: s.send, History: h})
	ls := labels.FromStrings("__name__", "gmc_orders_total", "service", "risk", "instance", "risk-1")
	ctx := context.Background()
	for sec := 0; sec <= 90; sec += 5 {
		ts := t0.Add(time.Duration(sec) * time.Second)
		if sec <= 20 || sec >= 60 { // silent from 20 s to 60 s
			appendFloat(t, db, ls, ts, float64(sec))
		}
		m.EvalAll(ctx, ts)
	}
	eps := h.List(alerthistory.Filter{Alertname: "ServiceSilent"}, t0.Add(90*time.Second))
	if len(eps) != 1 || eps[0].State != "resolved" {
		t.Fatalf("episodes %+v, want one resolved", eps)
	}
	if got := eps[0].Annotations["resolved_summary"]; !strings.Contains(got, "is back") {
		t.Errorf("the resolved episode's resolved_summary %q, want the resolve's (is back)", got)
	}
}
