// Package span finds the spans of time a store's samples cover: from a
// sample to the next when they are at most a reach apart (PromQL's
// lookback, 5m), so a gap longer than the reach is not covered, nor the
// reach after the last sample before it (that counted up to 5 minutes
// after each gap as data, t-user11 #6); Read reads chunk time ranges where
// the store gives chunks, so a month of per-second samples is read without
// decoding them (the trends' partial hours). ReadOwn judges each gap by
// the series' own cadence (Hole), so a 112 s hole in samples 1 s apart is
// not data (the SLA reporter's coverage).
package span

import (
	"cmp"
	"context"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// Read returns the disjoint spans of time, ascending (Unix ms, [from, to)),
// that samples in (start, end] of any series matching one of sels cover:
// from a run's first sample to its last, a run's samples at most reach
// (ms) apart; to is the run's last sample (a lone sample covers nothing).
// Where the newest span is the data still coming in, the caller may take
// it on to its end (Extend). It reads chunk time ranges
// where qa gives chunks (fromChunks), every sample otherwise (fromSamples);
// both give the same spans.
func Read(ctx context.Context, qa storage.Queryable, sels [][]*labels.Matcher, start, end, reach int64) ([][2]int64, error) {
	if cq, ok := qa.(storage.ChunkQueryable); ok {
		return fromChunks(ctx, cq, sels, start, end, reach)
	}
	return fromSamples(ctx, qa, sels, start, end, reach)
}

// The rule ReadOwn counts data by: a series' own cadence says what a hole
// is. The time from one sample to the next is data when that gap is at
// most MaxGap (PromQL's lookback: past it an instant query of the series
// has no value) and at most HoleFactor times the series' mean interval
// over the CadenceRange up to the gap's end: g·n <= HoleFactor·CadenceRange,
// n the series' samples in (end−CadenceRange, end], the one ending the gap
// included. So a 112 s hole in samples 1 s apart is not data (n ≈ 490:
// under 3.7 s is), one or two missed samples in a row are (a gap of 3 s
// at 1 s, 45 s at 15 s), and a series pushed every minute is covered
// between its pushes; one pushed every 10 minutes is not (over MaxGap: its
// instant value and every 5m window lapse between pushes). The range is
// twice MaxGap so that the samples before a gap of up to MaxGap still
// give the cadence (over a range of MaxGap a 299 s hole in 1 s samples
// would leave n = 2). The mean over the range, not one neighbouring
// interval, so a second hole or a late sample beside a gap does not set
// the bar; the range, not the whole read, so a series whose cadence
// changes (the demo's 1m history, then 1 s live) is judged by the cadence
// it had there.
const (
	MaxGap        = 5 * 60 * 1000  // ms
	CadenceRange  = 10 * 60 * 1000 // ms
	HoleFactor    = 3
	cadenceBudget = HoleFactor * CadenceRange
)

// Hole reports whether a gap of g ms between two samples of a series, n
// of whose samples lie in the CadenceRange up to the gap's end (the one
// ending it included), is a hole by the rule above.
func Hole(g, n int64) bool {
	return g > MaxGap || g*n > cadenceBudget
}

// ReadOwn returns the disjoint spans of time, ascending (Unix ms, [from,
// to)), that the samples in (start, end] of the series matching sels
// cover, each series by its own cadence (Hole): from a run's first sample
// to its last, a run's gaps none a hole. It reads the samples of the
// CadenceRange before start too, for the cadence of the first gaps. With
// extend, a series' newest run is taken on to end while the time since its
// last sample is no hole yet by the same rule (n the samples in the range
// up to end): the next sample is not due yet; 4 minutes after samples 1 s
// apart stopped it is a hole, not data still coming in. Every sample is
// decoded: a chunk's time range does not say how far apart its samples
// are (1 ms per day of a 1 s series).
func ReadOwn(ctx context.Context, qa storage.Queryable, sels [][]*labels.Matcher, start, end int64, extend bool) ([][2]int64, error) {
	q, err := qa.Querier(start-CadenceRange+1, end)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	sp := spanner{}
	var it chunkenc.Iterator
	var recent []int64
	for _, ms := range sels {
		set := q.Select(ctx, false, nil, ms...)
		for set.Next() {
			it = set.At().Iterator(it)
			if recent, err = sp.series(it, start-CadenceRange, end, extend, recent[:0]); err != nil {
				return nil, err
			}
		}
		if err := set.Err(); err != nil {
			return nil, err
		}
	}
	return sp.merged(), nil
}

// series records the runs of one series' samples in (start, end] by its
// cadence (ReadOwn); recent is a buffer for the samples of the last
// CadenceRange.
func (s *spanner) series(it chunkenc.Iterator, start, end int64, extend bool, recent []int64) ([]int64, error) {
	head := 0 // recent[head:] are the samples in the range up to the newest
	inRange := func(to int64) int64 {
		for head < len(recent) && recent[head] <= to-CadenceRange {
			head++
		}
		if head > 4096 && head > len(recent)/2 {
			recent = recent[:copy(recent, recent[head:])]
			head = 0
		}
		return int64(len(recent) - head)
	}
	first, prev := int64(0), int64(0)
	have := false
	for vt := it.Seek(start + 1); vt != chunkenc.ValNone; vt = it.Next() {
		t := it.AtT()
		if t > end {
			break
		}
		if stale(it, vt) {
			// A staleness marker ends the series' run: it is no sample
			// (PromQL reads none at or after it), so neither the time up
			// to it nor the time after it is data.
			if have {
				s.spans = append(s.spans, [2]int64{first, prev})
				have = false
			}
			continue
		}
		if have && t == prev {
			continue
		}
		recent = append(recent, t)
		switch {
		case !have:
			first, have = t, true
		case Hole(t-prev, inRange(t)):
			s.spans = append(s.spans, [2]int64{first, prev})
			first = t
		}
		prev = t
	}
	if err := it.Err(); err != nil {
		return recent, err
	}
	if !have {
		return recent, nil
	}
	last := prev
	if extend && prev < end && !Hole(end-prev, inRange(end)) {
		last = end
	}
	s.spans = append(s.spans, [2]int64{first, last})
	return recent, nil
}

// stale reports whether the iterator's sample (of type vt) is a staleness
// marker.
func stale(it chunkenc.Iterator, vt chunkenc.ValueType) bool {
	switch vt {
	case chunkenc.ValFloat:
		_, v := it.At()
		return value.IsStaleNaN(v)
	case chunkenc.ValHistogram:
		_, h := it.AtHistogram(nil)
		return value.IsStaleNaN(h.Sum)
	case chunkenc.ValFloatHistogram:
		_, h := it.AtFloatHistogram(nil)
		return value.IsStaleNaN(h.Sum)
	}
	return false
}

// Extend takes the newest span on to end when its last sample is at most
// reach before end: the data is still coming in (the next sample is not
// due yet), so the time since that sample is not a gap.
func Extend(spans [][2]int64, end, reach int64) [][2]int64 {
	if n := len(spans); n > 0 && spans[n-1][1] < end && end-spans[n-1][1] <= reach {
		spans = slices.Clone(spans)
		spans[n-1][1] = end
	}
	return spans
}

// Covered is how long (ms) the spans cover of [from, to).
func Covered(spans [][2]int64, from, to int64) int64 {
	var held int64
	for _, sp := range spans {
		if sp[0] >= to {
			break
		}
		held += max(0, min(sp[1], to)-max(sp[0], from))
	}
	return held
}

// fromSamples is Read from every sample: over a 30d window of a per-second
// counter, 2.6 million samples per series.
func fromSamples(ctx context.Context, qa storage.Queryable, sels [][]*labels.Matcher, start, end, reach int64) ([][2]int64, error) {
	q, err := qa.Querier(start+1, end)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	sp := spanner{reach: reach}
	var it chunkenc.Iterator
	for _, ms := range sels {
		set := q.Select(ctx, false, nil, ms...)
		for set.Next() {
			it = set.At().Iterator(it)
			if err := sp.samples(it, start, end); err != nil {
				return nil, err
			}
		}
		if err := set.Err(); err != nil {
			return nil, err
		}
	}
	return sp.merged(), nil
}

// fromChunks is Read from chunk time ranges: a chunk that spans at most
// the reach has no hole inside, so it covers [MinTime, MaxTime)
// without being decoded (a chunk holds up to 120 samples: two minutes of a
// per-second series); a longer chunk's samples are read, as are those of a
// chunk reaching outside (start, end] (the TSDB's chunk querier trims
// chunks to its range; a remote read's need not).
func fromChunks(ctx context.Context, cq storage.ChunkQueryable, sels [][]*labels.Matcher, start, end, reach int64) ([][2]int64, error) {
	q, err := cq.ChunkQuerier(start+1, end)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	sp := spanner{reach: reach}
	var cit chunks.Iterator
	var it chunkenc.Iterator
	for _, ms := range sels {
		set := q.Select(ctx, false, nil, ms...)
		for set.Next() {
			cit = set.At().Iterator(cit)
			for cit.Next() {
				m := cit.At()
				if m.MinTime > start && m.MaxTime <= end && m.MaxTime-m.MinTime <= reach {
					sp.add(m.MinTime, m.MaxTime)
					continue
				}
				it = m.Chunk.Iterator(it)
				if err := sp.samples(it, start, end); err != nil {
					return nil, err
				}
			}
			if err := cit.Err(); err != nil {
				return nil, err
			}
		}
		if err := set.Err(); err != nil {
			return nil, err
		}
	}
	return sp.merged(), nil
}

// spanner collects the spans samples cover.
type spanner struct {
	reach int64
	spans [][2]int64
}

// add records that samples at first and last and none more than the
// reach apart between them cover [first, last).
func (s *spanner) add(first, last int64) {
	if n := len(s.spans); n > 0 && first >= s.spans[n-1][0] && first <= s.spans[n-1][1]+s.reach {
		s.spans[n-1][1] = max(s.spans[n-1][1], last)
		return
	}
	s.spans = append(s.spans, [2]int64{first, last})
}

// samples records the spans the samples of it in (start, end] cover.
func (s *spanner) samples(it chunkenc.Iterator, start, end int64) error {
	for vt := it.Seek(start + 1); vt != chunkenc.ValNone; vt = it.Next() {
		t := it.AtT()
		if t > end {
			break
		}
		s.add(t, t)
	}
	return it.Err()
}

// merged returns the spans sorted and merged into disjoint ones.
func (s *spanner) merged() [][2]int64 {
	slices.SortFunc(s.spans, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]int64
	for _, sp := range s.spans {
		if n := len(out); n > 0 && sp[0] <= out[n-1][1]+s.reach {
			out[n-1][1] = max(out[n-1][1], sp[1])
			continue
		}
		out = append(out, sp)
	}
	return out
}
