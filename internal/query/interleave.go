package query

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// Interleaved steps for rate and increase. At a step shorter than its
// range, rate's windows overlap: `rate(x[1m])` at a 1 s step over 1 s data
// walks each window's 60 samples at every step (the engine's loop over a
// window looking for counter resets was 42–49 % of bench/history's 1 h at
// 1 s query, its reading the samples ~30 %), and every sample is the first
// or the last of some window, so no sample can be left out of one query.
//
// But a step depends only on its own window (the step cache's premise), so
// the query's steps are dealt out to m = ⌈range/step⌉ queries of the same
// engine, query k evaluating the steps start + k·step, start + (k+m)·step,
// …: at a step of m·step ≥ range its windows do not overlap, and each
// window can be handed to the engine thinned to its first and last sample
// where the engine's extrapolatedRate provably answers the same from them:
//   - the answer reads the window's first and last sample (kept), the value
//     before every drop (a window with a drop or a NaN is handed whole), and
//     the number of samples only through their average interval, in the test
//     whether the first and last samples lie within 1.1 average intervals of
//     the window's edges; a window that fails that test as the engine would
//     make it (same operations on the same values, here) is handed whole, and
//     one that passes it passes it thinned (fewer samples over the same span
//     make the average longer);
//   - staleness markers are never in a window (the engine skips them);
//   - a native histogram, anywhere in what a selector reads, makes the query
//     run as before.
//
// The samples are read from storage once, for all m queries (a query reads
// them decoded, from memory), and the answers' points are joined by series:
// the whole query's answer, bit for bit (TestInterleaveEqualsEngine). Only
// queries whose every selector is such a rate or increase are dealt out (a
// plain selector's lookback or another function's window would be read at
// m·step), with no subquery, @, range() or tier matcher, at a step under a
// minute (raw data answers: the tiers' resolution is a minute or more),
// and only where the windows hold enough samples for thinning to pay
// (minWindowSamples).
// As with shards, the engine's limits apply to each of the m queries.

// thinFuncs are the functions whose windows are thinned.
var thinFuncs = map[string]bool{"rate": true, "increase": true}

// Interleaving sizes: the fewest steps each of the m queries must have,
// and the default bound on the bytes of decoded samples one query may hold
// (16 per sample: 1000 series × 1 h of 1 s data is 55 MiB, about what the
// engine holds for the whole query's per-series rates); a query reading
// more runs as before.
//
// minWindowSamples: the average samples per window of the first
// densitySeries series under which a query runs as before. The engine
// reads a window that does not overlap the last one (each step of the m
// queries) at about twice the cost of sliding one by a sample, and thinning
// saves its rate loop over the window: it pays for long windows only.
// BenchmarkInterleaveDensity (200 series, 1 h at a 1 s step, CPU ms per
// query interleaved / whole, load 14-17): 1 s data under rate[5m] (300 per
// window) 228-343 / 661-689; under rate[1m] (60) 273-304 / 232-335; 2 s data
// under rate[1m] (30) 233-252 / 105-188; 5 s (12) 201-240 / 68-116. Where
// the whole query slides its windows by under minStepSamples samples a step
// (its step under 4 sample intervals), windows must hold
// minSlidingWindowSamples: BenchmarkRawHourPath's served 1 s query (60 per
// window, sliding by one) took 1615/1646/1472 ms of CPU interleaved against
// 1171/1504/1293 whole on two goroutines (each in a process of its own, load
// 12), its 15 s query (sliding by 15) 267/280/359 against 427/287/394.
const (
	minWindowSamples           = 48
	minStepSamples             = 4
	minSlidingWindowSamples    = 150
	densitySeries              = 16
	minInterleaveSteps         = 8
	DefaultRateMaxDecodedBytes = 64 << 20
	bytesPerThinnedPoint       = 16
)

// thinSelector is one `rate(sel[range])` of a query, as Select sees it.
type thinSelector struct {
	matchers []*labels.Matcher
	rng, off int64 // ms
	fn       string
}

