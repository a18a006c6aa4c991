package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/gmc-dev/gmc/internal/promeval"
)

// Series sharding. The PromQL engine evaluates a range query on one
// goroutine. A range query at a step under a minute whose answer series
// each come from their own set of input series — `agg by (labels)
// (f(selector))` or `f(selector)`, with f functions of one series — is
// run as several queries of the same
// engine, each over a disjoint part of the selector's series, on as many
// goroutines as there are CPUs, and their answers joined. Every answer
// series is computed by one shard from exactly the input series (in the
// same order) the whole query would use, so the join is the whole query's
// answer, bit for bit (TestShardedEqualsEngine).
//
// What differs: the engine's limits (max samples) apply to each shard, and
// of two errors in different shards the first to happen is returned.

// shardableFuncs are the functions whose answer series depends on one
// input series only, with no argument but that series.
var shardableFuncs = map[string]bool{
	"rate": true, "increase": true, "irate": true, "delta": true, "idelta": true, "deriv": true,
	"resets": true, "changes": true,
	"avg_over_time": true, "min_over_time": true, "max_over_time": true, "sum_over_time": true,
	"count_over_time": true, "last_over_time": true, "present_over_time": true,
	"stddev_over_time": true, "stdvar_over_time": true,
	"abs": true, "ceil": true, "floor": true, "exp": true, "sqrt": true, "ln": true, "log2": true, "log10": true,
}

// shardableAggs are the aggregations computed per group from the group's
// members alone.
var shardableAggs = map[parser.ItemType]bool{
	parser.SUM: true, parser.AVG: true, parser.MIN: true, parser.MAX: true, parser.COUNT: true,
	parser.GROUP: true, parser.STDDEV: true, parser.STDVAR: true,
}

// shardPlan says how a query's input series are split: by the values of
// the labels by (an aggregation's grouping), or by all labels but the
// metric name (no aggregation: series that differ only by name, which the
// engine merges or rejects once it drops the name, stay together).
type shardPlan struct {
	by  []string // sorted; nil: all labels but __name__
	all bool
}

// planShards returns how expr may be sharded; false if it may not.
func planShards(p parser.Parser, expr string) (shardPlan, bool) {
	e, err := p.ParseExpr(expr)
	if err != nil {
		return shardPlan{}, false
	}
	e = promeval.Unparen(e)
	if agg, ok := e.(*parser.AggregateExpr); ok {
		if !shardableAggs[agg.Op] || agg.Without || agg.Param != nil || len(agg.Grouping) == 0 ||
			slices.Contains(agg.Grouping, model.MetricNameLabel) || !perSeries(agg.Expr) {
			return shardPlan{}, false
		}
		by := slices.Clone(agg.Grouping)
		slices.Sort(by)
		return shardPlan{by: slices.Compact(by)}, true
	}
	if !perSeries(e) {
		return shardPlan{}, false
	}
	return shardPlan{all: true}, true
}

// perSeries says whether every series of e's answer is computed from one
// series of its one selector: a selector, a shardable function of one, or
// arithmetic or a comparison of one with a number.
func perSeries(e parser.Expr) bool {
	switch e := promeval.Unparen(e).(type) {
	case *parser.VectorSelector:
		return true
	case *parser.Call:
		if !shardableFuncs[e.Func.Name] || len(e.Args) != 1 {
			return false
		}
		if ms, ok := promeval.Unparen(e.Args[0]).(*parser.MatrixSelector); ok {
			_, ok := ms.VectorSelector.(*parser.VectorSelector)
			return ok
		}
		return perSeries(e.Args[0])
	case *parser.BinaryExpr:
		if e.Op.IsSetOperator() || e.VectorMatching != nil && e.VectorMatching.Card == parser.CardManyToMany {
			return false
		}
		_, lnum := promeval.Unparen(e.LHS).(*parser.NumberLiteral)
		_, rnum := promeval.Unparen(e.RHS).(*parser.NumberLiteral)
		switch {
		case lnum:
			return perSeries(e.RHS)
		case rnum:
			return perSeries(e.LHS)
		}
	}
	return false
}

