package tier

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// TierLabel, as an equality matcher in a selector, picks where the selector
// reads: "raw" forces the raw samples (`rate(x{__tier__="raw"}[30d])`), a
// tier name ("1m", "1h") that tier's aggregates. It is removed before the
// stores see the selector.
const TierLabel = "__tier__"

// funcAggs maps the PromQL functions a tier answers to the aggregate each
// reads; any other function (quantile_over_time, count_over_time, resets…)
// reads raw samples.
var funcAggs = map[string]string{
	"max_over_time":  AggMax,
	"min_over_time":  AggMin,
	"sum_over_time":  AggSum,
	"avg_over_time":  AggAvg,
	"last_over_time": AggLast,
	"rate":           AggCounter,
	"increase":       AggCounter,
}

// plainFuncs are the functions and aggregations over a plain selector
// (no range) whose result depends only on the values at each step, which a
// tier's last values give; anything else (timestamp, absent, changes…)
// reads raw samples.
var plainFuncs = map[string]bool{
	"": true, "sum": true, "avg": true, "max": true, "min": true, "count": true, "group": true,
	"topk": true, "bottomk": true, "quantile": true, "stddev": true, "stdvar": true,
	"abs": true, "ceil": true, "floor": true, "round": true, "clamp": true, "clamp_min": true,
	"clamp_max": true, "histogram_quantile": true, "ln": true, "log2": true, "log10": true, "exp": true, "sqrt": true,
}

// Fit rules. A tier answers a selector only where its error is small
// against the raw answer:
//   - a range function's range spans at least minRangeBuckets of the
//     tier's buckets (minRateBuckets for rate and increase, which
//     extrapolate over the range's first bucket), and the query steps by at
//     least the resolution;
//   - the evaluation times, the range and the step sit on whole buckets
//     (Grafana aligns range queries to the step), so every window is whole
//     buckets; otherwise (rules evaluate at any millisecond) the range must
//     span minUnalignedBuckets, so the two edge buckets weigh < 0.4%;
//   - a plain selector reads a tier's last values only in an aligned range
//     query on a tier at most lookback/5 coarse.
const (
	minRangeBuckets     = 10
	minRateBuckets      = 60
	minUnalignedBuckets = 500
	// maxLag: a tier whose watermark is further behind the query's end is
	// catching up; the query reads raw data instead.
	maxLag = 6 * 60 * 60 * 1000
)

// Queryable reads raw data and tiers transparently (see Select).
type Queryable struct {
	set      *Set
	lookback int64
}

// Queryable returns the transparent reader. lookback is PromQL's lookback
// delta (5m by default).
func (s *Set) Queryable(lookbackMs int64) *Queryable {
	return &Queryable{set: s, lookback: lookbackMs}
}

// Querier implements storage.Queryable.
func (q *Queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	raw, err := q.set.opts.Raw.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &querier{q: q, raw: raw, mint: mint, maxt: maxt}, nil
}

var _ storage.Queryable = (*Queryable)(nil)

type querier struct {
	q          *Queryable
	raw        storage.Querier
	mint, maxt int64
	others     []storage.Querier
}

// LabelValues implements storage.Querier (raw data).
func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	_, ms = takeTier(ms)
	return q.raw.LabelValues(ctx, name, hints, ms...)
}

// LabelNames implements storage.Querier (raw data).
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	_, ms = takeTier(ms)
	return q.raw.LabelNames(ctx, hints, ms...)
}

// Close implements storage.Querier.
func (q *querier) Close() error {
	errs := []error{q.raw.Close()}
	for _, o := range q.others {
		errs = append(errs, o.Close())
	}
	return errors.Join(errs...)
}

// takeTier removes the __tier__ matcher from ms and returns its value.
func takeTier(ms []*labels.Matcher) (string, []*labels.Matcher) {
	for i, m := range ms {
		if m.Name == TierLabel && m.Type == labels.MatchEqual {
			rest := append(append([]*labels.Matcher(nil), ms[:i]...), ms[i+1:]...)
			return m.Value, rest
		}
	}
	return "", ms
}

// Choose picks the tier and aggregate a selector reads given the engine's
// hints and the forced tier name ("" for none); nil means raw samples.
func (q *Queryable) Choose(hints *storage.SelectHints, force string) (*Tier, string) {
	tiers := q.set.tiers
	if force == RawTier || hints == nil || len(tiers) == 0 {
		return nil, ""
	}
	agg, isRangeFunc := funcAggs[hints.Func]
	switch {
	case hints.Range == 0 && (plainFuncs[hints.Func] || force != ""):
		agg, isRangeFunc = AggLast, false
	case !isRangeFunc && force == "":
		return nil, ""
	}
	if force != "" {
		for _, t := range tiers {
			if t.Name() == force {
				if agg == "" {
					agg = AggLast
				}
				return t, agg
			}
		}
		return nil, ""
	}
	for i := len(tiers) - 1; i >= 0; i-- {
		t := tiers[i]
		if hints.Step != 0 && hints.Step < t.res {
			continue
		}
		aligned := hints.End%t.res == 0 && hints.Step%t.res == 0 && hints.Range%t.res == 0
		if isRangeFunc {
			need := int64(minRangeBuckets)
			if agg == AggCounter {
				need = minRateBuckets
			}
			if !aligned {
				need = minUnalignedBuckets
			}
			if hints.Range < need*t.res {
				continue
			}
		} else if hints.Step == 0 || !aligned || t.res*5 > q.lookback {
			continue
		}
		if wm := t.Watermark(); wm < 0 || hints.End-wm > maxLag {
			continue
		}
		return t, agg
	}
	return nil, ""
}

