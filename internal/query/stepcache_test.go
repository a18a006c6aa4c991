package query

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/gmc-dev/gmc/internal/storage"
)

// countingQueryable counts the queriers opened and the earliest time one
// was asked for.
type countingQueryable struct {
	promstorage.Queryable
	opened atomic.Int64
	mint   atomic.Int64
}

func (c *countingQueryable) Querier(mint, maxt int64) (promstorage.Querier, error) {
	c.opened.Add(1)
	c.mint.Store(mint)
	return c.Queryable.Querier(mint, maxt)
}

// A dashboard refreshing a 10-minute window every second: the second
// answer equals an uncached evaluation of its window, point for point, and
// the engine evaluated only the steps the first answer did not settle; a
// late write drops what was kept, and the answer shows it.
func TestStepCache(t *testing.T) {
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const base = 1_800_000_000_000 // ms
	now := time.UnixMilli(base + 20*60_000)
	late := storage.NewLateWrites(time.Minute, func() time.Time { return now })
	app := late.Wrap(st).AppenderV2(context.Background())
	for i := range 1200 { // 20 minutes at 1 s
		for _, svc := range []string{"a", "b", "c"} {
			l := labels.FromStrings("__name__", "orders_total", "service", svc, "i", fmt.Sprint(i%2))
			if _, err := app.Append(0, l, 0, base+int64(i)*1000, float64(i*(len(svc)+i%7)), nil, nil, promstorage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q := &countingQueryable{Queryable: st}
	a, err := New(Options{Queryable: q, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return now },
		StepCache: &StepCache{Generation: late.Generation, Settle: time.Minute, MaxAge: 5 * time.Minute, MaxPoints: 1_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(end time.Time, nocache bool) string {
		t.Helper()
		p := url.Values{"query": {`sum by (service) (rate(orders_total[1m]))`},
			"start": {fmt.Sprint(end.Add(-10 * time.Minute).Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"1"}}
		if nocache {
			p.Set("nocache", "1")
		}
		code, body := call(t, a.QueryRange, http.MethodGet, p, nil)
		if code != http.StatusOK {
			t.Fatalf("%d: %s", code, body)
		}
		return body
	}
	first := ask(now, false)
	if first != ask(now, true) {
		t.Fatal("the first answer differs from an uncached one")
	}
	// A second later: the steps up to now-1m come from the cache.
	now = now.Add(time.Second)
	q.opened.Store(0)
	got := ask(now, false)
	if opened := q.opened.Load(); opened != 1 {
		t.Fatalf("the refresh opened %d queriers, want 1", opened)
	}
	// The engine read from the first unsettled step's window on, not the
	// whole 10 minutes (the window starts 1m rate range + 1 s before).
	if mint, want := q.mint.Load(), now.Add(-time.Minute-time.Minute).UnixMilli(); mint > want+1000 || mint < want-5000 {
		t.Errorf("the refresh read from %s, want about %s", time.UnixMilli(mint).UTC(), time.UnixMilli(want).UTC())
	}
	if want := ask(now, true); got != want {
		t.Fatalf("cached answer differs from an uncached one:\ncached   %.300s\nuncached %.300s", got, want)
	}
	// A late sample (5 minutes old) for service a: the cache is dropped and
	// the answer changes where it should.
	app = late.Wrap(st).AppenderV2(context.Background())
	l := labels.FromStrings("__name__", "orders_total", "service", "a", "i", "late")
	for i := range 60 {
		if _, err := app.Append(0, l, 0, now.Add(-5*time.Minute).UnixMilli()+int64(i)*1000, float64(i*1000), nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if late.Generation() == 0 {
		t.Fatal("the late write was not counted")
	}
	afterLate := ask(now, false)
	if afterLate == got {
		t.Fatal("the answer after a late write is the cached one")
	}
	if want := ask(now, true); afterLate != want {
		t.Fatal("the answer after a late write differs from an uncached one")
	}
	// An @ modifier's steps depend on the query's end: never cached.
	if cacheable(a.parser, `rate(orders_total[1m] @ end())`) || !cacheable(a.parser, `rate(orders_total[1m])`) {
		t.Error("cacheable is wrong about @ end()")
	}
	// Nor a duration reading the query's range (range() is 1h in a query
	// over 1h, 2h over 2h, with the same cache key).
	for _, e := range []string{`rate(x[range()])`, `rate(x[range() / 2])`, `x offset (range() + 1m)`, `max_over_time(x[5m:range()])`, `max_over_time(x[range():1m])`} {
		if cacheable(a.parser, e) {
			t.Errorf("%s is cacheable", e)
		}
	}
	if !cacheable(a.parser, `rate(x[step() * 4])`) {
		t.Error("a duration of the step is not cacheable")
	}
}

// TestStepCacheEntryBound: an answer with more settled points than a
// quarter of the cache is not kept, so it evicts none of the dashboards'
// entries; one at the bound is kept.
func TestStepCacheEntryBound(t *testing.T) {
	now := time.Unix(10_000, 0)
	c := &StepCache{Generation: func() uint64 { return 0 }, Settle: time.Minute, MaxAge: 5 * time.Minute, MaxPoints: 500}
	// series answers every step in [start, end] for n series, counting the
	// steps it evaluated.
	evaluated := map[string]int{}
	series := func(key string, n int) rangeFunc {
		return func(_ context.Context, start, end time.Time) (promql.Matrix, annotations.Annotations, error) {
			var m promql.Matrix
			for i := range n {
				s := promql.Series{Metric: labels.FromStrings("i", fmt.Sprint(i))}
				for ts := start; !ts.After(end); ts = ts.Add(time.Second) {
					s.Floats = append(s.Floats, promql.FPoint{T: ts.UnixMilli(), F: float64(i)})
				}
				m = append(m, s)
			}
			evaluated[key] += int(end.Sub(start)/time.Second) + 1
			return m, nil, nil
		}
	}
	// Over [now-3m, now] at 1 s, 121 steps per series are settled.
	ask := func(key string, n int) {
		t.Helper()
		if _, _, err := c.Range(context.Background(), key, now.Add(-3*time.Minute), now, time.Second, now, series(key, n)); err != nil {
			t.Fatal(err)
		}
	}
	ask("dashboard", 1) // 121 settled points: under 500/4, kept
	// 484: within the cache's 500, but keeping it would evict the
	// dashboard's entry; over a quarter of it, so not kept.
	ask("heavy", 4)
	if c.entries["heavy"] != nil || c.entries["dashboard"] == nil || c.points != 121 {
		t.Fatalf("after the heavy answer: heavy kept %v, dashboard kept %v, %d points kept; want only the dashboard's 121",
			c.entries["heavy"] != nil, c.entries["dashboard"] != nil, c.points)
	}
	evaluated = map[string]int{}
	ask("dashboard", 1)
	ask("heavy", 4)
	if evaluated["dashboard"] != 60 || evaluated["heavy"] != 181 {
		t.Errorf("again: dashboard evaluated %d steps, heavy %d; want 60 (the unsettled ones) and 181 (all)", evaluated["dashboard"], evaluated["heavy"])
	}
	// At the bound: kept.
	c = &StepCache{Generation: func() uint64 { return 0 }, Settle: time.Minute, MaxAge: 5 * time.Minute, MaxPoints: 4 * 121}
	ask("dashboard", 1)
	if c.entries["dashboard"] == nil {
		t.Error("an answer of exactly a quarter of the cache was not kept")
	}
}

// TestHeavyRangeNotCopied: a range answer is written from the engine's
// memory, released after, and the step cache copies only an answer it
// keeps. bench/soak's heavy query (here 1,000 series × 601 points, over a
// quarter of the cache) was copied twice on its way: out of the engine's
// pools, then whole by the cache before it found the answer too large to
// keep: 24 MB allocated per answer, 2.5 times its 9.6 MB of points, half of
// what gmc allocated under the soak's heavy queries. Now less than one copy
// of its points (4.4 MB in BenchmarkHeavyRange, the engine's own, its
// pools reused). The least of three answers is taken: other goroutines'
// allocations count too.
func TestHeavyRangeNotCopied(t *testing.T) {
	a := heavyRangeAPI(t)
	const points = 1000 * 601
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		heavyRangeQuery(t, a)
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if copyBytes := uint64(points * 16); least >= copyBytes {
		t.Errorf("a heavy range answer allocated %.1f MB, want less than one copy of its points (%.1f MB)", float64(least)/1e6, float64(copyBytes)/1e6)
	}
}
