package rules

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/template"
)

// ResolvedSummaryAnnotation is the annotation gmc's channels print for a
// resolved alert instead of its summary (notify/channel's constant of the
// same name).
const ResolvedSummaryAnnotation = "resolved_summary"

// resolvedKeep is how long the text rendered at an alert's resolve is kept
// for its re-sends: Prometheus re-sends a resolved alert for 15 minutes.
const resolvedKeep = 20 * time.Minute

// resolvedText is a resolved_summary rendered when its alert resolved.
type resolvedText struct {
	at   time.Time
	text string
}

// resolvedSummary renders the resolved_summary template of the rule of a,
// resolved at a.ResolvedAt, against the data at that time, once (gr.mu
// held): Prometheus renders annotations only while an alert fires, so a
// resolved alert keeps the texts of its last firing evaluation, which
// cannot say why it resolved (t-user13 F10b: "stopped burning … over both
// 1h and 5m" while the 1h burn was still 39.6×; the 5m one had fallen).
// The rule's other annotations keep Prometheus's rule. Returns "" when
// the rule has no resolved_summary or the template fails (the text of the
// last firing evaluation is kept).
func (m *Manager) resolvedSummary(ctx context.Context, gr *group, expr string, a *promrules.Alert) string {
	key := a.Labels.Hash()
	if r, ok := gr.resolved[key]; ok && r.at.Equal(a.ResolvedAt) {
		return r.text
	}
	var rule *promrules.AlertingRule
	for _, r := range gr.g.AlertingRules() {
		if r.Name() == a.Labels.Get(labels.AlertName) && r.Query().String() == expr {
			rule = r
			break
		}
	}
	if rule == nil {
		return ""
	}
	text := rule.Annotations().Get(ResolvedSummaryAnnotation)
	if text == "" {
		return ""
	}
	out, err := m.expand(ctx, gr, rule, text, promql.Sample{Metric: labels.NewBuilder(a.Labels).Del(labels.AlertName).Labels(), F: a.Value}, a.ResolvedAt)
	if err != nil {
		m.logger.Warn("expand resolved_summary at resolve", "rule", rule.Name(), "err", err)
		return ""
	}
	out = strings.TrimSpace(out)
	if gr.resolved == nil {
		gr.resolved = map[uint64]resolvedText{}
	}
	for k, r := range gr.resolved {
		if a.ResolvedAt.Sub(r.at) > resolvedKeep {
			delete(gr.resolved, k)
		}
	}
	gr.resolved[key] = resolvedText{at: a.ResolvedAt, text: out}
	return out
}

// queryFunc is the query function gr's rules are evaluated with (the SLA
// groups read their own queryable).
func (m *Manager) queryFunc(gr *group) promrules.QueryFunc {
	if gr.g.File() == SLAFile {
		return m.slaOpts.QueryFunc
	}
	return m.ruleOpts.QueryFunc
}

// expand renders text, an annotation template of rule, for the alert of
// smpl (its labels as $labels, its value as $value) against the data at
// at, as Prometheus renders an alert's annotations at an evaluation.
func (m *Manager) expand(ctx context.Context, gr *group, rule *promrules.AlertingRule, text string, smpl promql.Sample, at time.Time) (string, error) {
	data := template.AlertTemplateData(smpl.Metric.Map(), nil, m.opts.ExternalURL, smpl)
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	return template.NewTemplateExpander(ctx, defs+text, "__alert_"+rule.Name(), data,
		model.Time(timestamp.FromTime(at)), template.QueryFunc(m.queryFunc(gr)), m.ruleOpts.ExternalURL, nil).Expand()
}
