package rules

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/strutil"

	"github.com/gmc-dev/gmc/internal/alerthistory"
)

// track records the state transitions of gr's alerts since its previous
// evaluation. The caller holds gr.mu.
func (m *Manager) track(gr *group, ts time.Time) {
	var events []alerthistory.Event
	present := map[uint64]bool{}
	// The spans the adopted episodes were not evaluated (notEvaluated).
	var down map[uint64]*alerthistory.Span
	// The spans since the restart the adopted episodes were not judged.
	var unjudged map[uint64]*alerthistory.Span
	for _, ar := range gr.g.AlertingRules() {
		ar.ForEachActiveAlert(func(a *promrules.Alert) {
			h := a.Labels.Hash()
			present[h] = true
			prev, ok := gr.seen[h]
			if !ok && a.State != promrules.StateInactive {
				// First seen since gmc started: continue the episode that was
				// open when it stopped, as Prometheus restores `for` state.
				// Its restore reads ALERTS_FOR_STATE, whole seconds: an
				// ActiveAt of 00:21:35.217 comes back as 00:21:35, which
				// began a second episode (the first one never ended), so
				// the history's exact time is taken when not later.
				if ep, found := m.history.Adopt(gr.g.Name(), a.Labels.Map()); found && !a.ActiveAt.Before(ep.ActiveAt.Truncate(time.Second)) {
					a.ActiveAt = ep.ActiveAt
					if sp := m.notEvaluated(gr, ep); sp != nil {
						if down == nil {
							down = map[uint64]*alerthistory.Span{}
						}
						down[h] = sp
					}
					if ts.After(gr.first) {
						// Evaluated since the restart without it until now.
						if unjudged == nil {
							unjudged = map[uint64]*alerthistory.Span{}
						}
						unjudged[h] = &alerthistory.Span{From: gr.first, Until: ts}
					}
				}
			}
			if t, ok := gr.refired[h]; ok && a.State == promrules.StateFiring {
				// Firing again in the episode that fired before the
				// restart: it fired then (the notifications sent
				// already said so, see send). Deleting the entry here is
				// safe only because send reads it first: evalGroup's
				// evaluation calls send (the rules' notify callback) and
				// track after it, under gr.mu. Were track to run
				// first, send would give the restart's episode a new
				// StartsAt.
				if t.Before(a.FiredAt) {
					a.FiredAt = t
				}
				delete(gr.refired, h)
			}
			if ok && prev.state == a.State && prev.activeAt.Equal(a.ActiveAt) {
				return
			}
			gr.seen[h] = seenAlert{state: a.State, activeAt: a.ActiveAt, labels: a.Labels.Map()}
			var state string
			switch a.State {
			case promrules.StatePending:
				state = "pending"
			case promrules.StateFiring:
				state = "firing"
			case promrules.StateInactive:
				if !ok || prev.state != promrules.StateFiring {
					return // a resolved alert seen for the first time (after a restart)
				}
				state = "resolved"
			default:
				return
			}
			ev := alertEvent(gr, a, state, ts)
			ev.NotEvaluated, ev.Unjudged = down[h], unjudged[h]
			events = append(events, ev)
		})
	}
	if gr.evals == 1 && !gr.orphansDone {
		// The episodes open at the stop that this first evaluation did not
		// continue: their state is unknown until it is, or they end.
		by := m.judgedBy(gr)
		for _, ep := range m.history.Unadopted(gr.g.Name()) {
			since := m.lastEvaluation(gr, ep)
			if since.IsZero() {
				since = ep.LastChange
			}
			m.history.SetUnknown(ep.Group, ep.Labels, alerthistory.Unknown{Since: since, Restart: gr.first, JudgedBy: by})
		}
	}
	if !gr.orphansDone && gr.evals >= 2 && ts.Sub(gr.first) >= orphanWait(gr) &&
		(!gr.hold || m.started.Load() == 0 || ts.Sub(time.Unix(0, m.started.Load())) > m.live.Load().max) {
		// Open at the last stop and not active over two evaluations since
		// (the first may lack data) reaching back over the rules' longest
		// range since the first, up to orphanWaitMax (HostCPUHigh's 1m
		// rate has no value until its second sample after the restart: it
		// was found resolved at the restart with the CPU at 94 %, and paged
		// again a minute later: t-user16 F6), nor once gmc has watched for
		// the down_after ServiceSilent and TargetDown wait (watchedOnly):
		// it ended while gmc was down.
		gr.orphansDone = true
		var resolved []*model.Alert
		for _, ep := range m.history.Orphans(func(g string) bool { return g == gr.g.Name() }) {
			last := m.lastEvaluation(gr, ep)
			ev := orphanEvent(ep, ts)
			ev.NotEvaluated = notEvaluatedSince(gr, last)
			ev.Unjudged = &alerthistory.Span{From: gr.first, Until: ts}
			if ep.FiredAt != nil {
				a := m.orphanResolved(gr, ep, ts, ev.NotEvaluated, last)
				resolved = append(resolved, a)
				// The episode keeps the texts the resolve sent, as one
				// resolved while gmc ran does (alertEvent).
				ev.Annotations = map[string]string{}
				for k, v := range a.Annotations {
					ev.Annotations[string(k)] = string(v)
				}
			}
			events = append(events, ev)
		}
		if len(resolved) > 0 {
			// Its receivers were paged before the stop: tell them it ended,
			// as an Alertmanager that outlived Prometheus's restart would
			// once the alert's endsAt passed (the notification log, kept
			// across restarts, says who heard of it firing).
			m.metrics.alertsSent.Add(float64(len(resolved)))
			m.opts.Sink(resolved)
		}
	}
	if gr.orphansDone {
		for h := range gr.refired {
			if !present[h] {
				delete(gr.refired, h)
			}
		}
	}
	for h, prev := range gr.seen {
		if present[h] {
			continue
		}
		delete(gr.seen, h)
		if prev.state == promrules.StatePending {
			// Pending alerts are dropped as soon as their condition stops.
			events = append(events, alerthistory.Event{Time: ts, Group: gr.g.Name(), State: "inactive", ActiveAt: prev.activeAt, Labels: prev.labels})
		}
	}
	for _, ev := range events {
		if err := m.history.Add(ev); err != nil {
			m.metrics.historyErrs.Inc()
			m.logger.Error("record alert history", "err", err)
		}
	}
}

