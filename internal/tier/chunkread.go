package tier

import (
	"errors"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// A tier's buckets are read chunk by chunk. The TSDB's Querier over a
// tier's blocks gives each series an iterator that merges the series'
// iterators of every block and the head (a heap compared at every
// sample), each of which walks its chunks applying tombstones sample by
// sample: a 7-day panel reads 10,080 buckets per series from the 1m tier,
// and those two layers cost about as much as decoding them. Its
// ChunkQuerier merges the same blocks chunk by chunk (re-encoding only
// chunks that overlap or hold deleted samples), and storage.ChunkSet
// decodes the chunks it gives one after the other, keeping the samples in
// [mint, maxt] (the Querier trims to the same range). Where the raw
// samples past the watermark are read too, the two parts, one before the
// watermark and one after it, are read one after the other (concatSet),
// not merged sample by sample.
//
// concatIterator is generic in its time type only for its Seek, which
// chunkenc.Iterator has as Seek(int64) ValueType: declared with int64, go
// vet takes it for io.Seeker's Seek(int64, int) (int64, error) and fails
// the build's checks. It is used as [int64] only.

// concatSet reads two sets sorted by labels, b's samples after a's but
// for a few marks (see concatIterator), as one: a series in both is a's
// samples, then b's after a's last.
type concatSet struct {
	a, b     storage.SeriesSet
	aOK, bOK bool
	started  bool
	cur      storage.Series
}

func (c *concatSet) Next() bool {
	if !c.started {
		c.started = true
		c.aOK, c.bOK = c.a.Next(), c.b.Next()
	}
	switch {
	case c.aOK && c.bOK:
		sa, sb := c.a.At(), c.b.At()
		switch d := labels.Compare(sa.Labels(), sb.Labels()); {
		case d < 0:
			c.cur, c.aOK = sa, c.a.Next()
		case d > 0:
			c.cur, c.bOK = sb, c.b.Next()
		default:
			c.cur = &concatSeries{a: sa, b: sb}
			c.aOK, c.bOK = c.a.Next(), c.b.Next()
		}
	case c.aOK:
		c.cur, c.aOK = c.a.At(), c.a.Next()
	case c.bOK:
		c.cur, c.bOK = c.b.At(), c.b.Next()
	default:
		return false
	}
	return true
}

func (c *concatSet) At() storage.Series { return c.cur }
func (c *concatSet) Err() error         { return errors.Join(c.a.Err(), c.b.Err()) }
func (c *concatSet) Warnings() annotations.Annotations {
	if len(c.a.Warnings()) == 0 && len(c.b.Warnings()) == 0 {
		return nil
	}
	w := annotations.Annotations{}
	w.Merge(c.a.Warnings())
	w.Merge(c.b.Warnings())
	return w
}

type concatSeries struct{ a, b storage.Series }

func (s *concatSeries) Labels() labels.Labels { return s.a.Labels() }
func (s *concatSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	it := &concatIterator[int64]{a: s.a.Iterator(nil), b: s.b.Iterator(nil), lastT: math.MinInt64}
	it.cur = it.a
	return it
}

// concatIterator reads a and b in time order, a's sample where both have
// one at a time and none of b's at or before one it gave. b's samples are
// after a's but for the marks onTheFly's aggregator writes before its
// from, a's end, where the job's next batch would write them (out of
// order: the closing mark of the tier's last bucket, aggregator.add).
type concatIterator[T ~int64] struct {
	a, b, cur    chunkenc.Iterator
	vt, avt, bvt chunkenc.ValueType
	started      bool
	lastT        int64
}

func (it *concatIterator[T]) Next() chunkenc.ValueType {
	switch {
	case !it.started:
		it.started = true
		it.avt, it.bvt = it.a.Next(), it.b.Next()
	case it.vt == chunkenc.ValNone:
		return it.vt
	case it.cur == it.a:
		it.avt = it.a.Next()
	default:
		it.bvt = it.b.Next()
	}
	if it.avt == chunkenc.ValNone && it.a.Err() != nil {
		it.vt = chunkenc.ValNone
		return it.vt
	}
	for it.bvt != chunkenc.ValNone && (it.b.AtT() <= it.lastT || it.avt != chunkenc.ValNone && it.b.AtT() == it.a.AtT()) {
		it.bvt = it.b.Next()
	}
	switch {
	case it.avt != chunkenc.ValNone && (it.bvt == chunkenc.ValNone || it.a.AtT() < it.b.AtT()):
		it.cur, it.vt = it.a, it.avt
	case it.bvt != chunkenc.ValNone:
		it.cur, it.vt = it.b, it.bvt
	default:
		it.vt = chunkenc.ValNone
		return it.vt
	}
	it.lastT = it.cur.AtT()
	return it.vt
}

func (it *concatIterator[T]) Seek(t T) chunkenc.ValueType {
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

func (it *concatIterator[T]) At() (int64, float64) { return it.cur.At() }
func (it *concatIterator[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return it.cur.AtHistogram(h)
}

func (it *concatIterator[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.cur.AtFloatHistogram(fh)
}
func (it *concatIterator[T]) AtT() int64  { return it.lastT }
func (it *concatIterator[T]) AtST() int64 { return it.cur.AtST() }
func (it *concatIterator[T]) Err() error  { return errors.Join(it.a.Err(), it.b.Err()) }
