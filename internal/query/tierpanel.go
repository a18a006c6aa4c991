package query

import (
	"context"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
)

// panelEvaluator is the downsampled tiers' reader as evalRange sees it
// (tier.Queryable; this package cannot import tier): it evaluates the
// common long-range panel shapes a tier answers,
// `sum|avg|max|min|topk by (…) (max|min|sum|avg_over_time|rate|increase(x[r]))`
// and the same aggregations of a plain selector, directly, with the engine's arithmetic, instead of through the engine's
// per-step machinery (tier/panel.go says which and how).
type panelEvaluator interface {
	PanelShape(expr parser.Expr) bool
	EvalPanel(ctx context.Context, expr parser.Expr, start, end time.Time, step, lookback time.Duration, maxSamples int, prepared *time.Time) (promql.Matrix, annotations.Annotations, bool, error)
}

// evalPanel evaluates expr over start..end at step through the tiers'
// panel evaluation when the API's queryable has one and expr is such a
// panel at a step a tier may answer (a minute or more); done is false when
// it did not (the engine then evaluates it). As the direct path on raw
// data (evalDirect), it logs the query in the engine's active query log
// and counts it in the engine's metrics while it runs, and, when it
// answered, its prepare_time (reading the tier), inner_eval and
// result_sort; not its queue_time (the lanes admitted it before) nor
// query_samples_total. A plain selector looks back as the engine would
// for the query (opts' lookback_delta, else the engine's). Off with the
// direct path (noDirect).
func (a *API) evalPanel(ctx context.Context, opts promql.QueryOpts, expr string, start, end time.Time, step time.Duration) (_ promql.Matrix, _ annotations.Annotations, done bool, _ error) {
	pe, ok := a.queryable.(panelEvaluator)
	if !ok || a.noDirect || step < time.Minute {
		return nil, nil, false, nil
	}
	e, err := a.parser.ParseExpr(expr)
	if err != nil || !pe.PanelShape(e) {
		return nil, nil, false, nil
	}
	if a.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	defer a.logActive(ctx, expr)()
	defer a.engineMetrics.running()()
	began := time.Now()
	var prepared time.Time
	lookback := a.lookback
	if opts != nil && opts.LookbackDelta() > 0 {
		lookback = opts.LookbackDelta()
	}
	out, annos, done, err := pe.EvalPanel(ctx, e, start, end, step, lookback, a.maxSamples, &prepared)
	if done && err == nil {
		a.engineMetrics.answered(out, began, prepared)
	}
	return out, annos, done, err
}
