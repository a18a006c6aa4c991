package tier

import (
	"container/heap"
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/schema"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/kahansum"

	"github.com/gmc-dev/gmc/internal/promeval"
)

// Tier panels evaluated directly. A long-range dashboard panel answered
// from the tiers, `agg by (labels) (f(x[r]))`, costs the engine most of its
// CPU in its per-step machinery (a 7-day panel at a 10-minute step: 1009
// steps, each window a few coarse buckets), not in reading the tier. For
// these shapes EvalPanel reads the selector through the same Select, with
// the hints and grid marker the engine and PrepareQuery would give it, and
// computes each window and each group's aggregate with the engine's own
// arithmetic (Prometheus v0.316: the same operations on the same values in
// the same order), so its answer is the engine's bit for bit
// (TestPanelEqualsEngine):
//   - agg is sum, avg, max, min or count, by or without labels (by none:
//     one group), no parameter, no label of the __ namespace in the
//     grouping; or topk or bottomk by or without labels with a number k
//     from 1 to maxPanelK (the engine's heap of each group and step, the
//     same pushes and fixes, so the same picks among ties);
//   - f is max_over_time, min_over_time, sum_over_time, rate, increase
//     (extrapolatedRate over a counter's float samples, the tier's edges
//     and marks included, noting a name that is not a counter's as the
//     engine does), or avg_over_time of a selector with an equality matcher
//     on the metric name (read as PrepareQuery's sum over count, its
//     series in their labels' order); the series keep distinct labels once
//     f has dropped their name (else the engine merges them);
//   - or no f: a plain selector, read as the engine reads one at each step
//     (its latest sample within the lookback, none if that is a staleness
//     marker), where a tier answers it (its last values);
//   - a selector without @, start()/end(), anchored or smoothed modifier
//     and without the tiers' markers (__tier__ …), offset allowed, that a
//     tier answers at the query's step (the choice Select makes);
//   - float samples only, and no more of them than maxSamples.
//
// Anything else, and a read that meets a native histogram, is left to the
// engine (done false).

// panelFuncs are the functions a panel is evaluated directly over ("": a
// plain selector).
var panelFuncs = map[string]bool{"max_over_time": true, "min_over_time": true, "sum_over_time": true, "avg_over_time": true,
	"rate": true, "increase": true, "": true}

// panelAggs are the aggregations a panel is evaluated directly under.
var panelAggs = map[parser.ItemType]bool{parser.SUM: true, parser.AVG: true, parser.MAX: true, parser.MIN: true,
	parser.COUNT: true, parser.TOPK: true, parser.BOTTOMK: true}

// maxPanelK is the largest topk or bottomk parameter evaluated directly.
const maxPanelK = 1 << 20

// panelPlan is a panel's shape.
type panelPlan struct {
	op       parser.ItemType
	k        int64    // topk's and bottomk's
	by       []string // sorted, compacted
	without  bool     // by are the labels the grouping leaves out
	fn       string   // "": a plain selector
	vs       *parser.VectorSelector
	rng, off int64                  // ms
	pos      posrange.PositionRange // of the matrix selector (rate's annotation)
}

// planPanel returns e's plan when it is a panel of the shapes above.
func planPanel(e parser.Expr) (panelPlan, bool) {
	sh, ok := promeval.ParseShape(e)
	if !ok || !panelAggs[sh.Op] || !panelFuncs[sh.Func] || sh.HasParam != (sh.Op == parser.TOPK || sh.Op == parser.BOTTOMK) {
		return panelPlan{}, false
	}
	if sh.HasParam && !(sh.Param >= 1 && sh.Param <= maxPanelK) {
		return panelPlan{}, false // the engine answers nothing below 1, refuses NaN
	}
	if sh.Func == "avg_over_time" && !slices.ContainsFunc(sh.Selector.LabelMatchers, func(m *labels.Matcher) bool {
		return m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual
	}) {
		return panelPlan{}, false // read from raw data (PrepareQuery)
	}
	return panelPlan{op: sh.Op, k: int64(sh.Param), by: sh.By, without: sh.Without, fn: sh.Func, vs: sh.Selector,
		rng: sh.Range.Milliseconds(), off: sh.Offset.Milliseconds(), pos: sh.Pos}, true
}

