package tier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
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
// reads raw samples. avg_over_time is not one: a mean of bucket means is
// off when the buckets hold different numbers of samples, so PrepareQuery
// rewrites it, where a tier answers, into sums over counts
// (prepare.go); one not rewritten reads raw samples, unless a tier is
// forced (its buckets' means then).
var funcAggs = map[string]string{
	"max_over_time":  AggMax,
	"min_over_time":  AggMin,
	"sum_over_time":  AggSum,
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
//   - the query steps by at least the tier's resolution;
//   - when the evaluation times, the range and the step sit on whole
//     buckets (Grafana aligns range queries to the step), every window is
//     whole buckets: max, min, sum and last over them (and avg as a sum
//     over a count, see PrepareQuery) are exact from one bucket on, and
//     rate/increase, over at least minRateRange,
//     read the exact increase between the window's edge buckets (below
//     minRateBuckets the tier adds each bucket's start, see withEdges);
//   - otherwise (rules evaluate at any millisecond) the range must span
//     minUnalignedBuckets, so the two edge buckets weigh < 0.4%;
//   - a plain selector reads a tier's last values only in an aligned range
//     query on a tier at most lookback/5 coarse.
const (
	minRateBuckets      = 60
	minUnalignedBuckets = 500
	// minRateRange: a rate/increase over whole buckets reads the increase
	// between the range's edges (the counter at each, drawn from the raw
	// samples either side of it: aggregator.toEnd), where raw samples
	// extrapolate from the first and last sample inside it, and differs
	// from raw data's extrapolation by up to a raw interval's increase
	// (1.25 % of 20 minutes at a 15 s interval) where the counter's rate
	// changes. 20 minutes: the 24h dashboard's rate windows (four 300 s
	// steps), which read raw data while this was an hour.
	minRateRange = 20 * 60 * 1000
	// maxLag: a tier whose watermark is further behind the query's end is
	// catching up; the query reads raw data instead.
	maxLag = 6 * 60 * 60 * 1000
)

// Queryable reads raw data and tiers transparently (see Select).
type Queryable struct {
	set      *Set
	lookback int64
	// unaligned is the least number of a tier's buckets a range read at an
	// unaligned time spans (minUnalignedBuckets unless WithUnaligned).
	unaligned int64
	// finest: a range reads the finest tier that fits and keeps it, not
	// the coarsest (WithUnaligned).
	finest bool
	// avg evaluates the divisions that stand for avg_over_time (selectAvg).
	avg *promql.Engine
}

// Queryable returns the transparent reader. lookback is PromQL's lookback
// delta (5m by default).
func (s *Set) Queryable(lookbackMs int64) *Queryable {
	return &Queryable{set: s, lookback: lookbackMs, unaligned: minUnalignedBuckets, avg: avgEngine(lookbackMs, s.opts.MaxSamples)}
}

// WithUnaligned returns a reader like q for figures that must equal raw
// data's (an SLA's rules use 1440): ranges read at unaligned times read a
// tier only over at least buckets of it (over fewer, the two edge buckets
// weigh more: an SLA's 30d rule read the 1h tier and lost up to an hour of
// errors at its window's edge), and a range reads the finest tier that
// fits and keeps a range that long, not the coarsest: its edge bucket is
// the least of a burst (a 30d window through the 10m tier lost up to ten
// minutes of an hour's burst at its edge, 8.5 % of the ratio; through the
// 1m tier one minute, under 1 %: rules.TestSLA30dRuleTierEdge).
func (q *Queryable) WithUnaligned(buckets int64) *Queryable {
	c := *q
	c.unaligned = max(buckets, minUnalignedBuckets)
	c.finest = true
	return &c
}

// Querier implements storage.Queryable. The raw querier is opened only
// when a selector reads raw data (a query answered from the tiers alone
// opens none).
func (q *Queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{q: q, mint: mint, maxt: maxt}, nil
}

var _ storage.Queryable = (*Queryable)(nil)

type querier struct {
	q          *Queryable
	raw        storage.Querier // nil until a selector reads raw data
	mint, maxt int64
	others     []io.Closer // the tiers' and on-the-fly raw queriers
}

// rawQuerier opens the raw querier over the querier's range once.
func (q *querier) rawQuerier() (storage.Querier, error) {
	if q.raw == nil {
		raw, err := q.q.set.opts.RawRead.Querier(q.mint, q.maxt)
		if err != nil {
			return nil, err
		}
		q.raw = raw
	}
	return q.raw, nil
}

// LabelValues implements storage.Querier (raw data).
func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	_, ms = takeTier(ms)
	raw, err := q.rawQuerier()
	if err != nil {
		return nil, nil, err
	}
	return raw.LabelValues(ctx, name, hints, ms...)
}

