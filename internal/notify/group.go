package notify

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

// aggrGroup holds the alerts of one route with the same group labels and
// flushes them on its own timer: group_wait after creation, group_interval
// after each flush. A group with no alerts left after a flush ends.
type aggrGroup struct {
	d      *Dispatcher
	key    string
	route  *route
	labels model.LabelSet
	recv   *receiver
	wake   chan struct{} // flush now (an alert older than group_wait arrived)
	stop   chan struct{} // closed by a reload, which replaced the group

	started bool // guarded by d.mu

	mu         sync.Mutex
	alerts     map[model.Fingerprint]*model.Alert
	hasFlushed bool

	// sent is the notification log per grouped integration; only the
	// group's goroutine touches it.
	sent []*sentEntry
}

// sentEntry is what an integration was last told, for deduplication.
type sentEntry struct {
	firing   map[model.Fingerprint]struct{}
	resolved map[model.Fingerprint]struct{}
	at       time.Time
}

func newAggrGroup(d *Dispatcher, key string, rt *route, gl model.LabelSet, r *receiver) *aggrGroup {
	return &aggrGroup{
		d: d, key: key, route: rt, labels: gl, recv: r,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		alerts: map[model.Fingerprint]*model.Alert{},
		sent:   make([]*sentEntry, len(r.grouped)),
	}
}

// insert stores the newest version of an alert. Caller holds d.mu.
func (g *aggrGroup) insert(a *model.Alert, now time.Time) {
	g.mu.Lock()
	g.alerts[a.Fingerprint()] = a
	wake := !g.hasFlushed && !a.StartsAt.Add(g.route.groupWait).After(now)
	g.mu.Unlock()
	if wake && g.route.groupWait > 0 {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}

func (g *aggrGroup) run(ctx context.Context) {
	timer := time.NewTimer(g.route.groupWait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.stop:
			return
		case <-timer.C:
		case <-g.wake:
		}
		if ctx.Err() != nil {
			return // shutting down: no flush starts (one in flight completes, see deliver)
		}
		g.flush(ctx)
		g.d.flushes.Add(1)
		if g.endIfEmpty() {
			return
		}
		timer.Reset(g.route.groupInterval)
	}
}

// endIfEmpty removes the group from the dispatcher when it holds no alert.
func (g *aggrGroup) endIfEmpty() bool {
	g.d.mu.Lock()
	defer g.d.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.alerts) > 0 {
		return false
	}
	if g.d.groups[g.key] == g { // not replaced by a reload
		delete(g.d.groups, g.key)
		g.d.m.groups.Dec()
	}
	return true
}

