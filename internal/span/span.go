// Package span finds the spans of time a store's samples cover: from a
// sample to the next when they are at most a reach apart (PromQL's
// lookback, 5m), so a gap longer than the reach is not covered, nor the
// reach after the last sample before it (that counted up to 5 minutes
// after each gap as data, t-user11 #6). It reads chunk time ranges where the store
// gives chunks, so a month of per-second samples is read without decoding
// them. The SLA reporter's coverage and the trends' partial hours use it.
package span

import (
	"cmp"
	"context"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
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