// LabelNames implements storage.Querier (raw data).
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	_, ms = takeTier(ms)
	raw, err := q.rawQuerier()
	if err != nil {
		return nil, nil, err
	}
	return raw.LabelNames(ctx, hints, ms...)
}

// Close implements storage.Querier.
func (q *querier) Close() error {
	var errs []error
	if q.raw != nil {
		errs = append(errs, q.raw.Close())
	}
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
	return q.choose(hints, force, 0, false)
}

// choose is Choose for a selector whose first step, less its offset, is
// first when onGrid (a range query's selector outside subqueries: the grid
// marker, or what it will be). The hints give the query's end, not its
// steps: a query whose end is on a tier's grid and whose start is not
// (10:05 to 16:00 at a 10m step) steps off the grid, and a window ending
// at 10:05 read the buckets ending at 10:00, five minutes early (the 1h
// tier an hour's step from 10:30 half an hour early). Such a selector
// reads a finer tier, whose grid its steps are on, or raw data.
func (q *Queryable) choose(hints *storage.SelectHints, force string, first int64, onGrid bool) (*Tier, string) {
	tiers := q.set.tiers
	if force == RawTier || hints == nil || len(tiers) == 0 {
		return nil, ""
	}
	agg, isRangeFunc := funcAggs[hints.Func]
	if force != "" && hints.Func == "avg_over_time" {
		agg, isRangeFunc = AggAvg, true // forced: the mean of its buckets' means
	}
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
	for i := range tiers {
		t := tiers[len(tiers)-1-i] // coarsest first
		if q.finest {
			if t = tiers[i]; t.Keep().Milliseconds() < hints.Range {
				continue
			}
		}
		if hints.Step != 0 && hints.Step < t.res {
			continue
		}
		aligned := hints.End%t.res == 0 && hints.Step%t.res == 0 && hints.Range%t.res == 0 && (!onGrid || first%t.res == 0)
		if isRangeFunc {
			need := int64(1)
			switch {
			case !aligned:
				need = q.unaligned
			case agg == AggCounter:
				need = max(1, minRateRange/t.res)
			}
			if hints.Range < need*t.res {
				continue
			}
		} else if hints.Step == 0 || !aligned || t.res*5 > q.lookback {
			continue
		}
		if wm := t.ReadableUntil(); wm < 0 || hints.End-wm > maxLag {
			continue
		}
		return t, agg
	}
	return nil, ""
}