// PanelShape says whether expr has a shape EvalPanel may evaluate.
func (q *Queryable) PanelShape(expr parser.Expr) bool {
	_, ok := planPanel(expr)
	return ok
}

// EvalPanel evaluates expr over start..end at step directly when it is a
// panel a tier answers (see above), its series in the order of their
// groups' first series (the caller sorts them), a plain selector's samples
// looked back for lookback; done is false when it is not, or the read
// meets what the direct evaluation does not take: the caller evaluates it
// through the engine. prepared, when not nil, is set to when the samples
// were read.
func (q *Queryable) EvalPanel(ctx context.Context, expr parser.Expr, start, end time.Time, step, lookback time.Duration, maxSamples int, prepared *time.Time) (_ promql.Matrix, _ annotations.Annotations, done bool, _ error) {
	p, ok := planPanel(expr)
	if !ok || step <= 0 || lookback <= 0 {
		return nil, nil, false, nil
	}
	s := &parser.EvalStmt{Start: start, End: end, Interval: step}
	hints, _ := selectHints(s, p.vs, nil, time.Duration(p.rng)*time.Millisecond)
	switch p.fn {
	case "":
		hints.Start -= lookback.Milliseconds() // the engine's lookback, less a ms
		hints.Func = p.op.String()
	case "avg_over_time":
		hints.Func = "sum_over_time" // PrepareQuery's sum over count
	default:
		hints.Func = p.fn
	}
	hints.By, hints.Grouping = !p.without, p.by
	first := timestamp.FromTime(start) - p.off
	if t, _ := q.choose(hints, "", first, true); t == nil {
		return nil, nil, false, nil // raw data answers
	}
	qr, err := q.Querier(hints.Start, hints.End)
	if err != nil {
		return nil, nil, true, err
	}
	defer qr.Close()
	grid := labels.MustNewMatcher(labels.MatchEqual, GridLabel, strconv.FormatInt(first, 10))
	budget := maxSamples
	plain := p.fn == ""
	set, annos, ok, err := readPanel(ctx, qr, hints, append(slices.Clone(p.vs.LabelMatchers), grid), plain, &budget)
	if !ok || err != nil {
		return nil, nil, ok, err
	}
	var counts []panelSeries
	if p.fn == "avg_over_time" {
		var an annotations.Annotations
		countMs := append(slices.Clone(p.vs.LabelMatchers), labels.MustNewMatcher(labels.MatchEqual, AggLabel, AggCount), grid)
		counts, an, ok, err = readPanel(ctx, qr, hints, countMs, false, &budget)
		if !ok || err != nil {
			return nil, nil, ok, err
		}
		annos.Merge(an)
	}
	if prepared != nil {
		*prepared = time.Now()
	}
	switch p.fn {
	case "":
	case "avg_over_time":
		// The division's series: each sum with the count of the same labels
		// (the names are the same), in their labels' order (selectAvg).
		set = pairCounts(set, counts)
		slices.SortFunc(set, func(a, b panelSeries) int { return labels.Compare(a.lset, b.lset) })
	}
	if !plain && !distinct(set) {
		return nil, nil, false, nil // f drops the name: the engine merges series left alike
	}
	steps := int(end.Sub(start)/step) + 1
	if budget -= steps * len(set); budget < 0 {
		return nil, nil, false, nil // the engine's to refuse
	}
	out, err := p.eval(ctx, set, timestamp.FromTime(start), step.Milliseconds(), steps, lookback.Milliseconds(), &annos)
	if err != nil {
		return nil, nil, true, err
	}
	return out, annos, true, nil
}