// Select implements storage.Querier: the selector reads the tier Choose
// picks, up to that tier's watermark, and the raw samples after it
// aggregated on the fly into the same buckets; or raw samples.
func (q *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	force, ms := takeTier(ms)
	t, agg := q.q.Choose(hints, force)
	if t == nil {
		return q.raw.Select(ctx, sortSeries, hints, ms...)
	}
	wm := t.Watermark()
	start, end := q.mint, q.maxt
	if hints != nil {
		start, end = hints.Start, hints.End
	}
	var sets []storage.SeriesSet
	if start <= wm {
		tq, err := t.db.Querier(start, min(end, wm))
		if err != nil {
			return storage.ErrSeriesSet(fmt.Errorf("open tier %s querier: %w", t.Name(), err))
		}
		q.others = append(q.others, tq)
		tms := append([]*labels.Matcher(nil), ms...)
		if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return m.Name == AggLabel }) {
			tms = append(tms, labels.MustNewMatcher(labels.MatchEqual, AggLabel, agg))
		}
		th := *hints
		th.End = min(end, wm)
		sets = append(sets, &dropAggSet{SeriesSet: tq.Select(ctx, true, &th, tms...)})
	}
	if end > wm {
		fly, err := q.onTheFly(ctx, t, agg, max(start, wm), end, ms)
		if err != nil {
			return storage.ErrSeriesSet(err)
		}
		sets = append(sets, fly)
	}
	if len(sets) == 1 {
		return sets[0]
	}
	return storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
}

// onTheFly aggregates the raw samples in (from, to] into t's buckets, the
// partial last bucket stamped with its last sample's time.
func (q *querier) onTheFly(ctx context.Context, t *Tier, agg string, from, to int64, ms []*labels.Matcher) (storage.SeriesSet, error) {
	var primes map[uint64]float64
	if agg == AggCounter && from == t.Watermark() {
		var err error
		if primes, err = t.counterValues(ctx, from, ms...); err != nil {
			return nil, err
		}
	}
	rq, err := q.q.set.opts.Raw.Querier(from-t.res+1, to)
	if err != nil {
		return nil, fmt.Errorf("open raw querier: %w", err)
	}
	q.others = append(q.others, rq)
	ss := rq.Select(ctx, true, &storage.SelectHints{Start: from - t.res + 1, End: to}, ms...)
	var out []storage.Series
	for ss.Next() {
		s := ss.At()
		var samples []chunks.Sample
		ag := &aggregator{res: t.res, from: from}
		if p, ok := primes[s.Labels().Hash()]; ok {
			ag.prime = &p
		}
		ag.emit = func(b bucket) {
			ts := min(b.End, b.LastT)
			if b.End <= to {
				ts = b.End
			}
			switch {
			case b.FH != nil && (agg == AggLast || agg == AggCounter):
				samples = append(samples, sample{t: ts, fh: b.FH})
			case b.FH == nil:
				samples = append(samples, sample{t: ts, f: b.value(agg)})
			}
		}
		if err := ag.run(s.Iterator(nil), to); err != nil {
			return nil, err
		}
		if len(samples) > 0 {
			out = append(out, storage.NewListSeries(s.Labels(), samples))
		}
	}
	if err := ss.Err(); err != nil {
		return nil, err
	}
	return &listSet{series: out, i: -1}, nil
}

// dropAggSet removes the aggregate label from a tier's series.
type dropAggSet struct{ storage.SeriesSet }

func (d *dropAggSet) At() storage.Series { return &dropAggSeries{d.SeriesSet.At()} }

type dropAggSeries struct{ storage.Series }

func (d *dropAggSeries) Labels() labels.Labels { return withoutAgg(d.Series.Labels()) }

// listSet is a SeriesSet over series in memory, in the order given.
type listSet struct {
	series []storage.Series
	i      int
}

func (l *listSet) Next() bool                        { l.i++; return l.i < len(l.series) }
func (l *listSet) At() storage.Series                { return l.series[l.i] }
func (l *listSet) Err() error                        { return nil }
func (l *listSet) Warnings() annotations.Annotations { return nil }

// sample is one on-the-fly aggregate: a float or a float histogram.
type sample struct {
	t  int64
	f  float64
	fh *histogram.FloatHistogram
}

func (s sample) T() int64                      { return s.t }
func (s sample) ST() int64                     { return 0 }
func (s sample) F() float64                    { return s.f }
func (s sample) H() *histogram.Histogram       { return nil }
func (s sample) FH() *histogram.FloatHistogram { return s.fh }
func (s sample) Type() chunkenc.ValueType {
	if s.fh != nil {
		return chunkenc.ValFloatHistogram
	}
	return chunkenc.ValFloat
}
func (s sample) Copy() chunks.Sample {
	c := s
	if s.fh != nil {
		c.fh = s.fh.Copy()
	}
	return c
}
