package ingest

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/atomicfile"
)

// Pushgateway groups. The Pushgateway keeps the last push of every group
// (the job and the path's labels) and Prometheus scrapes it, so a pushed value
// stays visible until the group is deleted or replaced. gmc stores every push
// in the TSDB as history and, to give the same "latest value" semantics to
// PromQL, keeps each group's current metrics here and appends them again at
// the current time every refresh interval (well inside the 5-minute lookback).
// A series that leaves a group (PUT without it, DELETE, TTL expiry) gets a
// staleness marker, so it disappears from instant queries at once, as a
// vanished scrape target's series do in Prometheus.
//
// Samples pushed with their own timestamp are history (backfill): they are
// stored as sent and do not become the group's current value.

// Names of the per-group gauges the Pushgateway adds.
const (
	pushTimeMetric        = "push_time_seconds"
	pushFailureTimeMetric = "push_failure_time_seconds"
)

// staleNaN is the staleness marker's value.
func staleNaN() float64 { return math.Float64frombits(value.StaleNaN) }

// pushGroups is the state of every Pushgateway group. Its methods may be used
// from many goroutines at once.
type pushGroups struct {
	app      storage.AppendableV2
	logger   *slog.Logger
	now      func() time.Time
	path     string        // persistence file; "" keeps groups in memory only
	ttl      time.Duration // default TTL of a group; 0 never expires
	interval time.Duration // how often current values are appended again

	mu     sync.Mutex
	groups map[string]*pushGroup // by groupKey
	seq    uint64                // bumped on every change
	// index maps each series of a group (by labels' String) to it; built
	// from groups when indexed != seq.
	index   map[string]*pushGroup
	indexed uint64

	saveMu sync.Mutex
	saved  uint64 // seq of the state last written to path
}

// pushGroup is one group's last push.
type pushGroup struct {
	Labels   map[string]string // the grouping labels (job and the path's)
	Families map[string]*pushFamily
	// PushTime and FailTime are the last successful and failed pushes
	// (zero: never). Changed is the last change, for the TTL.
	PushTime, FailTime, Changed time.Time
	// TTL overrides the default TTL when positive.
	TTL time.Duration
}

// pushFamily is one metric family of a group, as last pushed.
type pushFamily struct {
	Name, Type, Help string
	Time             time.Time // of the push that set it
	Samples          []pushSample
}

// pushSample is one series of a family with its last value.
type pushSample struct {
	Labels map[string]string // every label, __name__ included
	Value  float64
	H      *histogram.Histogram
	FH     *histogram.FloatHistogram

	ls  labels.Labels     // Labels as labels.Labels, built on first use
	ref storage.SeriesRef // the head's reference of ls once appended (0: look it up)
}

func (s *pushSample) lset() labels.Labels {
	if s.ls.IsEmpty() {
		s.ls = labels.FromMap(s.Labels)
	}
	return s.ls
}

// groupKey identifies a group by its grouping labels.
func groupKey(group labels.Labels) string { return group.String() }

// stateVersion is the version of the persistence file's format.
const stateVersion = 1

// pushState is what the persistence file holds.
type pushState struct {
	Version int
	Groups  map[string]*pushGroup
}

func newPushGroups(app storage.AppendableV2, logger *slog.Logger, now func() time.Time, path string, ttl, interval time.Duration) (*pushGroups, error) {
	g := &pushGroups{app: app, logger: logger, now: now, path: path, ttl: ttl, interval: interval, groups: map[string]*pushGroup{}}
	if path == "" {
		return g, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return g, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read push groups: %w", err)
	}
	var st pushState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return nil, fmt.Errorf("decode push groups %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("push groups %s: format version %d, want %d", path, st.Version, stateVersion)
	}
	if st.Groups != nil {
		g.groups = st.Groups
	}
	return g, nil
}

// pushUpdate is the result of one push, applied to its group.
type pushUpdate struct {
	group    labels.Labels
	replace  bool // PUT without rejected lines: families absent from the push leave the group
	partial  bool // some lines were rejected: nothing leaves the group
	families map[string]*pushFamily
	ttl      time.Duration
	at       time.Time
}