// distinct says whether set's series all have different labels once
// their name is dropped.
func distinct(set []panelSeries) bool {
	seen := make(map[string]struct{}, len(set))
	var buf []byte
	for _, s := range set {
		buf = s.lset.DropReserved(schema.IsMetadataLabel).Bytes(buf[:0])
		if _, ok := seen[string(buf)]; ok {
			return false
		}
		seen[string(buf)] = struct{}{}
	}
	return true
}

// panelSeries is a series read for a panel: its labels and float samples
// (without staleness markers, which the engine's windows skip, but for a
// plain selector), and for avg_over_time the count series of the same
// labels.
type panelSeries struct {
	lset  labels.Labels
	t     []int64
	f     []float64
	count *panelSeries
}

// readPanel reads ms through qr as the engine would with hints, keeping
// staleness markers when stale; ok is false when a native histogram is
// met or the samples exceed budget. Each series' samples are allocated
// once where they are as many as the previous series' (a panel's series
// are mostly alike).
func readPanel(ctx context.Context, qr storage.Querier, hints *storage.SelectHints, ms []*labels.Matcher, stale bool, budget *int) ([]panelSeries, annotations.Annotations, bool, error) {
	ss := qr.Select(ctx, false, hints, ms...)
	var out []panelSeries
	var it chunkenc.Iterator
	size := 0 // the previous series' samples
	for ss.Next() {
		if len(out)%64 == 0 {
			if err := promeval.ContextErr(ctx, "query preparation"); err != nil {
				return nil, nil, true, err
			}
		}
		s := ss.At()
		ps := panelSeries{lset: s.Labels(), t: make([]int64, 0, size), f: make([]float64, 0, size)}
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				return nil, nil, false, nil
			}
			t, f := it.At()
			if t < hints.Start || t > hints.End || !stale && value.IsStaleNaN(f) {
				continue
			}
			ps.t, ps.f = append(ps.t, t), append(ps.f, f)
		}
		if err := it.Err(); err != nil {
			return nil, nil, true, err
		}
		if *budget -= len(ps.t); *budget < 0 {
			return nil, nil, false, nil
		}
		size = len(ps.t)
		out = append(out, ps)
	}
	if err := ss.Err(); err != nil {
		return nil, nil, true, err
	}
	return out, ss.Warnings(), true, nil
}

// pairCounts gives each series of sums its series of counts, matched as
// the division matches them (all labels but the name); a sum without one
// has no answer.
func pairCounts(sums, counts []panelSeries) []panelSeries {
	index := make(map[string]int, len(counts))
	var buf []byte
	for i, c := range counts {
		buf = c.lset.BytesWithoutLabels(buf[:0], metadataLabels...)
		index[string(buf)] = i
	}
	out := sums[:0]
	for _, s := range sums {
		buf = s.lset.BytesWithoutLabels(buf[:0], metadataLabels...)
		i, ok := index[string(buf)]
		if !ok {
			continue
		}
		s.count = &counts[i]
		s.lset = s.lset.DropReserved(schema.IsMetadataLabel) // as the division answers
		out = append(out, s)
	}
	return out
}

// metadataLabels are the labels the division's matching leaves out.
var metadataLabels = []string{model.MetricNameLabel, model.MetricTypeLabel, model.MetricUnitLabel}