// key names the selector's read: its matchers, range and offset.
func (s thinSelector) key() string {
	return selectorKey(s.matchers, s.rng, s.off)
}

// selectorKey names a read of matchers ms (in any order: the engine may
// hand them to Select in another than the parser's) over range rng at
// offset off.
func selectorKey(ms []*labels.Matcher, rng, off int64) string {
	strs := make([]string, len(ms))
	for i, m := range ms {
		strs[i] = m.String()
	}
	slices.Sort(strs)
	var b strings.Builder
	for _, m := range strs {
		b.WriteString(m)
		b.WriteByte(0)
	}
	b.WriteString(strconv.FormatInt(rng, 10))
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(off, 10))
	return b.String()
}

// planInterleave returns the selectors of expr and m, the number of
// queries its steps are dealt out to, when expr over start..end at step may
// be interleaved (see above); false if not.
func (a *API) planInterleave(expr string, start, end time.Time, step time.Duration) ([]thinSelector, int, bool) {
	if a.noInterleave || a.thinMaxBytes.Load() <= 0 || step <= 0 || step >= maxShardStep || !cacheable(a.parser, expr) {
		return nil, 0, false
	}
	e, err := a.parser.ParseExpr(expr)
	if err != nil {
		return nil, 0, false
	}
	var sels []thinSelector
	seen := map[string]bool{}
	ok := true
	var maxRange int64
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		if !ok {
			return nil
		}
		switch n := n.(type) {
		case *parser.SubqueryExpr:
			ok = false
		case *parser.VectorSelector:
			// The selector of a matrix selector that is the argument of
			// rate or increase.
			if len(path) < 2 {
				ok = false
				return nil
			}
			ms, isMatrix := path[len(path)-1].(*parser.MatrixSelector)
			var call *parser.Call
			for i := len(path) - 2; i >= 0; i-- {
				if _, paren := path[i].(*parser.ParenExpr); paren {
					continue
				}
				call, _ = path[i].(*parser.Call)
				break
			}
			if !isMatrix || call == nil || !thinFuncs[call.Func.Name] || len(call.Args) != 1 ||
				n.Timestamp != nil || n.StartOrEnd != 0 || n.Anchored || n.Smoothed || ms.Range <= 0 {
				ok = false
				return nil
			}
			for _, m := range n.LabelMatchers {
				if strings.HasPrefix(m.Name, "__") && m.Name != model.MetricNameLabel {
					ok = false // __tier__, __agg__, __grid__: the tiers' markers
					return nil
				}
			}
			s := thinSelector{matchers: n.LabelMatchers, rng: ms.Range.Milliseconds(), off: n.OriginalOffset.Milliseconds(), fn: call.Func.Name}
			maxRange = max(maxRange, s.rng)
			if k := s.key(); !seen[k] {
				seen[k] = true
				sels = append(sels, s)
			}
		}
		return nil
	})
	if !ok || len(sels) == 0 {
		return nil, 0, false
	}
	st := step.Milliseconds()
	m := int((maxRange + st - 1) / st)
	steps := int(end.Sub(start)/step) + 1
	if steps < m*minInterleaveSteps {
		return nil, 0, false
	}
	return sels, m, true
}

// errNotThinnable: what a selector reads cannot be thinned (a native
// histogram) or is larger than the bound; the query runs as before.
var errNotThinnable = errors.New("not thinnable")

// thinStore holds the decoded samples of an interleaved query's selectors.
type thinStore struct {
	sets     map[string]*thinSet
	closers  []storage.Querier
	bytes    int
	maxBytes int
	// anyDensity: no minWindowSamples (benchmarks).
	anyDensity bool
	dec        thinDecoder
	// more: the decoders of loadParallel's other workers.
	more []*thinDecoder
}

