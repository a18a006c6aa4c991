package query

import (
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// SeriesStart is GET|POST /api/v1/series_start, gmc's own (not Prometheus's):
// for each raw series of match[] (as /api/v1/series), where its samples
// begin. "first" is its earliest sample at or after start (Unix s; null
// when it has none from start to end), "before" whether it has one before
// start; staleness markers are no samples. A series with neither is left
// out. "raw_from" is the raw store's oldest sample (null: empty): before it
// the raw data no longer tells (retention); "data_from" the oldest sample
// gmc holds anywhere, its downsampled tiers too (older than raw_from: the
// tiers hold data the raw store dropped; null: none, or not known). It reads the raw store's chunk index
// (chunks.Meta's MinTime): it decodes a chunk only up to its first sample
// that is not a staleness marker, and the chunk holding start up to start
// (docs/compat.md). The dashboard's heatmap asks it with its first round
// (is there data before its first column with data?), where it asked
// count(last_over_time(…)) a round trip after the heatmap's answer.
func (a *API) SeriesStart(w http.ResponseWriter, r *http.Request) {
	a.serveGated(w, r, metadataRequest, a.seriesStart)
}

// seriesStartAnswer is series_start's data.
type seriesStartAnswer struct {
	RawFrom  *float64           `json:"raw_from"`
	DataFrom *float64           `json:"data_from"`
	Series   []seriesStartEntry `json:"series"`
}

// seriesStartEntry is one series' start.
type seriesStartEntry struct {
	Metric labels.Labels `json:"metric"`
	First  *float64      `json:"first"`
	Before bool          `json:"before"`
}

func (a *API) seriesStart(r *http.Request) result {
	if a.raw == nil {
		return fail(&httpapi.Error{Type: httpapi.ErrNotFound, Err: errors.New("series_start needs the embedded TSDB's chunks (not in the remote mode)")})
	}
	if err := r.ParseForm(); err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: fmt.Errorf("error parsing form values: %w", err)})
	}
	if len(r.Form["match[]"]) == 0 {
		return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: errors.New("no match[] parameter provided")})
	}
	start, end, apiErr := timeRange(r)
	if apiErr != nil {
		return fail(apiErr)
	}
	sets, err := a.parseMatchers(r.Form["match[]"])
	if err != nil {
		return fail(httpapi.BadParam("match[]", err))
	}
	for i, ms := range sets {
		kept := ms[:0:0]
		for _, m := range ms {
			if m.Name != tierLabel {
				kept = append(kept, m)
				continue
			}
			if m.Type != labels.MatchEqual || m.Value != "raw" {
				return fail(httpapi.BadParam("match[]", fmt.Errorf("series_start reads raw samples: %s=%q is not taken (only %s=\"raw\")", tierLabel, m.Value, tierLabel)))
			}
		}
		if len(kept) == 0 {
			return fail(httpapi.BadParam("match[]", errors.New("match[] must contain at least one non-empty matcher besides __tier__")))
		}
		sets[i] = kept
	}
	startMs, endMs := timestamp.FromTime(start), timestamp.FromTime(end)
	lowest := timestamp.FromTime(httpapi.MinTime())
	q, err := a.raw.ChunkQuerier(lowest, endMs)
	if err != nil {
		return fail(engineError(err))
	}
	res := result{finalize: func() { q.Close() }}
	ctx := r.Context()
	hints := &storage.SelectHints{Start: lowest, End: endMs, Func: "series_start"}
	var set storage.ChunkSeriesSet
	if len(sets) > 1 {
		ss := make([]storage.ChunkSeriesSet, 0, len(sets))
		for _, ms := range sets {
			ss = append(ss, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeChunkSeriesSet(ss, 0, storage.NewCompactingChunkSeriesMerger(storage.ChainedSeriesMerge))
	} else {
		set = q.Select(ctx, false, hints, sets[0]...)
	}
	ans := seriesStartAnswer{Series: []seriesStartEntry{}}
	var it chunks.Iterator
	for i := 0; set.Next(); i++ {
		if i%128 == 127 {
			if err := ctx.Err(); err != nil {
				res.err = engineError(err)
				return res
			}
		}
		s := set.At()
		it = s.Iterator(it)
		first, found, before, err := seriesStartOf(it, startMs, endMs)
		if err != nil {
			res.err = engineError(err)
			return res
		}
		if !found && !before {
			continue
		}
		e := seriesStartEntry{Metric: s.Labels(), Before: before}
		if found {
			f := float64(first) / 1000
			e.First = &f
		}
		ans.Series = append(ans.Series, e)
	}
	res.annos.Merge(set.Warnings())
	if err := set.Err(); err != nil {
		res.err = engineError(err)
		return res
	}
	// The raw store's oldest sample is read once a request: raw_from, and
	// with the tiers' oldest, data_from.
	rawFrom, rawKnown := int64(math.MaxInt64), false
	if st, ok := a.raw.(interface{ StartTime() (int64, error) }); ok {
		if t, err := st.StartTime(); err == nil {
			rawFrom, rawKnown = t, true
		}
	}
	ans.RawFrom = unixSeconds(rawFrom, rawKnown)
	ans.DataFrom = ans.RawFrom
	if a.tiersFrom != nil {
		ans.DataFrom = nil
		if rawKnown {
			t, ok := a.tiersFrom()
			ans.DataFrom = unixSeconds(min(rawFrom, t), ok)
		}
	}
	res.data = ans
	return res
}

// unixSeconds is ms in Unix seconds; nil when not known or math.MaxInt64
// (no sample).
func unixSeconds(ms int64, known bool) *float64 {
	if !known || ms == math.MaxInt64 {
		return nil
	}
	f := float64(ms) / 1000
	return &f
}

// seriesStartOf reads a series' chunks (sorted by their first time, which
// may overlap) for its earliest sample in [start, end] that is not a
// staleness marker (first, found) and whether it has one before start. It
// decodes a chunk only as far as it must: from its beginning to its first
// such sample, or to start once one before start is known.
func seriesStartOf(it chunks.Iterator, start, end int64) (first int64, found, before bool, err error) {
	var ci chunkenc.Iterator
	for it.Next() {
		m := it.At()
		if m.MinTime > end || (found && m.MinTime >= first) {
			break
		}
		if m.Chunk == nil || (before && m.MaxTime < start) {
			continue
		}
		ci = m.Chunk.Iterator(ci)
		vt := ci.Next()
		if before && m.MinTime < start {
			vt = ci.Seek(start)
		}
		for ; vt != chunkenc.ValNone; vt = ci.Next() {
			t := ci.AtT()
			if t > end || (found && t >= first) {
				break
			}
			if staleAt(ci, vt) {
				continue
			}
			if t < start {
				before = true
				vt = ci.Seek(start)
				if vt == chunkenc.ValNone {
					break
				}
				t = ci.AtT()
				if t > end || (found && t >= first) {
					break
				}
				if staleAt(ci, vt) {
					continue
				}
			}
			first, found = t, true
			break
		}
		if err := ci.Err(); err != nil {
			return 0, false, false, err
		}
	}
	return first, found, before, it.Err()
}

// staleAt tells whether the iterator's sample (of type vt) is a staleness marker.
func staleAt(ci chunkenc.Iterator, vt chunkenc.ValueType) bool {
	switch vt {
	case chunkenc.ValFloat:
		_, v := ci.At()
		return value.IsStaleNaN(v)
	case chunkenc.ValHistogram:
		_, h := ci.AtHistogram(nil)
		return value.IsStaleNaN(h.Sum)
	case chunkenc.ValFloatHistogram:
		_, h := ci.AtFloatHistogram(nil)
		return value.IsStaleNaN(h.Sum)
	}
	return false
}
