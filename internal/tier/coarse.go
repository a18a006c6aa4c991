package tier

import (
	"math"
	"sort"
	"strconv"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// Coarser buckets on read. A 7-day panel at a 10-minute step with 1h
// ranges reads the 1m tier (the 1h tier is too coarse for its step): every
// window holds 60 buckets, and the engine walks all 60 at each of the 1008
// steps of each series, though the windows, all on a 10-minute grid, only
// ever differ by whole 10-minute groups. When the query's steps and range
// sit on a grid of K (a multiple of the tier's resolution: K the greatest
// common divisor of step and range), Select hands the engine the tier's
// buckets merged into K-wide ones, combined as the selector's function
// combines them (max of maxes, min of mins, sum of sums, the last of
// lasts; a plain selector keeps each K-bucket's last sample at its own
// time): every window holds exactly the same samples grouped, so the
// answer is the same, from a tenth of the samples.
//
// rate and increase are different: they extrapolate from the first and
// last sample of a window by how far those are from its edges, or, when a
// sample is missing near an edge (the counter starts or stops inside the
// window), by half the samples' average interval, and they add the value
// before every drop. A K-bucket merged into one sample moved the first
// sample and changed the average interval (a counter starting inside a
// window was 7 % off the tier's own answer). So a counter's K-bucket is
// not merged but thinned to its first and last samples, at their own
// times, where that gives the engine the same answer (see coarsenCounter):
// a window then starts and ends with the same samples and holds the same
// drops, and its answer reads the average interval only where a sample is
// missing near an edge, where the K-buckets of that window are kept whole.
// Exact: the same float operations on the same values. Not over fewer
// than minRateBuckets of the tier's buckets, which read the edges
// (withEdges) instead.
//
// The grid is known only where the query's steps are: PrepareQuery marks
// each selector of a range query outside subqueries and @ with GridLabel,
// the time of its first step (the query's start less the selector's
// offset); Select takes the marker off before any store sees it.

// GridLabel is the marker PrepareQuery adds to a selector whose steps it
// knows: an equality matcher whose value is the first step's time in ms.
const GridLabel = "__grid__"

// combineBy maps a function over a tier's buckets to how its K-buckets
// combine them.
var combineBy = map[string]string{
	"max_over_time":  "max",
	"min_over_time":  "min",
	"sum_over_time":  "sum",
	"last_over_time": "last",
	"rate":           "counter",
	"increase":       "counter",
}

// takeGrid removes the GridLabel marker from ms and returns its time.
func takeGrid(ms []*labels.Matcher) (int64, bool, []*labels.Matcher) {
	v, found, rest := takeEqual(ms, GridLabel)
	if !found {
		return 0, false, ms
	}
	at, err := strconv.ParseInt(v, 10, 64)
	return at, err == nil, rest
}

// coarseWidth is the width K of the buckets a selector of t reads (t's
// resolution when they cannot be coarser), and how they combine. first
// is the time of the selector's first step.
func coarseWidth(hints *storage.SelectHints, res, first int64, agg string) (int64, string) {
	if hints == nil || hints.Step <= 0 || agg == AggAvg {
		return res, ""
	}
	k, mode := hints.Step, "plain"
	if hints.Range > 0 {
		var ok bool
		if mode, ok = combineBy[hints.Func]; !ok {
			return res, ""
		}
		k = gcd(hints.Step, hints.Range)
	} else if !plainFuncs[hints.Func] {
		return res, ""
	}
	if k <= res || k%res != 0 || first%k != 0 {
		return res, ""
	}
	return k, mode
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// coarseSet merges its series' buckets into buckets of k (see above),
// dropping those that end after end (no step reads them). For counters
// (mode "counter"), first is the first step's time and rng the selector's
// range: the windows are (T-rng, T] for T from first to end on the grid.
type coarseSet struct {
	storage.SeriesSet
	k, end     int64
	mode       string
	first, rng int64
	buf        sampleList // counters: a series' samples, reused
	kb         []kBucket
}

func (c *coarseSet) At() storage.Series { return coarseSeries{Series: c.SeriesSet.At(), c: c} }

type coarseSeries struct {
	storage.Series
	c *coarseSet
}

// Iterator reads the series' coarse buckets into memory, one series at a
// time (the engine reads a selector's series one after the other).
func (s coarseSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	coarsen := s.c.coarsen
	if s.c.mode == "counter" {
		coarsen = s.c.coarsenCounter
	}
	samples, err := coarsen(s.Series.Iterator(nil))
	if err != nil {
		return errIterator{Iterator: chunkenc.NewNopIterator(), err: err}
	}
	return newSampleIterator(samples)
}

// sampleList is storage.Samples over samples kept by value: Get hands out
// a pointer, which an interface holds without an allocation (a []chunks.Sample
// of them took one per sample: 9% of a 7-day panel's CPU).
type sampleList []sample

func (l sampleList) Get(i int) chunks.Sample { return &l[i] }
func (l sampleList) Len() int                { return len(l) }

// listSeries is a series over a sampleList.
type listSeries struct {
	lset    labels.Labels
	samples sampleList
}

func (l listSeries) Labels() labels.Labels { return l.lset }
func (l listSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return newSampleIterator(l.samples)
}

// sampleIterator reads a sampleList as storage.NewListSeriesIterator does
// (the same samples at the same calls), without its two interface calls
// per sample (Samples.Get, then chunks.Sample's method) and its binary
// search from every Seek: the engine seeks each series once a step and
// reads every sample of every window, and the 7-day panels' steps
// mostly move a few samples on. Generic in its time type only for Seek,
// as chunksIterator in internal/storage (go vet takes Seek(int64) for
// io.Seeker's).
type sampleIterator[T ~int64] struct {
	s   sampleList
	idx int
}

func newSampleIterator(s sampleList) *sampleIterator[int64] {
	return &sampleIterator[int64]{s: s, idx: -1}
}

func (it *sampleIterator[T]) Next() chunkenc.ValueType {
	it.idx++
	if it.idx >= len(it.s) {
		return chunkenc.ValNone
	}
	return it.s[it.idx].Type()
}

// Seek moves to the first sample at or after t from the current one:
// a few steps forward, then a binary search over the rest.
func (it *sampleIterator[T]) Seek(t T) chunkenc.ValueType {
	if it.idx == -1 {
		it.idx = 0
	}
	if it.idx >= len(it.s) {
		return chunkenc.ValNone
	}
	for range 8 {
		if it.s[it.idx].t >= int64(t) {
			return it.s[it.idx].Type()
		}
		if it.idx++; it.idx >= len(it.s) {
			return chunkenc.ValNone
		}
	}
	rest := it.s[it.idx:]
	it.idx += sort.Search(len(rest), func(i int) bool { return rest[i].t >= int64(t) })
	if it.idx >= len(it.s) {
		return chunkenc.ValNone
	}
	return it.s[it.idx].Type()
}

func (it *sampleIterator[T]) At() (int64, float64) {
	s := &it.s[it.idx]
	return s.t, s.f
}

func (it *sampleIterator[T]) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return it.s[it.idx].t, nil
}

func (it *sampleIterator[T]) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	s := &it.s[it.idx]
	return s.t, s.fh
}