// thinDecoder decodes series' float samples.
type thinDecoder struct {
	// scratchT and scratchF: a series' samples as they are decoded, where
	// not in place.
	scratchT []int64
	scratchF []float64
	// arena: the series' samples, carved out of blocks reused from query
	// to query (thinArenas).
	arena *thinArena
	// lastLen: the samples of the series decoded last.
	lastLen int
	// scratchRuns: a series' runs as they are read (decodeRuns).
	scratchRuns []sampleRun
}

// thinArena holds the decoded samples of a store in blocks. Fresh memory
// for every query (58 MB for bench/history's) cost more than decoding it:
// its pages were faulted in anew each time.
type thinArena struct {
	ts  [][]int64
	fs  [][]float64
	cur int // block being filled
	// runs: directSeries' runs (decodeRuns) in blocks, runCur the block
	// being filled. A series' runs appended to a slice of its own (grown
	// five times for an hour of 120-sample chunks) were 5 % of the 15 s
	// query's CPU in BenchmarkRawHourPath.
	runs   [][]sampleRun
	runCur int
}

const (
	thinArenaBlock = 1 << 16 // samples
	thinRunBlock   = 1 << 12 // runs
)

var thinArenas = sync.Pool{New: func() any { return &thinArena{} }}

// take copies t and f into the arena and returns the copies.
func (a *thinArena) take(t []int64, f []float64) ([]int64, []float64) {
	n := len(t)
	if n > thinArenaBlock/4 {
		return slices.Clone(t), slices.Clone(f)
	}
	for {
		if a.cur == len(a.ts) {
			a.ts = append(a.ts, make([]int64, 0, thinArenaBlock))
			a.fs = append(a.fs, make([]float64, 0, thinArenaBlock))
		}
		bt, bf := a.ts[a.cur], a.fs[a.cur]
		if len(bt)+n <= cap(bt) {
			a.ts[a.cur], a.fs[a.cur] = append(bt, t...), append(bf, f...)
			return a.ts[a.cur][len(bt) : len(bt)+n : len(bt)+n], a.fs[a.cur][len(bf) : len(bf)+n : len(bf)+n]
		}
		a.cur++
	}
}

// room returns empty slices over the rest of the arena's block being
// filled, moving to a fresh block when fewer than want samples are left,
// for a series to be decoded in place; keep then takes what was written.
func (a *thinArena) room(want int) ([]int64, []float64) {
	for {
		if a.cur == len(a.ts) {
			a.ts = append(a.ts, make([]int64, 0, thinArenaBlock))
			a.fs = append(a.fs, make([]float64, 0, thinArenaBlock))
		}
		bt, bf := a.ts[a.cur], a.fs[a.cur]
		if cap(bt)-len(bt) >= want {
			return bt[len(bt):len(bt):cap(bt)], bf[len(bf):len(bf):cap(bf)]
		}
		a.cur++
	}
}

// keep takes the n samples written into the slices room returned.
func (a *thinArena) keep(n int) {
	a.ts[a.cur] = a.ts[a.cur][:len(a.ts[a.cur])+n]
	a.fs[a.cur] = a.fs[a.cur][:len(a.fs[a.cur])+n]
}

// takeRuns copies rs into the arena and returns the copy.
func (a *thinArena) takeRuns(rs []sampleRun) []sampleRun {
	n := len(rs)
	if n > thinRunBlock/4 {
		return slices.Clone(rs)
	}
	for {
		if a.runCur == len(a.runs) {
			a.runs = append(a.runs, make([]sampleRun, 0, thinRunBlock))
		}
		b := a.runs[a.runCur]
		if len(b)+n <= cap(b) {
			a.runs[a.runCur] = append(b, rs...)
			return a.runs[a.runCur][len(b) : len(b)+n : len(b)+n]
		}
		a.runCur++
	}
}

// reset empties the arena for the next store (its runs cleared: they
// point into the decoded-sample cache's entries).
func (a *thinArena) reset() {
	for i := range a.ts {
		a.ts[i], a.fs[i] = a.ts[i][:0], a.fs[i][:0]
	}
	a.cur = 0
	for i := range a.runs {
		clear(a.runs[i])
		a.runs[i] = a.runs[i][:0]
	}
	a.runCur = 0
}