// orphanWaitMax bounds how long after its first evaluation since a
// restart a group waits for its rules' longest range (orphanWait) before
// it ends the episodes open at the stop that no alert continued: five
// minutes give a rate two samples of any source sampled at least every
// 2.5 minutes, and the SLA burn alerts' shortest window (5m) the data of
// a whole window. A longer range (a [1h] or [1d] rate) holds the data
// before the stop too, or five minutes of it since the restart: without
// the cap, an episode of a [1d] rule open at the stop would stay open,
// its state unknown, for a day.
const orphanWaitMax = 5 * time.Minute

// orphanWait is how long after its first evaluation since a restart gr
// waits before it ends the episodes open at the stop that no alert
// continued: its alerting rules' longest range, at most orphanWaitMax.
func orphanWait(gr *group) time.Duration { return min(gr.reach, orphanWaitMax) }

// judgedBy is when gr ends, at the latest, the episodes open at the stop
// that no alert continued (track): its second evaluation since the
// restart, its orphanWait after the first, and for ServiceSilent and
// TargetDown the down_after wait since gmc's start, whichever is last
// (the evaluation at or after it does).
func (m *Manager) judgedBy(gr *group) time.Time {
	by := gr.first.Add(max(gr.g.Interval(), orphanWait(gr)))
	if ns := m.started.Load(); gr.hold && ns != 0 {
		if t := time.Unix(0, ns).Add(m.live.Load().max); t.After(by) {
			by = t
		}
	}
	return by
}

// notEvaluated is the span in which ep, an episode open at the last stop,
// was not evaluated: from its alert's last evaluation before this run's
// first evaluation of gr (lastEvaluation) until that first evaluation.
// Nil without such an evaluation, or when the two are within one and a
// half evaluation intervals (no evaluation was missed).
func (m *Manager) notEvaluated(gr *group, ep alerthistory.Episode) *alerthistory.Span {
	return notEvaluatedSince(gr, m.lastEvaluation(gr, ep))
}

// notEvaluatedSince is notEvaluated given the last evaluation (zero: none).
func notEvaluatedSince(gr *group, last time.Time) *alerthistory.Span {
	until := gr.first
	if last.IsZero() || until.Sub(last) <= gr.g.Interval()*3/2 {
		return nil
	}
	return &alerthistory.Span{From: last, Until: until}
}

// lastEvaluation is when ep's alert, an episode open at the last stop, was
// last evaluated before this run's first evaluation of gr. Zero without
// such an evaluation.
func (m *Manager) lastEvaluation(gr *group, ep alerthistory.Episode) time.Time {
	ts := m.evaluations(gr, ep, ep.ActiveAt)
	if len(ts) == 0 {
		return time.Time{}
	}
	return ts[len(ts)-1]
}

