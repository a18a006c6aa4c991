package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
	dir      string        // one file per group; "" keeps groups in memory only
	ttl      time.Duration // default TTL of a group; 0 never expires (under mu)
	interval time.Duration // how often current values are appended again (at start)
	// reset takes a new interval to run (setConfig).
	reset chan time.Duration

	mu     sync.Mutex
	groups map[string]*pushGroup // by groupKey; a group is replaced, never changed in place
	locks  map[string]*sync.Mutex
	seq    uint64 // bumped on every change
	// index maps each series of a group (by labels' String) to it; built
	// from groups when indexed != seq.
	index   map[string]*pushGroup
	indexed uint64
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

// Persistence: one file per group in dir (<data>/pushgateway/groups/), named
// by a hash of the group's key, written (temp, fsync, rename) after the
// push's samples are committed and before it is answered, so a push costs
// the write of its own group only. A deleted or expired group's file is
// removed. A groups.gob beside dir (the one-file format before) is read
// once at start, written out as per-group files and removed.

// stateVersion is the version of the persistence files' format.
const stateVersion = 1

// pushState is what the former single persistence file held.
type pushState struct {
	Version int
	Groups  map[string]*pushGroup
}

// groupFile is what one group's persistence file holds.
type groupFile struct {
	Version int
	Key     string
	Group   *pushGroup
}

// groupsDir is the directory of the per-group files for the persistence
// path given in Options.PushStateFile (…/groups.gob → …/groups).
func groupsDir(path string) string {
	if path == "" {
		return ""
	}
	return strings.TrimSuffix(path, filepath.Ext(path))
}

func newPushGroups(app storage.AppendableV2, logger *slog.Logger, now func() time.Time, path string, ttl, interval time.Duration) (*pushGroups, error) {
	g := &pushGroups{app: app, logger: logger, now: now, dir: groupsDir(path), ttl: ttl, interval: interval,
		groups: map[string]*pushGroup{}, locks: map[string]*sync.Mutex{}, reset: make(chan time.Duration, 1)}
	if path == "" {
		return g, nil
	}
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return nil, fmt.Errorf("push groups: %w", err)
	}
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		return nil, fmt.Errorf("read push groups: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".gob" {
			continue // atomicfile's temp files of an interrupted write
		}
		file := filepath.Join(g.dir, e.Name())
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read push group: %w", err)
		}
		var gf groupFile
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&gf); err != nil {
			return nil, fmt.Errorf("decode push group %s: %w", file, err)
		}
		if gf.Version != stateVersion || gf.Group == nil {
			return nil, fmt.Errorf("push group %s: format version %d, want %d", file, gf.Version, stateVersion)
		}
		g.groups[gf.Key] = gf.Group
	}
	if err := g.migrate(path); err != nil {
		return nil, err
	}
	return g, nil
}

// migrate turns a single-file groups.gob into per-group files, then removes it.
func (g *pushGroups) migrate(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read push groups: %w", err)
	}
	var st pushState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return fmt.Errorf("decode push groups %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("push groups %s: format version %d, want %d", path, st.Version, stateVersion)
	}
	for key, grp := range st.Groups {
		if _, newer := g.groups[key]; newer {
			continue
		}
		g.groups[key] = grp
		if err := g.persist(key, grp); err != nil {
			return err
		}
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove migrated push groups %s: %w", path, err)
	}
	return nil
}

// groupPath is the file of the group with key.
func (g *pushGroups) groupPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(g.dir, hex.EncodeToString(sum[:16])+".gob")
}

// persist writes the group's file, or removes it when grp is nil. The
// caller holds the group's lock, so writes of one group happen in order.
func (g *pushGroups) persist(key string, grp *pushGroup) error {
	if g.dir == "" {
		return nil
	}
	file := g.groupPath(key)
	if grp == nil {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove push group: %w", err)
		}
		return nil
	}
	var buf bytes.Buffer
	g.mu.Lock() // refresh writes the samples' refs; gob reads only exported fields, but under the lock
	err := gob.NewEncoder(&buf).Encode(groupFile{Version: stateVersion, Key: key, Group: grp})
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode push group: %w", err)
	}
	return atomicfile.Write(file, buf.Bytes(), 0o600)
}

// lock takes the lock of the group with key: one push, failure or delete
// of a group at a time, from computing its next state to writing its file.
// Pushes to other groups do not wait.
func (g *pushGroups) lock(key string) (unlock func()) {
	g.mu.Lock()
	l := g.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		g.locks[key] = l
	}
	g.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// install makes grp the group's state (nil: the group is gone). Callers
