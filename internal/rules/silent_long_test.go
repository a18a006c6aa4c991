package rules

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestServiceSilentPastAnHour: t-user13 F12 got `[RESOLVED] ServiceSilent`
// an hour after a service went quiet, while /system/status still said it
// was down (it lists a silent service for as long as its series are
// stored). A RESOLVED must mean it came back: the alert keeps firing, with
// its true age, while the service is silent (3 hours here, evaluated every
// minute as gmc does), and when it pushes again the RESOLVED says so.
func TestServiceSilentPastAnHour(t *testing.T) {
	m, s, db, ls := silentRisk(t)
	ctx := context.Background()
	last := t0.Add(time.Minute)
	for at := 2 * time.Minute; at <= 3*time.Hour; at += time.Minute {
		now := t0.Add(at)
		m.EvalAll(ctx, now)
		got := activeOf(t, m, "ServiceSilent")
		var vals []float64
		for _, g := range m.Groups() {
			for _, r := range g.AlertingRules() {
				if r.Name() == "ServiceSilent" {
					for _, a := range r.ActiveAlerts() {
						vals = append(vals, a.Value)
					}
				}
			}
		}
		if want := now.Sub(last).Seconds(); len(got) != 1 || got[0] != "risk:firing" || vals[0] != want {
			t.Fatalf("at +%s: ServiceSilent %v with values %v, want risk firing at %vs (the newest sample's age)", at, got, vals, want)
		}
		for _, b := range s.take() {
			for _, a := range b {
				if a.Labels["alertname"] == "ServiceSilent" && !a.EndsAt.After(now) {
					t.Fatalf("at +%s: ServiceSilent sent resolved while the service was silent", at)
				}
			}
		}
	}
	// It pushes again: resolved, and the text says it came back.
	back := t0.Add(3*time.Hour + 10*time.Second)
	appendFloat(t, db, ls, back, 61)
	m.EvalAll(ctx, back)
	resolved := resolvedSummary(s, "ServiceSilent", back)
	if want := "service risk is back: it sent a sample 0s ago, after 2h59m or more of silence"; !strings.Contains(resolved, want) {
		t.Errorf("resolved text %q, want it to contain %q", resolved, want)
	}
}
