package rules

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	promrules "github.com/prometheus/prometheus/rules"

	"github.com/gmc-dev/gmc/internal/httpapi"
	"github.com/gmc-dev/gmc/internal/sla"
)

// The response types of /api/v1/alerts and /api/v1/rules, field for field
// those of Prometheus's web/api/v1 (which gmc does not import: web/* is off
// limits).

// APIAlert is one alert of /api/v1/alerts.
type APIAlert struct {
	Labels          labels.Labels `json:"labels"`
	Annotations     labels.Labels `json:"annotations"`
	State           string        `json:"state"`
	ActiveAt        *time.Time    `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time    `json:"keepFiringSince,omitempty"`
	Value           string        `json:"value"`
}

// APIRuleGroup is one group of /api/v1/rules.
type APIRuleGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// APIAlertingRule is an alerting rule of /api/v1/rules.
type APIAlertingRule struct {
	State          string               `json:"state"`
	Name           string               `json:"name"`
	Query          string               `json:"query"`
	Duration       float64              `json:"duration"`
	KeepFiringFor  float64              `json:"keepFiringFor"`
	Labels         labels.Labels        `json:"labels"`
	Annotations    labels.Labels        `json:"annotations"`
	Alerts         []*APIAlert          `json:"alerts"`
	Health         promrules.RuleHealth `json:"health"`
	LastError      string               `json:"lastError,omitempty"`
	EvaluationTime float64              `json:"evaluationTime"`
	LastEvaluation time.Time            `json:"lastEvaluation"`
	Type           string               `json:"type"`
}

// APIRecordingRule is a recording rule of /api/v1/rules.
type APIRecordingRule struct {
	Name           string               `json:"name"`
	Query          string               `json:"query"`
	Labels         labels.Labels        `json:"labels"`
	Health         promrules.RuleHealth `json:"health"`
	LastError      string               `json:"lastError,omitempty"`
	EvaluationTime float64              `json:"evaluationTime"`
	LastEvaluation time.Time            `json:"lastEvaluation"`
	Type           string               `json:"type"`
}

func apiAlerts(as []*promrules.Alert) []*APIAlert {
	out := make([]*APIAlert, len(as))
	for i, a := range as {
		out[i] = &APIAlert{
			Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(),
			ActiveAt: &a.ActiveAt, Value: strconv.FormatFloat(a.Value, 'e', -1, 64),
		}
		if !a.KeepFiringSince.IsZero() {
			out[i].KeepFiringSince = &a.KeepFiringSince
		}
	}
	return out
}

// ActiveAlerts are the pending and firing alerts of every alerting rule, as
// /api/v1/alerts lists them.
func (m *Manager) ActiveAlerts() []*APIAlert {
	alerts := []*APIAlert{}
	for _, gr := range m.list() {
		for _, ar := range gr.g.AlertingRules() {
			alerts = append(alerts, apiAlerts(ar.ActiveAlerts())...)
		}
	}
	return alerts
}

// Alerts serves GET /api/v1/alerts: {"status":"success","data":{"alerts":[…]}}.
func (m *Manager) Alerts(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteSuccess(w, map[string]any{"alerts": m.ActiveAlerts()})
}

// Rules serves GET /api/v1/rules with Prometheus's filters: type=alert|record,
// rule_name[], rule_group[], file[], match[] and exclude_alerts.
func (m *Manager) Rules(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("parse form values: %w", err))
		return
	}
	set := func(vs []string) map[string]bool {
		s := map[string]bool{}
		for _, v := range vs {
			s[v] = true
		}
		return s
	}
	names, groups, files := set(r.Form["rule_name[]"]), set(r.Form["rule_group[]"]), set(r.Form["file[]"])
	typ := strings.ToLower(r.Form.Get("type"))
	if typ != "" && typ != "alert" && typ != "record" {
		httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter \"type\": not supported value %q", typ))
		return
	}
	exclude := false
	if v := r.Form.Get("exclude_alerts"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter \"exclude_alerts\": %w", err))
			return
		}
		exclude = b
	}
	var matcherSets [][]*labels.Matcher
	p := parser.NewParser(parser.Options{})
	for _, s := range r.Form["match[]"] {
		ms, err := p.ParseMetricSelector(s)
		if err != nil {
			httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("invalid parameter \"match[]\": %q: %w", s, err))
			return
		}
		matcherSets = append(matcherSets, ms)
	}
	out := []*APIRuleGroup{}
	for _, gr := range m.list() {
		g := gr.g
		if (len(groups) > 0 && !groups[g.Name()]) || (len(files) > 0 && !files[g.File()]) {
			continue
		}
		ag := &APIRuleGroup{
			Name: g.Name(), File: g.File(), Rules: []any{}, Interval: g.Interval().Seconds(), Limit: g.Limit(),
			EvaluationTime: g.GetEvaluationTime().Seconds(), LastEvaluation: g.GetLastEvaluation(),
		}
		for _, rr := range g.Rules(matcherSets...) {
			if len(names) > 0 && !names[rr.Name()] {
				continue
			}
			lastErr := ""
			if err := rr.LastError(); err != nil {
				lastErr = err.Error()
			}
			switch rule := rr.(type) {
			case *promrules.AlertingRule:
				if typ == "record" {
					continue
				}
				var alerts []*APIAlert
				if !exclude {
					alerts = apiAlerts(rule.ActiveAlerts())
				}
				ag.Rules = append(ag.Rules, APIAlertingRule{
					State: rule.State().String(), Name: rule.Name(), Query: rule.Query().String(),
					Duration: rule.HoldDuration().Seconds(), KeepFiringFor: rule.KeepFiringFor().Seconds(),
					Labels: rule.Labels(), Annotations: rule.Annotations(), Alerts: alerts,
					Health: rule.Health(), LastError: lastErr, EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(), Type: "alerting",
				})
			case *promrules.RecordingRule:
				if typ == "alert" {
					continue
				}
				ag.Rules = append(ag.Rules, APIRecordingRule{
					Name: rule.Name(), Query: rule.Query().String(), Labels: rule.Labels(),
					Health: rule.Health(), LastError: lastErr, EvaluationTime: rule.GetEvaluationDuration().Seconds(),
					LastEvaluation: rule.GetEvaluationTimestamp(), Type: "recording",
				})
			}
		}
		if len(ag.Rules) > 0 {
			out = append(out, ag)
		}
	}
	httpapi.WriteSuccess(w, map[string]any{"groups": out})
}

// Routes are the rules' endpoints: Prometheus's /api/v1/alerts and
// /api/v1/rules. The alert history serves its own (alerthistory.History.Routes).
func (m *Manager) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "/api/v1/alerts", Handler: m.Alerts},
		{Method: http.MethodGet, Path: "/api/v1/rules", Handler: m.Rules},
	}
}

// SLABurns reports, per SLA name, the severity of the strongest of its
// burn-rate alerts (sla.AlertName) firing now: "page" before "ticket". It
// reads the alerts' state as their last evaluation left it, the state
// /api/v1/alerts serves, so /sla says "burning" exactly while the alert
// fires (sla.ReporterOptions.Burns).
func (m *Manager) SLABurns() map[string]string {
	out := map[string]string{}
	for _, gr := range m.list() {
		if gr.g.File() != SLAFile {
			continue
		}
		for _, ar := range gr.g.AlertingRules() {
			if ar.Name() != sla.AlertName {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				name, sev := a.Labels.Get("sla"), a.Labels.Get("severity")
				if a.State != promrules.StateFiring || name == "" || out[name] == "page" {
					continue
				}
				out[name] = sev
			}
		}
	}
	return out
}
