package query

import (
	"math"
	"slices"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// directSeries is one series' float samples as direct evaluation reads
// them (staleness markers left out), in runs in time order, and the
// indices, counted over the runs, of its irregular samples: a NaN, or a
// value below the one before it (a drop).
//
// A run is read in place where it can be: a chunk's samples as the
// decoded-sample cache keeps them (never changed once kept), when they hold
// no staleness marker. Copying every sample into one slice per series
// (58 MB for bench/history's hour) was an eighth of the 1 s query's CPU,
// nearly all of it memory traffic. Other samples (a chunk decoded for the
// query only, a run with staleness markers, a read without the cache) are
// copied into the decoder's arena, each stretch of them a run.
type directSeries struct {
	lset labels.Labels
	runs []sampleRun // none empty
	n    int         // samples
	irr  []int32
	// every: the interval of the samples where they are all evenly
	// spaced (two or more), the k-th at t0 + k·every; else 0.
	every, t0 int64
}

// spacing follows a series' sample times as they are read, run by run or
// one at a time, to tell whether they are all evenly spaced.
type spacing struct {
	every, first, last int64
	n                  int
	uneven             bool
}

// add is one sample at t.
func (s *spacing) add(t int64) {
	switch s.n {
	case 0:
		s.first = t
	case 1:
		s.every = t - s.last
	default:
		s.uneven = s.uneven || t-s.last != s.every
	}
	s.last = t
	s.n++
}

// addRun is the samples at t, evenly spaced by every where every > 0.
func (s *spacing) addRun(t []int64, every int64) {
	if len(t) == 1 || every <= 0 {
		for _, x := range t {
			s.add(x)
		}
		return
	}
	s.add(t[0])
	s.add(t[1])
	s.uneven = s.uneven || every != s.every
	s.last, s.n = t[len(t)-1], s.n+len(t)-2
}

// grid is the series' every and t0 (directSeries).
func (s *spacing) grid() (every, t0 int64) {
	if s.n < 2 || s.uneven || s.every <= 0 {
		return 0, 0
	}
	return s.every, s.first
}

// sampleRun is a run of a series' samples.
type sampleRun struct {
	t []int64
	f []float64
}

// decodeRuns reads series' float samples (staleness markers left out) with
// it (reused; returned for the next series) into a directSeries; a native
// histogram is errNotThinnable.
//
// Read in place at every step. Until 2026-12-06 a series was copied whole
// into one run where a step passed four samples or more (bench/history's
// 15 s query over 1 s data): directRun's edges walked the cache's runs one
// sample at a time, three times as long as over one contiguous slice. They
// now skip a step's samples at once (directRun), and the copy (memmove,
// allocation and clearing: a fifth of the 15 s query's CPU) is gone.
func (d *thinDecoder) decodeRuns(series storage.Series, it chunkenc.Iterator) (*directSeries, chunkenc.Iterator, error) {
	it = series.Iterator(it)
	runs := floatRunsOf(it)
	if runs == nil {
		// Decoded whole into one run.
		ts, it, err := d.decode(series, it)
		if err != nil {
			return nil, it, err
		}
		ds := &directSeries{lset: ts.lset, n: len(ts.t), irr: ts.irr}
		if len(ts.t) > 0 {
			ds.runs = []sampleRun{{t: ts.t, f: ts.f}}
		}
		var sp spacing
		sp.addRun(ts.t, 0)
		ds.every, ds.t0 = sp.grid()
		return ds, it, nil
	}
	rt, rf, up, kept, every := runs()
	var sp spacing
	if d.arena == nil {
		d.arena = thinArenas.Get().(*thinArena)
	}
	ds := &directSeries{lset: series.Labels()}
	// pt, pf: samples to be copied, pending a run of their own; rs: the
	// runs, copied into the arena at the end.
	pt, pf, rs := d.scratchT[:0], d.scratchF[:0], d.scratchRuns[:0]
	flush := func() {
		if len(pt) > 0 {
			t, f := d.arena.take(pt, pf)
			rs = append(rs, sampleRun{t: t, f: f})
			pt, pf = pt[:0], pf[:0]
		}
	}
	prev := math.NaN()
	add := func(t int64, f float64) {
		if math.IsNaN(f) || f < prev {
			ds.irr = append(ds.irr, int32(ds.n))
		}
		prev = f
		pt, pf = append(pt, t), append(pf, f)
		sp.add(t)
		ds.n++
	}
samples:
	for ; ; rt, rf, up, kept, every = runs() {
		switch {
		case len(rt) > 0 && kept && (up || !slices.ContainsFunc(rf, value.IsStaleNaN)):
			flush()
			if up { // only its first sample can be irregular
				if rf[0] < prev {
					ds.irr = append(ds.irr, int32(ds.n))
				}
			} else {
				for i, f := range rf {
					if math.IsNaN(f) || f < prev {
						ds.irr = append(ds.irr, int32(ds.n+i))
					}
					prev = f
				}
			}
			prev = rf[len(rf)-1]
			rs = append(rs, sampleRun{t: rt, f: rf})
			sp.addRun(rt, every)
			ds.n += len(rt)
			continue
		case len(rt) > 0:
			for i, f := range rf {
				if !value.IsStaleNaN(f) {
					add(rt[i], f)
				}
			}
			continue
		}
		switch it.Next() {
		case chunkenc.ValNone:
			break samples
		case chunkenc.ValFloat:
			if t, f := it.At(); !value.IsStaleNaN(f) {
				add(t, f)
			}
		default:
			return nil, it, errNotThinnable
		}
	}
	if err := it.Err(); err != nil {
		return nil, it, err
	}
	if ds.n > math.MaxInt32 {
		return nil, it, errNotThinnable
	}
	flush()
	ds.every, ds.t0 = sp.grid()
	if len(rs) > 0 {
		ds.runs = d.arena.takeRuns(rs)
	}
	clear(rs) // they point into the cache's entries
	d.scratchT, d.scratchF, d.scratchRuns = pt, pf, rs[:0]
	return ds, it, nil
}

// runCursor is a place in a directSeries' samples: the i-th sample of run
// r, the series' k-th. Past the last sample it is run len(runs), 0.
type runCursor struct{ r, i, k int }

// seek returns the cursor at s's first sample after t: the run found by
// a binary search (each run's last sample is on memory of its own, most
// often out of the processor's caches: walked run by run, the second
// worker's seeks past half the hour were 3 % of the 15 s query).
func (s *directSeries) seek(t int64) runCursor {
	c := runCursor{}
	c.r = sort.Search(len(s.runs), func(r int) bool { return s.runs[r].t[len(s.runs[r].t)-1] > t })
	for r := range c.r {
		c.k += len(s.runs[r].t)
	}
	if c.r < len(s.runs) {
		ts := s.runs[c.r].t
		c.i = sort.Search(len(ts), func(i int) bool { return ts[i] > t })
		c.k += c.i
	}
	return c
}

// back is the cursor at the sample before c (c.k > 0).
func (s *directSeries) back(c runCursor) runCursor {
	if c.i > 0 {
		return runCursor{r: c.r, i: c.i - 1, k: c.k - 1}
	}
	return runCursor{r: c.r - 1, i: len(s.runs[c.r-1].t) - 1, k: c.k - 1}
}

// floorDiv is ⌊a / b⌋ (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// run returns the samples of c's run (none past the last).
func (s *directSeries) run(c runCursor) ([]int64, []float64) {
	if c.r < len(s.runs) {
		return s.runs[c.r].t, s.runs[c.r].f
	}
	return nil, nil
}

// before returns the sample before c (c.k > 0).
func (s *directSeries) before(c runCursor) (int64, float64) {
	if c.i > 0 {
		return s.runs[c.r].t[c.i-1], s.runs[c.r].f[c.i-1]
	}
	r := s.runs[c.r-1]
	return r.t[len(r.t)-1], r.f[len(r.f)-1]
}

// resets adds to result, as the engine's extrapolatedRate walks a window
// for counter resets, the value before every drop among the n samples
// from c on.
func (s *directSeries) resets(c runCursor, n int, result float64) float64 {
	f := s.runs[c.r].f
	prev := f[c.i]
	for i, r := c.i, c.r; n > 1; n-- {
		if i++; i == len(f) {
			r, i = r+1, 0
			f = s.runs[r].f
		}
		if f[i] < prev {
			result += prev
		}
		prev = f[i]
	}
	return result
}
