package promeval

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/kahansum"
)

// Shape is the query both direct evaluations take: an aggregation of a
// function over one range selector, `op [by|without (labels)] (fn(sel[r] [offset o]))`,
// or of a plain selector, `op [by|without (labels)] (sel [offset o])` (Func "",
// Range 0), op's parameter a number (topk's k) or none.
type Shape struct {
	Op       parser.ItemType
	Param    float64 // the parameter, when HasParam
	HasParam bool
	By       []string // the grouping, sorted, without repeats
	Without  bool     // By are the labels the grouping leaves out (with the name)
	Func     string
	Selector *parser.VectorSelector
	Range    time.Duration
	Offset   time.Duration
	Pos      posrange.PositionRange // of the matrix selector (rate's annotation), or the plain one
}

// ParseShape returns e's shape (parentheses aside) when e is such an
// aggregation without a label of the __ namespace in its grouping, its parameter, if any, a number, of a plain selector or a
// call with one argument, a matrix selector of a positive range; the
// selector without @, start()/end(), anchored or smoothed modifier, and
// without a matcher of the __ namespace but the metric name's (the tiers'
// markers: __tier__, __agg__, __grid__, __avg__); false if not. The caller
// checks Op, HasParam and Func.
func ParseShape(e parser.Expr) (Shape, bool) {
	agg, ok := Unparen(e).(*parser.AggregateExpr)
	if !ok {
		return Shape{}, false
	}
	var sh Shape
	if agg.Param != nil {
		n, ok := agg.Param.(*parser.NumberLiteral)
		if !ok {
			return Shape{}, false
		}
		sh.Param, sh.HasParam = n.Val, true
	}
	for _, l := range agg.Grouping {
		if strings.HasPrefix(l, "__") {
			return Shape{}, false
		}
	}
	arg := Unparen(agg.Expr)
	if call, ok := arg.(*parser.Call); ok {
		if len(call.Args) != 1 {
			return Shape{}, false
		}
		ms, ok := call.Args[0].(*parser.MatrixSelector)
		if !ok || ms.Range <= 0 {
			return Shape{}, false
		}
		sh.Func, sh.Range, sh.Pos, arg = call.Func.Name, ms.Range, ms.PositionRange(), ms.VectorSelector
	}
	vs, ok := arg.(*parser.VectorSelector)
	if !ok || vs.Timestamp != nil || vs.StartOrEnd != 0 || vs.Anchored || vs.Smoothed {
		return Shape{}, false
	}
	if sh.Func == "" {
		sh.Pos = vs.PositionRange()
	}
	for _, m := range vs.LabelMatchers {
		if strings.HasPrefix(m.Name, "__") && m.Name != model.MetricNameLabel {
			return Shape{}, false
		}
	}
	by := slices.Clone(agg.Grouping)
	slices.Sort(by)
	sh.Op, sh.By, sh.Without, sh.Selector, sh.Offset = agg.Op, slices.Compact(by), agg.Without, vs, vs.OriginalOffset
	return sh, true
}

// Unparen is e without its parentheses.
func Unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// Groups places n series, the i-th labelled lset(i), in the groups of the
// labels by (sorted), or of all labels but by and the name, type and unit
// (without), as the engine's aggregation does: groupOf[i] is series i's
// group, and the groups, labelled labels[g], are in the order of their
// first series.
func Groups(n int, lset func(i int) labels.Labels, by []string, without bool) (groupOf []int, groupLabels []labels.Labels) {
	groupOf = make([]int, n)
	index := map[string]int{}
	lb := labels.NewBuilder(labels.EmptyLabels())
	var buf []byte
	for i := range n {
		lb.Reset(lset(i))
		if without {
			lb.Del(by...)
			lb.Del(model.MetricNameLabel, model.MetricTypeLabel, model.MetricUnitLabel)
		} else {
			lb.Keep(by...)
		}
		l := lb.Labels()
		buf = l.Bytes(buf[:0])
		g, ok := index[string(buf)]
		if !ok {
			g = len(groupLabels)
			index[string(buf)] = g
			groupLabels = append(groupLabels, l)
		}
		groupOf[i] = g
	}
	return groupOf, groupLabels
}

