package notify

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
)

// InhibitRule mutes the alerts matching TargetMatchers while an alert
// matching SourceMatchers fires with the same values of the Equal labels,
// in Alertmanager's schema (inhibit_rules, matcher form).
type InhibitRule struct {
	SourceMatchers Matchers `yaml:"source_matchers,omitempty" json:"source_matchers,omitempty"`
	TargetMatchers Matchers `yaml:"target_matchers,omitempty" json:"target_matchers,omitempty"`
	Equal          []string `yaml:"equal,omitempty" json:"equal,omitempty"`
	// collapse marks gmc's burn-collapse rules: their targets (a slower
	// burn of the same SLA) go on after the source resolves, so they are
	// not held back then (see inhibitor.Holds): the group's flush carries
	// the faster burn's end and the slower one's firing in one message.
	collapse bool
}

// DefaultInhibitRules are the inhibit rules gmc uses when the configuration
// sets none (inhibit_rules absent; an empty list means none):
//
//   - a service that is down (ServiceSilent, TargetDown) inhibits its own
//     latency and error-budget alerts: one page says what happened;
//   - an SLA's burn-rate alerts collapse to the most severe one holding:
//     page over ticket, and within a severity the faster burn (shorter long
//     window: 1h over 6h, 1d over 3d).
func DefaultInhibitRules() []InhibitRule {
	m := func(ss ...string) Matchers {
		var out Matchers
		for _, s := range ss {
			ms, err := labels.ParseMatchers(s)
			if err != nil {
				panic(fmt.Sprintf("default inhibit rule %q: %v", s, err)) // a constant: tests cover it
			}
			out = append(out, ms...)
		}
		return out
	}
	return []InhibitRule{
		{
			SourceMatchers: m(`alertname=~"ServiceSilent|TargetDown"`),
			TargetMatchers: m(`alertname=~"ServiceLatencyHigh|SLAErrorBudgetBurn"`),
			Equal:          []string{"service"},
		},
		{
			SourceMatchers: m(`alertname="SLAErrorBudgetBurn"`, `severity="page"`),
			TargetMatchers: m(`alertname="SLAErrorBudgetBurn"`, `severity="ticket"`),
			Equal:          []string{"sla"},
			collapse:       true,
		},
		{
			SourceMatchers: m(`alertname="SLAErrorBudgetBurn"`, `long_window="1h"`),
			TargetMatchers: m(`alertname="SLAErrorBudgetBurn"`, `long_window="6h"`),
			Equal:          []string{"sla"},
			collapse:       true,
		},
		{
			SourceMatchers: m(`alertname="SLAErrorBudgetBurn"`, `long_window="1d"`),
			TargetMatchers: m(`alertname="SLAErrorBudgetBurn"`, `long_window="3d"`),
			Equal:          []string{"sla"},
			collapse:       true,
		},
	}
}

// BurnCollapseRule is the default inhibit rule of one SLA whose burn-rate
// windows are not the workbook's 30d ones (see sla.SLA.BurnAlerts): its
// burn alert over the faster long window mutes the one over the slower.
func BurnCollapseRule(slaName, fasterLong, slowerLong string) InhibitRule {
	eq := func(n, v string) *labels.Matcher {
		return &labels.Matcher{Type: labels.MatchEqual, Name: n, Value: v}
	}
	return InhibitRule{
		SourceMatchers: Matchers{eq("alertname", "SLAErrorBudgetBurn"), eq("sla", slaName), eq("long_window", fasterLong)},
		TargetMatchers: Matchers{eq("alertname", "SLAErrorBudgetBurn"), eq("sla", slaName), eq("long_window", slowerLong)},
		Equal:          []string{"sla"},
		collapse:       true,
	}
}

func (r *InhibitRule) validate(field string) error {
	if len(r.SourceMatchers) == 0 || len(r.TargetMatchers) == 0 {
		return fmt.Errorf("%s: source_matchers and target_matchers must both be set", field)
	}
	for _, e := range r.Equal {
		if !labelNameRE.MatchString(e) {
			return fmt.Errorf("%s.equal: %q is not a label name", field, e)
		}
	}
	return nil
}

// DefaultInhibitHold is Options.InhibitHold's default: longer than the
// rules' default 10 s evaluation interval, within which the alerts a source
// explained (a slow engine's clients) see the same recovery and resolve.
const DefaultInhibitHold = 15 * time.Second

// inhibitor holds the firing alerts and answers whether an alert is
// inhibited, as Alertmanager's inhibit.Inhibitor: a source must fire now,
// and an alert matching both sides of a rule is not inhibited by a source
// that also matches both sides (two such alerts do not mute each other).
// Beyond Alertmanager, it remembers sources that resolved within hold
// (see Holds).
type inhibitor struct {
	rules []InhibitRule
	now   func() time.Time
	hold  time.Duration

	mu     sync.Mutex
	firing map[model.Fingerprint]*model.Alert
	// ended are sources resolved less than hold ago, as last seen firing,
	// with EndsAt set to when they resolved.
	ended map[model.Fingerprint]*model.Alert
}

func newInhibitor(rules []InhibitRule, now func() time.Time) *inhibitor {
	return &inhibitor{rules: rules, now: now, firing: map[model.Fingerprint]*model.Alert{}, ended: map[model.Fingerprint]*model.Alert{}}
}

// observe records the newest version of alerts (resolved ones move to
// ended).
func (ih *inhibitor) observe(alerts []*model.Alert) {
	if len(ih.rules) == 0 {
		return
	}
	now := ih.now()
	ih.mu.Lock()
	defer ih.mu.Unlock()
	for _, a := range alerts {
		fp := a.Fingerprint()
		if a.ResolvedAt(now) {
			if _, was := ih.firing[fp]; was {
				ih.end(fp, a)
			}
			delete(ih.firing, fp)
		} else {
			ih.firing[fp] = a
			delete(ih.ended, fp)
		}
	}
}

