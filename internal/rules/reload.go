package rules

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promrules "github.com/prometheus/prometheus/rules"

	"github.com/gmc-dev/gmc/internal/alerthistory"
	"github.com/gmc-dev/gmc/internal/sla"
)

// SLAChanges says what UpdateSLAs did, by SLA rule group name.
type SLAChanges struct {
	// Kept are the groups whose rules did not change: they run on with
	// their state, untouched.
	Kept []string
	// Replaced are the groups whose rules changed: the new group took the
	// old one's alert state (promrules.Group.CopyState: alerts matched by
	// rule name and labels keep their active-since and fired-at) and
	// marks the series of rules it no longer has stale.
	Replaced []string
	// Added are new groups, Removed the groups of SLAs no longer there:
	// their series are marked stale, their firing alerts resolved.
	Added, Removed []string
	// Files are the files (rule files, or gmc's own sources: SLAFile,
	// DefaultsFile, …) of the groups replaced, added or removed: what a
	// reload changed, by file.
	Files []string
}

// UpdateSLAs replaces the rule groups generated from SLAs by those of
// slas (normalised and valid, as for New), as Prometheus's rules.Manager
// Update does on a reload: a group whose rules are unchanged is kept as it
// runs (its alerts neither re-fire nor lose when they became active); a
// changed group is stopped after the evaluation in flight and its
// successor takes its alert state (CopyState) and starts; a new group
// starts (without restoring `for` state, as Prometheus's groups added by a
// reload); a group no longer configured is stopped, its series are marked
// stale and its pending and firing alerts end: resolved in the alert
// history and to the notification sink at once. Nothing changes if the new
// groups do not load. It may be called before, while and after Run runs.
func (m *Manager) UpdateSLAs(slas []sla.SLA) (SLAChanges, error) {
	var ch SLAChanges
	m.runMu.Lock()
	defer m.runMu.Unlock()
	old, next := m.split(func(file string) bool { return file == SLAFile })
	// An SLA defined as before keeps its groups without loading them
	// again (loading is most of a reload's cost: 100 SLAs took 0.6 s of
	// CPU, the YAML and the templates' validation), unless the
	// evaluation interval changed (UpdateRules): its raw group has it.
	var load []sla.SLA
	for _, s := range slas {
		i := slices.IndexFunc(m.slas, func(c sla.SLA) bool { return c.Name == s.Name })
		if i < 0 || !reflect.DeepEqual(m.slas[i], s) || m.slaInterval != m.interval {
			load = append(load, s)
			continue
		}
		for _, rg := range s.RuleGroups() {
			if gr := old[promrules.GroupKey(SLAFile, rg.Name)]; gr != nil {
				delete(old, promrules.GroupKey(SLAFile, rg.Name))
				next = append(next, gr)
				ch.Kept = append(ch.Kept, rg.Name)
			}
		}
	}
	loaded, err := m.loadSLAGroups(load, m.interval)
	if err != nil {
		return SLAChanges{}, err
	}
	m.swap(old, next, loaded, &ch)
	m.slas, m.slaInterval = slices.Clone(slas), m.interval
	return ch, nil
}

// UpdateRules loads the rule groups of c — the default rules, with the
// services' down_after in ServiceSilent and TargetDown, the thresholds
// (normalised and valid) and the rule files (globs, read again) — and
// puts them in place of the running ones of those sources, as UpdateSLAs
// does for the SLAs' and Prometheus's rules.Manager.Update on a reload:
// an unchanged group runs on untouched (its alerts keep their state and
// neither re-fire nor resolve), a changed group's successor takes its
// alert state (CopyState: alerts matched by rule name and labels keep
// their active-since and fired-at), a new one starts, and a group no
// longer there (the default rules turned off) stops, its series are
// marked stale and its alerts end. The new down_after also holds the
// silence alerts from then on (watchedOnly, SilenceHold); one that
// lengthens a hold still running since the start keeps the alerts
// already active judged. Nothing changes if the files do not load: the
// error names the file and the rule. A new c.EvalInterval replaces every
// group that sets no interval (their state copied); the SLAs' groups are
// not touched here, and take it at the next UpdateSLAs.
func (m *Manager) UpdateRules(c RuleConfig) (SLAChanges, error) {
	ids, mem, err := ruleSources(c)
	if err != nil {
		return SLAChanges{}, err
	}
	m.runMu.Lock()
	interval := cmp.Or(c.EvalInterval, m.interval)
	m.runMu.Unlock()
	o := *m.ruleOpts
	o.GroupLoader = loader{mem: mem, parser: m.parser, logger: m.logger}
	loaded, errs := promrules.NewManager(&o).LoadGroups(interval, labels.EmptyLabels(), m.opts.ExternalURL, nil, false, ids...)
	if len(errs) > 0 {
		return SLAChanges{}, fmt.Errorf("load rules: %w", errors.Join(errs...))
	}
	var ch SLAChanges
	m.runMu.Lock()
	defer m.runMu.Unlock()
	old, next := m.split(func(file string) bool { return file != SLAFile })
	m.interval = interval // the SLAs' groups take it at UpdateSLAs
	if lv := newLiveness(c.DownAfter, c.ServiceDownAfter); !reflect.DeepEqual(lv, m.live.Load()) {
		m.live.Store(lv)
		m.liveReloaded.Store(true)
	}
	m.swap(old, next, loaded, &ch)
	return ch, nil
}

// split parts the running groups into those of the files mine says are
// being replaced, by promrules.GroupKey, and the others.
func (m *Manager) split(mine func(file string) bool) (map[string]*group, []*group) {
	old := map[string]*group{}
	var others []*group
	for _, gr := range m.list() {
		if mine(gr.g.File()) {
			old[promrules.GroupKey(gr.g.File(), gr.g.Name())] = gr
		} else {
			others = append(others, gr)
		}
	}
	return old, others
}

