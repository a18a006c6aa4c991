package tier

import (
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
//   - agg is sum, avg, max or min, by labels (none: one group), no without
//     or parameter, no label of the __ namespace in the grouping;
//   - f is max_over_time, min_over_time, sum_over_time, rate, increase
//     (extrapolatedRate over a counter's float samples, the tier's edges
//     and marks included, noting a name that is not a counter's as the
//     engine does), or avg_over_time of a selector with an equality matcher
//     on the metric name (read as PrepareQuery's sum over count, its
//     series in their labels' order);
//   - a matrix selector without @, start()/end(), anchored or smoothed
//     modifier and without the tiers' markers (__tier__ …), offset allowed,
//     that a tier answers at the query's step (the choice Select makes);
//   - float samples only, and no more of them than maxSamples.
//
// Anything else, and a read that meets a native histogram, is left to the
// engine (done false).

// panelFuncs are the functions a panel is evaluated directly over.
var panelFuncs = map[string]bool{"max_over_time": true, "min_over_time": true, "sum_over_time": true, "avg_over_time": true,
	"rate": true, "increase": true}

// panelAggs are the aggregations a panel is evaluated directly under.
var panelAggs = map[parser.ItemType]bool{parser.SUM: true, parser.AVG: true, parser.MAX: true, parser.MIN: true}

// panelPlan is a panel's shape.
type panelPlan struct {
	op       parser.ItemType
	by       []string // sorted, compacted
	fn       string
	vs       *parser.VectorSelector
	rng, off int64                  // ms
	pos      posrange.PositionRange // of the matrix selector (rate's annotation)
}

// planPanel returns e's plan when it is a panel of the shapes above.
func planPanel(e parser.Expr) (panelPlan, bool) {
	sh, ok := promeval.ParseShape(e)
	if !ok || !panelAggs[sh.Op] || !panelFuncs[sh.Func] {
		return panelPlan{}, false
	}
	if sh.Func == "avg_over_time" && !slices.ContainsFunc(sh.Selector.LabelMatchers, func(m *labels.Matcher) bool {
		return m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual
	}) {
		return panelPlan{}, false // read from raw data (PrepareQuery)
	}
	return panelPlan{op: sh.Op, by: sh.By, fn: sh.Func, vs: sh.Selector,
		rng: sh.Range.Milliseconds(), off: sh.Offset.Milliseconds(), pos: sh.Pos}, true
}

// PanelShape says whether expr has a shape EvalPanel may evaluate.
func (q *Queryable) PanelShape(expr parser.Expr) bool {
	_, ok := planPanel(expr)
	return ok
}

// EvalPanel evaluates expr over start..end at step directly when it is a
// panel a tier answers (see above), its series in the order of their
// groups' first series (the caller sorts them); done is false when it is not, or the read meets
// what the direct evaluation does not take: the caller evaluates it through
// the engine. prepared, when not nil, is set to when the samples were read.
func (q *Queryable) EvalPanel(ctx context.Context, expr parser.Expr, start, end time.Time, step time.Duration, maxSamples int, prepared *time.Time) (_ promql.Matrix, _ annotations.Annotations, done bool, _ error) {
	p, ok := planPanel(expr)
	if !ok || step <= 0 {
		return nil, nil, false, nil
	}
	s := &parser.EvalStmt{Start: start, End: end, Interval: step}
	hints, _ := selectHints(s, p.vs, nil, time.Duration(p.rng)*time.Millisecond)
	hints.Func = p.fn
	if p.fn == "avg_over_time" {
		hints.Func = "sum_over_time" // PrepareQuery's sum over count
	}
	hints.By, hints.Grouping = true, p.by
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
	set, annos, ok, err := readPanel(ctx, qr, hints, append(slices.Clone(p.vs.LabelMatchers), grid), &budget)
	if !ok || err != nil {
		return nil, nil, ok, err
	}
	var counts []panelSeries
	if p.fn == "avg_over_time" {
		var an annotations.Annotations
		countMs := append(slices.Clone(p.vs.LabelMatchers), labels.MustNewMatcher(labels.MatchEqual, AggLabel, AggCount), grid)
		counts, an, ok, err = readPanel(ctx, qr, hints, countMs, &budget)
		if !ok || err != nil {
			return nil, nil, ok, err
		}
		annos.Merge(an)
	}
	if prepared != nil {
		*prepared = time.Now()
	}
	if p.fn == "avg_over_time" {
		// The division's series: each sum with the count of the same labels
		// (the names are the same), in their labels' order (selectAvg).
		set = pairCounts(set, counts)
		slices.SortFunc(set, func(a, b panelSeries) int { return labels.Compare(a.lset, b.lset) })
	}
	steps := int(end.Sub(start)/step) + 1
	if budget -= steps * len(set); budget < 0 {
		return nil, nil, false, nil // the engine's to refuse
	}
	out, err := p.eval(ctx, set, timestamp.FromTime(start), step.Milliseconds(), steps, &annos)
	if err != nil {
		return nil, nil, true, err
	}
	return out, annos, true, nil
}

// panelSeries is a series read for a panel: its labels and float samples
// without staleness markers (the engine's windows skip them), and for
// avg_over_time the count series of the same labels.
type panelSeries struct {
	lset  labels.Labels
	t     []int64
	f     []float64
	count *panelSeries
}

// readPanel reads ms through qr as the engine would with hints; ok is false
// when a native histogram is met or the samples exceed budget.
func readPanel(ctx context.Context, qr storage.Querier, hints *storage.SelectHints, ms []*labels.Matcher, budget *int) ([]panelSeries, annotations.Annotations, bool, error) {
	ss := qr.Select(ctx, false, hints, ms...)
	var out []panelSeries
	var it chunkenc.Iterator
	for ss.Next() {
		if len(out)%64 == 0 {
			if err := promeval.ContextErr(ctx, "query preparation"); err != nil {
				return nil, nil, true, err
			}
		}
		s := ss.At()
		ps := panelSeries{lset: s.Labels()}
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				return nil, nil, false, nil
			}
			t, f := it.At()
			if t < hints.Start || t > hints.End || value.IsStaleNaN(f) {
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

// eval aggregates set's windows per group and step.
func (p panelPlan) eval(ctx context.Context, set []panelSeries, start, step int64, steps int, annos *annotations.Annotations) (promql.Matrix, error) {
	isRate := p.fn == "rate"
	rangeSeconds := (time.Duration(p.rng) * time.Millisecond).Seconds()
	groupOf, groupLabels := promeval.Groups(len(set), func(i int) labels.Labels { return set[i].lset }, p.by)
	groups := make([]*promeval.Agg, len(groupLabels))
	for g := range groups {
		groups[g] = promeval.NewAgg(p.op, steps)
	}
	for si, s := range set {
		if si%64 == 0 {
			if err := promeval.ContextErr(ctx, "expression evaluation"); err != nil {
				return nil, err
			}
		}
		g := groups[groupOf[si]]
		valued := false
		lo, hi := 0, 0 // the window: s.t[lo:hi]
		clo, chi := 0, 0
		for k := range steps {
			maxt := start + int64(k)*step - p.off
			mint := maxt - p.rng
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
			g.Add(k, f)
		}
		// The engine notes a rate or increase of a series whose name is not
		// a counter's, when it has a value.
		if p.fn == "rate" || p.fn == "increase" {
			promeval.NoteCounter(annos, s.lset, valued, p.pos)
		}
	}
	return promeval.Matrix(groupLabels, groups, start, step, false), nil
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