// thinSet is one selector's series, in the order storage returned them.
type thinSet struct {
	series []*thinSeries
	annos  annotations.Annotations
}

// thinSeries is one series' float samples (staleness markers left out) and
// the indices of its irregular samples: a NaN, or a value below the one
// before it (a drop).
type thinSeries struct {
	lset labels.Labels
	t    []int64
	f    []float64
	irr  []int32
}

// load reads sel over the steps start..end at step (the hints the engine
// gives Select for it) from q into s.
func (s *thinStore) load(ctx context.Context, q storage.Queryable, sel thinSelector, start, end, step int64) error {
	hints := &storage.SelectHints{Start: start - sel.off - sel.rng + 1, End: end - sel.off, Step: step, Range: sel.rng, Func: sel.fn}
	qr, err := q.Querier(hints.Start, hints.End)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, qr)
	set := qr.Select(ctx, false, hints, sel.matchers...)
	out := &thinSet{}
	var it chunkenc.Iterator
	// Thinning pays where windows hold enough samples (see minWindowSamples):
	// decided on the first densitySeries series, or all if fewer.
	samples := 0
	windows := float64(hints.End-hints.Start+1) / float64(sel.rng)
	dense := func(samples, series int) bool {
		w := float64(samples) / (windows * float64(series)) // samples per window
		perStep := w * float64(step) / float64(sel.rng)     // new samples per step of the whole query
		return s.anyDensity || w >= minWindowSamples && (perStep >= minStepSamples || w >= minSlidingWindowSamples)
	}
	for set.Next() {
		var ts *thinSeries
		var err error
		ts, it, err = s.dec.decode(set.At(), it)
		if err != nil {
			return err
		}
		s.bytes += bytesPerThinnedPoint * len(ts.t)
		if s.bytes > s.maxBytes {
			return errNotThinnable
		}
		out.series = append(out.series, ts)
		samples += len(ts.t)
		if len(out.series) == densitySeries && !dense(samples, len(out.series)) {
			return errNotThinnable
		}
	}
	if err := set.Err(); err != nil {
		return err
	}
	if len(out.series) < densitySeries && !dense(samples, len(out.series)) {
		return errNotThinnable
	}
	out.annos = set.Warnings()
	s.sets[sel.key()] = out
	return nil
}

func (s *thinStore) close() {
	for _, c := range s.closers {
		c.Close()
	}
	s.dec.release()
	for _, d := range s.more {
		d.release()
	}
	s.more = nil
}