// end remembers a source that resolved (a: its resolved version) for hold.
// ih.mu must be held.
func (ih *inhibitor) end(fp model.Fingerprint, a *model.Alert) {
	if ih.hold > 0 {
		ih.ended[fp] = a
	}
}

// Holds reports whether a, firing, is held back: a source that resolved
// less than hold ago would have inhibited it, and a began before that
// source resolved. The dependants of a recovering service resolve an
// evaluation or so after it; without the hold, a group flushed in between
// pages for alerts that were inhibited their whole life (then sends their
// resolution). A dependant still firing after the hold is notified at its
// group's next flush. A slower burn muted by a faster one of its SLA (the
// collapse rules) is not held: it goes on after the faster ends, and
// holding it made one burn two pages, "resolved" then "firing" 15 s later
// (t-user11 #5). Alertmanager has no hold (Options.InhibitHold < 0).
func (ih *inhibitor) Holds(a *model.Alert) bool {
	if len(ih.rules) == 0 || ih.hold <= 0 {
		return false
	}
	now := ih.now()
	if a.ResolvedAt(now) {
		return false
	}
	ih.mu.Lock()
	defer ih.mu.Unlock()
	for k, e := range ih.ended {
		if now.Sub(e.EndsAt) >= ih.hold {
			delete(ih.ended, k)
		}
	}
	held := false
	ih.eachMatch(ih.ended, a.Labels, true, func(_ model.Fingerprint, src *model.Alert) bool {
		return !a.StartsAt.Before(src.EndsAt)
	}, func(model.Fingerprint) bool {
		held = true
		return false
	})
	return held
}

// Mutes reports whether an alert firing now inhibits lset.
func (ih *inhibitor) Mutes(lset model.LabelSet) bool {
	if len(ih.rules) == 0 {
		return false
	}
	now := ih.now()
	ih.mu.Lock()
	defer ih.mu.Unlock()
	for k, a := range ih.firing {
		if a.ResolvedAt(now) {
			ih.end(k, a)
			delete(ih.firing, k)
		}
	}
	muted := false
	ih.eachSource(lset, now, func(model.Fingerprint) bool {
		muted = true
		return false
	})
	return muted
}

// sources lists the firing alerts that inhibit lset, by fingerprint (the
// inhibitedBy of Alertmanager's API).
func (ih *inhibitor) sources(lset model.LabelSet) []model.Fingerprint {
	if len(ih.rules) == 0 {
		return nil
	}
	now := ih.now()
	ih.mu.Lock()
	defer ih.mu.Unlock()
	var out []model.Fingerprint
	ih.eachSource(lset, now, func(fp model.Fingerprint) bool {
		out = append(out, fp)
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// by returns the labels of the alerts that inhibit a now (Mutes) or hold
// it back (Holds), sorted.
func (ih *inhibitor) by(a *model.Alert) []model.LabelSet {
	if len(ih.rules) == 0 {
		return nil
	}
	now := ih.now()
	ih.mu.Lock()
	defer ih.mu.Unlock()
	seen := map[model.Fingerprint]bool{}
	var out []model.LabelSet
	add := func(src map[model.Fingerprint]*model.Alert) func(model.Fingerprint) bool {
		return func(fp model.Fingerprint) bool {
			if !seen[fp] {
				seen[fp] = true
				out = append(out, src[fp].Labels)
			}
			return true
		}
	}
	ih.eachSource(a.Labels, now, add(ih.firing))
	if ih.hold > 0 && !a.ResolvedAt(now) {
		ih.eachMatch(ih.ended, a.Labels, true, func(_ model.Fingerprint, src *model.Alert) bool {
			return now.Sub(src.EndsAt) >= ih.hold || !a.StartsAt.Before(src.EndsAt)
		}, add(ih.ended))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// eachSource calls yield with each alert firing at now that inhibits lset
// under some rule (once per rule it does so), until yield returns false.
// ih.mu must be held.
func (ih *inhibitor) eachSource(lset model.LabelSet, now time.Time, yield func(model.Fingerprint) bool) {
	ih.eachMatch(ih.firing, lset, false, func(_ model.Fingerprint, src *model.Alert) bool { return src.ResolvedAt(now) }, yield)
}

// eachMatch calls yield with each alert of sources, skip aside, that
// inhibits lset under some rule (once per rule; for the hold, not the
// collapse rules), until yield returns false.
func (ih *inhibitor) eachMatch(sources map[model.Fingerprint]*model.Alert, lset model.LabelSet, hold bool,
	skip func(model.Fingerprint, *model.Alert) bool, yield func(model.Fingerprint) bool) {
	fp := lset.Fingerprint()
	for i := range ih.rules {
		r := &ih.rules[i]
		if (hold && r.collapse) || !r.TargetMatchers.Matches(lset) {
			continue
		}
		twoSided := r.SourceMatchers.Matches(lset)
		for sfp, src := range sources {
			if sfp == fp || skip(sfp, src) || !r.SourceMatchers.Matches(src.Labels) {
				continue
			}
			if twoSided && r.TargetMatchers.Matches(src.Labels) {
				continue
			}
			if equalLabels(r.Equal, src.Labels, lset) && !yield(sfp) {
				return
			}
		}
	}
}

// equalLabels reports whether a and b have the same value (or both none)
// for every name.
func equalLabels(names []string, a, b model.LabelSet) bool {
	for _, n := range names {
		if a[model.LabelName(n)] != b[model.LabelName(n)] {
			return false
		}
	}
	return true
}
