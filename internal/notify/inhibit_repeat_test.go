package notify

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// The demo's inhibition: a slow engine's latency alert mutes its clients'.
const engineInhibitConfig = `
route:
  receiver: r
  group_wait: 0s
  group_interval: 100ms
  routes: [{matchers: ['alertname="ServiceLatencyHigh"'], group_wait: 400ms}]
receivers: [{name: r}]
inhibit_rules:
  - source_matchers: ['alertname="ServiceLatencyHigh"', 'service="engine"']
    target_matchers: ['alertname="ServiceLatencyHigh"', 'service=~"strategy-.+"']
`

// firingPages lists the firing alerts of each notification, "service" each.
func firingPages(ns []*Notification) []string {
	var out []string
	for _, n := range ns {
		for _, a := range n.Alerts {
			if a.Status == "firing" {
				out = append(out, string(a.Labels["service"]))
			}
		}
	}
	return out
}

func (h *harness) groupCount() int {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	return len(h.d.groups)
}

// TestInhibitRepeatedIncident replays two latency incidents of the engine:
// in each the strategy's alert arrives before the engine's (within the
// route's group_wait) and both resolve together. After the first incident
// the groups end (all their alerts resolved and flushed, as Alertmanager's
// aggregation groups), so the second incident's groups start anew and wait
// group_wait: each incident pages the engine once and the strategy never.
func TestInhibitRepeatedIncident(t *testing.T) {
	rec := &recorder{}
	h := start(t, engineInhibitConfig, map[string][]Notifier{"r": {rec}})
	for incident := 1; incident <= 2; incident++ {
		before := len(rec.notifications())
		strat := h.alert("alertname", "ServiceLatencyHigh", "service", "strategy-a", "severity", "page")
		h.d.Send(strat)
		// Real time (the dispatcher's timers): longer than group_interval,
		// shorter than group_wait; a group kept from the first incident
		// would flush the strategy's alert before the engine's arrives.
		time.Sleep(250 * time.Millisecond)
		h.clock.Advance(2 * time.Second)
		engine := h.alert("alertname", "ServiceLatencyHigh", "service", "engine", "severity", "page")
		h.d.Send(engine)
		waitFor(t, "the engine's page", func() bool { return len(rec.notifications()) > before })
		h.waitFlushes(t, 4) // both groups flushed at least twice since
		if got := firingPages(rec.notifications()[before:]); fmt.Sprint(got) != "[engine]" {
			t.Fatalf("incident %d: firing pages %v, want [engine] only", incident, got)
		}
		h.clock.Advance(10 * time.Second)
		h.d.Send(h.resolved(strat), h.resolved(engine))
		waitFor(t, "both groups to end", func() bool { return h.groupCount() == 0 })
		h.clock.Advance(time.Minute)
	}
	var all []string
	for _, n := range rec.notifications() {
		all = append(all, strings.Join(alertnames(n), " "))
	}
	want := "ServiceLatencyHigh/engine/firing|ServiceLatencyHigh/engine/resolved|ServiceLatencyHigh/engine/firing|ServiceLatencyHigh/engine/resolved"
	if strings.Join(all, "|") != want {
		t.Errorf("notifications:\n%s\nwant:\n%s", strings.Join(all, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}

// TestInhibitSourceResolvesFirst is what paged the strategies in the
// demo's latency incidents: the engine's alert resolved one evaluation
// before theirs, and a strategy group that flushed in between found its
// alert firing and no longer inhibited (a resolved alert inhibits nothing,
// as in Alertmanager's inhibitor), so it paged, then resolved. With the
// hold, the strategy is held back for InhibitHold after the engine
// resolved: resolving within it pages nothing; still firing after it, it
// pages (a problem of its own). InhibitHold < 0 is Alertmanager's
// behaviour.
func TestInhibitSourceResolvesFirst(t *testing.T) {
	run := func(t *testing.T, hold time.Duration, strategyResolves bool) []string {
		rec := &recorder{}
		h := start(t, engineInhibitConfig, map[string][]Notifier{"r": {rec}}, func(o *Options) { o.InhibitHold = hold })
		strat := h.alert("alertname", "ServiceLatencyHigh", "service", "strategy-a", "severity", "page")
		engine := h.alert("alertname", "ServiceLatencyHigh", "service", "engine", "severity", "page")
		h.d.Send(strat, engine)
		waitFor(t, "the engine's page", func() bool { return rec.count() >= 1 })
		h.waitFlushes(t, 2)
		h.clock.Advance(10 * time.Second) // within the alerts' EndsAt (1m)
		h.d.Send(h.resolved(engine))      // the strategy's still fires
		waitFor(t, "the engine's resolved notification", func() bool { return rec.count() >= 2 })
		h.waitFlushes(t, 2) // the strategy's group flushed with its source gone
		h.clock.Advance(time.Second)
		if strategyResolves {
			h.d.Send(h.resolved(strat)) // one evaluation later
			h.waitFlushes(t, 1)         // its last: the group is then empty
		} else {
			h.waitFlushes(t, 2)
			h.clock.Advance(DefaultInhibitHold) // the hold is over
			h.d.Send(strat)                     // re-sent by the rules, still firing
			h.waitFlushes(t, 3)
		}
		var out []string
		for _, n := range rec.notifications() {
			for _, a := range n.Alerts {
				out = append(out, string(a.Labels["service"])+" "+a.Status)
			}
		}
		sort.Strings(out) // the groups flush independently
		return out
	}
	t.Run("alertmanager", func(t *testing.T) {
		got := run(t, -1, true)
		if fmt.Sprint(got) != "[engine firing engine resolved strategy-a firing strategy-a resolved]" {
			t.Errorf("notified %v: without the hold a source that resolves first un-mutes its targets, as in Alertmanager", got)
		}
	})
	t.Run("held, resolves", func(t *testing.T) {
		got := run(t, 0, true)
		if fmt.Sprint(got) != "[engine firing engine resolved]" {
			t.Errorf("notified %v, want the engine only: the strategy was explained by it its whole life", got)
		}
	})
	t.Run("held, keeps firing", func(t *testing.T) {
		got := run(t, 0, false)
		if fmt.Sprint(got) != "[engine firing engine resolved strategy-a firing]" {
			t.Errorf("notified %v, want the strategy paged once the hold is over", got)
		}
	})
}
