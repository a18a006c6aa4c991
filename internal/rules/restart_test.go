package rules

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/alerthistory"
)

// TestRestartMidIncident restarts gmc while two alerts fire (one with a
// `for`, one without) and a third, firing at shutdown, has ended by the
// time gmc is back: after the restart the two still firing continue their
// episodes (ActiveAt restored from ALERTS_FOR_STATE as Prometheus does, no
// second episode), the third's episode is resolved, and every episode ends
// resolved once the conditions stop.
func TestRestartMidIncident(t *testing.T) {
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	thresholds := []Threshold{
		queueThreshold(), // for 30s
		{Name: "Rejects", Metric: "gmc_rejects", Op: ">", Value: 0, Service: "gateway", Severity: "page"},
		{Name: "Lag", Metric: "gmc_lag", Op: ">", Value: 0, Service: "gateway", Severity: "page"},
	}
	queue := labels.FromStrings("__name__", "gmc_queue_depth", "service", "gateway", "instance", "gw-1")
	rejects := labels.FromStrings("__name__", "gmc_rejects", "service", "gateway", "instance", "gw-1")
	lag := labels.FromStrings("__name__", "gmc_lag", "service", "gateway", "instance", "gw-1")
	ctx := context.Background()
	var s sink
	h := openHistory(t, dir)
	m := newManager(t, db, Options{History: h, Thresholds: thresholds, EvalInterval: 10 * time.Second, Sink: s.send})
	step := func(m *Manager, sec int, q, r, l float64) {
		ts := t0.Add(time.Duration(sec) * time.Second)
		appendFloat(t, db, queue, ts, q)
		appendFloat(t, db, rejects, ts, r)
		appendFloat(t, db, lag, ts, l)
		m.EvalAll(ctx, ts)
	}
	for sec := 0; sec <= 60; sec += 10 {
		step(m, sec, 20, 1, 1) // all three active from 0s
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	s.take()
	// gmc is down from 60s to 90s; lag ended meanwhile.
	h2 := openHistory(t, dir)
	m2 := newManager(t, db, Options{History: h2, Thresholds: thresholds, EvalInterval: 10 * time.Second, Sink: s.send})
	for sec := 90; sec <= 120; sec += 10 {
		step(m2, sec, 20, 1, 0)
	}
	eps := h2.List(alerthistory.Filter{Limit: 100}, t0.Add(120*time.Second))
	sort.Slice(eps, func(i, j int) bool { return eps[i].Alertname < eps[j].Alertname })
	type ep struct {
		name, state string
		active      time.Duration
		firing      float64
		// The spans not evaluated: gmc down (from its last evaluation
		// before the stop to its first after the start), as offsets.
		down string
	}
	got := make([]ep, len(eps))
	for i, e := range eps {
		down := ""
		for _, sp := range e.NotEvaluated {
			down += fmt.Sprintf("[%v %v]", sp.From.Sub(t0), sp.Until.Sub(t0))
		}
		got[i] = ep{e.Alertname, e.State, e.ActiveAt.Sub(t0), e.FiringSeconds, down}
	}
	// Seen firing: the time since it fired less the 30 s gmc was down
	// (t-user14 F6: an episode cut by a kill -9 read as firing the whole
	// outage; it said 100, 90 and 120 s, no span).
	want := []ep{
		{"Lag", "resolved", 0, 60, "[1m0s 1m30s]"},     // resolved at the second evaluation after the restart (the first may lack data), not seen firing since the stop
		{"QueueDeep", "firing", 0, 60, "[1m0s 1m30s]"}, // fired at 30s, still firing at 120s
		{"Rejects", "firing", 0, 90, "[1m0s 1m30s]"},   // fired at 0s
	}
	if len(got) != len(want) {
		t.Fatalf("episodes after the restart = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("episode %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The API shows the restored ActiveAt.
	for _, g := range m2.Groups() {
		for _, r := range g.AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				if !a.ActiveAt.Equal(t0) {
					t.Errorf("%s: activeAt %v after the restart, want %v", r.Name(), a.ActiveAt, t0)
				}
			}
		}
	}
	// Lag paged before the stop and ended while gmc was down: its
	// receivers are told it ended (resolved when gmc found it so, at the
	// second evaluation after the restart), not left paged.
	var lagEnd []*model.Alert
	for _, b := range s.take() {
		for _, a := range b {
			if a.Labels["alertname"] == "Lag" {
				lagEnd = append(lagEnd, a)
			}
		}
	}
	if len(lagEnd) != 1 || !lagEnd[0].StartsAt.Equal(t0) || !lagEnd[0].EndsAt.Equal(t0.Add(100*time.Second)) {
		t.Errorf("Lag sent after the restart: %v, want one alert from 0s resolved at 100s", lagEnd)
	} else if got, want := string(lagEnd[0].Annotations[ResolvedSummaryAnnotation]), "gmc was down "+t0.Add(time.Minute).UTC().Format(time.TimeOnly)+"–"+t0.Add(90*time.Second).UTC().Format(time.TimeOnly)+" UTC, the alert not evaluated then"; !strings.Contains(got, want) {
		t.Errorf("Lag's resolved_summary after the restart %q: want it to say %q", got, want)
	}
	for sec := 130; sec <= 140; sec += 10 {
		step(m2, sec, 5, 0, 0)
	}
	for _, e := range h2.List(alerthistory.Filter{Limit: 100}, t0.Add(140*time.Second)) {
		if e.State != "resolved" {
			t.Errorf("episode %s is %s after every condition ended, want resolved", e.Alertname, e.State)
		}
	}
	// Resolved alerts reach the sink with their EndsAt.
	resolved := map[model.LabelValue]bool{}
	for _, b := range s.take() {
		for _, a := range b {
			if !a.EndsAt.After(t0.Add(140 * time.Second)) {
				resolved[a.Labels["alertname"]] = true
			}
		}
	}
	if !resolved["QueueDeep"] || !resolved["Rejects"] {
		t.Errorf("resolved alerts sent: %v, want QueueDeep and Rejects", resolved)
	}
}

// TestRestartKeepsFiredAt: gmc restarts while two alerts fire (one with a
// `for`, one without), at evaluation times with milliseconds as real ones
// have. After the restart each alert continues its episode: one episode
// each in the history, resolved at the end, with its first ActiveAt and
// FiredAt; and every notification sent after the restart (firing again,
// resolved) starts when the episode fired, not at the restart. Before, the
// restore's whole-second ActiveAt (ALERTS_FOR_STATE) began a second episode
// (the first stayed firing for ever) and the notifications said "fired" at
// the restart (t-user6: "fired 00:26:20" for a burn that fired at 00:21:35).
func TestRestartKeepsFiredAt(t *testing.T) {
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	thresholds := []Threshold{
		queueThreshold(), // for 30s
		{Name: "Rejects", Metric: "gmc_rejects", Op: ">", Value: 0, Service: "gateway", Severity: "page"},
	}
	queue := labels.FromStrings("__name__", "gmc_queue_depth", "service", "gateway", "instance", "gw-1")
	rejects := labels.FromStrings("__name__", "gmc_rejects", "service", "gateway", "instance", "gw-1")
	ctx := context.Background()
	const frac = 217 * time.Millisecond
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec)*time.Second + frac) }
	step := func(m *Manager, sec int, q, r float64) {
		appendFloat(t, db, queue, at(sec), q)
		appendFloat(t, db, rejects, at(sec), r)
		m.EvalAll(ctx, at(sec))
	}
	var s sink
	h := openHistory(t, dir)
	m := newManager(t, db, Options{History: h, Thresholds: thresholds, EvalInterval: 10 * time.Second, Sink: s.send})
	for sec := 0; sec <= 60; sec += 10 {
		step(m, sec, 20, 1)
	}
	fired := map[model.LabelValue]time.Time{"QueueDeep": at(30), "Rejects": at(0)}
	for _, b := range s.take() {
		for _, a := range b {
			if want := fired[a.Labels["alertname"]]; !a.StartsAt.Equal(want) {
				t.Fatalf("before the restart: %s starts at %v, want %v", a.Labels["alertname"], a.StartsAt.Sub(t0), want.Sub(t0))
			}
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	// Down from 60s to 90s; both conditions hold until 120s, then end.
	h2 := openHistory(t, dir)
	m2 := newManager(t, db, Options{History: h2, Thresholds: thresholds, EvalInterval: 10 * time.Second, Sink: s.send})
	for sec := 90; sec <= 120; sec += 10 {
		step(m2, sec, 20, 1)
	}
	for sec := 130; sec <= 140; sec += 10 {
		step(m2, sec, 5, 0)
	}
	sent := map[model.LabelValue]int{}
	for _, b := range s.take() {
		for _, a := range b {
			name := a.Labels["alertname"]
			sent[name]++
			if want := fired[name]; !a.StartsAt.Equal(want) {
				t.Errorf("after the restart: %s sent starting at %v (ends %v), want %v (when its episode fired)",
					name, a.StartsAt.Sub(t0), a.EndsAt.Sub(t0), want.Sub(t0))
			}
		}
	}
	if sent["QueueDeep"] == 0 || sent["Rejects"] == 0 {
		t.Errorf("alerts sent after the restart: %v, want both", sent)
	}
	eps := h2.List(alerthistory.Filter{Limit: 100}, at(140))
	if len(eps) != 2 {
		for _, e := range eps {
			t.Logf("episode %s %s active %v fired %v", e.Alertname, e.State, e.ActiveAt.Sub(t0), e.FiredAt)
		}
		t.Fatalf("%d episodes after the restart, want 2 (each alert continues its own)", len(eps))
	}
	for _, e := range eps {
		name := model.LabelValue(e.Alertname)
		if e.State != "resolved" || !e.ActiveAt.Equal(at(0)) || e.FiredAt == nil || !e.FiredAt.Equal(fired[name]) {
			t.Errorf("episode %s: %s, active at %v, fired at %v; want resolved, active at %v, fired at %v",
				e.Alertname, e.State, e.ActiveAt.Sub(t0), e.FiredAt, frac, fired[name].Sub(t0))
		}
	}
}