// Select implements storage.Querier: the selector reads the tier Choose
// picks, up to that tier's watermark (or its late mark before it: see
// Tier.ReadableUntil), and the raw samples after it aggregated on the fly
// into the same buckets; or raw samples. An equality matcher on AggLabel
// picks the aggregate a tier's part reads (`__agg__="count"`: the counts of
// samples per bucket), and raw data read with it reads every sample as a
// bucket of its own: its value, and 1 for "count" (so a sum of counts is a
// count of samples whichever answers, which PrepareQuery's rewrite of
// avg_over_time relies on). A native histogram has no sum or count in the
// tiers: a selector of the sum or count aggregate that selects one reads
// raw data.
func (q *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if v, ok, _ := takeEqual(ms, AvgLabel); ok {
		return q.q.selectAvg(ctx, v)
	}
	force, ms := takeTier(ms)
	named, ms := takeAgg(ms)
	first, onGrid, ms := takeGrid(ms)
	t, agg := q.q.choose(hints, force, first, onGrid)
	if t != nil {
		t.rw.RLock()
		defer t.rw.RUnlock()
		if t.rewriting {
			t = nil // the job is rewriting its late span: read raw data
		}
	}
	if t == nil {
		// A series lookup (the series API, the query lanes' count of a
		// query's series) reads no samples: it is no query's selector.
		if hints == nil || hints.Func != "series" {
			q.q.set.selects.WithLabelValues(RawTier).Inc()
		}
		return q.selectRaw(ctx, sortSeries, hints, named, ms)
	}
	q.q.set.selects.WithLabelValues(t.Name()).Inc()
	// A counter read by rate or increase gets every bucket's edge (unless
	// an __agg__ matcher names what is read; see withEdges), a forced
	// tier's too: `rate(x{__tier__="1m"}[1m])` in a subquery at a 1m step
	// (whose steps are whole minutes) is each minute's exact increase,
	// where without them each window held one sample and no rate (the
	// dashboard's worst 1-minute quantiles).
	edges := agg == AggCounter && named == "" && hints != nil && hints.Range > 0
	// Ranges of minRateBuckets and more may also be read in coarser
	// buckets (coarseSet, which thins the edged buckets).
	short := edges && hints.Range < minRateBuckets*t.res
	var ends windowEnds
	if edges {
		ends = readWindows(hints, first, onGrid)
	}
	if edges && !short && ends.offGrid(hints.Range, t.res) {
		// Windows of minUnalignedBuckets and more, none starting on a
		// bucket's start (a rule's, at any millisecond): no edge is a
		// window's first sample, and they would halve the average
		// interval the engine extrapolates a window's first (partial)
		// bucket by. None, for every series alike (see withEdges).
		edges = false
	}
	width, mode := t.res, ""
	if onGrid && force == "" && !short {
		width, mode = coarseWidth(hints, t.res, first, agg)
	}
	if named != "" {
		agg = named
	}
	wm := t.ReadableUntil()
	start, end := q.mint, q.maxt
	if hints != nil {
		start, end = hints.Start, hints.End
	}
	if edges {
		start -= t.res // the bucket before the first, for its edge
	}
	// Sums and counts exist for floats only.
	noHistograms := (agg == AggSum || agg == AggCount) && !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return m.Name == AggLabel })
	var sets []storage.SeriesSet
	tend := min(end, wm)
	if edges {
		// To the end of the bucket the read ends in: whether that bucket
		// has its edge (it has one where a sample of it follows) must not
		// depend on where in it the read ends. A window ending inside it
		// holds the edge as its last sample where a range query's read
		// goes on past it, and held the bucket before's end as its last
		// where the instant query's read ended (1e-8 of a 26h increase,
		// TestRangeStepsEqualInstants). The engine reads nothing past a
		// window's end.
		tend = min(bucketEnd(end, t.res), wm)
	}
	if start <= wm {
		tq, err := t.db.ChunkQuerier(start, tend)
		if err != nil {
			return storage.ErrSeriesSet(fmt.Errorf("open tier %s querier: %w", t.Name(), err))
		}
		q.others = append(q.others, tq)
		if noHistograms {
			has, err := histogramsIn(ctx, tq, start, min(end, wm), ms)
			if err != nil {
				return storage.ErrSeriesSet(fmt.Errorf("read tier %s: %w", t.Name(), err))
			}
			if has {
				return q.selectRaw(ctx, sortSeries, hints, named, ms)
			}
		}
		tms := append([]*labels.Matcher(nil), ms...)
		if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return m.Name == AggLabel }) {
			tms = append(tms, labels.MustNewMatcher(labels.MatchEqual, AggLabel, agg))
		}
		th := *hints
		th.Start, th.End = start, tend
		th.DisableTrimming = true // storage.ChunkSet trims, without re-encoding the edge chunks
		// The float chunks' samples through the decoded-sample cache, if any.
		sets = append(sets, &dropAggSet{SeriesSet: q.q.set.opts.Decoded.ChunkSet(t.db, tq.Select(ctx, true, &th, tms...), th.Start, th.End)})
	}
	if end > wm {
		from, fromTier := max(start, wm), start <= wm
		if agg == AggCounter && !fromTier {
			// A counter read starting past the watermark goes on from the
			// tier's counter there, as a read from before it does: from
			// its raw value alone (and the resets in the read) a window's
			// increase is the difference of other values, and differed in
			// its last bits from the same window in a longer read
			// (TestRangeStepsEqualInstants). What is aggregated before
			// start is left out. Only a window shorter than the time since
			// the watermark (minutes, unless the tier catches up) starts
			// there.
			from, fromTier = wm, true
		}
		fly, err := q.onTheFly(ctx, t, agg, from, start, end, fromTier, ms)
		if errors.Is(err, errHistogram) && noHistograms {
			return q.selectRaw(ctx, sortSeries, hints, named, ms)
		}
		if err != nil {
			return storage.ErrSeriesSet(err)
		}
		sets = append(sets, fly)
	}
	set := sets[0]
	if len(sets) > 1 {
		// The tier's part ends at the watermark, where the raw part begins.
		set = &concatSet{a: sets[0], b: sets[1]}
	}
	if edges {
		set = withEdges(set, t.res, hints.Range, ends)
	}
	if width > t.res {
		set = &coarseSet{SeriesSet: set, k: width, end: end, mode: mode, first: first, rng: hints.Range}
	}
	return set
}

