package storage

import (
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// ChunkSet reads a ChunkSeriesSet as series: each series' chunks decoded
// one after the other, the samples in [mint, maxt]. It is how a
// ChunkQuerier's Select with DisableTrimming is read as its Querier's
// (which trims to the same range by re-encoding the chunks that cross
// it). The tiers read their buckets through it (internal/tier: the
// Querier's per-sample merge of blocks and tombstones costs about as much
// as decoding), and the decoded-sample cache's querier reads raw data
// through the same iterator, its float chunks' samples from the cache.
func ChunkSet(set storage.ChunkSeriesSet, mint, maxt int64) storage.SeriesSet {
	return &chunkSet{ChunkSeriesSet: set, mint: mint, maxt: maxt, fresh: math.MaxInt64}
}

// ChunkSet is the package's ChunkSet (the chunks of a Select of db's
// ChunkQuerier with DisableTrimming, the samples in [mint, maxt]) with
// the float chunks' samples read through c, as c.Queryable(db) reads
// them: db's chunk readers find its chunks in c by reference from then on
// (refchunks.go), and a chunk ending within decodedFreshMs of db's newest
// sample is decoded, not kept (one of gmc's TSDB's, found by reference, is
// kept apart and handed out as its head's isolation allows:
// DecodedCache.samplesFresh). The tiers read their buckets through it
// with the raw data's cache (internal/tier): a 7-day panel of a plain
// selector decoded 10,080 buckets of each series at every query. A nil c,
// or one turned off, reads as ChunkSet.
func (c *DecodedCache) ChunkSet(db *TSDB, set storage.ChunkSeriesSet, mint, maxt int64) storage.SeriesSet {
	if c == nil || c.max.Load() == 0 {
		return ChunkSet(set, mint, maxt)
	}
	if db.decoded.Load() != c {
		db.decoded.Store(c)
	}
	return &chunkSet{ChunkSeriesSet: set, c: c, mint: mint, maxt: maxt, fresh: freshAfter(db)}
}

type chunkSet struct {
	storage.ChunkSeriesSet
	c                 *DecodedCache // nil: every chunk through its own iterator
	mint, maxt, fresh int64
}

func (s *chunkSet) At() storage.Series {
	return &chunkSeries{ChunkSeries: s.ChunkSeriesSet.At(), c: s.c, mint: s.mint, maxt: s.maxt, fresh: s.fresh}
}

type chunkSeries struct {
	storage.ChunkSeries
	c                 *DecodedCache
	mint, maxt, fresh int64
}

func (s *chunkSeries) Iterator(reuse chunkenc.Iterator) chunkenc.Iterator {
	it, ok := reuse.(*chunksIterator[int64])
	if !ok {
		it = &chunksIterator[int64]{}
	}
	it.chks = s.ChunkSeries.Iterator(it.chks)
	it.c, it.mint, it.maxt, it.fresh = s.c, s.mint, s.maxt, s.fresh
	it.t, it.f, it.i, it.other, it.every = nil, nil, 0, nil, 0
	it.vt, it.lastT, it.done, it.err = chunkenc.ValNone, math.MinInt64, false, nil
	return it
}

// chunksIterator reads a series' chunks in order, the samples in
// [mint, maxt]. With a cache, a float (XOR) chunk's samples come from it
// (or, for a chunk ending after fresh, are decoded into the iterator's own
// slices, unless it is one of gmc's TSDB's: samplesFresh); without one, and for other chunks (histograms), through the
// chunk's own iterator. A sample at or before the last one is skipped (a
// series' chunks do not overlap; the querier's merge skips such samples
// too).
//
// Generic in its time type only for Seek, which chunkenc.Iterator has as
// Seek(int64) ValueType: declared with int64, go vet takes it for
// io.Seeker's Seek(int64, int) (int64, error) and fails the build's
// checks. Used as [int64] only.
type chunksIterator[T ~int64] struct {
	c          *DecodedCache // nil: no cache
	chks       chunks.Iterator
	mint, maxt int64
	fresh      int64 // a chunk ending after it is decoded into st, sf, not kept (keyed: samplesFresh)
	// t, f: the current float chunk's samples, i the next one's index;
	// rising: rising(f); kept: t and f are the cache's (never changed).
	t      []int64
	f      []float64
	rising bool
	kept   bool
	every  int64 // interval(t)
	st     []int64
	sf     []float64
	i      int
	other  chunkenc.Iterator // the current chunk's when not read from the cache
	dec    chunkenc.Iterator // reused across chunks
	vt     chunkenc.ValueType
	lastT  int64
	done   bool
	err    error
}

func (it *chunksIterator[T]) Next() chunkenc.ValueType {
	if it.done {
		return chunkenc.ValNone
	}
	for {
		if it.other != nil {
			for vt := it.other.Next(); vt != chunkenc.ValNone; vt = it.other.Next() {
				t := it.other.AtT()
				if t < it.mint || t <= it.lastT {
					continue
				}
				if t > it.maxt {
					return it.stop(nil)
				}
				it.vt, it.lastT = vt, t
				return vt
			}
			if err := it.other.Err(); err != nil {
				return it.stop(err)
			}
			it.other = nil
		}
		for it.i < len(it.t) {
			t := it.t[it.i]
			it.i++
			if t < it.mint || t <= it.lastT {
				continue
			}
			if t > it.maxt {
				return it.stop(nil)
			}
			it.vt, it.lastT = chunkenc.ValFloat, t
			return chunkenc.ValFloat
		}
		if !it.nextChunk() {
			return chunkenc.ValNone
		}
	}
}

// NextFloats returns the next samples of the current float chunk (in
// [mint, maxt], after the last one read) as many Next calls would read
// them, not to be changed: the cache's slices (kept: never changed, and
// valid for as long as they are held) or the iterator's own (valid until
// the next call); and whether they are rising (every value a number at or
// above the one before it: a reader need look at the first only). It
// returns none where the caller goes on with Next: at the end, and for a
// chunk of another kind.
func (it *chunksIterator[T]) NextFloats() (t []int64, f []float64, rising, kept bool) {
	for !it.done && it.other == nil {
		a := it.i
		for a < len(it.t) && (it.t[a] < it.mint || it.t[a] <= it.lastT) {
			a++
		}
		// A chunk's samples are in time order: where its last is in
		// range, all from a are (each compared, this was 5 % of the
		// 15 s query's CPU in BenchmarkRawHourPath).
		b := a
		if b < len(it.t) && it.t[len(it.t)-1] <= it.maxt {
			b = len(it.t)
		}
		for b < len(it.t) && it.t[b] <= it.maxt {
			b++
		}
		if b > a {
			it.i, it.vt, it.lastT = b, chunkenc.ValFloat, it.t[b-1]
			if b < len(it.t) { // past maxt
				it.done = true
			}
			return it.t[a:b], it.f[a:b], it.rising, it.kept
		}
		if b < len(it.t) {
			it.stop(nil)
			break
		}
		it.i = b
		if !it.nextChunk() {
			break
		}
	}
	return nil, nil, false, false
}

// Every is the interval of the samples of the chunk NextFloats read last
// where they are all evenly spaced (so are those it handed out), else 0.
// (Apart from NextFloats: internal/tier reads runs through an interface
// of NextFloats alone.)
func (it *chunksIterator[T]) Every() int64 { return it.every }

// nextChunk moves to the series' next chunk that holds samples in range:
// false at the end (or an error).
func (it *chunksIterator[T]) nextChunk() bool {
	for {
		if !it.chks.Next() {
			it.stop(it.chks.Err())
			return false
		}
		m := it.chks.At()
		if m.MaxTime < it.mint || m.MaxTime <= it.lastT {
			continue
		}
		if m.MinTime > it.maxt {
			it.stop(nil)
			return false
		}
		if it.c == nil || m.Chunk.Encoding() != chunkenc.EncXOR {
			it.t, it.f, it.i, it.every = nil, nil, 0, 0
			it.dec = m.Chunk.Iterator(it.dec)
			it.other = it.dec
			return true
		}
		var err error
		switch chk := m.Chunk.(type) {
		case *decodedChunk: // the cache's, found by reference (refchunks.go)
			it.t, it.f, it.rising, it.every, it.kept = chk.t, chk.f, chk.rising, chk.every, true
		case *openChunk: // the head's open chunk, copied (refchunks.go)
			it.t, it.f, it.rising, it.every, it.kept, it.st, it.sf, it.dec, err = it.c.samplesOpen(chk, it.dec, it.st, it.sf)
		case *keyedChunk:
			if m.MaxTime > it.fresh { // a chunk of the last minute (samplesFresh)
				it.t, it.f, it.rising, it.every, it.kept, it.st, it.sf, it.dec, err = it.c.samplesFresh(chk, it.dec, it.st, it.sf)
				break
			}
			it.t, it.f, it.rising, it.every, it.dec, err = it.c.samplesByRef(chk.key, chk.Chunk, it.dec)
			it.kept = true
		default:
			if m.MaxTime > it.fresh {
				it.st, it.sf, it.dec, err = decodeInto(m.Chunk, it.dec, it.st[:0], it.sf[:0])
				it.t, it.f, it.rising, it.every, it.kept = it.st, it.sf, rising(it.sf), interval(it.st), false
				break
			}
			it.t, it.f, it.rising, it.every, it.dec, err = it.c.samples(m.Chunk, it.dec)
			it.kept = true
		}
		it.i = 0
		if err != nil {
			it.stop(err)
			return false
		}
		return true
	}
}

func (it *chunksIterator[T]) stop(err error) chunkenc.ValueType {
	it.done, it.err, it.vt = true, err, chunkenc.ValNone
	return chunkenc.ValNone
}

func (it *chunksIterator[T]) Seek(t T) chunkenc.ValueType {
	if it.vt != chunkenc.ValNone && it.lastT >= int64(t) {
		return it.vt
	}
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		if it.lastT >= int64(t) {
			return vt
		}
	}
	return chunkenc.ValNone
}

func (it *chunksIterator[T]) At() (int64, float64) {
	if it.other != nil {
		return it.other.At()
	}
	return it.t[it.i-1], it.f[it.i-1]
}

func (it *chunksIterator[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return it.other.AtHistogram(h)
}

func (it *chunksIterator[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	if it.other != nil {
		return it.other.AtFloatHistogram(fh)
	}
	// A float sample read as a float histogram: none (the engine asks a
	// float iterator's ValFloat samples for At only).
	return it.lastT, fh
}

func (it *chunksIterator[T]) AtT() int64 { return it.lastT }

func (it *chunksIterator[T]) AtST() int64 {
	if it.other != nil {
		return it.other.AtST()
	}
	return 0
}

func (it *chunksIterator[T]) Err() error { return it.err }
