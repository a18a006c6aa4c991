package tier

import "github.com/prometheus/prometheus/storage"

// The 1 ms of an edge. A window (s, s+r] of whole buckets holds the
// counter's value at s as the edge withEdges adds 1 ms
// after s: a range is left-open, so nothing at s itself is in it. The
// engine's rate and increase read the first sample 1 ms after the window's
// start and extrapolate to it, as they extrapolate from any sample near an
// edge: the exact increase between the window's edges times r/(r-1ms).
// That is a rate r/(r-1ms) too high however exact the tier is: an exact
// 1,000/s counter read 1000.000138889 through a 2 h window (7d pages, the
// 10m tier), 1000.0000347 through 8 h (30d, the 1h tier), 1000.00083 through
// 20 minutes of the 1m tier and 1000.0167 through one minute of it
// (TestEdgeReadsTheExactIncrease).
//
// The edge's value is only ever read by rate and increase (it is added to
// the counter aggregate only, for them), and is the first sample of only
// one window: the one starting at its bucket's start (the sample before
// it is at the start itself). So settleEdges gives it the value that makes
// that window's extrapolation come out at the exact increase: the counter
// at s plus 1 ms of the window's mean rate from s to its last sample L,
//
//	edge = v(s) + (v(L) - v(s)) * 1ms / (L.t - s)
//
// The engine then reads (v(L) - edge) * (L.t - s) / (L.t - s - 1ms) =
// v(L) - v(s), the exact increase, extrapolated past L to the window's end
// as before where L is short of it. In any other window holding the edge
// it is an inner sample, which rate and increase read only for resets, so
// the edge stays within [v(s), the next sample] (a first bucket flatter
// than the window: the read is then between the exact increase and the
// old one); or, in a window ending inside the bucket (a rule at an
// unaligned time, a forced tier at steps off its grid), the last. Left as
// they were: edges of windows that hold
// anything but a non-decreasing float counter from the edge to L (a drop,
// a staleness marker, a native histogram: they still read 1 ms more than
// the window, 8.3e-7 of a 20-minute one), and edges of a counter at 0 (the
// engine extrapolates no further than the counter's zero, s itself, and
// was already exact).
//
// Only the edges of buckets that start one of the read's windows are
// settled (windowEnds): an edge inside a window is read for nothing but
// resets, which a settled edge adds none of, but in a window ending inside
// the edge's bucket it is the last sample, and settled over a window the
// read held beyond it, a range query's step differed from the instant
// query at its time (whose read ends there). Such windows read the edge as
// the counter at the bucket's start.

// windowEnds tells the ends of the windows a read serves: a range query's
// steps (less the selector's offset) from first, every step, up to end;
// an instant query's (or a selector with @) end alone (step 0); all (any:
// a subquery's steps are the engine's to choose) when unknown.
type windowEnds struct {
	first, step, end int64
	known            bool
}

// readWindows is the windowEnds of a selector's read: first is its first
// step's time where onGrid (GridLabel, a range query's selector outside
// subqueries and @).
func readWindows(hints *storage.SelectHints, first int64, onGrid bool) windowEnds {
	switch {
	case onGrid && hints.Step > 0:
		return windowEnds{first: first, step: hints.Step, end: hints.End, known: true}
	case hints.End-hints.Start == hints.Range-1: // one window (the engine reads (end-range, end])
		return windowEnds{first: hints.End, end: hints.End, known: true}
	}
	return windowEnds{}
}

// has tells whether a window of the read ends at t.
func (w windowEnds) has(t int64) bool {
	if w.step == 0 {
		return !w.known || t == w.first
	}
	return t >= w.first && t <= w.end && (t-w.first)%w.step == 0
}

// offGrid tells whether every window of the read, of rng, starts off the
// grid of buckets of res (known windows only).
func (w windowEnds) offGrid(rng, res int64) bool {
	return w.known && (rng%res != 0 || w.step%res == 0 && w.first%res != 0)
}

// settleEdges sets the edges of samples, at the indices at, to the values
// that make rate and increase over windows of rng starting at their
// buckets' starts read the exact increase (see above), where such a window
// is one of ends. samples is one series' samples in time order; at is in
// increasing order.
func settleEdges(samples sampleList, at []int, rng int64, ends windowEnds) {
	last, brk := 0, 0 // the window's last sample; the last sample before it that breaks a run
	for _, i := range at {
		e := &samples[i]
		if e.fh != nil || !(e.f > 0) {
			continue
		}
		start := e.t - 1
		end := start + rng
		if !ends.has(end) {
			continue
		}
		if last < i {
			last = i
		}
		for last+1 < len(samples) && samples[last+1].t <= end {
			last++
			if s := samples[last]; s.fh != nil || s.stale() || !(s.f >= samples[last-1].f) { // a drop or a NaN
				brk = last
			}
		}
		if last == i || brk > i {
			continue
		}
		l := samples[last]
		v := e.f + (l.f-e.f)/float64(l.t-start)
		e.f = min(v, samples[i+1].f)
	}
}