func (it *sampleIterator[T]) AtT() int64  { return it.s[it.idx].t }
func (it *sampleIterator[T]) AtST() int64 { return 0 }
func (it *sampleIterator[T]) Err() error  { return nil }

// errIterator is an empty iterator that failed with err.
type errIterator struct {
	chunkenc.Iterator
	err error
}

func (e errIterator) Err() error { return e.err }

// coarsen reads it's buckets merged into buckets of c.k. A float chunk's
// samples decoded already (storage.DecodedCache: the tiers' buckets read
// through it) are read a run at a time, not a call per sample: a 7-day
// plain panel reads 10,080 buckets of each series from the 1m tier to
// keep 1,008.
func (c *coarseSet) coarsen(it chunkenc.Iterator) (sampleList, error) {
	k := kMerger{c: c, curEnd: math.MinInt64}
	runs, _ := it.(floatRuns)
	for {
		if runs != nil {
			if ts, fs, _, _ := runs.NextFloats(); len(ts) > 0 {
				k.addRun(ts, fs)
				continue
			}
		}
		vt := it.Next()
		if vt == chunkenc.ValNone {
			break
		}
		var s sample
		switch vt {
		case chunkenc.ValFloat:
			s.t, s.f = it.At()
		case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
			s.t, s.fh = it.AtFloatHistogram(nil)
		default:
			continue
		}
		k.add(s)
	}
	k.flush()
	return k.out, it.Err()
}

// floatRuns is an iterator that hands out a float chunk's samples a run
// at a time (storage's chunksIterator: NextFloats).
type floatRuns interface {
	NextFloats() (t []int64, f []float64, rising, kept bool)
}

// kMerger merges samples, in time order, into c's K-buckets.
type kMerger struct {
	c      *coarseSet
	out    sampleList
	cur    sample
	curEnd int64
	has    bool
}

func (k *kMerger) flush() {
	if k.has && k.curEnd <= k.c.end {
		k.out = append(k.out, k.cur)
	}
	k.has = false
}

// next starts the K-bucket of t when t is past the current one (its end
// is computed only then: a division per sample was a tenth of a 7-day
// plain panel's read).
func (k *kMerger) next(t int64) {
	if t > k.curEnd || t <= k.curEnd-k.c.k {
		k.flush()
		k.curEnd = bucketEnd(t, k.c.k)
	}
}

// addRun adds the float samples ts, fs. A plain selector's K-bucket is
// its last sample: the others are passed over.
func (k *kMerger) addRun(ts []int64, fs []float64) {
	if k.c.mode != "plain" {
		for i, t := range ts {
			k.add(sample{t: t, f: fs[i]})
		}
		return
	}
	for i := 0; i < len(ts); i++ {
		k.next(ts[i])
		for i+1 < len(ts) && ts[i+1] <= k.curEnd {
			i++
		}
		k.cur, k.has = sample{t: ts[i], f: fs[i]}, true
	}
}