// evaluations are the evaluations of ep's alert (an episode open at the
// last stop) from since until this run's first evaluation of gr, oldest
// first: its ALERTS_FOR_STATE samples (written at every evaluation while
// the alert is active).
func (m *Manager) evaluations(gr *group, ep alerthistory.Episode, since time.Time) []time.Time {
	until := gr.first
	if until.IsZero() || !until.After(ep.ActiveAt) {
		return nil
	}
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "ALERTS_FOR_STATE")}
	for k, v := range ep.Labels {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, k, v))
	}
	ctx := context.Background()
	q, err := m.opts.Queryable.Querier(max(since.UnixMilli(), ep.ActiveAt.UnixMilli()), until.UnixMilli()-1)
	if err != nil {
		m.logger.Warn("read the last evaluations before the restart", "rule", ep.Alertname, "err", err)
		return nil
	}
	defer q.Close()
	var ts []int64
	ss := q.Select(ctx, false, nil, ms...)
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() != chunkenc.ValNone {
			if t := it.AtT(); t < until.UnixMilli() {
				ts = append(ts, t)
			}
		}
	}
	if err := ss.Err(); err != nil {
		m.logger.Warn("read the last evaluations before the restart", "rule", ep.Alertname, "err", err)
		return nil
	}
	slices.Sort(ts)
	ts = slices.Compact(ts)
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = time.UnixMilli(t)
	}
	return out
}

// lastFiringSteps bounds the evaluations lastSeenFiring makes: five
// minutes of keep_firing_for at the demo's one evaluation a second.
const lastFiringSteps = 300

// lastSeenFiring is the last evaluation of ep's alert before the stop at
// which its condition held: its last evaluation (last), or an earlier one
// when keep_firing_for kept it firing without its condition (Prometheus's
// alert then keeps its value and annotations of that evaluation). The
// rule's expression is evaluated again at its evaluations (evaluations)
// over keep_firing_for before last, newest first, until it gives the
// alert; past lastFiringSteps of them, at lastFiringSteps spread evenly
// over them (the newest included: the one found may then be a little
// before the last, its time still the one said). It returns that time,
// the alert's sample and the rule. ok is false without the rule, or when
// none of them gives the alert (the data may be gone).
func (m *Manager) lastSeenFiring(ctx context.Context, gr *group, ep alerthistory.Episode, last time.Time) (at time.Time, smpl promql.Sample, rule *promrules.AlertingRule, ok bool) {
	for _, r := range gr.g.AlertingRules() {
		if r.Name() == ep.Alertname {
			rule = r
			break
		}
	}
	if rule == nil || last.IsZero() {
		return time.Time{}, promql.Sample{}, rule, false
	}
	evals := m.evaluations(gr, ep, last.Add(-rule.KeepFiringFor()))
	if n := len(evals); n > lastFiringSteps {
		thin := make([]time.Time, lastFiringSteps)
		for i := range thin {
			thin[i] = evals[i*(n-1)/(lastFiringSteps-1)]
		}
		evals = thin
	}
	query := m.queryFunc(gr)
	for _, t := range slices.Backward(evals) {
		// Without the group in ctx: watchedOnly holds nothing back.
		v, err := query(ctx, rule.Query().String(), t)
		if err != nil {
			m.logger.Warn("evaluate the alert's last firing before the restart", "rule", rule.Name(), "err", err)
			return time.Time{}, promql.Sample{}, rule, false
		}
		for _, s := range v {
			if alertOf(rule, s.Metric, ep.Labels) {
				return t, s, rule, true
			}
		}
	}
	return time.Time{}, promql.Sample{}, rule, false
}

// alertOf says whether the alert rule makes of the sample metric has the
// labels lset: the metric's labels but its name, the rule's labels (their
// values as lset has them: they may be templates), and its alertname.
func alertOf(rule *promrules.AlertingRule, metric labels.Labels, lset map[string]string) bool {
	want := map[string]string{labels.AlertName: rule.Name()}
	metric.Range(func(l labels.Label) {
		if l.Name != model.MetricNameLabel {
			want[l.Name] = l.Value
		}
	})
	rule.Labels().Range(func(l labels.Label) { want[l.Name] = lset[l.Name] })
	return maps.Equal(want, lset)
}

