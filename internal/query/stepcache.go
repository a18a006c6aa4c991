package query

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
)

// StepCache keeps the points of range queries at past steps, so a dashboard
// that asks for the same window again a second later has only its newest
// steps evaluated. A point at step T depends only on the samples up to T,
// so it is kept once T is older than the settle time; any later write older
// than that (LateWrites: a commit, or a block the store loads or drops, a
// delete) drops every entry, and an entry lives at most MaxAge. Queries with an @
// modifier (whose steps depend on the query's start or end) are never cached.
type StepCache struct {
	// Generation moves on when a sample older than Settle is written.
	Generation func() uint64
	Settle     time.Duration
	MaxAge     time.Duration
	// MaxPoints bounds the points kept over all entries; one entry may
	// hold at most MaxPoints / maxEntryShare of them.
	MaxPoints int

	mu      sync.Mutex
	entries map[string]*cacheEntry
	points  int
}

// cacheEntry is one query's points at the steps from..upTo.
type cacheEntry struct {
	gen      uint64
	from     int64 // first step kept (ms)
	upTo     int64 // last step kept (ms)
	series   promql.Matrix
	points   int
	created  time.Time
	lastUsed time.Time
}

// maxEntryShare: an answer with more settled points than a quarter of the
// cache is not kept, so one heavy query (every series over 10 minutes at
// 1 s: 1.6M points) cannot evict every dashboard's entries; a heavy query
// is evaluated whole each time instead, in the heavy lane.
const maxEntryShare = 4

// Defaults of a StepCache.
const (
	DefaultCacheSettle    = time.Minute
	DefaultCacheMaxAge    = 5 * time.Minute
	DefaultCacheMaxPoints = 2_000_000
)

// cacheable says whether expr's steps may be kept: no @ modifier and no
// range() in a duration (`rate(x[range()])`): either makes a step's value
// depend on the query's start or end.
func cacheable(p parser.Parser, expr string) bool {
	e, err := p.ParseExpr(expr)
	return err == nil && cacheableExpr(e)
}

// cacheableExpr is cacheable for a parsed expression.
func cacheableExpr(e parser.Expr) bool {
	ok := true
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if n.Timestamp != nil || n.StartOrEnd != 0 || usesRange(n.OriginalOffsetExpr) {
				ok = false
			}
		case *parser.MatrixSelector:
			if usesRange(n.RangeExpr) {
				ok = false
			}
		case *parser.SubqueryExpr:
			if n.Timestamp != nil || n.StartOrEnd != 0 || usesRange(n.RangeExpr) || usesRange(n.StepExpr) || usesRange(n.OriginalOffsetExpr) {
				ok = false
			}
		case *parser.DurationExpr:
			if usesRange(n) {
				ok = false
			}
		}
		return nil
	})
	return ok
}

// usesRange says whether a duration expression reads the query's range.
func usesRange(e parser.Expr) bool {
	switch e := e.(type) {
	case *parser.DurationExpr:
		return e != nil && (e.Op == parser.RANGE || usesRange(e.LHS) || usesRange(e.RHS))
	case *parser.ParenExpr:
		return usesRange(e.Expr)
	}
	return false
}

// rangeFunc evaluates a range query over [start, end] at step and returns
// its matrix, owned by the caller.
type rangeFunc func(ctx context.Context, start, end time.Time) (promql.Matrix, annotations.Annotations, error)

