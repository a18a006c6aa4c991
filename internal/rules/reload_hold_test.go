package rules

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"
)

// TestReloadLengthensHold: a reload that lengthens down_after while the
// start's hold still runs (gmc up 3 s, down_after 2 s → 10 s) would hold
// the services again, and resolve a ServiceSilent page already sent for a
// service silent for a minute, only to fire it again once gmc had watched
// for 10 s. The page stays firing, with its firing time, as through an
// ingest stall; /system/status's hold agrees.
func TestReloadLengthensHold(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	appendFloat(t, db, labels.FromStrings("__name__", "gmc_orders_total", "service", "q", "instance", "q-1"), t0, 1)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	var s sink
	m := newManager(t, db, Options{DefaultRules: true, DownAfter: 2 * time.Second, Started: at(55), Sink: s.send,
		Now: func() time.Time { return at(59) }})
	firing := func() (time.Time, bool) {
		for _, g := range m.Groups() {
			for _, r := range g.AlertingRules() {
				for _, a := range r.ActiveAlerts() {
					if r.Name() == "ServiceSilent" && a.Labels.Get("service") == "q" && a.State == promrules.StateFiring {
						return a.FiredAt, true
					}
				}
			}
		}
		return time.Time{}, false
	}
	m.EvalAll(context.Background(), at(58))
	fired, ok := firing()
	if !ok {
		t.Fatal("ServiceSilent{service=q} not firing 3 s after the start with down_after 2s")
	}
	s.take()

	ch, err := m.UpdateRules(RuleConfig{DefaultRules: true, DownAfter: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Replaced) != 2 || len(ch.Kept) == 0 {
		t.Fatalf("UpdateRules = %+v, want the two silence groups replaced, the others kept", ch)
	}
	m.EvalAll(context.Background(), at(59))
	if got, ok := firing(); !ok || !got.Equal(fired) {
		t.Errorf("after the reload ServiceSilent{service=q} firing %v since %v, want firing since %v", ok, got, fired)
	}
	for _, b := range s.take() {
		for _, a := range b {
			if !a.EndsAt.After(at(59)) {
				t.Errorf("the reload sent %s resolved", a.Labels)
			}
		}
	}
	if h, held := m.SilenceHold(at(59), "q"); held {
		t.Errorf("q held (%+v) while its page fires", h)
	}
}
