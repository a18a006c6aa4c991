package query

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/gmc-dev/gmc/internal/promeval"
)

// Direct evaluation of `sum by (labels) (rate(sel[range]))`. The PromQL
// engine evaluates such a range query series by series and step by step
// through its general machinery: ~240 ns per series-step with the windows
// thinned to two samples (interleave.go), so bench/history's 1 h at 1 s
// query (1000 series × 3541 steps) costs ~850 ms of CPU however its samples
// are read, where VictoriaMetrics answers in ~100 ms. This is one of the
// design's two evaluations outside the engine (the other is the tiers'
// panels, internal/tier/panel.go; both share internal/promeval, and
// docs/history.md says why): for this
// one shape, parsed by Prometheus's parser and read through the same
// Select the engine makes, each series' windows slide over its decoded
// samples and each window's value is computed by the engine's own
// arithmetic (extrapolatedRate of Prometheus v0.316: the same operations on
// the same values in the same order, counter resets walked sample by sample
// as the engine does wherever a window holds a drop or a NaN), and summed
// per group and step in the engine's order with its Kahan summation
// (kahansum.Inc). The answer is the engine's, bit for bit, annotations
// included (TestDirectEqualsEngine, FuzzDirectEqualsEngine); anything else
// runs through the engine:
//   - sum only, by labels (none: one group), no without or parameter, no
//     label of the __ namespace in the grouping;
//   - rate or increase of a matrix selector, no @, start()/end(), anchored
//     or smoothed modifier, offset allowed, no tier marker (__tier__ …);
//   - a step under a minute (raw data answers: the tiers' resolution is a
//     minute or more), as interleaving;
//   - float samples only (a native histogram anywhere in the read runs the
//     query through the engine), at most query.rate_max_decoded_bytes of
//     them decoded, and fewer points than the engine's max samples would
//     refuse (it is asked instead, and refuses).
//
// The steps are split into as many consecutive runs as the query has
// workers (shardWorkers), each run walking every series in the engine's
// order, so a group's sum at a step is added in the same order whatever
// the split.
//
// It logs the query in the engine's active query log (logActive) and counts
// it in the engine's metrics (evalDirect) as the engine would.

// directFuncs are the functions evaluated directly, and whether each is a
// rate (per second) rather than an increase.
var directFuncs = map[string]bool{"rate": true, "increase": false}

// minDirectSplitSteps: fewer steps than this run on one goroutine.
const minDirectSplitSteps = 64

// directPlan is a query evaluated directly.
type directPlan struct {
	sel    thinSelector
	rngOff int64    // ms: range plus offset, as extrapolatedRate reads the window's start
	by     []string // the grouping labels, sorted
	isRate bool
	rng    time.Duration
	pos    posrange.PositionRange // of the matrix selector (rate's annotation)
}

// planDirect returns expr's plan when it may be evaluated directly over
// start..end at step (see above); false if not.
func (a *API) planDirect(expr string, step time.Duration) (directPlan, bool) {
	if !a.directAt(expr, step) {
		return directPlan{}, false
	}
	e, err := a.parser.ParseExpr(expr)
	if err != nil {
		return directPlan{}, false
	}
	return directShape(e)
}

// directAt says whether expr at step may have parts evaluated directly:
// raw data (a step under a minute), no @ or range(), and direct
// evaluation on.
func (a *API) directAt(expr string, step time.Duration) bool {
	return !a.noDirect && a.thinMaxBytes.Load() > 0 && step > 0 && step < maxShardStep && cacheable(a.parser, expr)
}

// directShape returns e's plan when e is `sum [by (…)] (rate|increase(sel[r]))`
// as direct evaluation takes it (see above); false if not.
func directShape(e parser.Expr) (directPlan, bool) {
	sh, ok := promeval.ParseShape(e)
	if !ok || sh.Op != parser.SUM || sh.HasParam || sh.Without {
		return directPlan{}, false
	}
	isRate, ok := directFuncs[sh.Func]
	if !ok {
		return directPlan{}, false
	}
	return directPlan{
		sel:    thinSelector{matchers: sh.Selector.LabelMatchers, rng: sh.Range.Milliseconds(), off: sh.Offset.Milliseconds(), fn: sh.Func},
		rngOff: (sh.Range + sh.Offset).Milliseconds(),
		by:     sh.By,
		isRate: isRate,
		rng:    sh.Range,
		pos:    sh.Pos,
	}, true
}

// directGroup is one answer series as it is summed: per step the
// engine's running Kahan sum (sum, c) and whether a series had a value
// there, the slices of a promeval.Agg of the sum (SumState), added to in
// directRun's loop itself.
type directGroup struct {
	sum  []float64
	c    []float64
	seen []bool
}

