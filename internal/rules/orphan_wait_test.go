package rules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/alerthistory"
)

// TestRestartOrphanWaitCapped: an episode open at gmc's stop is ended only
// once the group's first evaluation since the restart is as old as its
// alerting rules' longest range (c3f69a6), and a rule over [1d] kept it
// open, "firing", for a day. The wait is now at most orphanWaitMax (5m),
// and meanwhile the history says its state is unknown: state "unknown",
// seen firing until its last evaluation before the stop (not a growing
// figure), judged by the restart's first evaluation plus 5m. The alert
// fires from 0 s to the stop at 60 s; gmc is back at 90 s and the queue is
// short from then on; its rule file is changed and reloaded at 150 s.
func TestRestartOrphanWaitCapped(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yml")
	write := func(summary string) {
		if err := os.WriteFile(file, []byte(`groups:
- name: long
  rules:
  - alert: QueueDeepToday
    expr: gmc_queue_depth > 5 and on() count_over_time(gmc_queue_depth[1d]) > 0
    labels:
      severity: page
    annotations:
      summary: "`+summary+`"
`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("queue at {{ $value }}")
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	queue := labels.FromStrings("__name__", "gmc_queue_depth", "service", "gateway", "instance", "gw-1")
	ctx := context.Background()
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	var s sink
	h := openHistory(t, dir)
	m := newManager(t, db, Options{History: h, Files: []string{file}, EvalInterval: 10 * time.Second, Sink: s.send})
	for sec := 0; sec <= 60; sec += 10 {
		appendFloat(t, db, queue, at(sec), 20)
		m.EvalAll(ctx, at(sec))
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	s.take()
	h2 := openHistory(t, dir)
	m2 := newManager(t, db, Options{History: h2, Files: []string{file}, EvalInterval: 10 * time.Second, Sink: s.send})
	episode := func(now time.Time) alerthistory.Episode {
		t.Helper()
		eps := h2.List(alerthistory.Filter{Limit: 10}, now)
		if len(eps) != 1 {
			t.Fatalf("%d episodes at %v, want 1", len(eps), now.Sub(t0))
		}
		return eps[0]
	}
	const restart, judged = 90, 90 + 300
	for sec := restart; sec <= judged+60; sec += 10 {
		appendFloat(t, db, queue, at(sec), 1)
		if sec == 150 {
			// A reload that changes the group mid-wait keeps its wait
			// (the new group took the old one's evaluations but not its
			// first one's time: it ended the episode at once).
			write("queue depth {{ $value }}")
			if _, err := m2.UpdateRules(RuleConfig{Files: []string{file}}); err != nil {
				t.Fatal(err)
			}
		}
		m2.EvalAll(ctx, at(sec))
		for _, b := range s.take() {
			for _, a := range b {
				if a.EndsAt.After(at(sec)) {
					t.Errorf("at %ds: sent firing (ends %v)", sec, a.EndsAt.Sub(t0))
				} else if sec != judged || !a.EndsAt.Equal(at(judged)) || !a.StartsAt.Equal(t0) {
					t.Errorf("at %ds: sent resolved %v–%v, want one from 0s resolved at %ds", sec, a.StartsAt.Sub(t0), a.EndsAt.Sub(t0), judged)
				}
			}
		}
		if sec >= judged {
			continue
		}
		// Waiting: its state is not known, and it said so.
		e := episode(at(sec))
		u := e.Unknown
		if e.State != "unknown" || u == nil || e.FiringSeconds != 60 || !u.Since.Equal(at(60)) || !u.Restart.Equal(at(restart)) || !u.JudgedBy.Equal(at(judged)) {
			got := fmt.Sprintf("%s, firing %v s", e.State, e.FiringSeconds)
			if u != nil {
				got += fmt.Sprintf(", unknown since %v, restart %v, judged by %v", u.Since.Sub(t0), u.Restart.Sub(t0), u.JudgedBy.Sub(t0))
			}
			t.Fatalf("at %ds the episode open at the stop reads %s; want unknown, firing 60 s (0 s to its last evaluation, 60 s), unknown since 1m0s, restart 1m30s, judged by 6m30s", sec, got)
		}
	}
	e := episode(at(judged + 60))
	down := ""
	for _, sp := range e.NotEvaluated {
		down += fmt.Sprintf("[%v %v]", sp.From.Sub(t0), sp.Until.Sub(t0))
	}
	unjudged := ""
	for _, sp := range e.Unjudged {
		unjudged += fmt.Sprintf("[%v %v]", sp.From.Sub(t0), sp.Until.Sub(t0))
	}
	if e.State != "resolved" || e.ResolvedAt == nil || !e.ResolvedAt.Equal(at(judged)) || e.FiringSeconds != 60 || down != "[1m0s 1m30s]" || unjudged != "[1m30s 6m30s]" || e.Unknown != nil {
		t.Errorf("after the wait the episode is %s (resolved at %v), firing %v s, not evaluated %s, not judged %s; want resolved at 6m30s, firing 60 s, not evaluated [1m0s 1m30s], not judged [1m30s 6m30s]",
			e.State, e.ResolvedAt, e.FiringSeconds, down, unjudged)
	}
}