// add adds the sample s.
func (k *kMerger) add(s sample) {
	k.next(s.t)
	if k.c.mode == "plain" {
		// The last sample of the K-bucket, at its own time and stale
		// or not: at each step (a K-bucket's end) the latest sample
		// is the same as among all the buckets.
		k.cur, k.has = s, true
		return
	}
	// Range functions skip staleness markers.
	if s.fh == nil && value.IsStaleNaN(s.f) || s.fh != nil && value.IsStaleNaN(s.fh.Sum) {
		return
	}
	if !k.has {
		k.cur, k.has = sample{t: k.curEnd, f: s.f, fh: s.fh}, true
		return
	}
	cur := &k.cur
	switch k.c.mode {
	case "max": // as max_over_time: a NaN only when all are
		if s.f > cur.f || math.IsNaN(cur.f) {
			cur.f = s.f
		}
	case "min":
		if s.f < cur.f || math.IsNaN(cur.f) {
			cur.f = s.f
		}
	case "sum":
		cur.f += s.f
	default: // last
		cur.f, cur.fh = s.f, s.fh
	}
}

// kBucket is a counter's K-bucket in coarsenCounter: its samples are
// buf[lo:hi].
type kBucket struct {
	end    int64
	lo, hi int
	// plain: floats only, none NaN (no staleness marker), none below the
	// one before it (no drop inside).
	plain bool
	// whole: kept whole, for the window that reads the average interval.
	whole bool
}

// coarsenCounter reads it's samples thinned, for rate and increase, to the
// first and last of each K-bucket where that gives the engine's
// extrapolatedRate the same answer in every window (T-rng, T] with T from
// c.first to c.end on the grid of c.k:
//   - each window starts and ends with the same samples: its first
//     K-bucket's first and its last K-bucket's last;
//   - it holds the same drops, each counted once from the value before it
//     (a K-bucket with a drop inside, or any histogram, NaN or staleness
//     marker, is kept whole; one between K-buckets lies between the last
//     and the first kept);
//   - the number of samples, which only the average interval reads, is
//     used only where a sample is missing near an edge (the edge is farther
//     than 1.1 average intervals): there the thinned average is longer and
//     the answer changes, so such a window's K-buckets are kept whole (it
//     is tested here as the engine tests it). Elsewhere the thinned window
//     passes the same test (a longer average only widens the margin) and
//     the answer reads the same first and last samples, the same drops.
//
// A steady counter on the 1m tier at a 10-minute step keeps 2 samples of
// each 10: the engine walks a fifth of them.
func (c *coarseSet) coarsenCounter(it chunkenc.Iterator) (sampleList, error) {
	all := c.buf[:0]
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		var s sample
		switch vt {
		case chunkenc.ValFloat:
			s.t, s.f = it.At()
		case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
			s.t, s.fh = it.AtFloatHistogram(nil)
		default:
			continue
		}
		if s.t > c.end {
			break
		}
		all = append(all, s)
	}
	c.buf = all
	if err := it.Err(); err != nil {
		return nil, err
	}
	// The K-buckets.
	kb := c.kb[:0]
	for i, s := range all {
		e := bucketEnd(s.t, c.k)
		if len(kb) == 0 || kb[len(kb)-1].end != e {
			kb = append(kb, kBucket{end: e, lo: i, hi: i, plain: true})
		}
		b := &kb[len(kb)-1]
		if s.fh != nil || math.IsNaN(s.f) || b.hi > b.lo && s.f < all[b.hi-1].f {
			b.plain = false
		}
		b.hi = i + 1
	}
	c.kb = kb
	// The windows, as extrapolatedRate reads them.
	a, z, notPlain := 0, 0, 0 // kb[a:z] in the window; notPlain of them not plain
	for T := c.first; T <= c.end; T += c.k {
		for z < len(kb) && kb[z].end <= T {
			if !kb[z].plain {
				notPlain++
			}
			z++
		}
		for a < z && kb[a].end <= T-c.rng {
			if !kb[a].plain {
				notPlain--
			}
			a++
		}
		if a == z {
			continue
		}
		whole := notPlain > 0
		if n := kb[z-1].hi - kb[a].lo; !whole && n > 1 {
			firstT, lastT := all[kb[a].lo].t, all[kb[z-1].hi-1].t
			durationToStart := float64(firstT-(T-c.rng)) / 1000
			durationToEnd := float64(T-lastT) / 1000
			averageDurationBetweenSamples := float64(lastT-firstT) / 1000 / float64(n-1)
			threshold := averageDurationBetweenSamples * 1.1
			whole = durationToStart >= threshold || durationToEnd >= threshold
		}
		if whole {
			for i := a; i < z; i++ {
				kb[i].whole = true
			}
		}
	}
	var out sampleList
	for _, b := range kb {
		if b.whole || !b.plain || b.hi-b.lo <= 2 {
			out = append(out, all[b.lo:b.hi]...)
			continue
		}
		out = append(out, all[b.lo], all[b.hi-1])
	}
	return out, nil
}
