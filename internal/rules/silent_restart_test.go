package rules

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// TestSilenceHeldAfterRestart: gmc restarts after a gap of two minutes
// (t-user6: eight ServiceSilent pages at the first evaluation, "sent
// nothing for 2m 13s", each resolved 1-2 s later when the services' first
// pushes came). gmc did not watch the services while it was down: a service
// is silent only once gmc has been up for its down_after, and a target down
// only once its scrapes have failed that long since the start. Services a
// and b push again 2 s after the start and are never called silent; c
// (down_after 15 s) stays silent and fires once gmc has watched it for 15 s,
// with its true age; target d fails every scrape from the start and fires
// after 8 s of them, not on the first.
func TestSilenceHeldAfterRestart(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	series := func(svc string) labels.Labels {
		return labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", svc+"-1")
	}
	up := labels.FromStrings("__name__", "up", "job", "d", "instance", "d:1", "service", "d")
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	for sec := 0; sec <= 60; sec++ { // before gmc stopped
		for _, svc := range []string{"a", "b", "c"} {
			appendFloat(t, db, series(svc), at(sec), float64(sec))
		}
		appendFloat(t, db, up, at(sec), 1)
	}
	var clock atomic.Int64
	clock.Store(at(180).UnixNano())
	var s sink
	m := newManager(t, db, Options{DefaultRules: true, EvalInterval: 20 * time.Millisecond, Sink: s.send,
		ServiceDownAfter: map[string]time.Duration{"c": 15 * time.Second},
		Now:              func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }() // gmc is back at 180s
	defer func() {
		cancel()
		<-done
	}()
	first := map[string]time.Time{} // alertname/service → first firing evaluation
	var value float64
	var valueAt time.Time // the step at which value was read
	for sec := 180; sec <= 200; sec++ {
		clock.Store(at(sec).UnixNano())
		if sec >= 182 {
			appendFloat(t, db, series("a"), at(sec), float64(sec))
			appendFloat(t, db, series("b"), at(sec), float64(sec))
		}
		if sec >= 181 {
			appendFloat(t, db, up, at(sec), 0)
		}
		waitEvaluated(t, m, at(sec), serviceSilentGroupName, targetDownGroupName)
		for _, g := range m.Groups() {
			for _, r := range g.AlertingRules() {
				for _, a := range r.ActiveAlerts() {
					k := r.Name() + "/" + a.Labels.Get("service")
					if _, ok := first[k]; !ok && a.State.String() == "firing" {
						first[k] = a.FiredAt
						if k == "ServiceSilent/c" {
							value, valueAt = a.Value, at(sec)
						}
					}
				}
			}
		}
	}
	for _, k := range []string{"ServiceSilent/a", "ServiceSilent/b"} {
		if ts, ok := first[k]; ok {
			t.Errorf("%s fired at %v (gmc back at 180s, its pushes from 182s)", k, ts.Sub(t0))
		}
	}
	// The groups evaluate every 20 ms of wall clock at the stepped time
	// (+1 ms each time): the first evaluation past the down_after since
	// 180s is at most one step after it.
	check := func(k string, after time.Time) {
		ts, ok := first[k]
		switch {
		case !ok:
			t.Errorf("%s never fired", k)
		case !ts.After(after) || ts.After(after.Add(time.Second)):
			t.Errorf("%s fired at %v, want just after %v, once gmc had watched for its down_after", k, ts.Sub(t0), after.Sub(t0))
		}
	}
	check("ServiceSilent/c", at(180+15))
	check("TargetDown/d", at(180+8))
	// The value is of the latest evaluation before it was read: it fired
	// at most a step before (between two reads of the loop).
	if lo, hi := first["ServiceSilent/c"].Sub(at(60)).Seconds(), valueAt.Sub(at(60)).Seconds(); value < lo-0.01 || value > hi+0.01 {
		t.Errorf("ServiceSilent c's value %v, want its newest sample's true age when evaluated, %v to %v", value, lo, hi)
	}
	for _, b := range s.take() {
		for _, a := range b {
			if a.Labels["alertname"] == "ServiceSilent" && a.Labels["service"] != model.LabelValue("c") {
				t.Errorf("sent %v", a.Labels)
			}
		}
	}
}

// waitEvaluated waits, a minute at most, until each named group of m has
// evaluated at ts or later (Run evaluates at the stepped clock).
func waitEvaluated(t *testing.T, m *Manager, ts time.Time, groups ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for _, name := range groups {
		for m.group(name).GetLastEvalTimestamp().Before(ts) {
			if time.Now().After(deadline) {
				t.Fatalf("group %s did not evaluate at %v within a minute", name, ts.Sub(t0))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
