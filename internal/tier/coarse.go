package tier

import (
	"math"
	"strconv"

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
// Not rate and increase: they extrapolate from the first and last sample
// of a window by up to half the samples' average interval, and a counter
// that stops or starts inside a window was extrapolated over half a
// K-bucket (7 % over an hour for one that ran 20 minutes, K = 5m, with
// edges as the 1h tier's; 2.5 % over the 1m tier's buckets, as before).
// Coarser counters would need each bucket's last sample time, which the
// tiers do not keep.
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
// dropping those that end after end (no step reads them).
type coarseSet struct {
	storage.SeriesSet
	k, end int64
	mode   string
}

func (c *coarseSet) At() storage.Series { return coarseSeries{Series: c.SeriesSet.At(), c: c} }

type coarseSeries struct {
	storage.Series
	c *coarseSet
}

// Iterator reads the series' coarse buckets into memory, one series at a
// time (the engine reads a selector's series one after the other).
func (s coarseSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	samples, err := s.c.coarsen(s.Series.Iterator(nil))
	if err != nil {
		return errIterator{Iterator: chunkenc.NewNopIterator(), err: err}
	}
	return storage.NewListSeriesIterator(samples)
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
	return storage.NewListSeriesIterator(l.samples)
}

// errIterator is an empty iterator that failed with err.
type errIterator struct {
	chunkenc.Iterator
	err error
}

func (e errIterator) Err() error { return e.err }

// coarsen reads it's buckets merged into buckets of c.k.
func (c *coarseSet) coarsen(it chunkenc.Iterator) (sampleList, error) {
	var out sampleList
	var cur sample
	curEnd, has := int64(math.MinInt64), false
	flush := func() {
		if has && curEnd <= c.end {
			out = append(out, cur)
		}
		has = false
	}
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
		if e := bucketEnd(s.t, c.k); e != curEnd {
			flush()
			curEnd = e
		}
		if c.mode == "plain" {
			// The last sample of the K-bucket, at its own time and stale
			// or not: at each step (a K-bucket's end) the latest sample
			// is the same as among all the buckets.
			cur, has = s, true
			continue
		}
		// Range functions skip staleness markers.
		if s.fh == nil && value.IsStaleNaN(s.f) || s.fh != nil && value.IsStaleNaN(s.fh.Sum) {
			continue
		}
		if !has {
			cur, has = sample{t: curEnd, f: s.f, fh: s.fh}, true
			continue
		}
		switch c.mode {
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
	flush()
	return out, it.Err()
}