// selectRaw reads raw samples; agg, an aggregate named by the selector,
// reads each as a bucket of its own (for "count", a 1).
func (q *querier) selectRaw(ctx context.Context, sortSeries bool, hints *storage.SelectHints, agg string, ms []*labels.Matcher) storage.SeriesSet {
	raw, err := q.rawQuerier()
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	set := raw.Select(ctx, sortSeries, hints, ms...)
	if agg == AggCount {
		return ones(set)
	}
	return set
}

// takeAgg removes an equality matcher on AggLabel from ms and returns its
// value.
func takeAgg(ms []*labels.Matcher) (string, []*labels.Matcher) {
	v, _, rest := takeEqual(ms, AggLabel)
	return v, rest
}

// takeEqual removes the first equality matcher on name from ms and
// returns its value (found false and ms unchanged when there is none).
func takeEqual(ms []*labels.Matcher, name string) (string, bool, []*labels.Matcher) {
	for i, m := range ms {
		if m.Name == name && m.Type == labels.MatchEqual {
			return m.Value, true, append(append([]*labels.Matcher(nil), ms[:i]...), ms[i+1:]...)
		}
	}
	return "", false, ms
}

// histogramsIn says whether ms select a native histogram in tq over
// [start, end]: a tier keeps a native histogram's last and counter
// aggregates only, so its series has a last but no sum. Only the index is
// read, once for both aggregates.
func histogramsIn(ctx context.Context, tq storage.ChunkQuerier, start, end int64, ms []*labels.Matcher) (bool, error) {
	sel := append(ms[:len(ms):len(ms)], lastOrSum)
	set := tq.Select(ctx, false, &storage.SelectHints{Start: start, End: end, Func: "series"}, sel...)
	last, sum := 0, 0
	for set.Next() {
		if set.At().Labels().Get(AggLabel) == AggLast {
			last++
		} else {
			sum++
		}
	}
	return last > sum, set.Err()
}

// lastOrSum selects a tier's last and sum aggregates.
var lastOrSum = labels.MustNewMatcher(labels.MatchRegexp, AggLabel, AggLast+"|"+AggSum)

// errHistogram: onTheFly met a native histogram where it aggregates sums
// or counts.
var errHistogram = errors.New("a native histogram has no sum or count aggregate")

// ones reads every sample of set as a 1 (a staleness marker as itself):
// raw samples as buckets of one sample, read for their count. It reads set
// into memory (an iterator of its own would need a Seek method, which go
// vet takes for io.Seeker's); it runs only where raw data answers a
// rewritten avg_over_time.
func ones(set storage.SeriesSet) storage.SeriesSet {
	var out []storage.Series
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		var samples []chunks.Sample
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			var t int64
			var stale bool
			if vt == chunkenc.ValFloat {
				var v float64
				t, v = it.At()
				stale = value.IsStaleNaN(v)
			} else {
				var fh *histogram.FloatHistogram
				t, fh = it.AtFloatHistogram(nil)
				stale = value.IsStaleNaN(fh.Sum)
			}
			one := sample{t: t, f: 1}
			if stale {
				one.f = math.Float64frombits(value.StaleNaN)
			}
			samples = append(samples, one)
		}
		if err := it.Err(); err != nil {
			return storage.ErrSeriesSet(err)
		}
		out = append(out, storage.NewListSeries(s.Labels(), samples))
	}
	if err := set.Err(); err != nil {
		return storage.ErrSeriesSet(err)
	}
	return &listSet{series: out, i: -1, warnings: set.Warnings()}
}