// flush notifies every integration that needs it and, when all succeeded,
// forgets the resolved alerts it sent.
func (g *aggrGroup) flush(ctx context.Context) {
	if ha := g.d.opts.HA; ha != nil {
		// Let the peers before this one notify first (Alertmanager's
		// cluster wait stage); their log entries arrive meanwhile.
		if wait := ha.Wait(); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
	g.mu.Lock()
	snapshot := make([]*model.Alert, 0, len(g.alerts))
	for _, a := range g.alerts {
		snapshot = append(snapshot, a)
	}
	g.hasFlushed = true
	g.mu.Unlock()
	if len(snapshot) == 0 {
		return
	}
	sort.Slice(snapshot, func(i, j int) bool { return snapshot[i].Labels.Before(snapshot[j].Labels) })

	now := g.d.now()
	if g.timeMuted(now) {
		return // notified once the interval is over, as in Alertmanager
	}
	record := g.d.opts.Outcomes
	var outs []Outcome        // of the alerts firing, when recorded
	var active []*model.Alert // not muted
	for _, a := range snapshot {
		ih := g.d.cur.Load().inhibit
		if !g.d.silences.Mutes(a.Labels) && !ih.Mutes(a.Labels) && !ih.Holds(a) {
			active = append(active, a)
			if record != nil && !a.ResolvedAt(now) {
				outs = append(outs, Outcome{Alert: a, At: now})
			}
			continue
		}
		if record != nil && !a.ResolvedAt(now) {
			outs = append(outs, Outcome{Alert: a, At: now, InhibitedBy: ih.by(a), SilencedBy: g.d.silences.matching(a.Labels)})
		}
	}
	ok := true
	var told, toldResolved map[model.Fingerprint]bool
	if len(active) > 0 {
		ok, told, toldResolved = g.notifyAll(ctx, active, now)
	}
	if record != nil {
		for _, a := range active {
			if toldResolved[a.Fingerprint()] {
				outs = append(outs, Outcome{Alert: a, At: now, ResolvedNotified: true})
			}
		}
	}
	if record != nil && len(outs) > 0 {
		for i := range outs {
			outs[i].Notified = told[outs[i].Alert.Fingerprint()]
		}
		record(outs)
	}
	if !ok {
		return
	}
	g.mu.Lock()
	for _, a := range snapshot {
		fp := a.Fingerprint()
		if a.ResolvedAt(now) && g.alerts[fp] == a {
			delete(g.alerts, fp)
		}
	}
	g.mu.Unlock()
}

// timeMuted reports whether the group's route is inside one of its
// mute_time_intervals or outside all of its active_time_intervals at now.
func (g *aggrGroup) timeMuted(now time.Time) bool {
	if len(g.route.mute) > 0 {
		if in, err := g.d.cur.Load().intervals.ContainsTime(g.route.mute, now); err == nil && in {
			return true
		}
	}
	if len(g.route.active) > 0 {
		if in, err := g.d.cur.Load().intervals.ContainsTime(g.route.active, now); err == nil && !in {
			return true
		}
	}
	return false
}

// notifyAll tells each integration what it needs to be told of alerts. It
// reports whether every integration is up to date, which of the alerts
// firing some receiver has been told fire since they started (by a
// notification delivered now, or one logged since: this instance's or,
// under HA, a peer's), and which of the alerts resolved a notification
// delivered now told a receiver of (toldResolved).
func (g *aggrGroup) notifyAll(ctx context.Context, alerts []*model.Alert, now time.Time) (ok bool, told, toldResolved map[model.Fingerprint]bool) {
	firing := map[model.Fingerprint]struct{}{}
	resolved := map[model.Fingerprint]struct{}{}
	for _, a := range alerts {
		if a.ResolvedAt(now) {
			resolved[a.Fingerprint()] = struct{}{}
		} else {
			firing[a.Fingerprint()] = struct{}{}
		}
	}
	results := make([]bool, len(g.recv.grouped))
	var mu sync.Mutex
	told, toldResolved = map[model.Fingerprint]bool{}, map[model.Fingerprint]bool{}
	tell := func(e *sentEntry) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range alerts {
			if _, ok := e.firing[a.Fingerprint()]; ok && !a.ResolvedAt(now) && !e.at.Before(a.StartsAt) {
				told[a.Fingerprint()] = true
			}
		}
	}
	var wg sync.WaitGroup
	for i, in := range g.recv.grouped {
		if last := g.lastSent(i); !g.needsUpdate(last, in.sendResolved, firing, resolved, now) {
			results[i] = true
			if last != nil {
				tell(last)
			}
			continue
		}
		n := g.notification(alerts, now, in.sendResolved)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if len(n.Alerts) > 0 {
				if err := g.d.deliver(ctx, in, func(ctx context.Context) error { return in.notifier.Notify(ctx, n) }); err != nil {
					return
				}
			}
			results[i] = true
			g.sent[i] = &sentEntry{firing: firing, resolved: resolved, at: now}
			g.logSent(i, g.sent[i])
			if len(n.Alerts) > 0 {
				tell(g.sent[i])
				if in.sendResolved {
					// The notification held the alerts resolved (notification).
					mu.Lock()
					for _, a := range alerts {
						if a.ResolvedAt(now) {
							toldResolved[a.Fingerprint()] = true
						}
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if !r {
			return false, told, toldResolved
		}
	}
	return true, told, toldResolved
}

// needsUpdate is Alertmanager's deduplication rule.
func (g *aggrGroup) needsUpdate(e *sentEntry, sendResolved bool, firing, resolved map[model.Fingerprint]struct{}, now time.Time) bool {
	if e == nil {
		return len(firing) > 0
	}
	if !subset(firing, e.firing) {
		return true // a new alert fires
	}
	if len(firing) == 0 {
		// Everything resolved: tell a receiver that heard of firing alerts.
		return len(e.firing) > 0
	}
	if sendResolved && !subset(resolved, e.resolved) {
		return true
	}
	return !e.at.After(now.Add(-g.route.repeatInterval))
}

// subset reports whether every key of a is in b.
func subset(a, b map[model.Fingerprint]struct{}) bool {
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// notification builds what a channel receives; without sendResolved the
// resolved alerts are left out.
func (g *aggrGroup) notification(alerts []*model.Alert, now time.Time, sendResolved bool) *channel.Notification {
	n := &channel.Notification{
		GroupKey:    g.route.amKey + ":" + g.labels.String(), // as Alertmanager's, for receivers that key on it
		Receiver:    g.recv.name,
		Status:      channel.StatusResolved,
		GroupLabels: g.labels,
		ExternalURL: g.d.opts.ExternalURL,
		Alerts:      make([]channel.Alert, 0, len(alerts)),
	}
	var kept []*model.Alert
	for _, a := range alerts {
		ca := channel.Alert{
			Status:       channel.StatusFiring,
			Labels:       a.Labels,
			Annotations:  a.Annotations,
			StartsAt:     a.StartsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.Fingerprint().String(),
		}
		if a.ResolvedAt(now) {
			if !sendResolved {
				continue
			}
			ca.Status = channel.StatusResolved
			ca.EndsAt = a.EndsAt
		} else {
			n.Status = channel.StatusFiring
		}
		if ca.Annotations == nil {
			ca.Annotations = model.LabelSet{}
		}
		n.Alerts = append(n.Alerts, ca)
		kept = append(kept, a)
	}
	n.CommonLabels = common(kept, func(a *model.Alert) model.LabelSet { return a.Labels })
	n.CommonAnnotations = common(kept, func(a *model.Alert) model.LabelSet { return a.Annotations })
	return n
}

// common returns the pairs every alert shares.
func common(alerts []*model.Alert, get func(*model.Alert) model.LabelSet) model.LabelSet {
	out := model.LabelSet{}
	if len(alerts) == 0 {
		return out
	}
	for k, v := range get(alerts[0]) {
		out[k] = v
	}
	for _, a := range alerts[1:] {
		ls := get(a)
		for k, v := range out {
			if ls[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}
