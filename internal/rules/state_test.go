package rules

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"

	"github.com/gmc-dev/gmc/internal/alerthistory"
	"github.com/gmc-dev/gmc/internal/duration"
)

// queueThreshold fires when gmc_queue_depth{service="gateway"} > 10 for 30s.
func queueThreshold() Threshold {
	return Threshold{Name: "QueueDeep", Metric: "gmc_queue_depth", Op: ">", Value: 10,
		For: duration.Duration(30 * time.Second), Service: "gateway", Severity: "page"}
}

func TestAlertLifecycle(t *testing.T) {
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	var s sink
	h := openHistory(t, dir)
	m := newManager(t, db, Options{
		History: h, Thresholds: []Threshold{queueThreshold()}, EvalInterval: 10 * time.Second,
		ExternalURL: "http://gmc.example:9900", Sink: s.send,
	})
	ls := labels.FromStrings("__name__", "gmc_queue_depth", "service", "gateway", "instance", "gw-1")
	ctx := context.Background()
	rule := m.Groups()[0].AlertingRules()[0]
	state := func() promrules.AlertState { return rule.State() }

	step := func(sec int, v float64) {
		ts := t0.Add(time.Duration(sec) * time.Second)
		appendFloat(t, db, ls, ts, v)
		m.EvalAll(ctx, ts)
	}
	step(0, 5)
	if state() != promrules.StateInactive || len(s.take()) != 0 {
		t.Fatalf("at 0s: state %v, want inactive and nothing sent", state())
	}
	step(10, 20)
	if state() != promrules.StatePending || len(s.take()) != 0 {
		t.Fatalf("at 10s: state %v, want pending and nothing sent", state())
	}
	step(20, 20)
	if state() != promrules.StatePending {
		t.Fatalf("at 20s: state %v, want pending", state())
	}
	step(40, 20)
	if state() != promrules.StateFiring {
		t.Fatalf("at 40s: state %v, want firing", state())
	}
	b := s.take()
	if len(b) != 1 || len(b[0]) != 1 {
		t.Fatalf("at 40s: sent %v, want one firing alert", b)
	}
	a := b[0][0]
	wantLabels := model.LabelSet{"alertname": "QueueDeep", "service": "gateway", "instance": "gw-1", "severity": "page"}
	if !a.Labels.Equal(wantLabels) {
		t.Fatalf("labels = %v, want %v", a.Labels, wantLabels)
	}
	// StartsAt is when it fired; EndsAt = now + 4 × the 1m resend delay,
	// as Prometheus: an outage of minutes between gmc and an Alertmanager
	// must not resolve it.
	if !a.StartsAt.Equal(t0.Add(40*time.Second)) || !a.EndsAt.Equal(t0.Add(280*time.Second)) {
		t.Fatalf("firing alert starts %v ends %v, want 40s and 280s", a.StartsAt.Sub(t0), a.EndsAt.Sub(t0))
	}
	if a.Annotations["summary"] != "gmc_queue_depth > 10" {
		t.Fatalf("annotations = %v", a.Annotations)
	}
	if !strings.HasPrefix(a.GeneratorURL, "http://gmc.example:9900/graph?g0.expr=") {
		t.Fatalf("generator url = %s", a.GeneratorURL)
	}
	// A firing alert is not re-sent on every evaluation (nor every push),
	// only after the resend delay.
	step(45, 20)
	if b := s.take(); len(b) != 0 {
		t.Fatalf("at 45s: re-sent %v, want nothing before the 1m resend delay", b)
	}
	step(50, 5)
	if state() != promrules.StateInactive {
		t.Fatalf("at 50s: state %v, want inactive", state())
	}
	b = s.take()
	if len(b) != 1 || len(b[0]) != 1 || !b[0][0].EndsAt.Equal(t0.Add(50*time.Second)) || !b[0][0].StartsAt.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("at 50s: sent %v, want the alert resolved at 50s", b)
	}

	// The history holds one episode: pending at 10s, fired at 40s, resolved at 50s.
	eps := h.List(alerthistory.Filter{Limit: 10}, t0.Add(50*time.Second))
	if len(eps) != 1 {
		t.Fatalf("episodes = %+v, want 1", eps)
	}
	ep := eps[0]
	if ep.Alertname != "QueueDeep" || ep.Service != "gateway" || ep.Severity != "page" || ep.State != "resolved" ||
		!ep.ActiveAt.Equal(t0.Add(10*time.Second)) || !ep.FiredAt.Equal(t0.Add(40*time.Second)) ||
		!ep.ResolvedAt.Equal(t0.Add(50*time.Second)) || ep.FiringSeconds != 10 {
		t.Fatalf("episode = %+v", ep)
	}

	// A restart: a new manager on the same data dir reads the history back.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := openHistory(t, dir)
	newManager(t, db, Options{History: h2, Thresholds: []Threshold{queueThreshold()}})
	rec := httptest.NewRecorder()
	h2.ServeHTTP(rec, httptest.NewRequest("GET", "/alerts/history?service=gateway&alertname=QueueDeep&since=2026-01-01T00:00:00Z", nil))
	var resp struct {
		Status string
		Data   struct{ Episodes []alerthistory.Episode }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Status != "success" {
		t.Fatalf("history response %s: %v", rec.Body, err)
	}
	if len(resp.Data.Episodes) != 1 || resp.Data.Episodes[0].FiringSeconds != 10 || !resp.Data.Episodes[0].ResolvedAt.Equal(t0.Add(50*time.Second)) {
		t.Fatalf("history after restart = %s", rec.Body)
	}
	// Filters exclude.
	for _, q := range []string{"service=other", "alertname=Other", "since=" + t0.Add(time.Hour).Format(time.RFC3339)} {
		rec := httptest.NewRecorder()
		h2.ServeHTTP(rec, httptest.NewRequest("GET", "/alerts/history?"+q, nil))
		if !strings.Contains(rec.Body.String(), `"episodes":[]`) {
			t.Errorf("%s: %s, want no episodes", q, rec.Body)
		}
	}
	rec = httptest.NewRecorder()
	h2.ServeHTTP(rec, httptest.NewRequest("GET", "/alerts/history?since=yesterday", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `since`) {
		t.Fatalf("bad since: %d %s", rec.Code, rec.Body)
	}
}