// install only after the samples of the change are committed, holding the
// group's lock.
// exists reports whether the group key has been pushed and not deleted.
func (g *pushGroups) exists(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.groups[key] != nil
}

func (g *pushGroups) install(key string, grp *pushGroup) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if grp == nil {
		delete(g.groups, key)
	} else {
		g.groups[key] = grp
	}
	g.seq++
}

// clone is a copy of grp whose families map can be changed; the families
// themselves are shared.
func (grp *pushGroup) clone() *pushGroup {
	c := *grp
	c.Families = make(map[string]*pushFamily, len(grp.Families))
	for n, f := range grp.Families {
		c.Families[n] = f
	}
	return &c
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

// next computes the group's state after a push and appends, with app,
// staleness markers for the series that left the group and the group's
// push_time_seconds / push_failure_time_seconds at u.at. It changes nothing:
// the caller installs the state once app has committed.
func (g *pushGroups) next(app storage.AppenderV2, u pushUpdate) (*pushGroup, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := groupKey(u.group)
	grp := &pushGroup{Labels: u.group.Map(), Families: map[string]*pushFamily{}}
	if cur := g.groups[key]; cur != nil {
		grp = cur.clone()
	}
	t := u.at.UnixMilli()
	var gone []labels.Labels
	switch {
	case u.partial:
		// Series-level merge: a push with a bad line never removes anything.
		for name, nf := range u.families {
			cur := grp.Families[name]
			if cur == nil {
				grp.Families[name] = nf
				continue
			}
			of := &pushFamily{Name: cur.Name, Type: cur.Type, Help: cur.Help, Samples: slices.Clone(cur.Samples)}
			grp.Families[name] = of
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
	for _, ls := range gone {
		g.markStale(app, ls, t)
	}
	return grp, g.appendTimes(app, grp, t)
}

// failed is the group's state after a push rejected as a whole, its
// push_failure_time_seconds appended with app; nil when the group does not
// exist (it is not created). It changes nothing, as next.
func (g *pushGroups) failed(app storage.AppenderV2, group labels.Labels, at time.Time) (*pushGroup, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.groups[groupKey(group)]
	if cur == nil {
		return nil, nil
	}
	grp := cur.clone()
	grp.FailTime = at
	return grp, g.appendTimes(app, grp, at.UnixMilli())
}

// deleted appends, with app, staleness markers for every series of the
// group and reports whether it exists. The caller installs nil once app has
// committed.
func (g *pushGroups) deleted(app storage.AppenderV2, group labels.Labels, at time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := g.groups[groupKey(group)]
	if grp == nil {
		return false
	}
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
	var expired []string
	for key, grp := range g.groups {
		ttl := g.ttl
		if grp.TTL > 0 {
			ttl = grp.TTL
		}
		if ttl > 0 && now.Sub(grp.Changed) > ttl {
			delete(g.groups, key)
			g.appendStale(app, grp, t)
			expired = append(expired, key)
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
	if len(expired) > 0 {
		g.seq++
	}
	g.mu.Unlock()
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit push group refresh: %w", err)
	}
	for _, key := range expired {
		if err := g.removeExpired(key); err != nil {
			return err
		}
	}
	return nil
}

// removeExpired removes the file of a group the refresh expired, unless a
// push has brought the group back meanwhile.
func (g *pushGroups) removeExpired(key string) error {
	unlock := g.lock(key)
	defer unlock()
	g.mu.Lock()
	_, back := g.groups[key]
	g.mu.Unlock()
	if back {
		return nil
	}
	return g.persist(key, nil)
}

// setConfig puts a new default TTL in force from the next refresh on, and
// a new interval from run's next tick.
func (g *pushGroups) setConfig(ttl, interval time.Duration) {
	g.mu.Lock()
	g.ttl = ttl
	g.mu.Unlock()
	select {
	case <-g.reset: // an interval run has not taken yet: this one replaces it
	default:
	}
	g.reset <- interval
}

// run refreshes the groups every interval until ctx is done.
func (g *pushGroups) run(ctx context.Context) error {
	tick := time.NewTicker(max(g.interval, time.Millisecond))
	if g.interval <= 0 {
		tick.Stop()
	}
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil // every change is on disk already
		case d := <-g.reset:
			if d > 0 {
				tick.Reset(d)
			}
		case <-tick.C:
			if err := g.refresh(ctx); err != nil {
				g.logger.Error("push groups refresh failed", "err", err)
			}
		}
	}
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
