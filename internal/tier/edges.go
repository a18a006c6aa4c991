package tier

// The 1 ms of an edge. A window (s, s+r] of whole buckets holds the
// counter's value at s as the edge withEdges (and nearMarksSet) adds 1 ms
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
// old one); or, in a window ending inside the bucket (a forced tier at
// steps off its grid), the last, the counter 1 ms after s at the rate of
// the window starting at s. Left as they were: edges of windows that hold
// anything but a non-decreasing float counter from the edge to L (a drop,
// a staleness marker, a native histogram: they still read 1 ms more than
// the window, 8.3e-7 of a 20-minute one), and edges of a counter at 0 (the
// engine extrapolates no further than the counter's zero, s itself, and
// was already exact).

// settleEdges sets the edges of samples, at the indices at, to the values
// that make rate and increase over windows of rng starting at their
// buckets' starts read the exact increase (see above). samples is one
// series' samples in time order; at is in increasing order.
func settleEdges(samples sampleList, at []int, rng int64) {
	last, brk := 0, 0 // the window's last sample; the last sample before it that breaks a run
	for _, i := range at {
		e := &samples[i]
		if e.fh != nil || !(e.f > 0) {
			continue
		}
		start := e.t - 1
		end := start + rng
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