// withEdges adds, to every bucket of a counter series whose previous bucket
// is stored, a sample 1 ms after the bucket's start holding the previous
// bucket's value (and, where the bucket starts a window of the read, 1 ms
// of that window's rate: settleEdges): a window of whole buckets then
// holds the counter at both of its edges, and rate/increase over it read
// the exact increase between them (without, a 1h range over the 1h tier
// would hold one sample and no rate).
//
// Every counter series of a read gets them, over any range (but for reads
// of minRateBuckets and more whose windows all start off the bucket grid:
// none there), so a window's samples are the tier's in it and the edges of
// its own buckets: what the read spans besides does not change them, and a
// step of a range query reads as the instant query at its time
// (TestRangeStepsEqualInstants).
// Until t-tier23 ranges of minRateBuckets and more gave the edges only to
// a series holding a mark (a sample off the bucket grid: where it started,
// stopped or resumed) anywhere in the read. There the marks, about
// res/denseMarks apart, shorten the average interval the engine
// extrapolates a window's first bucket by (rate(x[1h]) at 1-minute steps
// read -61.5 % in the window holding a stopped series' last 90 s,
// TestCounterStopsInAMinuteTierWindow), and a window with edges in its
// later buckets only had its average interval halved (-1.0 % to -1.26 % in
// every window ending in the hour before a 15 s counter stopped,
// TestCounterBeforeItStopsInAMinuteTierWindow), so such a series got every
// bucket's edge. But which series got them depended on the read: a range
// query spanning a series' start days before a window read that window's
// exact increase, the instant query at its time extrapolated over its
// first bucket (4e-5 of an SLA's 7h12m error ratio, t-truth22's f7e25a2).
// The edges cost up to twice a series' samples in the engine's windows
// (BenchmarkLongRanges).
//
// A series' samples are read into one reused buffer, then copied into an
// arena shared by the set's series, a slice of its own for each (the engine
// holds them until the query ends): growing a list per series took 377 KB
// of allocations for a 7-day rate[1h] panel at a 10-minute step over 25
// series, three quarters of the query's.
func withEdges(set storage.SeriesSet, res, rng int64, ends windowEnds) storage.SeriesSet {
	var out []storage.Series
	var buf, arena sampleList
	var edgeAt []int
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		samples := buf[:0]
		edgeAt = edgeAt[:0]
		var before, prev sample
		has := false
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			var cur sample
			switch vt {
			case chunkenc.ValFloat:
				cur.t, cur.f = it.At()
			case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
				cur.t, cur.fh = it.AtFloatHistogram(nil)
			default:
				continue
			}
			start := bucketEnd(cur.t, res) - res
			if has && prev.t == start && cur.t > start+1 && !prev.stale() && !cur.stale() && !resumes(before, prev, cur, res) {
				edge := prev
				edge.t = start + 1
				if edge.fh != nil {
					edge.fh = edge.fh.Copy()
					edge.fh.CounterResetHint = histogram.NotCounterReset
				}
				edgeAt = append(edgeAt, len(samples))
				samples = append(samples, edge)
			}
			samples = append(samples, cur)
			before, prev, has = prev, cur, true
		}
		if err := it.Err(); err != nil {
			return storage.ErrSeriesSet(err)
		}
		settleEdges(samples, edgeAt, rng, ends)
		buf = samples
		if n := len(samples); n > 0 {
			if cap(arena)-len(arena) < n {
				arena = make(sampleList, 0, max(n, edgesArena))
			}
			own := arena[len(arena) : len(arena)+n : len(arena)+n]
			copy(own, samples)
			arena = arena[:len(arena)+n]
			out = append(out, listSeries{lset: s.Labels(), samples: own})
		}
	}
	if err := set.Err(); err != nil {
		return storage.ErrSeriesSet(err)
	}
	return &listSet{series: out, i: -1, warnings: set.Warnings()}
}

// edgesArena is the samples withEdges allocates at once for its series.
const edgesArena = 4096