// eval evaluates each series' windows (a plain selector: its samples
// looked back for lookback) at each step and aggregates them per group and
// step.
func (p panelPlan) eval(ctx context.Context, set []panelSeries, start, step int64, steps int, lookback int64, annos *annotations.Annotations) (promql.Matrix, error) {
	isRate := p.fn == "rate"
	rangeSeconds := (time.Duration(p.rng) * time.Millisecond).Seconds()
	rng := p.rng
	if p.fn == "" {
		rng = lookback
	}
	groupOf, groupLabels := promeval.Groups(len(set), func(i int) labels.Labels { return set[i].lset }, p.by, p.without)
	var groups []*promeval.Agg
	var top panelTopk
	if p.op == parser.TOPK || p.op == parser.BOTTOMK {
		top = newPanelTopk(len(set), steps)
	} else {
		groups = make([]*promeval.Agg, len(groupLabels))
		for g := range groups {
			groups[g] = promeval.NewAgg(p.op, steps)
		}
	}
	for si, s := range set {
		if si%64 == 0 {
			if err := promeval.ContextErr(ctx, "expression evaluation"); err != nil {
				return nil, err
			}
		}
		valued := false
		lo, hi := 0, 0 // the window: s.t[lo:hi]
		clo, chi := 0, 0
		for k := range steps {
			maxt := start + int64(k)*step - p.off
			mint := maxt - rng
			for hi < len(s.t) && s.t[hi] <= maxt {
				hi++
			}
			for lo < hi && s.t[lo] <= mint {
				lo++
			}
			if lo == hi {
				continue
			}
			var f float64
			switch p.fn {
			case "":
				// The latest sample within the lookback, unless it is a
				// staleness marker.
				if f = s.f[hi-1]; value.IsStaleNaN(f) {
					continue
				}
			case "max_over_time":
				f = extremeOf(s.f[lo:hi], func(cur, m float64) bool { return cur > m || math.IsNaN(m) })
			case "min_over_time":
				f = extremeOf(s.f[lo:hi], func(cur, m float64) bool { return cur < m || math.IsNaN(m) })
			case "sum_over_time":
				f = sumOf(s.f[lo:hi])
			case "avg_over_time":
				c := s.count
				for chi < len(c.t) && c.t[chi] <= maxt {
					chi++
				}
				for clo < chi && c.t[clo] <= mint {
					clo++
				}
				if clo == chi {
					continue // no count: the division has no answer
				}
				f = sumOf(s.f[lo:hi]) / sumOf(c.f[clo:chi])
			case "rate", "increase":
				var ok bool
				if f, ok = increaseOf(s.t[lo:hi], s.f[lo:hi], maxt-p.rng, maxt, isRate, rangeSeconds); !ok {
					continue
				}
			}
			valued = true
			if groups != nil {
				groups[groupOf[si]].Add(k, f)
			} else {
				top.set(si, k, f)
			}
		}
		// The engine notes a rate or increase of a series whose name is not
		// a counter's, when it has a value.
		if p.fn == "rate" || p.fn == "increase" {
			promeval.NoteCounter(annos, s.lset, valued, p.pos)
		}
	}
	if groups == nil {
		return p.topk(set, top, groupOf, len(groupLabels), start, step, steps), nil
	}
	return promeval.Matrix(groupLabels, groups, start, step, false), nil
}

// panelTopk is topk's and bottomk's argument: each series' value at each
// step, where it has one.
type panelTopk struct {
	f   [][]float64
	has [][]bool
}

func newPanelTopk(series, steps int) panelTopk {
	t := panelTopk{f: make([][]float64, series), has: make([][]bool, series)}
	for i := range series {
		t.f[i], t.has[i] = make([]float64, steps), make([]bool, steps)
	}
	return t
}

func (t panelTopk) set(si, k int, f float64) { t.f[si][k], t.has[si][k] = f, true }

