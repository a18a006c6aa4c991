package tier

import (
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// AggLabel is the label that tells a tier's series apart by aggregate. A
// tier stores, per raw series and per bucket, one sample of each aggregate.
const AggLabel = "__agg__"

// The aggregates of a bucket. A bucket of resolution R ending at T holds the
// raw samples in (T-R, T] — left-open, as PromQL's range selectors — and its
// samples are stamped T.
const (
	AggMin   = "min"
	AggMax   = "max"
	AggSum   = "sum"
	AggCount = "count"
	AggAvg   = "avg" // sum / count: avg_over_time reads it
	AggLast  = "last"
	// AggCounter is the last value plus every value lost to a counter reset
	// since the series' first bucket: it never drops where the raw counter
	// did, so rate() and increase() over it are exact across resets (up to
	// the buckets at the range's edges). A native histogram's is compensated
	// the same way: the histograms before its resets are added to it.
	AggCounter = "counter"
	// AggAtLast, a 1, tells a bucket whose counter aggregate is the counter
	// at its last raw sample where the raw data now say it is drawn to the
	// bucket's end (aggregator.toEnd): the job did not have the next raw
	// sample when it wrote the bucket (the last of its batch, whose next
	// sample had not come yet). The job reads it where it goes on from a
	// bucket (aggregator.drawn); queries read the counter aggregate alone.
	// A flag only there, not one in every bucket drawn: one in every
	// bucket cost the 1m tier 3 % more disk for series sampled off the
	// minute (0.6 bytes a series a bucket, of 18.2).
	AggAtLast = "at_last"
)

// aggs lists the float aggregates in the order they are written.
var aggs = []string{AggMin, AggMax, AggSum, AggCount, AggAvg, AggLast, AggCounter}

// bucket is the aggregate of one series' samples in (End-R, End].
type bucket struct {
	End   int64 // the bucket's end, its samples' timestamp
	LastT int64 // the timestamp of the last raw sample in it
	Min   float64
	Max   float64
	Sum   float64
	Count float64
	Last  float64
	// Counter is Last plus the reset offset (see AggCounter), and ToEnd
	// what the counter aggregate adds to it (aggregator.toEnd): the
	// counter aggregate is Counter + ToEnd.
	Counter float64
	ToEnd   float64
	// AtLast: a float bucket whose end is not drawn for want of its next
	// raw sample (AggAtLast).
	AtLast bool
	// FH is the last native histogram of the bucket (nil for floats), and
	// CounterFH it plus every histogram lost to a counter reset since the
	// series' first bucket (see AggCounter).
	FH        *histogram.FloatHistogram
	CounterFH *histogram.FloatHistogram
	// Stale: the bucket's last sample is a staleness marker.
	Stale bool
	// Start marks not a bucket but a counter's first raw sample: End is its
	// timestamp and Counter its value. The counter aggregate stores it
	// (only it), so a rate over a range the series starts in sees where the
	// counter began, as it does on raw samples (without it the first
	// bucket's increase was lost: ~5% of a 1d increase through the 1h tier
	// for a counter an hour old).
	Start bool
	// WithLast: a Start written to the last aggregate too (its Last, or
	// for a native histogram its FH): the
	// last mark of a counter that a staleness marker stopped inside its
	// bucket (see flush), so the tier's last counter and last value before
	// the marker stay a pair (lastBuckets).
	WithLast bool
}

// value returns the bucket's value of a float aggregate. A bucket whose
// last sample is a staleness marker (the series ended) gives the marker as
// its last and counter value, and one with only a marker gives it for
// every aggregate, so readers see the series end where the raw data does.
func (b *bucket) value(agg string) float64 {
	if b.Count == 0 || (b.Stale && (agg == AggLast || agg == AggCounter)) {
		return math.Float64frombits(value.StaleNaN)
	}
	switch agg {
	case AggMin:
		return b.Min
	case AggMax:
		return b.Max
	case AggSum:
		return b.Sum
	case AggCount:
		return b.Count
	case AggAvg:
		return b.Sum / b.Count
	case AggLast:
		return b.Last
	default:
		return b.Counter + b.ToEnd
	}
}

// lastFH returns a native histogram bucket's last and counter aggregates:
// its FH and CounterFH, or staleness markers where its last sample is one
// (as value gives a float bucket's).
func (b *bucket) lastFH() (last, counter *histogram.FloatHistogram) {
	if b.Stale {
		return &histogram.FloatHistogram{Sum: math.Float64frombits(value.StaleNaN)}, &histogram.FloatHistogram{Sum: math.Float64frombits(value.StaleNaN)}
	}
	return b.FH, b.CounterFH
}

// denseMarks is how many marks at most a counter gets in the bucket it
// resumed in after a hole (aggregator.add).
const denseMarks = 60

// bucketEnd is the end of the bucket of resolution res holding ts.
func bucketEnd(ts, res int64) int64 {
	q := ts / res // truncates towards zero: the ceiling for negative ts
	if ts%res != 0 && ts > 0 {
		q++
	}
	return q * res
}

// aggregator turns one series' raw samples, in time order, into buckets.
type aggregator struct {
	res int64
	// from: samples at or before it only prime the counter state (the last
	// raw value before the range); prime, when set, is the tier's counter
	// value at from, so the offset continues where the tier left it.
	from  int64
	prime *float64
	// closed: the tier's counter at from is preceded 1 ms before by a
	// mark holding it, the last flush writes in a bucket the counter
	// stopped in (the batch before's: see add).
	closed bool
	// drawn: prime may be drawn past its bucket's last raw sample, as
	// toEnd and pastStop draw it (from is after the tier's drawnAfter,
	// and the bucket has no AggAtLast): the counter goes on from the last
	// raw sample before from, prime less what they added (primeEnd).
	// staleAfter: a staleness marker came after from before the first raw
	// sample.
	drawn, staleAfter bool
	// primeH is prime for a native histogram series. The fields below
	// that hold a float counter's values have a histogram twin (prevH,
	// offsetH, preOffsetH) that a native histogram series uses instead;
	// the rest (times, intervals, marks) serve both alike.
	primeH *histogram.FloatHistogram
	// before, when there is neither prime nor a raw sample in the bucket
	// ending at from (a hole in the raw data across the batch's start),
	// reads the tier's last bucket before from: its counter and last
	// values, so the offset continues across the hole as raw samples'
	// counter does (it restarted at 0: a reset only the tier saw).
	before func() (counter, last float64, counterH, lastH *histogram.FloatHistogram, ok bool)

	cur     bucket
	open    bool
	prev    float64
	prevT   int64 // prev's timestamp; unknown (0) when prev is the tier's
	hasPrev bool
	offset  float64
	primed  bool
	emit    func(bucket)

	// denseTo, denseNext, denseStep: at a series' start and after a hole,
	// the counter's raw samples up to the end of the bucket it began or
	// resumed in are marked every denseStep (see add); denseMore: the next
	// bucket's too, every res/denseMarks.
	denseTo, denseNext, denseStep int64
	denseMore                     bool
	// pend: the first of those marks, written when a raw sample follows
	// it in its bucket, dropped when none does.
	pend *bucket
	// tail, tailNext: the open bucket's raw samples every res/denseMarks,
	// written before it when the counter stopped inside it (see flush);
	// gap: the interval between the counter's last two raw samples;
	// rawT: the open bucket's last raw sample's time (its LastT is a
	// staleness marker's after one); marked: the time of the last mark
	// add emitted (a start's or a resumed counter's), which flush does not
	// write again.
	tail     []mark
	tailNext int64
	// preOffset: what the counter lost to resets in the raw samples up to
	// from, for the tail closeBefore writes.
	preOffset  float64
	preOffsetH *histogram.FloatHistogram
	gap        int64
	rawT       int64
	marked     int64
	// nextT: the time of the raw sample after the open bucket when flush
	// runs (a lower bound: the read's end plus 1 ms when none came before
	// it; math.MaxInt64 after a staleness marker). A whole bucket without a
	// raw sample after it is a stop (see flush).
	nextT int64
	// nextBound: nextT is only the lower bound (no raw sample after the
	// open bucket up to the read's end). nextC is the counter at nextT
	// when it is a raw sample's.
	nextBound bool
	nextC     float64
	// peek: the read runs past run's to only for each series' next raw
	// sample (downsample), whose time and counter are peekT and peekC
	// (hasPeek): it gives the batch's last bucket its end (toEnd), and the
	// rules that tell a stop see no sample after to, as without it.
	peek    bool
	hasPeek bool
	peekT   int64
	peekC   float64
	// extrapolate: a bucket whose next raw sample is not known gets its
	// end (toEnd) at the counter's rate over its last raw interval, slope
	// (slopeOK), as raw data's rate extrapolates to a window's end: for
	// reads only (onTheFly), where nothing after the read's last bucket
	// can read lower than it. lastC is the last raw sample's counter.
	extrapolate, slopeOK bool
	slope, lastC         float64
	// lastInc: a float counter's increase over its last raw interval (the
	// open bucket's last, once flush runs; the last before from while
	// priming), for the half of it a stopped bucket's counter goes on by
	// (pastStop). floor (hasFloor): the least the counter is at its next
	// raw sample, the stopped bucket's held counter (see add).
	lastInc  float64
	floor    float64
	hasFloor bool

	prevH   *histogram.FloatHistogram
	offsetH *histogram.FloatHistogram
}

// mark is a counter's raw sample kept to be written as a mark (a bucket
// with Start set) if its bucket turns out to be where it stopped.
type mark struct {
	t             int64
	last, counter float64
	counterH      *histogram.FloatHistogram // a native histogram's counter
}

// add feeds one sample: a float, or with fh a native histogram (the
// caller's to keep, v unused). A native histogram counter is compensated
// for resets as a float counter is (AggCounter) and gets the same marks
// where it starts, stops and resumes: without them a window starting at
// the end of the bucket it stopped in read the jump over a hole as its
// increase, as a float's did (histogram_count(rate(x[1h])) through the 1h
// tier at the whole hour after a 72-minute hole +157,313 %,
// TestCounterResumedHigher's native histogram cases).
func (a *aggregator) add(t int64, v float64, fh *histogram.FloatHistogram) error {
	hist := fh != nil
	if !hist && value.IsStaleNaN(v) || hist && value.IsStaleNaN(fh.Sum) {
		// A native histogram's staleness marker ends its bucket as a
		// float's does, and is not its counter's next value. Taken as
		// one, its count of 0 was a reset: the counter before it was
		// added to the offset, and counted again when the series went on
		// (histogram_count(increase(x[3h])) +33.5 % after a scraped
		// target's 100 s outage, TestCounterAfterAStaleMarker).
		if t > a.from {
			a.staleAfter = a.staleAfter || !a.primed
			a.nextT, a.nextBound = math.MaxInt64, false // the series ended (or a scrape failed)
			a.openAt(t)
			a.cur.LastT, a.cur.Stale = t, true
			if hist && a.cur.FH == nil {
				a.cur.FH = a.prevH // a histogram's bucket (bucket.FH): its markers are its last and counter
			}
		}
		return nil
	}
	if t <= a.from {
		if a.hasPrev && a.prevT != 0 && t > a.prevT {
			a.gap = t - a.prevT // the series' interval, for the bucket at from (below)
			if !hist {
				a.lastInc = increase(a.prev, v) // for primeEnd
			}
		}
		if err := a.reset(v, fh, &a.preOffset, &a.preOffsetH); err != nil {
			return err
		}
		if t > a.from-a.res && t < a.from && t >= a.tailNext {
			// The bucket at from's raw samples every res/denseMarks, its
			// counter relative to the last's (closeBefore).
			m := mark{t: t, last: v, counter: v + a.preOffset}
			if hist {
				var err error
				if m.counterH, err = plus(fh, a.preOffsetH); err != nil {
					return err
				}
			}
			a.tail = append(a.tail, m)
			a.tailNext = t + max(a.res/denseMarks, 1)
		}
		a.prev, a.prevT, a.hasPrev = v, t, true
		if hist {
			a.prevH = fh
		}
		return nil
	}
	resumed := false
	if !a.primed {
		a.primed = true
		primed := a.prime != nil || hist && a.primeH != nil
		if !primed && a.before != nil {
			// No counter at from: a hole in the raw data across it, or a
			// bucket there that ended with a staleness marker (a failed
			// scrape) and so has none. The tier's last bucket before
			// gives the offset; a raw sample since that is below its last
			// value was a reset.
			c, l, ch, lh, ok := a.before()
			switch {
			case ok && !hist:
				resumed = true
				switch {
				case !a.hasPrev:
					a.prime, a.prev, a.hasPrev = &c, l, true
				case a.prev < l:
					// The offset then (c − l) plus what the counter had
					// counted before the reset (l).
					a.offset = c
				default:
					a.offset = c - l
				}
			case ok && ch != nil && lh != nil:
				resumed = true
				switch {
				case !a.hasPrev:
					a.primeH, a.prevH, a.hasPrev = ch, lh, true
				case a.prevH != nil && a.prevH.DetectReset(lh):
					a.offsetH = ch.Copy()
				default:
					off, _, _, err := ch.Copy().Sub(lh)
					if err != nil {
						return err
					}
					a.offsetH = off
				}
			}
		}
		primed = a.prime != nil || hist && a.primeH != nil
		if primed && a.hasPrev {
			if !hist {
				a.offset = *a.prime - a.primeEnd(t, v) - a.prev
				a.floor, a.hasFloor = *a.prime, true
			} else if a.prevH != nil && !a.primeH.DetectReset(a.prevH) {
				off, _, _, err := a.primeH.Copy().Sub(a.prevH)
				if err != nil {
					return err
				}
				a.offsetH = off
			}
			// The bucket ending at from was one the counter stopped in
			// (flush's rule, in the batch before): t resumes it, as
			// where the stop and the resumption are in one batch (below).
			// closed: the tier holds the mark flush writes 1 ms before a
			// stopped bucket's end. The raw samples cannot tell where the
			// bucket held one (no interval in it to judge by), and once
			// the job has caught up every batch is one bucket: a 15 s
			// series' last sample before a hole is alone in its minute
			// for a quarter of its stops, and unmarked, the resumption's
			// window read the jump over the hole through the 1m tier
			// (+89,222 %, TestCounterResumedNextToItsStop).
			if a.prevT > a.from-a.res && (a.closed || a.gap > 0 && a.from-a.prevT > max(a.res/denseMarks, 2*a.gap)) &&
				bucketEnd(t, a.res)-a.res == a.from {
				resumed = true
			}
			closed, err := a.closeBefore(t)
			if err != nil {
				return err
			}
			resumed = resumed || closed
		}
		a.tail, a.tailNext = a.tail[:0], 0
		if !primed && !a.hasPrev {
			// The series' first raw sample: marked, with the raw samples
			// up to its bucket's end every res/denseMarks, as after a
			// hole (below). One mark and the bucket's end made a window
			// holding them two samples a bucket apart, and rate's
			// extrapolation stretched the increase by half a bucket
			// before the start: increase(x[2h]) at the first whole hour
			// through the 1h tier +99.7 %, increase(x[1h]) through the
			// 10m tier +47.5 % ten minutes in (TestCounterStartsInAShortWindow).
			resumed = true
		}
	}
	// A reset: what the counter had counted is kept.
	if err := a.reset(v, fh, &a.offset, &a.offsetH); err != nil {
		return err
	}
	counter, counterH := v+a.offset, (*histogram.FloatHistogram)(nil)
	if hist {
		var err error
		if counterH, err = plus(fh, a.offsetH); err != nil {
			return err
		}
	}
	if a.hasPrev && a.prevT != 0 && bucketEnd(t, a.res)-bucketEnd(a.prevT, a.res) > a.res {
		resumed = true // a whole bucket or more without a sample before t
	}
	gap := a.gap
	if a.prevT != 0 && t > a.prevT {
		gap = t - a.prevT
	}
	// The bucket before is flushed first: its marks and end come before
	// t's (a resumed counter's first mark was written before them, out of
	// order: a series read on the fly went back in time).
	inc := math.NaN()
	if !hist && a.hasPrev && a.prevT != 0 && t > a.prevT {
		inc = increase(a.prev, v)
	}
	a.nextT, a.nextBound, a.nextC = t, false, counter
	stopped := a.openAt(t) // a flush there judges the bucket by the gap before t
	if a.hasFloor && !hist {
		// The first raw sample after a stop: the counter went on past
		// the stop's last raw sample (pastStop), and the counter here is
		// no lower (a drop read as a reset). Where it counted less than
		// that meanwhile, it goes on from the held counter, and a window
		// holding the stop and this sample reads that much more than raw
		// data's increase across them; else as raw data.
		if counter < a.floor {
			a.offset += a.floor - counter
			counter = a.floor
		}
		a.hasFloor = false
	}
	a.lastInc = inc
	if stopped && !resumed && bucketEnd(t, a.res)-a.res == bucketEnd(a.prevT, a.res) {
		// The bucket before, which t's flushed, was one the counter
		// stopped in: t resumes it after a hole, as after an empty bucket
		// (below). Unmarked, t's bucket had its end alone, and a window
		// starting at the stop bucket's end read the counter's jump over
		// the hole (a host's counter that went on counting while nothing
		// sampled it) as its increase, where raw data, no sample before
		// t in the window, do not: rate(x[1h]) through the 1h tier at the
		// whole hour after a 72-minute gap ending 6 min before it read
		// 1,573 times raw data's (t-user16 F9, TestCounterResumedHigher).
		resumed = true
	}
	if resumed {
		// The counter's first raw sample after a hole (across from, or a
		// whole bucket or more within the batch), marked as at a series'
		// start: a window holding only the first bucket after the hole
		// had one sample (increase over it nothing), and windows over the
		// first minutes lost what was counted before the bucket's end
		// (t-user14 F4: increase(x[1h]) at the whole hour after a 72-min
		// gap and a restart answered nothing where raw data held 8.4M).
		// A sample on a bucket's end is that bucket's own, and the next
		// bucket's raw samples are marked (its end alone, a bucket after
		// the first sample, had a window holding the two extrapolate half
		// a bucket before them: +38 % in the first minute of a series
		// whose first sample was on a minute).
		//
		// One mark is not enough: a window holding it and the bucket's end
		// has two samples a bucket apart, and rate's extrapolation took
		// the average interval between them as the series' and stretched
		// the increase over the hole (+20 % at the 1h tier's [1h], +50 %
		// at [2h]). The raw samples up to the bucket's end are marked too,
		// denseMarks at most, spread over what is left of the bucket: the
		// average interval is then about the raw data's or a sixtieth of
		// what is left (marked every res/denseMarks, a series that began 5
		// minutes before the hour read +8 % at increase(x[1h]) through the
		// 1h tier). Where less than half the bucket is left (few raw
		// samples), the next bucket's are marked too, every res/denseMarks
		// (one that began 5 s before the hour read +16 % at [2h] an hour
		// later).
		end := bucketEnd(t, a.res)
		a.denseTo, a.denseNext, a.denseStep = end, t, max((end-t)/denseMarks, 1)
		if end-t < a.res/2 {
			a.denseMore = true
		}
		if t == end {
			a.denseTo, a.denseNext, a.denseStep, a.denseMore = end+a.res, t+1, max(a.res/denseMarks, 1), false
		}
	}
	if a.denseMore && t >= a.denseTo {
		// The next bucket's too, at res/denseMarks.
		a.denseTo, a.denseNext, a.denseStep, a.denseMore = a.denseTo+a.res, a.denseTo, max(a.res/denseMarks, 1), false
	}
	if t < a.denseTo && t >= a.denseNext {
		m := bucket{End: t, LastT: t, Count: 1, Last: v, Counter: counter, CounterFH: counterH, Start: true}
		if a.pend != nil {
			a.emit(*a.pend)
			a.pend = nil
		}
		if resumed {
			// Written once another raw sample follows in its bucket:
			// alone there, the bucket's end holds it, and a mark beside
			// it made a window holding the two answer 0 where raw data,
			// one sample, have no answer.
			a.pend = &m
		} else {
			a.emit(m)
		}
		a.denseNext, a.marked = t+a.denseStep, t
	}
	if !hist {
		a.slopeOK = a.slopeOK || a.hasPrev && a.prevT != 0 && a.prevT > a.from
		if a.slopeOK && t > a.prevT {
			a.slope = (counter - a.lastC) / float64(t-a.prevT)
		}
		a.lastC = counter
	}
	a.prev, a.prevT, a.hasPrev = v, t, true
	a.gap, a.rawT = gap, t
	if t >= a.denseTo && t >= a.tailNext && t != a.cur.End {
		a.tail = append(a.tail, mark{t: t, last: v, counter: counter, counterH: counterH})
		a.tailNext = t + max(a.res/denseMarks, 1)
	}
	b := &a.cur
	if hist {
		a.prevH = fh
		b.LastT, b.Stale = t, false
		b.Count++
		b.FH, b.CounterFH = fh, counterH
		return nil
	}
	if b.Count == 0 {
		b.Min, b.Max = v, v
	}
	b.LastT, b.Stale = t, false
	b.Min = math.Min(b.Min, v)
	b.Max = math.Max(b.Max, v)
	if math.IsNaN(v) {
		b.Min, b.Max = v, v
	}
	b.Sum += v
	b.Count++
	b.Last = v
	b.Counter = counter
	return nil
}

// reset adds to the offset (off for a float, offH for a native histogram)
// what the counter had counted before v or fh, where that is a reset.
func (a *aggregator) reset(v float64, fh *histogram.FloatHistogram, off *float64, offH **histogram.FloatHistogram) error {
	switch {
	case fh == nil:
		if a.hasPrev && v < a.prev {
			*off += a.prev
		}
	case a.prevH != nil && fh.DetectReset(a.prevH):
		if *offH == nil {
			*offH = a.prevH.Copy()
		} else if _, _, _, err := (*offH).Add(a.prevH); err != nil {
			return err
		}
	}
	return nil
}

// plus is the counter fh plus off: fh itself without off, else a copy.
func plus(fh, off *histogram.FloatHistogram) (*histogram.FloatHistogram, error) {
	if off == nil {
		return fh, nil
	}
	c, _, _, err := fh.Copy().Add(off)
	if err != nil {
		return nil, err
	}
	c.CounterResetHint = histogram.NotCounterReset
	return c, nil
}

// closeBefore writes the marks flush writes in a bucket the counter
// stopped in (its raw samples, then its value held, up to the closing mark
// 1 ms before its end) in the bucket ending at from, before from (out of
// order, as the tier takes within its window), where the batch before,
// which ended there, could not: the counter's last raw sample within two
// of its intervals (or res/denseMarks) of the bucket's end, and next, the
// time of the raw sample after it or a lower bound, more than that after
// it. That batch took the bucket's end for the series running to it
// (flush's rule where it knows the sample after the bucket), and the
// bucket after, unmarked, was no resumption: a window starting at from
// read the jump over the hole as its increase (+89,057 % through the 1h
// tier, TestCounterStoppedNextToItsBucketsEnd). It reports whether it
// wrote them. A native histogram counter's are written alike.
func (a *aggregator) closeBefore(next int64) (bool, error) {
	lim := max(a.res/denseMarks, 2*a.gap)
	hist := a.prime == nil && a.primeH != nil && a.prevH != nil
	if a.prime == nil && !hist || !a.hasPrev || a.closed || a.gap <= 0 || a.prevT <= a.from-a.res || a.prevT >= a.from ||
		a.from-a.prevT > lim || next-a.prevT <= lim {
		return false, nil
	}
	if hist {
		// The tier's counter is the last raw sample's: off is what the
		// tier adds to the raw samples' counter (relative to the tail's).
		last, err := plus(a.prevH, a.preOffsetH)
		if err != nil {
			return false, err
		}
		off, _, _, err := a.primeH.Copy().Sub(last)
		if err != nil {
			return false, err
		}
		for _, m := range a.tail {
			if m.t < a.prevT && m.counterH != nil {
				c, err := plus(m.counterH, off)
				if err != nil {
					return false, err
				}
				a.emit(bucket{End: m.t, LastT: m.t, Count: 1, CounterFH: c, Start: true})
			}
		}
	} else {
		off := *a.prime - (a.prev + a.preOffset) // the tier's counter is the last raw sample's
		for _, m := range a.tail {
			if m.t < a.prevT {
				a.emit(bucket{End: m.t, LastT: m.t, Count: 1, Last: m.last, Counter: m.counter + off, Start: true})
			}
		}
	}
	held := bucket{Count: 1, Start: true}
	if hist {
		held.CounterFH = a.primeH
	} else {
		held.Last, held.Counter = a.prev, *a.prime
	}
	step := max(a.res/denseMarks, a.gap, 1)
	for t := a.prevT; t < a.from-1; t += step {
		held.End, held.LastT = t, t
		a.emit(held)
	}
	held.End, held.LastT = a.from-1, a.from-1
	a.emit(held)
	a.closed = true
	return true, nil
}

// openAt makes the bucket holding t the open one, flushing the previous;
// stopped: flush marked that bucket as one the counter stopped in (see
// add: a raw sample in the bucket after it resumes it).
func (a *aggregator) openAt(t int64) (stopped bool) {
	end := bucketEnd(t, a.res)
	if a.open && end != a.cur.End {
		stopped = a.flush()
	}
	if !a.open {
		a.open = true
		a.cur = bucket{End: end}
	}
	return stopped
}

// flush emits the open bucket.
//
// A counter that stopped inside the bucket (its last raw sample more than
// res/denseMarks and two of its intervals before the bucket's end: a
// service stopped, a target gone, any series before a gap) gets its raw
// samples in the bucket marked every res/denseMarks before it, as where a
// counter resumes: the bucket's end alone read as the series running to
// it, and rate's extrapolation, taking a bucket as its interval, stretched
// the increase one more bucket (t-user15 F3: increase(x[2h]) at the whole
// hour through the 1h tier +93 %).
//
// A bucket ended by a staleness marker (a scrape target gone, a push
// group deleted) is marked so too, up to 1 ms before its end, whose
// counter is the marker. Unmarked, a window holding its end held none of
// the bucket's counter: increase(x[1h]) and increase(x[2h]) at the whole
// hours after a stop 13 minutes into an hour answered nothing through the
// 1h tier where raw data held those 13 minutes, and rate(x[1h]) through
// the 10m tier read +15 % at the hour and nothing ten minutes later
// (TestCounterStoppedByAStaleMarker). Its last mark is written to the last
// aggregate too (WithLast): the tier's last counter and last value before
// the marker stay a pair for lastBuckets (with marks in the counter alone,
// the next batch lost the counter's offset: increase[3h] +33 % in
// TestCounterAfterAStaleMarker), and last_over_time over the bucket reads
// the series' last value, as on raw data (it read the bucket before's, or
// nothing). It reports whether it marked the bucket as one the counter
// stopped in.
func (a *aggregator) flush() (stopped bool) {
	if a.pend != nil && a.pend.End < a.cur.LastT {
		a.emit(*a.pend)
	}
	a.pend = nil
	if a.open {
		b := a.cur
		lastT := b.LastT
		if b.Stale {
			lastT = a.rawT // not the marker's
		}
		// Stopped: its last raw sample well before its end, or the whole
		// bucket after it without one (a stop within two intervals of the
		// end was taken for a running series, and a window holding the
		// bucket extrapolated half a bucket past it: rate(x[1h]) through
		// the 1m tier +16.6 % ten minutes before the window lost the
		// series, no answer at the last, TestCounterStopsInAMinuteTierWindow).
		// Not where the series' own interval is that long (a sample every
		// two minutes on the 1m tier). A bucket holding a series' first
		// and only sample so far has no interval to judge it by: only the
		// bucket after tells (it was taken as stopped, its value held
		// every res/denseMarks, and a window holding the two answered 0
		// where raw data, one sample, have no answer).
		//
		// A stop within two intervals of the end is one too where the
		// next raw sample, known, comes more than that after it, even in
		// the next bucket: without the closing mark, that sample was not
		// taken for a resumption and a window starting at the bucket's end
		// read the jump over the hole as its increase (+89,057 % through
		// the 1h tier, TestCounterStoppedNextToItsBucketsEnd).
		next := a.nextT > b.End+a.res && a.nextT-lastT > 2*a.gap ||
			!a.nextBound && a.gap > 0 && a.nextT > b.End && a.nextT-lastT > max(a.res/denseMarks, 2*a.gap)
		if b.Count > 0 && (a.gap > 0 && b.End-lastT > max(a.res/denseMarks, 2*a.gap) || next) {
			// Its last raw sample, then its value held every res/denseMarks
			// (or the series' interval, the longer) up to the bucket's end:
			// a window holding the bucket's end then has samples about
			// res/denseMarks apart, as one holding the stop does, and
			// extrapolates as little. No denser than the raw samples were:
			// in a window of minRateBuckets and more, which reads no edges,
			// marks shorten the average interval the engine extrapolates
			// the first bucket by (the 1m tier's held marks of a 10 s
			// series every second: increase[3h] -0.34 % across a scrape
			// target's 100 s outage, TestCounterAfterAStaleMarker).
			if n := len(a.tail); lastT > a.marked && (n == 0 || a.tail[n-1].t != lastT) {
				a.tail = append(a.tail, mark{t: lastT, last: b.Last, counter: b.Counter, counterH: b.CounterFH})
			}
			h := a.pastStop(b)
			step := max(a.res/denseMarks, a.gap, 1)
			for t := lastT + step; t < b.End; t += step {
				a.tail = append(a.tail, mark{t: t, last: b.Last, counter: b.Counter + h, counterH: b.CounterFH})
			}
			// The last mark is 1 ms before the bucket's end, as where a
			// staleness marker ended it: it tells the job's next batch
			// (counterValues, aggregator.closed) and readers (resumes)
			// that the counter stopped here, so the bucket after begins
			// with a resumption.
			if n := len(a.tail); n == 0 || a.tail[n-1].t < b.End-1 {
				a.tail = append(a.tail, mark{t: b.End - 1, last: b.Last, counter: b.Counter + h, counterH: b.CounterFH})
			}
			a.cur.ToEnd = h
			if h > 0 {
				a.floor, a.hasFloor = b.Counter+h, true
			}
			for i, m := range a.tail {
				mb := bucket{End: m.t, LastT: m.t, Count: 1, Last: m.last, Counter: m.counter, CounterFH: m.counterH, Start: true, WithLast: b.Stale && i == len(a.tail)-1}
				if mb.WithLast {
					mb.FH = b.FH // a native histogram's last (nil for a float)
				}
				a.emit(mb)
			}
			stopped = true
		} else {
			a.cur.ToEnd, a.cur.AtLast = a.toEnd(b, lastT)
		}
		a.emit(a.cur)
		a.open = false
	}
	a.tail, a.tailNext = a.tail[:0], 0
	return stopped
}

// pastStop is what the counter of b, a float bucket the counter stopped
// in, goes on by after its last raw sample: half its last raw interval's
// increase, as raw data's rate and increase extrapolate a window's last
// sample by half the window's average interval where the window ends
// later than 1.1 intervals after it (the counter's last rate over half
// its last interval: the two agree for a series sampled regularly). The
// held marks after the last raw sample and the bucket's end hold it (the
// raw sample itself its own counter), so a window ending after the stop
// reads what raw data read. It held the counter at the last raw sample:
// rate(x[1h]) through the 10m tier read 2 % under raw data in the window
// holding a 10 s series' last 3 minutes (TestCounterStoppedInsideAWindow).
// Where the series resumes, the counter goes on from its raw value as
// before, so a window holding the stop and the resumption reads raw
// data's increase across them, but no lower than the held counter (see
// add's floor). 0 for a native histogram (its counter keeps its last
// histogram).
func (a *aggregator) pastStop(b bucket) float64 {
	if b.FH != nil || b.CounterFH != nil || !(a.lastInc > 0) || math.IsInf(a.lastInc, 0) {
		return 0
	}
	return a.lastInc / 2
}

// toEnd is what the open bucket b's counter gains from its
// last raw sample, at lastT, to its end, on a straight line to the next
// raw sample. A bucket's end held the counter at its last raw sample, so
// a rate through the tier was the increase between the last raw samples
// at or before the window's edges over the window's length: off the
// counter's rate by how much those two samples lag their edges, where
// they lag by different times (a series jittered, or sampled every 7 s:
// -0.25 % to +0.33 % at 20 minutes through the 1m tier, TestBucketEnds).
// Read at the bucket's end, the counter's increase is the window's own,
// as raw data's rate extrapolates its samples to the window's edges.
// 0 where the next raw sample is further than two of the series'
// intervals (or res/denseMarks) after the last or past the next bucket (a
// hole: the increase across it is no straight line), a staleness marker,
// for a native histogram (its counter keeps the last histogram) and a
// bucket a staleness marker ended; and where it is not known (the read's
// last bucket; atLast: AggAtLast), but in a read (extrapolate).
func (a *aggregator) toEnd(b bucket, lastT int64) (d float64, atLast bool) {
	if b.Count == 0 || b.Stale || b.FH != nil || lastT >= b.End || a.gap <= 0 {
		return 0, false
	}
	nt, nc := a.nextT, a.nextC
	switch {
	case nt == math.MaxInt64:
		return 0, false
	case !a.nextBound:
	case a.hasPeek:
		nt, nc = a.peekT, a.peekC
	case a.extrapolate && a.slopeOK && lastT == a.rawT:
		if d := float64(b.End-lastT) * a.slope; d > 0 { // not NaN
			return d, false
		}
		return 0, false
	default:
		return 0, true
	}
	if nt <= b.End || nt > b.End+a.res || nt-lastT > max(a.res/denseMarks, 2*a.gap) {
		return 0, false
	}
	d = lineShare(b.End-lastT, nc-b.Counter, nt-lastT)
	if !(d > 0) { // flat, or NaN
		return 0, false
	}
	return d, false
}

// lineShare is the share of inc, the counter's increase over span (ms),
// in its first part (ms), kept to shareBits significant bits. The
// counter aggregate is the raw counter plus it: a raw counter's values
// are mostly whole numbers, which a TSDB chunk stores in few bits, and a
// share with every bit of a float64 made the 1m tier 21 % larger for
// series sampled off the minute (22.0 bytes a series a bucket for 18.2;
// 19.3 with 16 bits, bench/README.md). The share is at most a raw
// interval's increase, so it is kept to 2^-17 of one interval's increase.
func lineShare(part int64, inc float64, span int64) float64 {
	d := float64(part) * inc / float64(span)
	frac, exp := math.Frexp(d)
	return math.Ldexp(math.Round(frac*(1<<shareBits))/(1<<shareBits), exp)
}

// shareBits is the significant bits of lineShare.
const shareBits = 16

// primeEnd is what the tier's counter at from (the prime) holds past the
// last raw sample before from, told from the raw samples by the rules its
// writer followed, where drawn (the writer drew ends and had the sample
// after the bucket): the counter goes on from that sample, prime less it.
//
//   - A bucket the counter stopped in (closed: flush wrote its closing
//     mark): pastStop's half of the increase over the last raw interval
//     before from. 0 where the raw samples do not tell it (the bucket's
//     last raw sample alone in the read before from): the counter then
//     goes on from the held counter, as across a stop the counter did not
//     count at (add's floor).
//   - Else toEnd's line from the last raw sample before from to t, v, the
//     first after it (the float rounding of the two sums aside). The job
//     does not keep what it added: toEnd's rules give it again from the
//     same raw samples, but where the job did not have the next raw sample
//     (AggAtLast). A raw sample later written between the two (late,
//     unmarked) makes it draw another line: the counter after from then
//     reads up to the difference higher or lower than the tier's at from,
//     never below it (the line to the earlier sample is below that
//     sample's counter).
//
// A writer draws no line where it marks a stop (the sample after it is
// further than the line's rules allow), so of the two only one is ever
// there.
func (a *aggregator) primeEnd(t int64, v float64) float64 {
	if !a.drawn || a.staleAfter || a.prevT == 0 || a.prevT >= a.from || a.prevT <= a.from-a.res {
		return 0
	}
	if a.closed {
		return a.pastStop(bucket{})
	}
	if a.gap <= 0 || t <= a.from || t > a.from+a.res || t-a.prevT > max(a.res/denseMarks, 2*a.gap) {
		return 0
	}
	if d := lineShare(a.from-a.prevT, increase(a.prev, v), t-a.prevT); d > 0 {
		return d
	}
	return 0
}

// increase is a counter's increase from its raw value prev to v, the next
// one: v itself where it is lower (a reset).
func increase(prev, v float64) float64 {
	if v < prev {
		return v
	}
	return v - prev
}

// nextCounter is the counter aggregate a float raw sample v after the
// last one would have (NaN for a staleness marker).
func (a *aggregator) nextCounter(v float64) float64 {
	c := v + a.offset
	if a.hasPrev && v < a.prev {
		c += a.prev // a reset
	}
	return c
}

// run feeds every sample of it up to and including to, then flushes.
func (a *aggregator) run(it chunkenc.Iterator, to int64) error {
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		var t int64
		var v float64
		var fh *histogram.FloatHistogram
		switch vt {
		case chunkenc.ValFloat:
			t, v = it.At()
		case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
			t, fh = it.AtFloatHistogram(nil)
		default:
			continue
		}
		if t > to {
			if a.peek {
				// Only the next raw sample, for toEnd: the stop rules
				// see none after to, as the batch's read without it.
				if a.primed && fh == nil && !value.IsStaleNaN(v) {
					a.peekT, a.peekC, a.hasPeek = t, a.nextCounter(v), true
				}
				break
			}
			if !a.primed {
				if _, err := a.closeBefore(t); err != nil {
					return err
				}
			}
			a.nextT, a.nextBound, a.nextC = t, false, a.nextCounter(v)
			a.flush()
			return it.Err()
		}
		if err := a.add(t, v, fh); err != nil {
			return err
		}
	}
	a.nextT, a.nextBound = to+min(1, math.MaxInt64-to), true // none up to to
	if a.hasPeek {
		// The next raw sample after to, read past it (peek): the batch's
		// last bucket is judged by it as by one within the batch, so a
		// stop whose next sample is known is marked (and goes on by
		// pastStop) as inside the batch, not by the next batch's
		// closeBefore, which cannot change the bucket's end.
		a.nextT, a.nextBound, a.nextC = a.peekT, false, a.peekC
	}
	if !a.primed {
		if _, err := a.closeBefore(a.nextT); err != nil { // none after from either
			return err
		}
	}
	a.flush()
	return it.Err()
}