// apply records a push and appends, with app, staleness markers for the
// series that left the group and the group's push_time_seconds /
// push_failure_time_seconds at u.at.
func (g *pushGroups) apply(app storage.AppenderV2, u pushUpdate) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := groupKey(u.group)
	grp := g.groups[key]
	if grp == nil {
		grp = &pushGroup{Labels: u.group.Map(), Families: map[string]*pushFamily{}}
		g.groups[key] = grp
	}
	t := u.at.UnixMilli()
	var gone []labels.Labels
	switch {
	case u.partial:
		// Series-level merge: a push with a bad line never removes anything.
		for name, nf := range u.families {
			of := grp.Families[name]
			if of == nil {
				grp.Families[name] = nf
				continue
			}
			of.Time = nf.Time
			if nf.Type != "" {
				of.Type, of.Help = nf.Type, nf.Help
			}
			idx := map[string]int{}
			for i := range of.Samples {
				idx[of.Samples[i].lset().String()] = i
			}
			for _, s := range nf.Samples {
				if i, ok := idx[s.lset().String()]; ok {
					of.Samples[i] = s
				} else {
					of.Samples = append(of.Samples, s)
				}
			}
		}
	default:
		// PUT replaces every family, POST the families it names.
		old := make(map[string]*pushFamily, len(grp.Families))
		for name, f := range grp.Families {
			old[name] = f
		}
		if u.replace {
			grp.Families = map[string]*pushFamily{}
		}
		kept := map[string]bool{}
		for name, nf := range u.families {
			grp.Families[name] = nf
			for i := range nf.Samples {
				kept[nf.Samples[i].lset().String()] = true
			}
		}
		for name, of := range old {
			if _, replaced := u.families[name]; !replaced && !u.replace {
				continue
			}
			for i := range of.Samples {
				if ls := of.Samples[i].lset(); !kept[ls.String()] {
					gone = append(gone, ls)
				}
			}
		}
	}
	if u.partial {
		grp.FailTime = u.at
	} else {
		grp.PushTime = u.at
	}
	grp.Changed = u.at
	if u.ttl > 0 {
		grp.TTL = u.ttl
	}
	g.seq++
	for _, ls := range gone {
		g.markStale(app, ls, t)
	}
	return g.appendTimes(app, grp, t)
}

// fail records a push of the group that was rejected as a whole. A group
// that does not exist is not created.
func (g *pushGroups) fail(app storage.AppenderV2, group labels.Labels, at time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[groupKey(group)]
	if grp == nil {
		return nil
	}
	grp.FailTime = at
	g.seq++
	return g.appendTimes(app, grp, at.UnixMilli())
}

// delete removes a group, appending staleness markers for all its series.
// It reports whether the group existed.
func (g *pushGroups) delete(app storage.AppenderV2, group labels.Labels, at time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := groupKey(group)
	grp := g.groups[key]
	if grp == nil {
		return false
	}
	delete(g.groups, key)
	g.seq++
	g.appendStale(app, grp, at.UnixMilli())
	return true
}

// appendStale appends staleness markers for every series of grp.
func (g *pushGroups) appendStale(app storage.AppenderV2, grp *pushGroup, t int64) {
	for _, f := range grp.Families {
		for i := range f.Samples {
			g.markStale(app, f.Samples[i].lset(), t)
		}
	}
	for _, name := range []string{pushTimeMetric, pushFailureTimeMetric} {
		g.markStale(app, timeSeries(grp, name), t)
	}
}

// markStale appends a staleness marker for ls at t, or 1 ms later when a
// refresh wrote the series' value in the same millisecond.
func (g *pushGroups) markStale(app storage.AppenderV2, ls labels.Labels, t int64) {
	_, err := app.Append(0, ls, 0, t, staleNaN(), nil, nil, storage.AOptions{})
	if errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
		_, err = app.Append(0, ls, 0, t+1, staleNaN(), nil, nil, storage.AOptions{})
	}
	if err != nil {
		g.logger.Debug("stale marker not written", "series", ls.String(), "err", err)
	}
}

// timeSeries is the series of push_time_seconds or push_failure_time_seconds
// of a group: the grouping labels, and service=<job> as every pushed sample.
func timeSeries(grp *pushGroup, name string) labels.Labels {
	b := labels.NewBuilder(labels.FromMap(grp.Labels))
	b.Set(model.MetricNameLabel, name)
	if b.Get("service") == "" {
		b.Set("service", grp.Labels["job"])
	}
	return b.Labels()
}

// pushTimeValue is the value of push_time_seconds or
// push_failure_time_seconds for a push at at: Unix seconds, 0 when never.
func pushTimeValue(at time.Time) float64 {
	if at.IsZero() {
		return 0
	}
	return float64(at.UnixNano()) / 1e9
}