// Agg is one group's aggregation over a range query's steps: per step the
// float fields of the engine's groupedAggregation (Prometheus v0.316) for
// sum, avg, max, min and count, added to and finished as the engine's
// aggregation does, so its result is the engine's bit for bit.
type Agg struct {
	op    parser.ItemType
	value []float64
	c     []float64 // Kahan compensation
	mean  []float64 // avg's incremental mean
	count []float64 // avg's and count's groupCount
	incr  []bool    // avg switched to the incremental mean
	seen  []bool
}

// NewAgg returns op's aggregation over steps steps, none valued.
func NewAgg(op parser.ItemType, steps int) *Agg {
	g := &Agg{op: op, value: make([]float64, steps), c: make([]float64, steps), seen: make([]bool, steps)}
	switch op {
	case parser.AVG:
		g.mean = make([]float64, steps)
		g.count = make([]float64, steps)
		g.incr = make([]bool, steps)
	case parser.COUNT:
		g.count = make([]float64, steps)
	}
	return g
}

// Add adds f at step k.
func (g *Agg) Add(k int, f float64) {
	if !g.seen[k] {
		g.seen[k], g.value[k], g.c[k] = true, f, 0
		switch g.op {
		case parser.AVG:
			g.mean[k], g.count[k] = f, 1
		case parser.COUNT:
			g.count[k] = 1
		}
		return
	}
	switch g.op {
	case parser.COUNT:
		g.count[k]++
	case parser.SUM:
		g.value[k], g.c[k] = kahansum.Inc(f, g.value[k], g.c[k])
	case parser.AVG:
		g.count[k]++
		n := g.count[k]
		if !g.incr[k] {
			v, c := kahansum.Inc(f, g.value[k], g.c[k])
			if !math.IsInf(v, 0) {
				g.value[k], g.c[k] = v, c
				return
			}
			g.incr[k] = true
			g.mean[k] = g.value[k] / (n - 1)
			g.c[k] /= n - 1
		}
		q := (n - 1) / n
		g.mean[k], g.c[k] = kahansum.Inc(f/n, q*g.mean[k], q*g.c[k])
	case parser.MAX:
		if g.value[k] < f || math.IsNaN(g.value[k]) {
			g.value[k] = f
		}
	case parser.MIN:
		if g.value[k] > f || math.IsNaN(g.value[k]) {
			g.value[k] = f
		}
	}
}

// SumState is the running Kahan sum of g, an aggregation of SUM, per
// step (value, c) and whether a value was added there, for a loop that
// adds to it itself (internal/query's directRun writes kahansum.Inc out:
// Inc is too large to be inlined); its result is then value + c.
func (g *Agg) SumState() (value, c []float64, seen []bool) { return g.value, g.c, g.seen }

// result is g's value at step k, as the engine finishes the aggregation.
func (g *Agg) result(k int) float64 {
	switch g.op {
	case parser.SUM:
		return g.value[k] + g.c[k]
	case parser.AVG:
		if g.incr[k] {
			return g.mean[k] + g.c[k]
		}
		return g.value[k]/g.count[k] + g.c[k]/g.count[k]
	case parser.COUNT:
		return g.count[k]
	}
	return g.value[k]
}

// Matrix is the answer of the groups labelled groupLabels, aggregated in
// aggs, over the steps start + k*step: a series for each group valued at
// some step, holding the steps it is valued at, in the groups' order.
// dropName is each series' DropName.
func Matrix(groupLabels []labels.Labels, aggs []*Agg, start, step int64, dropName bool) promql.Matrix {
	out := make(promql.Matrix, 0, len(aggs))
	for i, g := range aggs {
		var floats []promql.FPoint
		for k, seen := range g.seen {
			if seen {
				if floats == nil {
					floats = make([]promql.FPoint, 0, len(g.seen)-k)
				}
				floats = append(floats, promql.FPoint{T: start + int64(k)*step, F: g.result(k)})
			}
		}
		if floats != nil {
			out = append(out, promql.Series{Metric: groupLabels[i], Floats: floats, DropName: dropName})
		}
	}
	return out
}

// NoteCounter adds to annos the engine's note that a series rate or
// increase gave a value for (valued) might not be a counter, when the
// name in its labels lset is not a counter's; pos is the matrix
// selector's.
func NoteCounter(annos *annotations.Annotations, lset labels.Labels, valued bool, pos posrange.PositionRange) {
	if name := lset.Get(model.MetricNameLabel); valued && name != "" && !CounterName(name) {
		annos.Add(annotations.NewPossibleNonCounterInfo(name, pos))
	}
}
