package query

import (
	"context"
	"runtime"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// A query's series iterators yield the processor (runtime.Gosched) once
// yieldEvery has passed since the querier's last yield, checked at each
// series' iterator and every yieldSamples samples stepped through with
// Next. See yieldPoints for why.
const (
	yieldEvery   = 500 * time.Microsecond
	yieldSamples = 4096
)

// yieldQueryable is a queryable whose series iterators yield the processor
// (see yieldEvery), so that a heavy query's evaluation lets waiting
// goroutines (ingest) run within a fraction of a millisecond rather than at
// Go's 10 ms preemption. The engine evaluates a query's series on one
// goroutine, one series' steps after another for a range query, so the
// series' iterators are where to look at the clock; a long range over one
// series is caught by counting its samples. (Seek, the engine's other way
// through samples, is not wrapped: go vet wants that name for io.Seeker.)
type yieldQueryable struct {
	q     storage.Queryable
	yield func() // nil: runtime.Gosched (tests count the yields)
}

func (y yieldQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := y.q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &yieldQuerier{Querier: q, y: &yielder{last: time.Now(), yield: y.yield}}, nil
}

// yielder is a querier's clock of yields.
type yielder struct {
	last  time.Time
	n     int    // samples stepped through since the last look at the clock
	yield func() // nil: runtime.Gosched
}

func (y *yielder) check() {
	y.n = 0
	if now := time.Now(); now.Sub(y.last) >= yieldEvery {
		if y.yield != nil {
			y.yield()
		} else {
			runtime.Gosched()
		}
		y.last = time.Now()
	}
}

type yieldQuerier struct {
	storage.Querier
	y *yielder
}

func (q *yieldQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return yieldSeriesSet{SeriesSet: q.Querier.Select(ctx, sortSeries, hints, ms...), y: q.y}
}

type yieldSeriesSet struct {
	storage.SeriesSet
	y *yielder
}

func (s yieldSeriesSet) At() storage.Series { return yieldSeries{Series: s.SeriesSet.At(), y: s.y} }

type yieldSeries struct {
	storage.Series
	y *yielder
}

func (s yieldSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	s.y.check()
	if w, ok := it.(*yieldIterator); ok {
		w.Iterator, w.y = s.Series.Iterator(w.Iterator), s.y
		return w
	}
	return &yieldIterator{Iterator: s.Series.Iterator(it), y: s.y}
}

type yieldIterator struct {
	chunkenc.Iterator
	y *yielder
}

func (it *yieldIterator) Next() chunkenc.ValueType {
	if it.y.n++; it.y.n >= yieldSamples {
		it.y.check()
	}
	return it.Iterator.Next()
}

// yielding is the queryable a query of a reads: a.queryable, yielding
// unless a.noYield.
func (a *API) yielding() storage.Queryable {
	if a.noYield {
		return a.queryable
	}
	return yieldQueryable{q: a.queryable}
}

// floatRuns is an iterator that hands out runs of float samples as slices
// (storage.DecodedCache's, whose float chunks are decoded already), each
// with whether it is rising (every value a number at or above the one
// before it) and whether it is kept (slices never changed, valid for as
// long as they are held; else until the next call), and (Every) the
// interval of its samples where they are evenly spaced (else 0).
type floatRuns interface {
	NextFloats() (t []int64, f []float64, rising, kept bool)
	Every() int64
}

// floatRunsOf is it's NextFloats, its samples counted for yields when it
// yields, or nil when it has none.
func floatRunsOf(it chunkenc.Iterator) func() (t []int64, f []float64, rising, kept bool, every int64) {
	y, yields := it.(*yieldIterator)
	if yields {
		it = y.Iterator
	}
	r, ok := it.(floatRuns)
	if !ok {
		return nil
	}
	return func() ([]int64, []float64, bool, bool, int64) {
		t, f, rising, kept := r.NextFloats()
		if yields {
			if y.y.n += len(t); y.y.n >= yieldSamples {
				y.y.check()
			}
		}
		return t, f, rising, kept, r.Every()
	}
}
