package query

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/storage"
)

// TestDirectGridEqualsEngine: series whose samples are evenly spaced
// (directRun counts their windows' edges rather than walking them: the
// samples at or before an edge, ⌊(edge − t0) / every⌋ + 1) at intervals of
// 250 ms to 15 s, starting anywhere (edges before their first sample and
// after their last), with resets, NaNs and flat stretches, beside series
// that are evenly spaced but for one sample, or change interval, or have a
// gap: at steps that are whole multiples of the interval and steps that
// are not, with offsets either way, on one goroutine and two, straight
// from the store and through the decoded-sample cache (twice: decoded
// into it, then read from it). Every answer is the engine's bit for bit.
// It fails with the edge counted one sample off on either side, with a
// truncating division in place of the floor (edges before t0), or with
// uneven times taken for even (storage's interval not checking every
// sample).
func TestDirectGridEqualsEngine(t *testing.T) {
	rng := seededRand(t, 29)
	var ss []sample
	services := []string{"a", "b", "c", "d"}
	for i := range 32 {
		l := labels.FromStrings("__name__", "g_total", "service", services[rng.IntN(len(services))], "i", fmt.Sprint(i))
		every := []int64{1000, 250, 5000, 15000, 3000, 1000, 1000, 2000}[i%8]
		t0 := int64(rng.IntN(200_000)) + int64(rng.IntN(int(every)))
		to := int64(900_000 + rng.IntN(300_000))
		v := float64(rng.IntN(3)) * 1e3 * rng.Float64()
		odd := i%5 == 4 // evenly spaced but for one sample, a change of interval, or a gap
		oddAt := t0 + int64(rng.IntN(600_000))
		for ts := t0; ts < to; ts += every {
			at := ts
			if odd && ts >= oddAt && oddAt >= 0 {
				switch i % 3 {
				case 0:
					at++ // one sample a millisecond late
				case 1:
					every += 1000 // a new interval from here
				default:
					ts += every * int64(1+rng.IntN(20)) // a gap
					at = ts
				}
				oddAt = -1
			}
			switch {
			case rng.IntN(300) == 0:
				v = 0 // a reset
			case rng.IntN(400) == 0:
				ss = append(ss, sample{lset: l, t: at, v: math.NaN()})
				continue
			case rng.IntN(3) == 0:
				// flat
			default:
				v += rng.Float64() * 10
			}
			ss = append(ss, sample{lset: l, t: at, v: v})
		}
	}
	slices.SortStableFunc(ss, func(a, b sample) int { return cmpInt64(a.t, b.t) })
	tsdb := openStore(t, ss)
	tsdb.MmapHeadChunks()
	st := &countingQueryable{Queryable: tsdb}
	cache := storage.NewDecodedCache(64<<20, nil)
	if n := gridSeries(t, cache.Queryable(tsdb)); n < 16 {
		t.Fatalf("%d series read as evenly spaced, want most of 32", n)
	}
	exprs := []string{
		`sum by (service) (rate(g_total[1m]))`, `sum(increase(g_total[30s]))`, `sum by (i) (rate(g_total[10s] offset 17s))`,
		`sum by (service) (rate(g_total[2m] offset -10s))`, `sum(rate(g_total[1500ms]))`, `sum by (service) (increase(g_total[45s] offset 1s))`,
	}
	for _, v := range []struct {
		workers int
		q       promstorage.Queryable
	}{{1, st}, {2, st}, {1, cache.Queryable(tsdb)}, {2, cache.Queryable(tsdb)}, {2, cache.Queryable(tsdb)}} {
		a, err := New(Options{Queryable: v.q, Registerer: prometheus.NewRegistry(), Parallelism: v.workers})
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range exprs {
			for range 4 {
				start := time.UnixMilli(int64(rng.IntN(400_000)) - 100_000)
				step := []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
					1500 * time.Millisecond, 250 * time.Millisecond, 3 * time.Second}[rng.IntN(8)]
				end := start.Add(step*time.Duration(20+rng.IntN(1200)) + time.Duration(rng.IntN(1000))*time.Millisecond)
				if !directCheck(t, a, st, expr, start, end, step) {
					t.Errorf("%s at %s: not evaluated directly", expr, step)
				}
			}
		}
	}
}

// gridSeries is how many of g_total's series decodeRuns reads through q as
// evenly spaced.
func gridSeries(t *testing.T, q promstorage.Queryable) int {
	t.Helper()
	qr, err := q.Querier(math.MinInt64/2, math.MaxInt64/2)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	set := qr.Select(context.Background(), false, &promstorage.SelectHints{Start: math.MinInt64 / 2, End: math.MaxInt64 / 2},
		labels.MustNewMatcher(labels.MatchEqual, "__name__", "g_total"))
	var d thinDecoder
	defer d.release()
	var it chunkenc.Iterator
	n := 0
	for set.Next() {
		var ds *directSeries
		if ds, it, err = d.decodeRuns(set.At(), it); err != nil {
			t.Fatal(err)
		}
		if ds.every > 0 {
			n++
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSpacingGrid: spacing, fed a series' times run by run (each with
// storage's interval, or sample by sample), says they are evenly spaced,
// and from where, exactly when they are: the series' times compared pair
// by pair. It fails with the runs' joins unchecked.
func TestSpacingGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 31))
	for range 5000 {
		n := rng.IntN(12)
		every := int64(1 + rng.IntN(3))
		ts := make([]int64, n)
		at := int64(rng.IntN(100)) - 50
		for i := range ts {
			ts[i] = at
			at += every
			if rng.IntN(12) == 0 {
				at += int64(1 + rng.IntN(2))
			}
		}
		var sp spacing
		for rest := ts; len(rest) > 0; {
			run := rest[:1+rng.IntN(len(rest))]
			rest = rest[len(run):]
			if rng.IntN(4) == 0 {
				for _, x := range run {
					sp.add(x)
				}
				continue
			}
			sp.addRun(run, evenlyEvery(run))
		}
		gotEvery, gotT0 := sp.grid()
		wantEvery, wantT0 := evenlyEvery(ts), int64(0)
		if wantEvery > 0 {
			wantT0 = ts[0]
		}
		if gotEvery != wantEvery || gotT0 != wantT0 {
			t.Fatalf("times %v: every %d from %d, want %d from %d", ts, gotEvery, gotT0, wantEvery, wantT0)
		}
	}
}

// evenlyEvery is the interval of ts where its times are evenly spaced (two
// or more), else 0, as storage reports a run's.
func evenlyEvery(ts []int64) int64 {
	if len(ts) < 2 {
		return 0
	}
	for i := 2; i < len(ts); i++ {
		if ts[i]-ts[i-1] != ts[1]-ts[0] {
			return 0
		}
	}
	return ts[1] - ts[0]
}