// Range answers the range query key over [start, end] at step: the kept
// points of past steps and run's answer for the steps after them; it keeps
// what is older than now - Settle for the next call.
func (c *StepCache) Range(ctx context.Context, key string, start, end time.Time, step time.Duration, now time.Time, run rangeFunc) (promql.Matrix, annotations.Annotations, error) {
	s, e, st := start.UnixMilli(), end.UnixMilli(), step.Milliseconds()
	gen := c.Generation()
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]*cacheEntry{}
	}
	ent := c.entries[key]
	if ent != nil && (ent.gen != gen || now.Sub(ent.created) > c.MaxAge) {
		c.drop(key)
		ent = nil
	}
	var kept promql.Matrix
	from := s
	if ent != nil && ent.from <= s && ent.upTo >= s && (ent.upTo-s)%st == 0 {
		ent.lastUsed = now
		kept = slice(ent.series, s, min(e, ent.upTo))
		from = ent.upTo + st
	}
	c.mu.Unlock()
	var fresh promql.Matrix
	var annos annotations.Annotations
	if from <= e {
		var err error
		if fresh, annos, err = run(ctx, time.UnixMilli(from), end); err != nil {
			return nil, annos, err
		}
	}
	out := merge(kept, fresh)
	// Keep the settled steps of the answer.
	horizon := now.Add(-c.Settle).UnixMilli()
	upTo := min(e, horizon)
	upTo -= (upTo - s) % st           // the last step at or before it
	if upTo >= s && len(annos) == 0 { // an answer with warnings is not kept: they would be lost
		// Counted before copying: an answer too large to keep (bench/soak's
		// heavy one, 1.7M points) was copied whole only to be dropped.
		n := pointsIn(out, s, upTo)
		var keep promql.Matrix
		if n <= c.MaxPoints/maxEntryShare {
			keep = slice(out, s, upTo)
		}
		c.mu.Lock()
		c.drop(key)
		if n <= c.MaxPoints/maxEntryShare {
			for c.points+n > c.MaxPoints {
				c.evictOldest()
			}
			c.entries[key] = &cacheEntry{gen: gen, from: s, upTo: upTo, series: keep, points: n, created: now, lastUsed: now}
			if ent != nil && ent.gen == gen {
				c.entries[key].created = ent.created // an entry's age counts from its first points
			}
			c.points += n
		}
		c.mu.Unlock()
	}
	return out, annos, nil
}

func (c *StepCache) drop(key string) {
	if ent, ok := c.entries[key]; ok {
		c.points -= ent.points
		delete(c.entries, key)
	}
}

func (c *StepCache) evictOldest() {
	var oldest string
	var at time.Time
	for k, e := range c.entries {
		if oldest == "" || e.lastUsed.Before(at) {
			oldest, at = k, e.lastUsed
		}
	}
	c.drop(oldest)
}

// cacheKey names a range query: the expression, the step, where the steps
// fall (start and end modulo the step: a tier is read only on aligned
// steps) and the per-query lookback.
func cacheKey(expr string, start, end time.Time, step time.Duration, lookback string) string {
	st := step.Milliseconds()
	return fmt.Sprintf("%s\x00%d\x00%d\x00%d\x00%s", expr, st, start.UnixMilli()%st, end.UnixMilli()%st, lookback)
}

// slice copies the points of m at steps from..to (ms), leaving out series
// with none. A series' points are in time order: its floats in the range
// are found by binary search and copied at once (appended one by one, the
// copies of a 1.6M-point answer were 5 % of gmc's CPU under bench/soak's
// heavy queries).
func slice(m promql.Matrix, from, to int64) promql.Matrix {
	var out promql.Matrix
	for _, s := range m {
		c := promql.Series{Metric: s.Metric, DropName: s.DropName}
		i := sort.Search(len(s.Floats), func(i int) bool { return s.Floats[i].T >= from })
		j := sort.Search(len(s.Floats), func(i int) bool { return s.Floats[i].T > to })
		if i < j {
			c.Floats = slices.Clone(s.Floats[i:j])
		}
		for _, p := range s.Histograms {
			if p.T >= from && p.T <= to {
				c.Histograms = append(c.Histograms, promql.HPoint{T: p.T, H: p.H.Copy()})
			}
		}
		if len(c.Floats)+len(c.Histograms) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// pointsIn is how many points slice(m, from, to) holds, without copying them.
func pointsIn(m promql.Matrix, from, to int64) int {
	n := 0
	for _, s := range m {
		i := sort.Search(len(s.Floats), func(i int) bool { return s.Floats[i].T >= from })
		j := sort.Search(len(s.Floats), func(i int) bool { return s.Floats[i].T > to })
		n += max(j-i, 0)
		for _, p := range s.Histograms {
			if p.T >= from && p.T <= to {
				n++
			}
		}
	}
	return n
}

// merge joins the points of two answers over consecutive step ranges (a
// before b), by series, sorted by labels as the engine sorts a range
// query's answer.
func merge(a, b promql.Matrix) promql.Matrix {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	idx := make(map[string]int, len(a))
	out := slices.Clone(a)
	for i, s := range out {
		idx[s.Metric.String()] = i
	}
	for _, s := range b {
		i, ok := idx[s.Metric.String()]
		if !ok {
			out = append(out, s)
			continue
		}
		out[i].Floats = append(slices.Clip(out[i].Floats), s.Floats...)
		out[i].Histograms = append(slices.Clip(out[i].Histograms), s.Histograms...)
	}
	sort.Sort(out)
	return out
}