// orphanEvent ends an episode open at the last stop whose alert is no
// longer active: resolved (or inactive, if it never fired) at ts.
func orphanEvent(ep alerthistory.Episode, ts time.Time) alerthistory.Event {
	ev := alerthistory.Event{Time: ts, Group: ep.Group, Labels: ep.Labels, State: "inactive", ActiveAt: ep.ActiveAt, Value: ep.Value}
	if ep.FiredAt != nil {
		t := ts
		ev.State, ev.FiredAt, ev.ResolvedAt = "resolved", ep.FiredAt, &t
	}
	return ev
}

// orphanResolved is the resolved alert of an episode that fired before
// the last stop and ended while gmc was down: it started when it fired
// and ends at ts, when gmc found it no longer active. Its annotations are
// its last firing evaluation's before the stop (lastSeenFiring: rendered
// again against the data then, as that evaluation did); the episode's are
// of its last transition, and the resolve said "last seen firing: CPU of vm
// at 97.9%", the figure it first fired with, where the last evaluations
// read 93–94 % (t-user16 F6). A rule's resolved_summary is rendered at ts,
// as at any resolve (resolvedSummary). With down (the span gmc did not
// evaluate it) its resolved_summary says so: "[RESOLVED] … (fired
// 23:57:53, resolved 00:09:52)" read as a 12-minute incident that lasted 1
// min, gmc down 11 m 46 s of it (t-user14 F6).
func (m *Manager) orphanResolved(gr *group, ep alerthistory.Episode, ts time.Time, down *alerthistory.Span, last time.Time) *model.Alert {
	a := &model.Alert{Labels: model.LabelSet{}, Annotations: model.LabelSet{}, StartsAt: *ep.FiredAt, EndsAt: ts}
	for k, v := range ep.Labels {
		a.Labels[model.LabelName(k)] = model.LabelValue(v)
	}
	for k, v := range ep.Annotations {
		a.Annotations[model.LabelName(k)] = model.LabelValue(v)
	}
	ctx := context.Background()
	seenAt, smpl, rule, seen := m.lastSeenFiring(ctx, gr, ep, last)
	if seen {
		rule.Annotations().Range(func(l labels.Label) {
			at := seenAt
			if l.Name == ResolvedSummaryAnnotation {
				at = ts
			}
			if out, err := m.expand(ctx, gr, rule, l.Value, smpl, at); err != nil {
				m.logger.Warn("expand an annotation of an alert found resolved at the restart", "rule", rule.Name(), "annotation", l.Name, "err", err)
			} else {
				a.Annotations[model.LabelName(l.Name)] = model.LabelValue(out)
			}
		})
	}
	if down != nil {
		text := string(a.Annotations[ResolvedSummaryAnnotation])
		if text == "" {
			text = "resolved; last seen firing: " + string(a.Annotations["summary"])
			if seen {
				text = fmt.Sprintf("resolved; last seen firing at %s UTC: %s", seenAt.UTC().Format(time.TimeOnly), a.Annotations["summary"])
			}
			if a.Annotations["summary"] == "" {
				text = "resolved"
			}
		}
		a.Annotations[ResolvedSummaryAnnotation] = model.LabelValue(fmt.Sprintf("%s (found resolved at gmc's restart: gmc was down %s–%s UTC, the alert not evaluated then)",
			text, down.From.UTC().Format(time.TimeOnly), down.Until.UTC().Format(time.TimeOnly)))
	}
	if rule != nil {
		a.GeneratorURL = m.opts.ExternalURL + strutil.TableLinkForExpression(rule.Query().String())
	}
	return a
}

func alertEvent(gr *group, a *promrules.Alert, state string, ts time.Time) alerthistory.Event {
	ev := alerthistory.Event{
		Time: ts, Group: gr.g.Name(), Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
		State: state, ActiveAt: a.ActiveAt, Value: strconv.FormatFloat(a.Value, 'g', -1, 64),
	}
	if !a.FiredAt.IsZero() {
		t := a.FiredAt
		ev.FiredAt = &t
	}
	if !a.ResolvedAt.IsZero() {
		t := a.ResolvedAt
		ev.ResolvedAt = &t
		// The resolved_summary rendered at the resolve (resolvedSummary,
		// in the same evaluation's send), as the notification said it:
		// the episode kept the last firing evaluation's, "this is not a
		// recovery" for a service that came back (t-user14b F9).
		if r, ok := gr.resolved[a.Labels.Hash()]; ok && r.at.Equal(a.ResolvedAt) {
			ev.Annotations[ResolvedSummaryAnnotation] = r.text
		}
	}
	return ev
}