// shardQueryable reads the series of q that shard i of n owns.
type shardQueryable struct {
	q    storage.Queryable
	plan shardPlan
	i, n uint64
}

func (s shardQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := s.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return shardQuerier{Querier: q, s: s}, nil
}

type shardQuerier struct {
	storage.Querier
	s shardQueryable
}

func (q shardQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return &shardSet{SeriesSet: q.Querier.Select(ctx, sortSeries, hints, ms...), s: q.s}
}

// shardSet skips the series other shards own.
type shardSet struct {
	storage.SeriesSet
	s   shardQueryable
	buf []byte
}

func (s *shardSet) Next() bool {
	for s.SeriesSet.Next() {
		var h uint64
		ls := s.SeriesSet.At().Labels()
		if s.s.plan.all {
			h, s.buf = ls.HashWithoutLabels(s.buf, model.MetricNameLabel)
		} else {
			h, s.buf = ls.HashForLabels(s.buf, s.s.plan.by...)
		}
		if h%s.s.n == s.s.i {
			return true
		}
	}
	return false
}

// Sharding sizes: shards per worker (more shards than workers even out
// shards of unequal cost), the fewest steps worth sharding, and the
// largest step sharded: a step of a minute or more may read the
// downsampled tiers, whose answers are cheap and whose per-selector work
// (opening a month of tier blocks, a counter's edge samples for every
// series before the shard's filter) each shard would repeat — the 30-day
// rate[1h] panel over the 1h tier took 140 ms through the API sharded,
// 54 ms not (bench/history in process, load ~19).
const (
	shardsPerWorker = 2
	minShardSteps   = 100
	maxShardStep    = time.Minute
)

// buildError is an error building a query (a bad query), as opposed to one
// running it.
type buildError struct{ err error }

func (e buildError) Error() string { return e.err.Error() }
func (e buildError) Unwrap() error { return e.err }

// evalRange runs a range query and returns its answer, which points into
// the engine's pools until release is called (nil on error: nothing to
// release). Not copying it out saves an answer-sized copy of every range
// query (bench/soak's heavy one: 1.7M points, the copy half of what gmc
// allocated while it ran); the step cache copies only what it keeps. A
// query planShards accepts, over enough steps of less than maxShardStep,
// runs sharded on up to a.workers goroutines: one per slot of its query
// lane it holds, its own and those free (no queries waiting), taken for
// the evaluation (shardWorkers). An error building the query is a buildError.
func (a *API) evalRange(ctx context.Context, opts promql.QueryOpts, expr string, start, end time.Time, step time.Duration) (_ promql.Matrix, _ annotations.Annotations, release func(), _ error) {
	if out, annos, done, err := a.evalPanel(ctx, opts, expr, start, end, step); done {
		if err != nil {
			return nil, annos, nil, err
		}
		return out, annos, func() {}, nil
	}
	if p, ok := a.planDirect(expr, step); ok {
		logged := a.logActive(ctx, expr)
		out, annos, done, err := a.evalDirect(ctx, p, start, end, step)
		logged()
		switch {
		case done && err != nil:
			return nil, annos, nil, err
		case done:
			return out, annos, func() {}, nil
		}
	}
	if parts, ok := a.planDirectParts(expr, step); ok {
		out, annos, release, done, err := a.evalDirectParts(ctx, opts, parts, start, end, step)
		switch {
		case done && err != nil:
			return nil, annos, nil, err
		case done:
			return out, annos, release, nil
		}
	}
	if sels, m, ok := a.planInterleave(expr, start, end, step); ok {
		out, annos, release, done, err := a.evalInterleaved(ctx, opts, expr, sels, m, start, end, step)
		if done {
			return out, annos, release, err
		}
	}
	n, workers := 1, 1
	var plan shardPlan
	split := false // by time (splitTime), not by series
	if steps := int64(end.Sub(start)/step) + 1; a.workers > 1 && step < maxShardStep && steps > minShardSteps {
		p, byShard := planShards(a.parser, expr)
		if byShard || a.splittable(expr, start, end, step) {
			var release func()
			workers, release = a.shardWorkers(ctx)
			defer release()
			switch {
			case workers > 1 && byShard:
				plan, n = p, workers*shardsPerWorker
			case workers > 1:
				split, n = true, workers
			}
		}
	}
	queries := make([]promql.Query, n)
	closeAll := func() {
		for _, q := range queries {
			if q != nil {
				q.Close()
			}
		}
	}
	answered := false
	defer func() {
		if !answered {
			closeAll()
		}
	}()
	for i := range queries {
		var q storage.Queryable = a.yielding()
		from, to := start, end
		switch {
		case split:
			from, to = splitTime(start, end, step, i, n)
		case n > 1:
			q = shardQueryable{q: q, plan: plan, i: uint64(i), n: uint64(n)}
		}
		qry, err := a.engine.NewRangeQuery(ctx, q, opts, expr, from, to, step)
		if err != nil {
			return nil, nil, nil, buildError{err}
		}
		a.prepare(qry)
		queries[i] = qry
	}
	if n == 1 {
		res := queries[0].Exec(ctx)
		if res.Err != nil {
			return nil, res.Warnings, nil, res.Err
		}
		m, err := res.Matrix()
		if err != nil {
			return nil, res.Warnings, nil, err
		}
		answered = true
		return m, res.Warnings, closeAll, nil
	}
	results := a.execAll(ctx, queries, workers)
	var out promql.Matrix
	var annos annotations.Annotations
	var errs []error
	for _, res := range results {
		annos.Merge(res.Warnings)
		if res.Err != nil {
			errs = append(errs, res.Err)
			continue
		}
		m, err := res.Matrix()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if split {
			out = merge(out, m) // consecutive steps: joined by series, sorted
			continue
		}
		out = append(out, m...)
	}
	if len(errs) > 0 {
		return nil, annos, nil, firstCause(errs)
	}
	sort.Sort(out)
	answered = true
	return out, annos, closeAll, nil
}