// swap makes next plus loaded the running groups in place of old (all
// three by promrules.GroupKey); runMu is held. A loaded group equal to
// its old one keeps the old one, running; a changed one takes the old
// one's alert state and starts after it stopped; a new one starts; an old
// one not loaded again stops and is retired.
func (m *Manager) swap(old map[string]*group, next []*group, loaded map[string]*promrules.Group, ch *SLAChanges) {
	var started []*group
	for key, g := range loaded {
		prev := old[key]
		delete(old, key)
		if prev != nil && prev.g.Equals(g) {
			next = append(next, prev)
			ch.Kept = append(ch.Kept, g.Name())
			continue
		}
		gr := m.newGroup(g)
		// No `for` state restored from storage: the alerts are the old
		// group's, or new.
		gr.restored = true
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true)
		}
		ch.Files = append(ch.Files, g.File())
		if prev == nil {
			ch.Added = append(ch.Added, g.Name())
		} else {
			ch.Replaced = append(ch.Replaced, g.Name())
			m.stopGroup(prev)
			prev.mu.Lock() // an EvalAll in flight
			g.CopyState(prev.g)
			gr.last, gr.evals, gr.first, gr.orphansDone = prev.last, prev.evals, prev.first, prev.orphansDone
			gr.seen, gr.refired = prev.seen, prev.refired
			gr.active.Store(prev.active.Load())
			prev.mu.Unlock()
		}
		next = append(next, gr)
		started = append(started, gr)
	}
	for _, gr := range old {
		ch.Removed = append(ch.Removed, gr.g.Name())
		ch.Files = append(ch.Files, gr.g.File())
		m.stopGroup(gr)
		m.retire(gr)
	}
	slices.SortFunc(next, func(a, b *group) int {
		return cmpKey(a.g, b.g)
	})
	m.setGroups(next)
	if m.runCtx != nil && !m.stopping {
		for _, gr := range started {
			m.startGroup(gr)
		}
	}
	for _, s := range [][]string{ch.Kept, ch.Replaced, ch.Added, ch.Removed} {
		slices.Sort(s)
	}
	slices.Sort(ch.Files)
	ch.Files = slices.Compact(ch.Files)
}

// cmpKey orders groups as New does: by promrules.GroupKey.
func cmpKey(a, b *promrules.Group) int {
	ka, kb := promrules.GroupKey(a.File(), a.Name()), promrules.GroupKey(b.File(), b.Name())
	switch {
	case ka < kb:
		return -1
	case ka > kb:
		return 1
	}
	return 0
}

// retire ends a stopped group no longer configured: an evaluation of an
// empty group with its state writes stale markers for every series it
// wrote (CopyState leaves them all unmatched), as Prometheus marks a
// removed group's series stale; its pending and firing alerts end in the
// alert history, and its firing ones are sent resolved; its metrics go.
func (m *Manager) retire(gr *group) {
	gr.mu.Lock()
	defer gr.mu.Unlock()
	now := m.opts.Now()
	if !now.After(gr.last) {
		now = gr.last.Add(time.Millisecond)
	}
	empty := promrules.NewGroup(promrules.GroupOptions{Name: gr.g.Name(), File: gr.g.File(), Interval: gr.g.Interval(), Opts: m.slaOpts})
	empty.CopyState(gr.g)
	empty.Eval(context.Background(), now)

	var resolved []*model.Alert
	for _, ar := range gr.g.AlertingRules() {
		ar.ForEachActiveAlert(func(a *promrules.Alert) {
			ev := alerthistory.Event{
				Time: now, Group: gr.g.Name(), Labels: a.Labels.Map(), Annotations: a.Annotations.Map(),
				State: "inactive", ActiveAt: a.ActiveAt, Value: strconv.FormatFloat(a.Value, 'g', -1, 64),
			}
			switch a.State {
			case promrules.StateFiring:
				fired, end := a.FiredAt, now
				ev.State, ev.FiredAt, ev.ResolvedAt = "resolved", &fired, &end
				resolved = append(resolved, &model.Alert{
					Labels: labelSet(a.Labels), Annotations: labelSet(a.Annotations),
					StartsAt: a.FiredAt, EndsAt: now,
				})
			case promrules.StatePending:
			default:
				return
			}
			if err := m.history.Add(ev); err != nil {
				m.metrics.historyErrs.Inc()
				m.logger.Error("record alert history", "err", err)
			}
		})
	}
	if len(resolved) > 0 {
		m.metrics.alertsSent.Add(float64(len(resolved)))
		m.opts.Sink(resolved)
	}
	key := promrules.GroupKey(gr.g.File(), gr.g.Name())
	for _, v := range []interface{ DeleteLabelValues(...string) bool }{
		m.metrics.pushGap, m.metrics.pushEvals, m.metrics.pushSeconds, m.metrics.pushIgnored,
	} {
		v.DeleteLabelValues(key)
	}
	if pm := m.slaOpts.Metrics; pm != nil {
		for _, v := range []interface{ DeleteLabelValues(...string) bool }{
			pm.IterationsMissed, pm.IterationsScheduled, pm.EvalTotal, pm.EvalFailures, pm.GroupInterval,
			pm.GroupLastEvalTime, pm.GroupLastDuration, pm.GroupRules, pm.GroupSamples,
			pm.GroupLastRuleDurationSum, pm.GroupLastRestoreDuration,
		} {
			v.DeleteLabelValues(key)
		}
	}
}