// resumes tells whether cur, the first sample of its bucket after prev
// (the bucket before's end, before the sample before prev), is a counter's
// first mark after a hole: before is a mark holding prev's value (the
// bucket before was one the counter stopped in, its value held to its
// end) and cur a mark too (aggregator.add marks a counter resumed there).
// Such a bucket gets no edge: raw samples after the hole are all a window
// starting at the bucket's start holds, and the edge, the counter before
// the hole, made the window read its jump over the hole (a host's counter
// that went on counting while nothing sampled it) as increase:
// rate(x[1h]) through the 1h tier 1,573 times raw data's
// (TestCounterResumedHigher). A counter flat at the end of a marked
// bucket it started in looks the same: its next bucket's marks then
// extrapolate to the bucket's start from its first raw sample, as raw
// data do.
func resumes(before, prev, cur sample, res int64) bool {
	// A native histogram counter's marks are a float's (aggregator.add).
	if hist := before.fh != nil; hist != (prev.fh != nil) || hist != (cur.fh != nil) ||
		!hist && before.f != prev.f || hist && !before.fh.Equals(prev.fh) {
		return false
	}
	// A mark 1 ms before the bucket's end closes a bucket the counter
	// stopped in (aggregator.flush): the next bucket's first sample resumes
	// it, marked or not. A resumption's first raw sample alone in its
	// bucket is not marked (only the bucket's end holds it), and with the
	// edge a window starting at the stop bucket's end read the jump over
	// the hole where raw data, one sample, have no answer: 3.96 M through
	// the 1h tier, rate(x[1h]) at 1-minute steps through the 1m tier
	// +185,419 % (TestCounterResumedNextToItsStop). Buckets written before
	// the closing mark are told by the resumption's mark alone.
	return before.t == prev.t-1 || before.t%res != 0 && before.t > prev.t-res && cur.t%res != 0
}