// Time splitting. A range query that cannot be split by series (its
// series come from several input series: `sum(rate(x[1m]))`,
// histogram_quantile over a sum by le, topk, binary operations between
// selectors) is split by time instead: its steps into as many consecutive
// runs as it has workers, each evaluated as a range query of its own over
// the same step grid, and their answers joined by series. A point at step T
// of a range query depends only on T and the samples before it (the premise
// of the step cache too, and the same queries are excluded: an @ modifier or
// range() makes a step depend on the query's start or end; a subquery's
// steps are aligned to multiples of its step, not to the query's start), so
// the joined answer is the whole query's, bit for bit
// (TestTimeSplitEqualsEngine), for raw data: a query that may read a
// downsampled tier (a subquery at a step of a minute or more, or without
// one; a selector naming __tier__) is left whole. Each run reads again what its first step
// looks back over (the widest range or lookback, subqueries included): a
// query is split only when that is at most half a run. As with shards, the
// engine's limits apply to each run, and of two errors in different runs
// the first to happen is returned.

// tierLabel is the matcher that forces a downsampled tier
// (tier.TierLabel; this package cannot import tier).
const tierLabel = "__tier__"

// splittable says whether expr over start..end at step may be split by time
// (see above) into a.workers runs.
func (a *API) splittable(expr string, start, end time.Time, step time.Duration) bool {
	if a.noSplit || !cacheable(a.parser, expr) {
		return false
	}
	e, err := a.parser.ParseExpr(expr)
	if err != nil {
		return false
	}
	// A downsampled tier read past its watermark aggregates the raw samples
	// up to the read's end into a partial last bucket: a run ending earlier
	// would see another one. Tiers are read only at steps of a minute or
	// more (below maxShardStep) or when a selector forces one.
	tiered := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.SubqueryExpr:
			if n.Step <= 0 || n.Step >= maxShardStep {
				tiered = true
			}
		case *parser.VectorSelector:
			if slices.ContainsFunc(n.LabelMatchers, func(m *labels.Matcher) bool { return m.Name == tierLabel }) {
				tiered = true
			}
		}
		return nil
	})
	if tiered {
		return false
	}
	stmt := &parser.EvalStmt{Expr: e, Start: start, End: end, Interval: step, LookbackDelta: a.lookback}
	mint, _ := promql.FindMinMaxTime(stmt)
	back := start.UnixMilli() - mint
	run := end.Sub(start).Milliseconds() / int64(a.workers)
	return back >= 0 && 2*back <= run
}