// evalDirect evaluates p over start..end at step, its series sorted as
// the engine sorts a range query's answer; done is false when it could not
// (see above): the caller evaluates the query through the engine.
// It counts in the engine's metrics (prometheus_engine_queries while it
// runs; query_duration_seconds' prepare_time, inner_eval and result_sort
// when it answered) as the engine counts a query; not its queue_time (the
// lanes admitted it before), nor query_samples_total.
func (a *API) evalDirect(ctx context.Context, p directPlan, start, end time.Time, step time.Duration) (_ promql.Matrix, _ annotations.Annotations, done bool, _ error) {
	defer a.engineMetrics.running()()
	began := time.Now()
	var prepared time.Time
	out, annos, done, err := a.directMatrix(ctx, p, start, end, step, &prepared)
	if done && err == nil {
		a.engineMetrics.answered(out, began, prepared)
	}
	return out, annos, done, err
}

// logActive enters expr in the engine's active query log (Prometheus's:
// the queries running at a crash are logged at the next start) while the
// direct path evaluates it, as the engine enters what it evaluates; the
// returned func takes it out. Without a log, or when the log has no free
// slot before ctx ends (the evaluation then ends with ctx too), nothing.
func (a *API) logActive(ctx context.Context, expr string) func() {
	if a.active == nil {
		return func() {}
	}
	i, err := a.active.Insert(ctx, expr)
	if err != nil {
		return func() {}
	}
	return func() { a.active.Delete(i) }
}

// directMatrix is evalDirect's answer with its series in the order the
// engine makes them (each group where its first series is in storage's
// order), as an enclosing expression reads them. prepared, when not nil,
// is set to when its samples were read.
func (a *API) directMatrix(ctx context.Context, p directPlan, start, end time.Time, step time.Duration, prepared *time.Time) (_ promql.Matrix, _ annotations.Annotations, done bool, _ error) {
	if a.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	s, st := start.UnixMilli(), step.Milliseconds()
	steps := int(end.Sub(start)/step) + 1
	workers, release := 1, func() {}
	if a.workers > 1 && steps >= minDirectSplitSteps {
		workers, release = a.shardWorkers(ctx)
	}
	defer release()
	workers = min(workers, steps)
	store := &thinStore{maxBytes: int(a.thinMaxBytes.Load())}
	defer store.close()
	set, err := a.loadDirect(ctx, store, p.sel, s, end.UnixMilli(), st, workers)
	if prepared != nil {
		*prepared = time.Now()
	}
	if err != nil {
		if errors.Is(err, errNotThinnable) {
			return nil, nil, false, nil
		}
		if cerr := promeval.ContextErr(ctx, "query preparation"); cerr != nil {
			return nil, nil, true, cerr
		}
		return nil, nil, true, err
	}

	// The groups, in the order the engine makes them: by each series' first
	// appearance in storage's order.
	groupOf, groupLabels := promeval.Groups(len(set.series), func(i int) labels.Labels { return set.series[i].lset }, p.by, false)
	aggs := make([]*promeval.Agg, len(groupLabels))
	groups := make([]*directGroup, len(groupLabels))
	for g := range groups {
		aggs[g] = promeval.NewAgg(parser.SUM, steps)
		sum, c, seen := aggs[g].SumState()
		groups[g] = &directGroup{sum: sum, c: c, seen: seen}
	}
	longest := 0
	for _, ser := range set.series {
		longest = max(longest, ser.n)
	}
	// The series group by group, each group's in storage order: a group's
	// sum at a step adds its series in the engine's order all the same,
	// and its sums stay in the processor's caches while its series are
	// walked (in storage order, bench/history's series take the 20
	// groups in turn: each series read its group's sums, 56 KB at a 1 s
	// step, from memory).
	order := make([]int, len(set.series))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return groupOf[i] - groupOf[j] })

	points := make([]int, workers)    // answer points of rate, per worker
	valued := make([][]bool, workers) // series with a value at some step, per worker
	errs := make([]error, workers)
	a.onWorkers(ctx, workers, func(w int) {
		from, to := w*steps/workers, (w+1)*steps/workers
		valued[w] = make([]bool, len(set.series))
		points[w], errs[w] = directRun(ctx, p, set, order, groupOf, groups, s, st, from, to, valued[w])
	})
	for _, err := range errs {
		if err != nil {
			return nil, nil, true, err
		}
	}
	total := 0
	for _, n := range points {
		total += n
	}
	// The engine holds rate's answer whole before summing it, and a
	// window: past its limit it refuses the query. Let it.
	if total+longest > a.maxSamples {
		return nil, nil, false, nil
	}

	var annos annotations.Annotations
	annos.Merge(set.annos)
	for i, ser := range set.series {
		has := false
		for w := range workers {
			has = has || valued[w][i]
		}
		promeval.NoteCounter(&annos, ser.lset, has, p.pos)
	}
	out := promeval.Matrix(groupLabels, aggs, s, st, true)
	return out, annos, true, nil
}