// decode reads series' float samples (staleness markers left out) with
// it (reused; returned for the next series) into a thinSeries; a native
// histogram is errNotThinnable. A series is decoded into scratch slices,
// then copied to its own of its size (appending to its own grew them a
// dozen times: a fifth of the interleaved query's CPU).
func (d *thinDecoder) decode(series storage.Series, it chunkenc.Iterator) (*thinSeries, chunkenc.Iterator, error) {
	if d.arena == nil {
		d.arena = thinArenas.Get().(*thinArena)
	}
	ts := &thinSeries{lset: series.Labels(), t: d.scratchT[:0], f: d.scratchF[:0]}
	// Decoded in place into the arena where the last series' length
	// (a guess at this one's) leaves room; copied there from scratch if
	// it outgrew it, or the guess was too large for a block.
	inPlace := false
	if want := d.lastLen + d.lastLen/8 + 16; want <= thinArenaBlock/4 {
		ts.t, ts.f = d.arena.room(want)
		inPlace = true
	}
	room := cap(ts.t)
	it = series.Iterator(it)
	prev := math.NaN()
	runs := floatRunsOf(it)
samples:
	for {
		if runs != nil {
			// Samples decoded already (storage.DecodedCache), a run
			// at a time, as Next would read them one by one. In a
			// rising run only the first sample can be irregular, and
			// none is a staleness marker: the rest is copied whole
			// (the loop below was 15 % of a direct query's CPU).
			if rt, rf, up, _, _ := runs(); len(rt) > 0 {
				if up {
					if rf[0] < prev {
						ts.irr = append(ts.irr, int32(len(ts.t)))
					}
					prev = rf[len(rf)-1]
					ts.t = append(ts.t, rt...)
					ts.f = append(ts.f, rf...)
					continue
				}
				for i, f := range rf {
					if value.IsStaleNaN(f) {
						continue
					}
					if math.IsNaN(f) || f < prev {
						ts.irr = append(ts.irr, int32(len(ts.t)))
					}
					prev = f
					ts.t = append(ts.t, rt[i])
					ts.f = append(ts.f, f)
				}
				continue
			}
		}
		switch it.Next() {
		case chunkenc.ValNone:
			break samples
		case chunkenc.ValFloat:
			t, f := it.At()
			if value.IsStaleNaN(f) {
				continue
			}
			if math.IsNaN(f) || f < prev {
				ts.irr = append(ts.irr, int32(len(ts.t)))
			}
			prev = f
			ts.t = append(ts.t, t)
			ts.f = append(ts.f, f)
		default:
			return nil, it, errNotThinnable
		}
	}
	if err := it.Err(); err != nil {
		return nil, it, err
	}
	if len(ts.t) > math.MaxInt32 {
		return nil, it, errNotThinnable
	}
	d.lastLen = len(ts.t)
	n := len(ts.t)
	if inPlace && cap(ts.t) == room && cap(ts.f) == room {
		d.arena.keep(n)
		ts.t, ts.f = ts.t[:n:n], ts.f[:n:n]
		return ts, it, nil
	}
	if !inPlace {
		d.scratchT, d.scratchF = ts.t, ts.f
	}
	ts.t, ts.f = d.arena.take(ts.t, ts.f)
	return ts, it, nil
}

// release hands the decoder's arena back for another query.
func (d *thinDecoder) release() {
	if d.arena != nil {
		d.arena.reset()
		thinArenas.Put(d.arena)
		d.arena = nil
	}
}

// thinQueryable is the store as one of the m queries reads it: the query
// whose first step is at start.
type thinQueryable struct {
	s     *thinStore
	start int64
}

func (q thinQueryable) Querier(int64, int64) (storage.Querier, error) { return q, nil }

func (thinQueryable) Close() error { return nil }

func (thinQueryable) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errors.New("interleaved query: label values not read")
}

func (thinQueryable) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, errors.New("interleaved query: label names not read")
}

// Select implements storage.Querier: the selector's windows (E-range, E],
// E = hints.Start-1+range + j·hints.Step up to hints.End (its first window
// ends at the query's first step less the selector's offset), thinned.
func (q thinQueryable) Select(_ context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if hints == nil || hints.Range <= 0 || hints.Step < hints.Range {
		return storage.ErrSeriesSet(errors.New("interleaved query: a selector read otherwise than planned"))
	}
	first := hints.Start - 1 + hints.Range
	set, ok := q.s.sets[selectorKey(ms, hints.Range, q.start-first)]
	if !ok {
		return storage.ErrSeriesSet(errors.New("interleaved query: a selector not read"))
	}
	return newPointsSet(thinWindows{set: set, first: first, step: hints.Step, rng: hints.Range, end: hints.End}, set.annos)
}

// thinWindows is a thinSet's series as one of the m queries reads them.
type thinWindows struct {
	set                   *thinSet
	first, step, rng, end int64
}

func (w thinWindows) len() int                   { return len(w.set.series) }
func (w thinWindows) labels(i int) labels.Labels { return w.set.series[i].lset }