// splitTime is the span of run i of n of the steps start..end: consecutive
// runs of (nearly) as many steps each, on the query's step grid.
func splitTime(start, end time.Time, step time.Duration, i, n int) (time.Time, time.Time) {
	steps := int(end.Sub(start)/step) + 1
	first, last := i*steps/n, (i+1)*steps/n-1
	return start.Add(time.Duration(first) * step), start.Add(time.Duration(last) * step)
}

// shardWorkers is how many goroutines a shardable range query may use, and
// what releases them. Without lanes, a.workers. A query admitted to a lane
// takes up to a.workers-1 more of its lane's slots, only free ones and only
// while nobody waits for them, and a lone query on an idle lane is as fast as
// before. A heavy query also borrows the small lane's slots while that lane
// has free slots and nobody waits for them, all but one, which stays free for
// a small query (lane.tryBorrow): on 2 cores the heavy lane has one slot, and
// bench/history's 1 h at 1 s query (1000 series × 3541 steps) ran on one
// core of an otherwise idle machine. It borrows only as many as the rest
// of the machine left idle of late (a.idleCPUs, cpuMeter): on a busy
// machine a borrowed, niced goroutine got no CPU and only held one of Go's
// scheduler slots from the writers (BenchmarkIngestBesideHeavyBorrow at load
// 19–31: as many heavy answers, the writer's p99 17–33 ms against 12–16 ms). Heavy queries
// still never use more goroutines than both lanes have slots, and their extra
// ones run at the heavy lane's nice as the query's own (evalRange).
func (a *API) shardWorkers(ctx context.Context) (int, func()) {
	l := admittedLane(ctx)
	if l == nil {
		return a.workers, func() {}
	}
	extra := 0
	for extra < a.workers-1 && l.tryAcquire() {
		extra++
	}
	borrowed := 0
	if a.lanes != nil && l == a.lanes.heavy && !a.noBorrow {
		idle := math.MaxInt
		if a.idleCPUs != nil {
			idle = a.idleCPUs()
		}
		for extra < a.workers-1 && borrowed < idle && a.lanes.small.tryBorrow() {
			extra++
			borrowed++
		}
	}
	return 1 + extra, func() {
		for range extra - borrowed {
			l.release()
		}
		for range borrowed {
			a.lanes.small.release()
		}
	}
}

// onWorkers runs work(0) … work(n-1) on n goroutines and waits for them,
// each at the heavy lane's nice for a heavy query (as its own thread). A
// panic of work is raised again on the caller's goroutine.
func (a *API) onWorkers(ctx context.Context, n int, work func(w int)) {
	nice := int(a.heavyNice.Load())
	niced := nice > 0 && a.lanes != nil && admittedLane(ctx) == a.lanes.heavy
	var wg sync.WaitGroup
	panics := make([]any, n)
	for w := range n {
		wg.Go(func() {
			defer func() { panics[w] = recover() }()
			if niced {
				onNicedThread(nice, func() { work(w) })
				return
			}
			work(w)
		})
	}
	wg.Wait()
	for _, p := range panics {
		if p != nil {
			panic(fmt.Sprint("query worker: ", p))
		}
	}
}

// execAll runs queries on workers goroutines (onWorkers), cancelling the
// rest at the first error, and returns their results in order.
func (a *API) execAll(ctx context.Context, queries []promql.Query, workers int) []*promql.Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]*promql.Result, len(queries))
	next := make(chan int, len(queries))
	for i := range queries {
		next <- i
	}
	close(next)
	a.onWorkers(ctx, workers, func(int) {
		for i := range next {
			results[i] = queries[i].Exec(ctx)
			if results[i].Err != nil {
				cancel()
			}
		}
	})
	return results
}

// firstCause is the error that stopped a sharded query: the first not
// caused by the cancellation of the other shards.
func firstCause(errs []error) error {
	for _, err := range errs {
		var eqc promql.ErrQueryCanceled
		if !errors.As(err, &eqc) && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errs[0]
}
