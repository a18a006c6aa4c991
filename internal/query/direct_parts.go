package query

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Parts of a query evaluated directly. A range query that is not itself
// `sum by (…) (rate(…))` but holds such parts — the dashboard's
// `histogram_quantile(0.99, sum by (le) (rate(x_bucket[1m])))` or
// `sum by (service) (rate(x[1m])) > 0` — has each part evaluated directly
// (direct.go) and the rest by the engine, which reads each part's answer
// as series of a store: the query is rewritten with the part replaced by
// the selector {__direct__="k"}, which a queryable wrapping the store
// answers with the part's series in the order the engine would have made
// them, each with a sample at every step (a staleness marker where the part
// has no value, so the engine's lookback carries nothing to a step without
// one). At step T the engine reads the sample at T: the rest of the query
// sees exactly the values it would have computed (TestDirectPartsEqualsEngine).
// Left to the engine as before: a part inside a subquery (evaluated at the
// subquery's steps) or in an argument of a function that reads its
// argument's expression rather than its values (absent() names its answer
// from its selector's matchers: only directEnclosing functions may enclose
// a part); and the whole query, evaluated again as before, when the
// rewritten one errs or the engine notes anything about it (its notes would
// give positions in the rewritten text).

// directLabel is the label of a rewritten query's selector of part k.
const directLabel = "__direct__"

// directEnclosing are the functions whose answer depends on their
// arguments' values alone, which may enclose a part.
var directEnclosing = map[string]bool{
	"histogram_quantile": true, "clamp": true, "clamp_min": true, "clamp_max": true,
	"abs": true, "ceil": true, "floor": true, "round": true, "sqrt": true, "exp": true,
	"ln": true, "log2": true, "log10": true, "label_replace": true, "label_join": true,
	"sort": true, "sort_desc": true, "scalar": true,
}

// directParts is a query rewritten with its parts' selectors, and the parts.
type directParts struct {
	expr  string
	plans []directPlan
}

// planDirectParts returns expr rewritten with the parts that may be
// evaluated directly at step (see above); false if it has none, or is
// itself one (planDirect).
func (a *API) planDirectParts(expr string, step time.Duration) (directParts, bool) {
	if !a.directAt(expr, step) {
		return directParts{}, false
	}
	e, err := a.parser.ParseExpr(expr)
	if err != nil {
		return directParts{}, false
	}
	if _, whole := directShape(e); whole {
		return directParts{}, false
	}
	var parts directParts
	var rewrite func(e parser.Expr, enclosable bool) parser.Expr
	rewrite = func(e parser.Expr, enclosable bool) parser.Expr {
		if p, ok := directShape(e); ok && enclosable {
			parts.plans = append(parts.plans, p)
			return &parser.VectorSelector{LabelMatchers: []*labels.Matcher{
				labels.MustNewMatcher(labels.MatchEqual, directLabel, strconv.Itoa(len(parts.plans)-1))}}
		}
		switch n := e.(type) {
		case *parser.ParenExpr:
			n.Expr = rewrite(n.Expr, enclosable)
		case *parser.UnaryExpr:
			n.Expr = rewrite(n.Expr, enclosable)
		case *parser.BinaryExpr:
			n.LHS, n.RHS = rewrite(n.LHS, enclosable), rewrite(n.RHS, enclosable)
		case *parser.AggregateExpr:
			n.Expr = rewrite(n.Expr, enclosable)
			if n.Param != nil {
				n.Param = rewrite(n.Param, enclosable)
			}
		case *parser.Call:
			for i := range n.Args {
				n.Args[i] = rewrite(n.Args[i], enclosable && directEnclosing[n.Func.Name])
			}
		}
		// Subqueries and selectors are left as they are.
		return e
	}
	e = rewrite(e, true)
	if len(parts.plans) == 0 {
		return directParts{}, false
	}
	parts.expr = e.String()
	return parts, true
}

// evalDirectParts evaluates parts' parts directly and the rewritten query
// through the engine over start..end at step; done is false when the query
// must be evaluated as before (see above). release closes the engine's query.
func (a *API) evalDirectParts(ctx context.Context, opts promql.QueryOpts, parts directParts, start, end time.Time, step time.Duration) (_ promql.Matrix, _ annotations.Annotations, release func(), done bool, _ error) {
	var annos annotations.Annotations
	mats := make([]promql.Matrix, len(parts.plans))
	for k, p := range parts.plans {
		m, an, ok, err := a.directMatrix(ctx, p, start, end, step, nil)
		if !ok {
			return nil, nil, nil, false, nil
		}
		if err != nil {
			return nil, nil, nil, true, err
		}
		mats[k] = m
		annos.Merge(an)
	}
	q := directQueryable{Queryable: a.yielding(), parts: mats, start: start.UnixMilli(), step: step.Milliseconds(),
		steps: int64(end.Sub(start)/step) + 1}
	qry, err := a.engine.NewRangeQuery(ctx, q, opts, parts.expr, start, end, step)
	if err != nil {
		return nil, nil, nil, false, nil
	}
	a.prepare(qry)
	res := qry.Exec(ctx)
	if res.Err != nil && ctx.Err() != nil {
		qry.Close()
		return nil, nil, nil, true, res.Err
	}
	if res.Err != nil || len(res.Warnings) > 0 {
		qry.Close()
		return nil, nil, nil, false, nil
	}
	m, err := res.Matrix()
	if err != nil {
		qry.Close()
		return nil, nil, nil, false, nil
	}
	return m, annos, qry.Close, true, nil
}

// directQueryable is a store whose selectors {__direct__="k"} read part
// k's answer: a sample at every step from start, the part's value or a
// staleness marker.
type directQueryable struct {
	storage.Queryable
	parts              []promql.Matrix
	start, step, steps int64
}

func (d directQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := d.Queryable.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return directQuerier{Querier: q, d: d}, nil
}

type directQuerier struct {
	storage.Querier
	d directQueryable
}

func (q directQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	for _, m := range ms {
		if m.Name != directLabel {
			continue
		}
		k, err := strconv.Atoi(m.Value)
		if err != nil || k < 0 || k >= len(q.d.parts) {
			return storage.EmptySeriesSet()
		}
		part := q.d.parts[k]
		if sortSeries {
			part = slices.Clone(part)
			slices.SortFunc(part, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
		}
		return newPointsSet(partSteps{m: part, start: q.d.start, step: q.d.step, steps: q.d.steps}, nil)
	}
	return q.Querier.Select(ctx, sortSeries, hints, ms...)
}

// partSteps is a part's answer m as its selector reads it: a sample at
// every step, the part's value or a staleness marker.
type partSteps struct {
	m                  promql.Matrix
	start, step, steps int64
}

func (p partSteps) len() int                   { return len(p.m) }
func (p partSteps) labels(i int) labels.Labels { return p.m[i].Metric }

func (p partSteps) points(i int, out fpoints) fpoints {
	floats := p.m[i].Floats
	stale := math.Float64frombits(value.StaleNaN)
	j := 0
	for k := range p.steps {
		t := p.start + k*p.step
		f := stale
		if j < len(floats) && floats[j].T == t {
			f = floats[j].F
			j++
		}
		out = append(out, fpoint{t: t, f: f})
	}
	return out
}