// appendTimes appends the group's push_time_seconds and
// push_failure_time_seconds (0 when never) at t.
func (g *pushGroups) appendTimes(app storage.AppenderV2, grp *pushGroup, t int64) error {
	for _, m := range []struct {
		name string
		at   time.Time
	}{{pushTimeMetric, grp.PushTime}, {pushFailureTimeMetric, grp.FailTime}} {
		if _, err := app.Append(0, timeSeries(grp, m.name), 0, t, pushTimeValue(m.at), nil, nil, storage.AOptions{}); err != nil {
			if _, ok := classifyAppendErr(err); ok {
				g.logger.Debug("push time not written", "metric", m.name, "err", err)
				continue
			}
			return fmt.Errorf("append %s: %w", m.name, err)
		}
	}
	return nil
}

// refresh appends every group's current values at now and drops the groups
// whose TTL has passed.
func (g *pushGroups) refresh(ctx context.Context) error {
	now := g.now()
	t := now.UnixMilli()
	app := g.app.AppenderV2(ctx)
	g.mu.Lock()
	expired := false
	for key, grp := range g.groups {
		ttl := g.ttl
		if grp.TTL > 0 {
			ttl = grp.TTL
		}
		if ttl > 0 && now.Sub(grp.Changed) > ttl {
			delete(g.groups, key)
			g.appendStale(app, grp, t)
			expired = true
			continue
		}
		for _, f := range grp.Families {
			for i := range f.Samples {
				s := &f.Samples[i]
				ref, err := app.Append(s.ref, s.lset(), 0, t, s.Value, s.H, s.FH, storage.AOptions{})
				if err != nil {
					if _, ok := classifyAppendErr(err); !ok {
						g.mu.Unlock()
						_ = app.Rollback()
						return fmt.Errorf("refresh push group %s: %w", key, err)
					}
					continue
				}
				s.ref = ref
			}
		}
		if err := g.appendTimes(app, grp, t); err != nil {
			g.mu.Unlock()
			_ = app.Rollback()
			return err
		}
	}
	if expired {
		g.seq++
	}
	g.mu.Unlock()
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit push group refresh: %w", err)
	}
	if expired {
		return g.save()
	}
	return nil
}

// run refreshes the groups every interval until ctx is done.
func (g *pushGroups) run(ctx context.Context) error {
	if g.interval <= 0 {
		<-ctx.Done()
		return g.save()
	}
	tick := time.NewTicker(g.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return g.save()
		case <-tick.C:
			if err := g.refresh(ctx); err != nil {
				g.logger.Error("push groups refresh failed", "err", err)
			}
		}
	}
}

// save writes the groups to the persistence file (temp file, fsync,
// rename) unless a save that began after the last change already did.
// Concurrent callers share one write.
func (g *pushGroups) save() error {
	if g.path == "" {
		return nil
	}
	g.saveMu.Lock()
	defer g.saveMu.Unlock()
	g.mu.Lock()
	seq := g.seq
	if seq == g.saved {
		g.mu.Unlock()
		return nil
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(pushState{Version: stateVersion, Groups: g.groups})
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode push groups: %w", err)
	}
	if err := atomicfile.Write(g.path, buf.Bytes(), 0o600); err != nil {
		return err
	}
	g.saved = seq
	return nil
}

// pushedAt reports, for a series of a group, the time of the group's last
// push (successful or not).
func (g *pushGroups) pushedAt(ls labels.Labels) (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.index == nil || g.indexed != g.seq {
		g.index = map[string]*pushGroup{}
		for _, grp := range g.groups {
			for _, f := range grp.Families {
				for i := range f.Samples {
					g.index[f.Samples[i].lset().String()] = grp
				}
			}
			for _, name := range []string{pushTimeMetric, pushFailureTimeMetric} {
				g.index[timeSeries(grp, name).String()] = grp
			}
		}
		g.indexed = g.seq
	}
	grp := g.index[ls.String()]
	if grp == nil {
		return 0, false
	}
	last := grp.PushTime
	if grp.FailTime.After(last) {
		last = grp.FailTime
	}
	return last.UnixMilli(), true
}

// snapshot is a copy of the groups, sorted by key, for the Pushgateway API.
func (g *pushGroups) snapshot() []pushGroup {
	g.mu.Lock()
	defer g.mu.Unlock()
	keys := make([]string, 0, len(g.groups))
	for k := range g.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]pushGroup, 0, len(keys))
	for _, k := range keys {
		grp := g.groups[k]
		c := *grp
		c.Families = make(map[string]*pushFamily, len(grp.Families))
		for n, f := range grp.Families {
			fc := *f
			fc.Samples = append([]pushSample(nil), f.Samples...)
			c.Families[n] = &fc
		}
		out = append(out, c)
	}
	return out
}