// points appends series i's samples in the query's windows to out, each
// window thinned to its first and last sample where that gives the
// engine's rate and increase the same answer (see above), else whole.
func (w thinWindows) points(i int, out fpoints) fpoints {
	src := w.set.series[i]
	lo, irr, gap, n := 0, 0, 0, 0
	for e := w.first; e <= w.end; e += w.step {
		start := after(src.t, lo, gap, e-w.rng)
		gap = start - lo
		lo = start
		hi := after(src.t, lo, n, e)
		n = hi - lo
		if n == 0 {
			continue
		}
		for irr < len(src.irr) && int(src.irr[irr]) < lo {
			irr++
		}
		whole := n <= 2 || irr < len(src.irr) && int(src.irr[irr]) < hi
		if !whole {
			// extrapolatedRate's test, as it makes it.
			firstT, lastT := src.t[lo], src.t[hi-1]
			durationToStart := float64(firstT-(e-w.rng)) / 1000
			durationToEnd := float64(e-lastT) / 1000
			sampledInterval := float64(lastT-firstT) / 1000
			averageDurationBetweenSamples := sampledInterval / float64(n-1)
			extrapolationThreshold := averageDurationBetweenSamples * 1.1
			whole = durationToStart >= extrapolationThreshold || durationToEnd >= extrapolationThreshold
		}
		if whole {
			for i := lo; i < hi; i++ {
				out = append(out, fpoint{t: src.t[i], f: src.f[i]})
			}
		} else {
			out = append(out, fpoint{t: src.t[lo], f: src.f[lo]}, fpoint{t: src.t[hi-1], f: src.f[hi-1]})
		}
		lo = hi
	}
	return out
}

// pointsSet is a SeriesSet of series made in memory: src's, each one's
// samples made when its iterator is asked for, into a buffer reused from
// series to series (the engine reads a selector's series one after the
// other: thinned windows, direct parts' answers).
type pointsSet struct {
	src   pointsSource
	annos annotations.Annotations
	i     int
	buf   fpoints
}

// pointsSource is the series a pointsSet hands out.
type pointsSource interface {
	len() int
	labels(i int) labels.Labels
	// points appends series i's samples to buf and returns it.
	points(i int, buf fpoints) fpoints
}

func newPointsSet(src pointsSource, annos annotations.Annotations) *pointsSet {
	return &pointsSet{src: src, annos: annos, i: -1}
}

func (s *pointsSet) Next() bool {
	s.i++
	return s.i < s.src.len()
}

func (s *pointsSet) At() storage.Series { return pointsSeries{s: s, i: s.i} }

func (s *pointsSet) Err() error { return nil }

func (s *pointsSet) Warnings() annotations.Annotations { return s.annos }

type pointsSeries struct {
	s *pointsSet
	i int
}

func (p pointsSeries) Labels() labels.Labels { return p.s.src.labels(p.i) }

func (p pointsSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	p.s.buf = p.s.src.points(p.i, p.s.buf[:0])
	if r, ok := it.(interface{ Reset(storage.Samples) }); ok {
		r.Reset(p.s.buf)
		return it
	}
	return storage.NewListSeriesIterator(p.s.buf)
}

// after is the first index i ≥ from of ts with ts[i] > t (len(ts) if none),
// looked for first at from+guess (samples at a steady interval: where the
// last window ended, as far on), then by galloping from from.
func after(ts []int64, from, guess int, t int64) int {
	if from >= len(ts) || ts[from] > t {
		return from
	}
	if g := from + guess; guess > 0 && g <= len(ts) && ts[g-1] <= t {
		// ts[g-1] <= t: a few steps on, or the gallop from there.
		for i := 0; i < 4; i++ {
			if g == len(ts) || ts[g] > t {
				return g
			}
			g++
		}
		from = g - 1
	}
	// ts[from] <= t: gallop.
	lo, step := from, 1
	hi := from + step
	for hi < len(ts) && ts[hi] <= t {
		lo = hi
		step *= 2
		hi = lo + step
	}
	hi = min(hi, len(ts))
	// ts[lo] <= t, and ts[hi] > t or hi == len(ts).
	return lo + 1 + sort.Search(hi-lo-1, func(i int) bool { return ts[lo+1+i] > t })
}

// fpoint is a float sample; fpoints hands them to the engine without
// allocating (Get returns a pointer into the slice).
type fpoint struct {
	t int64
	f float64
}

