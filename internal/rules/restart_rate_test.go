package rules

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/alerthistory"
)

// TestRestartRateAlertWaitsForData: HostCPUHigh (a 1m rate of the agent's
// idle counter) fires, gmc is down 112 s, and the CPU stays at 95 % busy
// throughout. After the restart the rate has no value until the agent's
// second sample: gmc found the alert resolved at its second evaluation
// ("found resolved at gmc's restart") and paged it again a minute later
// (t-user16 F6). It now waits for the rules' longest range since its first
// evaluation before ending an episode open at the stop: one episode,
// firing throughout, no resolve sent.
func TestRestartRateAlertWaitsForData(t *testing.T) {
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	idle := labels.FromStrings("__name__", "node_cpu_seconds_total", "instance", "vm", "cpu", "0", "mode", "idle")
	ctx := context.Background()
	var s sink
	h := openHistory(t, dir)
	m := newManager(t, db, Options{History: h, DefaultRules: true, EvalInterval: 10 * time.Second, Sink: s.send})
	v := 0.0
	sample := func(at time.Duration) {
		v = 0.05 * at.Seconds() // 5 % idle: 95 % busy
		appendFloat(t, db, idle, t0.Add(at), v)
	}
	for at := time.Duration(0); at <= 10*time.Minute; at += 10 * time.Second {
		sample(at)
		m.EvalAll(ctx, t0.Add(at))
	}
	if got := activeOf(t, m, "HostCPUHigh"); len(got) != 1 || got[0] != ":firing" {
		t.Fatalf("HostCPUHigh before the stop: %v, want firing", got)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	s.take()
	// Down from 10m to 11m52s; the agent's samples resume every 10 s,
	// the rules are evaluated every 2 s (the demo's are every second).
	h2 := openHistory(t, dir)
	m2 := newManager(t, db, Options{History: h2, DefaultRules: true, EvalInterval: 2 * time.Second, Sink: s.send})
	restart := 10*time.Minute + 112*time.Second
	for at := restart; at <= restart+3*time.Minute; at += 2 * time.Second {
		if (at-restart)%(10*time.Second) == 0 {
			sample(at)
		}
		m2.EvalAll(ctx, t0.Add(at))
	}
	for _, b := range s.take() {
		for _, a := range b {
			if a.Labels["alertname"] != "HostCPUHigh" {
				continue
			}
			if !a.EndsAt.IsZero() && !a.EndsAt.After(t0.Add(restart+3*time.Minute)) {
				t.Errorf("HostCPUHigh sent resolved at %s after the restart (%s) with the CPU 95 %% busy throughout",
					a.EndsAt.Sub(t0), a.Annotations[ResolvedSummaryAnnotation])
			}
			if !a.StartsAt.Before(t0.Add(10 * time.Minute)) {
				t.Errorf("HostCPUHigh paged anew from %s after the restart: the episode began before the stop", a.StartsAt.Sub(t0))
			}
		}
	}
	var eps []alerthistory.Episode
	for _, e := range h2.List(alerthistory.Filter{Limit: 100}, t0.Add(restart+3*time.Minute)) {
		if e.Alertname == "HostCPUHigh" {
			eps = append(eps, e)
		}
	}
	if len(eps) != 1 || eps[0].State != "firing" {
		for _, e := range eps {
			t.Logf("episode %s active %s", e.State, e.ActiveAt.Sub(t0))
		}
		t.Errorf("HostCPUHigh has %d episodes after the restart, want one, firing", len(eps))
	}
}
