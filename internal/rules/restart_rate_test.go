package rules

import (
	"testing"
	"time"

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
	sent, h, end := cpuRestart(t, func(at time.Duration) float64 {
		return 0.05 * at.Seconds() // 5 % idle: 95 % busy
	})
	for _, b := range sent {
		for _, a := range b {
			if a.Labels["alertname"] != "HostCPUHigh" {
				continue
			}
			if !a.EndsAt.IsZero() && !a.EndsAt.After(end) {
				t.Errorf("HostCPUHigh sent resolved at %s after the restart (%s) with the CPU 95 %% busy throughout",
					a.EndsAt.Sub(t0), a.Annotations[ResolvedSummaryAnnotation])
			}
			if !a.StartsAt.Before(t0.Add(10 * time.Minute)) {
				t.Errorf("HostCPUHigh paged anew from %s after the restart: the episode began before the stop", a.StartsAt.Sub(t0))
			}
		}
	}
	var eps []alerthistory.Episode
	for _, e := range h.List(alerthistory.Filter{Limit: 100}, end) {
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