func (p *fpoint) T() int64                      { return p.t }
func (p *fpoint) ST() int64                     { return 0 }
func (p *fpoint) F() float64                    { return p.f }
func (p *fpoint) H() *histogram.Histogram       { return nil }
func (p *fpoint) FH() *histogram.FloatHistogram { return nil }
func (p *fpoint) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (p *fpoint) Copy() chunks.Sample           { c := *p; return &c }

type fpoints []fpoint

func (p fpoints) Get(i int) chunks.Sample { return &p[i] }
func (p fpoints) Len() int                { return len(p) }

// evalInterleaved runs expr over start..end at step dealt out to m queries
// (see above) on up to a.workers goroutines; done is false when it could
// not (a selector reads a native histogram or more than the bound): the
// caller evaluates the query as before.
func (a *API) evalInterleaved(ctx context.Context, opts promql.QueryOpts, expr string, sels []thinSelector, m int, start, end time.Time, step time.Duration) (_ promql.Matrix, _ annotations.Annotations, release func(), done bool, _ error) {
	store := &thinStore{sets: map[string]*thinSet{}, maxBytes: int(a.thinMaxBytes.Load()), anyDensity: a.thinAnyDensity}
	s, e, st := start.UnixMilli(), end.UnixMilli(), step.Milliseconds()
	for _, sel := range sels {
		if err := store.load(ctx, a.yielding(), sel, s, e, st); err != nil {
			store.close()
			if errors.Is(err, errNotThinnable) {
				return nil, nil, nil, false, nil
			}
			return nil, nil, nil, true, err
		}
	}
	queries := make([]promql.Query, 0, m)
	closeAll := func() {
		for _, q := range queries {
			q.Close()
		}
		store.close()
	}
	answered := false
	defer func() {
		if !answered {
			closeAll()
		}
	}()
	for k := range m {
		from := start.Add(time.Duration(k) * step)
		var q storage.Queryable = thinQueryable{s: store, start: from.UnixMilli()}
		if !a.noYield {
			q = yieldQueryable{q: q}
		}
		qry, err := a.engine.NewRangeQuery(ctx, q, opts, expr, from, end, time.Duration(m)*step)
		if err != nil {
			return nil, nil, nil, true, buildError{err}
		}
		queries = append(queries, qry)
	}
	workers, rel := 1, func() {}
	if a.workers > 1 {
		workers, rel = a.shardWorkers(ctx)
	}
	defer rel()
	results := a.execAll(ctx, queries, workers)
	steps := int(end.Sub(start)/step) + 1
	var annos annotations.Annotations
	var errs []error
	bySeries := map[string]int{}
	var out promql.Matrix
	for _, res := range results {
		annos.Merge(res.Warnings)
		if res.Err != nil {
			errs = append(errs, res.Err)
			continue
		}
		mat, err := res.Matrix()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ser := range mat {
			key := ser.Metric.String()
			i, ok := bySeries[key]
			if !ok {
				bySeries[key] = len(out)
				// Room for every step: the other queries' points follow.
				var floats []promql.FPoint
				if len(ser.Floats) > 0 {
					floats = make([]promql.FPoint, 0, steps)
				}
				out = append(out, promql.Series{Metric: ser.Metric, DropName: ser.DropName,
					Floats: append(floats, ser.Floats...), Histograms: slices.Clone(ser.Histograms)})
				continue
			}
			out[i].Floats = append(out[i].Floats, ser.Floats...)
			out[i].Histograms = append(out[i].Histograms, ser.Histograms...)
		}
	}
	if len(errs) > 0 {
		return nil, annos, nil, true, firstCause(errs)
	}
	for i := range out {
		slices.SortFunc(out[i].Floats, func(a, b promql.FPoint) int { return cmpInt64(a.T, b.T) })
		slices.SortFunc(out[i].Histograms, func(a, b promql.HPoint) int { return cmpInt64(a.T, b.T) })
	}
	sort.Sort(out)
	answered = true
	return out, annos, closeAll, true, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