// loadDirect reads sel over the steps start..end at step (the hints the
// engine gives Select for it) into store, decoding its series on workers
// goroutines, each a consecutive part of them through a querier of its own
// (two goroutines reading series of one querier read wrong chunks: the
// TSDB head's chunk reader caches a series' chunk list, for range hints,
// per querier), all querying the same series in the same order. So each
// worker lists every series (its chunk list collected by Select): 3–8 %
// of BenchmarkRawHourPath's served CPU for the two workers together. Not
// shared: a querier's series are read on its goroutine only, and the
// hints' ShardIndex/ShardCount would hand out hash shards (and need the
// head's sharding on), not consecutive parts of storage's order, in which
// the groups' sums are added. The queriers are read
// without yields (their clock is not safe on several goroutines): each
// worker yields by a yielder of its own, as directRun does.
func (a *API) loadDirect(ctx context.Context, store *thinStore, sel thinSelector, start, end, step int64, workers int) (*directSet, error) {
	hints := &storage.SelectHints{Start: start - sel.off - sel.rng + 1, End: end - sel.off, Step: step, Range: sel.rng, Func: sel.fn}
	decs := []*thinDecoder{&store.dec}
	for range workers - 1 {
		decs = append(decs, &thinDecoder{})
	}
	store.more = decs[1:]
	parts := make([][]*directSeries, workers)
	annos := make([]annotations.Annotations, workers)
	counts := make([]int, workers)
	errs := make([]error, workers)
	var mu sync.Mutex
	var bytes atomic.Int64
	a.onWorkers(ctx, workers, func(w int) {
		qr, err := a.queryable.Querier(hints.Start, hints.End)
		if err != nil {
			errs[w] = err
			return
		}
		mu.Lock()
		store.closers = append(store.closers, qr)
		mu.Unlock()
		// Select sorts the matchers it is given: each worker its own.
		ss := qr.Select(ctx, false, hints, slices.Clone(sel.matchers)...)
		var all []storage.Series
		for ss.Next() {
			all = append(all, ss.At())
		}
		if errs[w] = ss.Err(); errs[w] != nil {
			return
		}
		counts[w], annos[w] = len(all), ss.Warnings()
		var it chunkenc.Iterator
		y := yielder{last: time.Now()}
		for i := w * len(all) / workers; i < (w+1)*len(all)/workers; i++ {
			if i%64 == 0 {
				if errs[w] = promeval.ContextErr(ctx, "query preparation"); errs[w] != nil {
					return
				}
				y.check()
			}
			var ts *directSeries
			ts, it, errs[w] = decs[w].decodeRuns(all[i], it)
			if errs[w] != nil {
				return
			}
			if bytes.Add(int64(bytesPerThinnedPoint*ts.n)) > int64(store.maxBytes) {
				errs[w] = errNotThinnable
				return
			}
			parts[w] = append(parts[w], ts)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	set := &directSet{annos: annos[0]}
	for w, part := range parts {
		// Written between the workers' Selects: their series differ.
		if counts[w] != counts[0] {
			return nil, errNotThinnable
		}
		set.series = append(set.series, part...)
	}
	return set, nil
}

// directSet is a selector's series as direct evaluation reads them, in
// the order storage returned them.
type directSet struct {
	series []*directSeries
	annos  annotations.Annotations
}

// directRun sums p's windows over the steps from..to-1 of every series, in
// order (each group's in storage order), into their groups, and returns how
// many windows had a value; valued[i] is set for series i when one of its
// windows had.
func directRun(ctx context.Context, p directPlan, set *directSet, order, groupOf []int, groups []*directGroup, start, step int64, from, to int, valued []bool) (int, error) {
	rng, off, rngOff := p.sel.rng, p.sel.off, p.rngOff
	rangeSeconds := p.rng.Seconds()
	first := start + int64(from)*step // the run's first step
	points := 0
	y := yielder{last: time.Now()}
	e := promeval.NewEdges()
	for x, si := range order {
		ser := set.series[si]
		if x%64 == 0 {
			if err := promeval.ContextErr(ctx, "expression evaluation"); err != nil {
				return 0, err
			}
			y.check()
		}
		if ser.n < 2 {
			continue // no window holds two samples: the engine has no value
		}
		g := groups[groupOf[si]]
		n, irr := ser.n, ser.irr
		// lo: the window's first sample (after its left edge, which is
		// open); hi: one past its last (at or before its right edge),
		// lastT and lastF the sample before it; lt, lf and ht, hf their
		// runs' samples.
		lo, hi := ser.seek(first-off-rng), ser.seek(first-off)
		lt, lf := ser.run(lo)
		ht, hf := ser.run(hi)
		var lastT int64
		var lastF float64
		if hi.k > 0 {
			lastT, lastF = ser.before(hi)
		}
		r := sort.Search(len(irr), func(i int) bool { return int(irr[i]) > lo.k })
		// loStride, hiStride: the samples each cursor passed at the last
		// step, its guess for this one.
		loStride, hiStride := 0, 0
		// A series whose samples are all evenly spaced (ser.every), at a
		// step a whole number perStep of their interval: its k-th sample is at
		// t0 + k·every, so the samples at or before an edge number
		// ⌊(edge − t0) / every⌋ + 1 (between 0 and n), perStep more at each
		// step. Its edges are counted, not walked, its times computed,
		// not read (at a 1 s step over 1 s data the walk, comparing
		// times read from memory, was most of directRun). la is the
		// window's last sample (at hi.k − 1), ht and hf its run's.
		grid := ser.every > 0 && step%ser.every == 0
		var perStep, uLo, uHi int
		var la runCursor
		if grid {
			perStep = int(step / ser.every)
			uLo = int(floorDiv(first-off-rng-ser.t0, ser.every)) + 1 - perStep // the loop adds perStep first
			uHi = int(floorDiv(first-off-ser.t0, ser.every)) + 1 - perStep
			if hi.k > 0 {
				la = ser.back(hi)
			}
			ht, hf = ser.run(la)
		}
		// steady: the last step was a grid step whose window held two
		// samples or more, none of its edges clamped (uLo ≥ 0, uHi ≤ n),
		// and e was set for its edges. Every step after it whose edges
		// stay unclamped has the same edges (its window is the last one
		// moved by perStep samples): such steps, while both cursors stay
		// in their runs and no window holds an irregular sample, are
		// summed by gridSteps.
		steady := false
		for k := from; k < to; k++ {
			if steady {
				// m: the steps from k on that gridSteps may sum (la's run
				// bounds the windows' last samples within the series: uHi
				// stays at or under n), their windows ending before the
				// first irregular sample after the window's first.
				m := min(to-k, (len(lt)-1-lo.i)/perStep, (len(ht)-1-la.i)/perStep)
				for r < len(irr) && int(irr[r]) <= lo.k {
					r++
				}
				if r < len(irr) {
					m = min(m, max(int(irr[r])-uHi, -1)/perStep) // the windows' last samples before it
				}
				if m > 0 {
					d := m * perStep
					gridSteps(lf[lo.i+perStep:lo.i+d+1], hf[la.i+perStep:la.i+d+1], perStep, g.sum[k:k+m], g.c[k:k+m], g.seen[k:k+m], &e, p.isRate, rangeSeconds)
					uLo, uHi = uLo+d, uHi+d
					lo.i, lo.k = lo.i+d, lo.k+d
					la.i, la.k = la.i+d, la.k+d // (hi, lastT and lastF: set by the next step)
					points += m
					valued[si] = true
					if k += m; k == to {
						break
					}
				}
			}
			steady = false
			t := start + int64(k)*step
			if grid {
				uLo, uHi = uLo+perStep, uHi+perStep
				nl, nh := min(max(uLo, 0), n), min(max(uHi, 0), n)
				lo.i, lo.k = lo.i+nl-lo.k, nl
				for lo.i >= len(lt) && lo.r < len(ser.runs) {
					lo.r, lo.i = lo.r+1, lo.i-len(lt)
					lt, lf = ser.run(lo)
				}
				hi.k = nh
				if nh > 0 {
					la.i, la.k = la.i+nh-1-la.k, nh-1
					for la.i >= len(ht) {
						la.r, la.i = la.r+1, la.i-len(ht)
						ht, hf = ser.run(la)
					}
					lastT, lastF = ser.t0+int64(la.k)*ser.every, hf[la.i]
				}
			} else {
				// Each cursor moves within its run in a loop of its own (a
				// step may pass many samples), then on to the next run; first
				// by its stride at once where the samples it skips are all
				// at or before the edge (a run's samples are in time order),
				// then one at a time (decodeRuns: a step of 15 samples walked
				// one at a time took three times as long as over a copy).
				loFrom, hiFrom := lo.k, hi.k
				for lo.k < n {
					i := lo.i
					if j := i + loStride; j > i+1 && j <= len(lt) && lt[j-1] <= t-off-rng {
						i = j
					}
					for i < len(lt) && lt[i] <= t-off-rng {
						i++
					}
					lo.k += i - lo.i
					if lo.i = i; i < len(lt) {
						break
					}
					lo.r, lo.i = lo.r+1, 0
					lt, lf = ser.run(lo)
				}
				for hi.k < n {
					i := hi.i
					if j := i + hiStride; j > i+1 && j <= len(ht) && ht[j-1] <= t-off {
						i = j
					}
					for i < len(ht) && ht[i] <= t-off {
						i++
					}
					if i > hi.i {
						lastT, lastF = ht[i-1], hf[i-1]
					}
					hi.k += i - hi.i
					if hi.i = i; i < len(ht) {
						break
					}
					hi.r, hi.i = hi.r+1, 0
					ht, hf = ser.run(hi)
				}
				loStride, hiStride = lo.k-loFrom, hi.k-hiFrom
			}
			count := hi.k - lo.k
			if count < 2 {
				continue // no sample or one: the engine has no value
			}
			last := hi.k - 1
			firstT, firstF := ser.t0+int64(lo.k)*ser.every, lf[lo.i]
			if !grid {
				firstT = lt[lo.i]
			}
			result := lastF - firstF
			// Counter resets, as the engine walks them; only a window
			// holding a drop or a NaN can have one.
			for r < len(irr) && int(irr[r]) <= lo.k {
				r++
			}
			if r < len(irr) && int(irr[r]) <= last {
				result = ser.resets(lo, count, result)
			}
			if !e.Same(firstT, lastT, count-1, t-rngOff, t-off) {
				e.At(firstT, lastT, count-1, t-rngOff, t-off, p.isRate, rangeSeconds)
			}
			result = e.Extrapolate(result, firstF, p.isRate, rangeSeconds)
			steady = grid && uLo >= 0 && uHi <= n
			points++
			valued[si] = true
			if !g.seen[k] {
				g.seen[k], g.sum[k], g.c[k] = true, result, 0
				continue
			}
			// kahansum.Inc(result, g.sum[k], g.c[k]) written out (Inc,
			// too large to be inlined, was 6–12 % of the 1 s query's
			// profile): the same operations, the conversions rounding to
			// float64 where Inc's do (no operation fused across them).
			inc, sum, c := float64(result), g.sum[k], g.c[k]
			sumInc := float64(sum + inc)
			switch {
			case sumInc > math.MaxFloat64 || sumInc < -math.MaxFloat64:
				c = 0
			case math.Abs(sum) >= math.Abs(inc):
				c += (sum - sumInc) + inc
			default:
				c += (inc - sumInc) + sum
			}
			g.sum[k], g.c[k] = sumInc, float64(c)
		}
	}
	return points, nil
}

// gridSteps sums into sum, c and seen (a group's, from a step on) the
// windows of as many steps of an evenly spaced series, each window's first
// value at lf[j·stride] and last at hf[j·stride], all with the edges e
// (directRun's steady steps: no window holds an irregular sample, so none
// has a counter reset). The same operations as directRun's loop, in the
// same order: the same bits (TestDirectGridEqualsEngine). At a 1 s step
// over 1 s data directRun's loop, walking both cursors, clamping and
// comparing the edges at every step, was ~50 ms of the query's ~120 ms.
func gridSteps(lf, hf []float64, stride int, sum, c []float64, seen []bool, e *promeval.Edges, isRate bool, rangeSeconds float64) {
	c = c[:len(sum)]
	seen = seen[:len(sum)]
	for j := range sum {
		firstF := lf[j*stride]
		result := e.Extrapolate(hf[j*stride]-firstF, firstF, isRate, rangeSeconds)
		if !seen[j] {
			seen[j], sum[j], c[j] = true, result, 0
			continue
		}
		// kahansum.Inc written out, as in directRun.
		inc, s, cj := float64(result), sum[j], c[j]
		sumInc := float64(s + inc)
		switch {
		case sumInc > math.MaxFloat64 || sumInc < -math.MaxFloat64:
			cj = 0
		case math.Abs(s) >= math.Abs(inc):
			cj += (s - sumInc) + inc
		default:
			cj += (inc - sumInc) + s
		}
		sum[j], c[j] = sumInc, float64(cj)
	}
}
