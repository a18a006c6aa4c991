package rules

import (
	"context"
	"testing"
	"time"
)

// TestServiceSilentTextsOneDurationRule: ServiceSilent's texts wrote their
// durations with plain humanizeDuration, "sent nothing for 2m 5s" and
// "after 2m 0s or more of silence", where /sla, the burn alerts and the
// dashboard write "2m5s" and "2m" (t-user17b F2, t-web18's one duration
// rule: rounded to the second, the units that are zero left out). The
// summary, the description and the RESOLVED text follow the rule.
func TestServiceSilentTextsOneDurationRule(t *testing.T) {
	m, s, db, ls := silentRisk(t)
	ctx := context.Background()
	// firing are the texts of the firing alert as last evaluated.
	firing := func() map[string]string {
		t.Helper()
		for _, g := range m.Groups() {
			for _, r := range g.AlertingRules() {
				if r.Name() != "ServiceSilent" {
					continue
				}
				for _, a := range r.ActiveAlerts() {
					return a.Annotations.Map()
				}
			}
		}
		return nil
	}
	for at := 70 * time.Second; at < 180*time.Second; at += 10 * time.Second {
		m.EvalAll(ctx, t0.Add(at))
	}
	for _, c := range []struct {
		at     time.Duration
		silent string // the newest sample's age ($value)
	}{
		{180 * time.Second, "2m"},                        // 120 s: humanizeDuration wrote "2m 0s"
		{185*time.Second + 600*time.Millisecond, "2m6s"}, // 125.6 s: humanizeDuration wrote "2m 5s"
	} {
		now := t0.Add(c.at)
		m.EvalAll(ctx, now)
		f := firing()
		if f == nil {
			t.Fatalf("at +%s: ServiceSilent not firing", c.at)
		}
		if want := "service risk is down: it sent nothing for " + c.silent; f["summary"] != want {
			t.Errorf("at +%s: summary %q, want %q", c.at, f["summary"], want)
		}
		if want := "The newest sample risk sent is " + c.silent + " old."; f["description"] != want {
			t.Errorf("at +%s: description %q, want %q", c.at, f["description"], want)
		}
	}
	// It pushes again 4.4 s later: the RESOLVED says so, by the same rule.
	back := t0.Add(190 * time.Second)
	appendFloat(t, db, ls, back, 61)
	m.EvalAll(ctx, back)
	resolved := resolvedSummary(s, "ServiceSilent", back)
	if want := "service risk is back: it sent a sample 0s ago, after 2m6s or more of silence"; resolved != want {
		t.Errorf("resolved text %q, want %q", resolved, want)
	}
}