// topk picks at each step each group's k greatest values (bottomk's k
// least) as the engine's aggregationK does: series by series in the
// argument's order, into a heap of at most k ordered as the engine's
// (vectorByValueHeap, vectorByReverseValueHeap for bottomk: a NaN on top),
// replacing its top only by a greater value (bottomk: a lesser one) or a
// number over a NaN; so among equal values it keeps the same series. Each
// picked series answers with its values at the steps it was picked at,
// its name dropped with f's.
func (p panelPlan) topk(set []panelSeries, top panelTopk, groupOf []int, groups int, start, step int64, steps int) promql.Matrix {
	argument := 0 // the engine's input matrix: the series with a value
	for _, has := range top.has {
		if slices.Contains(has, true) {
			argument++
		}
	}
	k := min(p.k, int64(argument))
	bottom := p.op == parser.BOTTOMK
	heaps := make([]kHeap, groups)
	seen := make([]bool, groups)
	points := make([][]promql.FPoint, len(set))
	for st := range steps {
		clear(seen)
		for si := range set {
			if !top.has[si][st] {
				continue
			}
			e := kEntry{si: si, f: top.f[si][st]}
			g := groupOf[si]
			h := &heaps[g]
			var hi heap.Interface = h
			if bottom {
				hi = kReverseHeap{h}
			}
			switch {
			case !seen[g]:
				seen[g] = true
				*h = (*h)[:0]
				heap.Push(hi, e)
			case int64(len(*h)) < k:
				heap.Push(hi, e)
			case !bottom && (*h)[0].f < e.f || bottom && (*h)[0].f > e.f || math.IsNaN((*h)[0].f) && !math.IsNaN(e.f):
				(*h)[0] = e
				if k > 1 {
					heap.Fix(hi, 0)
				}
			}
		}
		t := start + int64(st)*step
		for g, h := range heaps {
			if seen[g] {
				for _, e := range h {
					points[e.si] = append(points[e.si], promql.FPoint{T: t, F: e.f})
				}
			}
		}
	}
	var out promql.Matrix
	for si, floats := range points {
		if floats == nil {
			continue
		}
		lset := set[si].lset
		if p.fn != "" {
			lset = lset.DropReserved(schema.IsMetadataLabel)
		}
		out = append(out, promql.Series{Metric: lset, Floats: floats, DropName: p.fn != ""})
	}
	return out
}

// kEntry is a series' value in a kHeap.
type kEntry struct {
	si int
	f  float64
}

// kHeap is the engine's vectorByValueHeap over kEntry: the least value
// (a NaN before any number) on top.
type kHeap []kEntry

func (h kHeap) Len() int { return len(h) }
func (h kHeap) Less(i, j int) bool {
	if math.IsNaN(h[i].f) {
		return true
	}
	return h[i].f < h[j].f
}
func (h kHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *kHeap) Push(x any)   { *h = append(*h, x.(kEntry)) }
func (h *kHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// kReverseHeap is the engine's vectorByReverseValueHeap over a kHeap's
// entries (bottomk's): the greatest value (a NaN before any number) on top.
type kReverseHeap struct{ *kHeap }

func (h kReverseHeap) Less(i, j int) bool {
	if math.IsNaN((*h.kHeap)[i].f) {
		return true
	}
	return (*h.kHeap)[i].f > (*h.kHeap)[j].f
}

// extremeOf is compareOverTime's value over fs (not empty).
func extremeOf(fs []float64, better func(cur, m float64) bool) float64 {
	m := fs[0]
	for _, f := range fs {
		if better(f, m) {
			m = f
		}
	}
	return m
}

// sumOf is sum_over_time's value over fs (not empty).
func sumOf(fs []float64) float64 {
	var sum, c float64
	for _, f := range fs {
		sum, c = kahansum.Inc(f, sum, c)
	}
	if math.IsInf(sum, 0) {
		return sum
	}
	return sum + c
}

// increaseOf is extrapolatedRate's value (Prometheus v0.316, a counter's
// float samples without start timestamps: the tiers keep none) over the
// window (rangeStart, rangeEnd] holding the samples t, f; false where it
// has none (fewer than two samples).
func increaseOf(t []int64, f []float64, rangeStart, rangeEnd int64, isRate bool, rangeSeconds float64) (float64, bool) {
	if len(f) < 2 {
		return 0, false
	}
	numSamplesMinusOne := len(f) - 1
	firstT, lastT := t[0], t[numSamplesMinusOne]
	result := f[numSamplesMinusOne] - f[0]
	for i := 1; i < len(f); i++ {
		if f[i] < f[i-1] {
			result += f[i-1]
		}
	}
	e := promeval.NewEdges()
	e.At(firstT, lastT, numSamplesMinusOne, rangeStart, rangeEnd, isRate, rangeSeconds)
	return e.Extrapolate(result, f[0], isRate, rangeSeconds), true
}