// onTheFly aggregates the raw samples in (from, to] into t's buckets, the
// partial last bucket stamped with its last sample's time, and hands on
// those stamped at keep or later; fromTier says that from is where the
// tier's part of the read ends (its counter aggregate there primes the
// counters').
func (q *querier) onTheFly(ctx context.Context, t *Tier, agg string, from, keep, to int64, fromTier bool, ms []*labels.Matcher) (storage.SeriesSet, error) {
	var primes map[uint64]float64
	var primesH map[uint64]*histogram.FloatHistogram
	var closed, atLast map[uint64]bool
	var before *lastBuckets
	if agg == AggCounter && fromTier {
		before = &lastBuckets{t: t, at: from}
		defer before.close()
		var err error
		if primes, primesH, closed, atLast, err = t.counterValues(ctx, from, ms...); err != nil {
			return nil, err
		}
	}
	// Past to only for each series' next raw sample (aggregator.peek): the
	// counter at the last whole bucket's end (aggregator.toEnd).
	peekTo := to + min(t.res, peekSpan)
	rq, err := q.q.set.opts.RawRead.Querier(from-t.res+1, peekTo)
	if err != nil {
		return nil, fmt.Errorf("open raw querier: %w", err)
	}
	q.others = append(q.others, rq)
	ss := rq.Select(ctx, true, &storage.SelectHints{Start: from - t.res + 1, End: peekTo}, ms...)
	var out []storage.Series
	hist := false
	for ss.Next() {
		s := ss.At()
		var samples []chunks.Sample
		ag := &aggregator{res: t.res, from: from, peek: true, extrapolate: true, drawn: from > t.drawnAfter.Load() && !atLast[s.Labels().Hash()]}
		if p, ok := primes[s.Labels().Hash()]; ok {
			ag.prime = &p
		}
		ag.primeH, ag.closed = primesH[s.Labels().Hash()], closed[s.Labels().Hash()]
		if before != nil {
			lset := s.Labels()
			ag.before = func() (float64, float64, *histogram.FloatHistogram, *histogram.FloatHistogram, bool) {
				return before.read(ctx, lset)
			}
		}
		ag.emit = func(b bucket) {
			if b.Start {
				switch {
				case agg == AggCounter:
					samples = append(samples, sample{t: b.End, f: b.Counter, fh: b.CounterFH})
				case agg == AggLast && b.WithLast:
					samples = append(samples, sample{t: b.End, f: b.Last, fh: b.FH})
				}
				return
			}
			ts := min(b.End, b.LastT)
			if b.End <= to {
				ts = b.End
			} else {
				b.ToEnd = 0 // stamped at its last sample
			}
			switch {
			case b.FH != nil && agg == AggLast:
				last, _ := b.lastFH()
				samples = append(samples, sample{t: ts, fh: last})
			case b.FH != nil && agg == AggCounter:
				_, counter := b.lastFH()
				samples = append(samples, sample{t: ts, fh: counter})
			case b.FH != nil && (agg == AggSum || agg == AggCount):
				hist = true
			case b.FH == nil:
				samples = append(samples, sample{t: ts, f: b.value(agg)})
			}
		}
		if err := ag.run(s.Iterator(nil), to); err != nil {
			return nil, err
		}
		if hist {
			return nil, errHistogram
		}
		if i, _ := slices.BinarySearchFunc(samples, keep, func(s chunks.Sample, t int64) int { return cmp.Compare(s.T(), t) }); i < len(samples) {
			out = append(out, storage.NewListSeries(s.Labels(), samples[i:]))
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
	series   []storage.Series
	i        int
	warnings annotations.Annotations
}

func (l *listSet) Next() bool                        { l.i++; return l.i < len(l.series) }
func (l *listSet) At() storage.Series                { return l.series[l.i] }
func (l *listSet) Err() error                        { return nil }
func (l *listSet) Warnings() annotations.Annotations { return l.warnings }

// sample is one on-the-fly aggregate: a float or a float histogram.
type sample struct {
	t  int64
	f  float64
	fh *histogram.FloatHistogram
}

// stale tells a staleness marker, a float's or a native histogram's.
func (s sample) stale() bool {
	if s.fh != nil {
		return value.IsStaleNaN(s.fh.Sum)
	}
	return value.IsStaleNaN(s.f)
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

// avgEngine is the engine that evaluates the divisions standing for
// avg_over_time (selectAvg): gmc's engine settings (query.NewEngine's,
// which this package cannot import) that bear on sum_over_time and a
// division, the reader's lookback (the division's selectors are ranges:
// it bears on nothing there today) and the query engine's limit of
// samples (0: Prometheus's default). Its timeout is the query's context.
func avgEngine(lookbackMs int64, maxSamples int) *promql.Engine {
	if maxSamples <= 0 {
		maxSamples = 50_000_000
	}
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples:               maxSamples,
		Timeout:                  24 * time.Hour,
		LookbackDelta:            time.Duration(lookbackMs) * time.Millisecond,
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		EnableDelayedNameRemoval: true,
	})
}

// selectAvg answers a selector {__avg__="v"} (see PrepareQuery's ordered
// averages): the division v holds evaluated over v's steps, its series in
// their labels' order, each with a sample at every step, its value or a
// staleness marker.
func (q *Queryable) selectAvg(ctx context.Context, v string) storage.SeriesSet {
	start, end, step, expr, err := decodeAvg(q.set.avgKey, v)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	var qry promql.Query
	if step == 0 {
		qry, err = q.avg.NewInstantQuery(ctx, q, nil, expr, timestamp.Time(start))
	} else {
		qry, err = q.avg.NewRangeQuery(ctx, q, nil, expr, timestamp.Time(start), timestamp.Time(end), time.Duration(step)*time.Millisecond)
	}
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	defer qry.Close()
	q.PrepareQuery(qry) // the selectors' grid (it has no avg_over_time)
	res := qry.Exec(ctx)
	if res.Err != nil {
		return storage.ErrSeriesSet(res.Err)
	}
	var m promql.Matrix
	switch val := res.Value.(type) {
	case promql.Matrix:
		m = val
	case promql.Vector:
		for _, s := range val {
			if s.H != nil {
				m = append(m, promql.Series{Metric: s.Metric, Histograms: []promql.HPoint{{T: start, H: s.H}}})
			} else {
				m = append(m, promql.Series{Metric: s.Metric, Floats: []promql.FPoint{{T: start, F: s.F}}})
			}
		}
	default:
		return storage.ErrSeriesSet(fmt.Errorf("%s: a %s, not a vector", expr, res.Value.Type()))
	}
	slices.SortFunc(m, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
	steps := int64(1)
	if step > 0 {
		steps = (end-start)/step + 1
	}
	stale := math.Float64frombits(value.StaleNaN)
	out := make([]storage.Series, 0, len(m))
	for _, s := range m {
		samples := make(sampleList, 0, steps)
		fi, hi := 0, 0
		for k := range steps {
			t := start + k*step
			switch {
			case fi < len(s.Floats) && s.Floats[fi].T == t:
				samples = append(samples, sample{t: t, f: s.Floats[fi].F})
				fi++
			case hi < len(s.Histograms) && s.Histograms[hi].T == t:
				samples = append(samples, sample{t: t, fh: s.Histograms[hi].H.Copy()})
				hi++
			default:
				samples = append(samples, sample{t: t, f: stale})
			}
		}
		out = append(out, listSeries{lset: s.Metric, samples: samples})
	}
	return &listSet{series: out, i: -1, warnings: res.Warnings}
}
