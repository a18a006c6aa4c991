package query

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// BenchmarkRawHourPath is bench/history's raw query (`sum by (service)
// (rate(trading_orders_total[1m]))` over 1 h of 1 s data, 1000 selected
// series: GMC_BENCH_SERIES) at a 1 s and a 15 s step, along gmc's whole
// path and beside the bare engine:
//   - engine: the bare engine over the TSDB, one goroutine;
//   - engine-tier: the bare engine over the tiers' Queryable (raw data read
//     through it, as every gmc reader reads);
//   - served: the query_range handler as the server mounts it (Routes: the
//     compress wrapper, gzip accepted, compress_loopback on as bench/history
//     runs gmc), over the tiers' Queryable, with the default lanes, the
//     heavy lane's nice, the step cache and nocache=1, from the loopback;
//   - served-engine: the same through the engine (not evaluated directly,
//     direct.go), as the variants below;
//   - served-noborrow: the same with a heavy query taking no spare slot of
//     the small lane (as before: on 2 cores one goroutine);
//   - one-interleaved, one-whole: evalRange on one goroutine without
//     yields, its steps dealt out to interleaved queries (whatever the
//     samples per window) or not;
//   - served-nointerleave: the same without dealing the steps out to
//     interleaved queries over thinned windows (interleave.go);
//   - served-sum(-nosplit): `sum(rate(trading_orders_total[1m]))` at 1 s
//     through the engine (no grouping: split by time, not by series), and
//     not split.
func BenchmarkRawHourPath(b *testing.B) {
	n, steps := benchSeries(), 3600
	st := openHour(b, n, steps)
	now := func() time.Time { return time.Unix(int64(steps)+60, 0) }
	tq := rawTierQueryable(b, st, now)
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	lanes := NewLanes(LanesOptions{Config: cfg, Queryable: tq, Registerer: reg, Now: now})
	engine, tracker, err := NewEngine(EngineOptions{Registerer: reg, Lanes: lanes, ActiveQueryDir: b.TempDir(),
		Timeout: time.Duration(cfg.Timeout), MaxSamples: cfg.MaxSamples})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tracker.Close() })
	a, err := New(Options{Queryable: tq, Engine: engine, Registerer: reg, Now: now, Lanes: lanes,
		CompressLoopback: true, HeavyNice: benchHeavyNice(cfg), Timeout: time.Duration(cfg.Timeout),
		MaxResponseBytes: cfg.MaxResponseBytes, MaxSeries: cfg.MaxSeries,
		StepCache: &StepCache{Generation: func() uint64 { return 0 }, Settle: DefaultCacheSettle,
			MaxAge: DefaultCacheMaxAge, MaxPoints: cfg.CacheMaxPoints}})
	if err != nil {
		b.Fatal(err)
	}
	var served http.Handler
	for _, r := range a.Routes() {
		if r.Method == http.MethodGet && r.Path == "/api/v1/query_range" {
			served = r.Handler
		}
	}
	start, end := time.Unix(60, 0), time.Unix(int64(steps-1), 0)
	// A query split by time (not by series: no grouping), and not.
	for _, noSplit := range []bool{false, true} {
		name := "served-sum/step=1s"
		if noSplit {
			name = "served-sum-nosplit/step=1s"
		}
		b.Run(name, func(b *testing.B) {
			a.noSplit, a.noDirect = noSplit, true
			defer func() { a.noSplit, a.noDirect = false, false }()
			params := url.Values{"query": {`sum(rate(trading_orders_total[1m]))`}, "start": {"60"},
				"end": {strconv.Itoa(steps - 1)}, "step": {"1"}, "nocache": {"1"}}
			defer reportCPU(b)()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/v1/query_range?"+params.Encode(), nil)
				req.RemoteAddr = "127.0.0.1:40000"
				req.Header.Set("Accept-Encoding", "gzip")
				w := &discardWriter{header: http.Header{}}
				served.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatal(w.code)
				}
			}
		})
	}
	for _, step := range []time.Duration{time.Second, 15 * time.Second} {
		b.Run("engine/step="+step.String(), func(b *testing.B) {
			bareEngine(b, a, st, start, end, step)
		})
		b.Run("engine-tier/step="+step.String(), func(b *testing.B) {
			bareEngine(b, a, tq, start, end, step)
		})
		// evalRange on one goroutine, without yields, through the engine
		// (not direct.go), dealt out to interleaved queries (interleave.go)
		// and not.
		for _, noInterleave := range []bool{false, true} {
			name := "one-interleaved/step=" + step.String()
			if noInterleave {
				name = "one-whole/step=" + step.String()
			}
			b.Run(name, func(b *testing.B) {
				workers := a.workers
				a.workers, a.noYield, a.noInterleave, a.thinAnyDensity, a.noDirect = 1, true, noInterleave, true, true
				defer func() {
					a.workers, a.noYield, a.noInterleave, a.thinAnyDensity, a.noDirect = workers, false, false, false, false
				}()
				defer reportCPU(b)()
				for b.Loop() {
					_, _, release, err := a.evalRange(context.Background(), nil, benchExpr, start, end, step)
					if err != nil {
						b.Fatal(err)
					}
					release()
				}
			})
		}
		for _, v := range []struct {
			name                             string
			noBorrow, noInterleave, noDirect bool
		}{
			{"served", false, false, false}, {"served-engine", false, false, true},
			{"served-noborrow", true, false, true}, {"served-nointerleave", false, true, true},
		} {
			name := v.name + "/step=" + step.String()
			b.Run(name, func(b *testing.B) {
				a.noBorrow, a.noInterleave, a.noDirect = v.noBorrow, v.noInterleave, v.noDirect
				defer func() { a.noBorrow, a.noInterleave, a.noDirect = false, false, false }()
				params := url.Values{"query": {benchExpr}, "start": {"60"}, "end": {strconv.Itoa(steps - 1)},
					"step": {strconv.Itoa(int(step.Seconds()))}, "nocache": {"1"}}
				defer reportCPU(b)()
				for b.Loop() {
					req := httptest.NewRequest("GET", "/api/v1/query_range?"+params.Encode(), nil)
					req.RemoteAddr = "127.0.0.1:40000"
					req.Header.Set("Accept-Encoding", "gzip")
					w := &discardWriter{header: http.Header{}}
					served.ServeHTTP(w, req)
					if w.code != http.StatusOK {
						b.Fatal(w.code)
					}
					b.SetBytes(w.n)
				}
				reportHeap(b)
			})
		}
	}
}

// bareEngine runs benchExpr on a's engine alone over q, on one goroutine
// (NewRangeQuery, Exec, Close: no API, no encoding).
func bareEngine(b *testing.B, a *API, q promstorage.Queryable, start, end time.Time, step time.Duration) {
	defer reportCPU(b)()
	for b.Loop() {
		qry, err := a.engine.NewRangeQuery(context.Background(), q, nil, benchExpr, start, end, step)
		if err != nil {
			b.Fatal(err)
		}
		if res := qry.Exec(context.Background()); res.Err != nil {
			b.Fatal(res.Err)
		}
		qry.Close()
	}
}

// rawTierQueryable is the tiers' Queryable over st with gmc's default tiers
// (none caught up: every read is raw, as for the hour's 1 s data), raw
// data read through a decoded-sample cache of GMC_BENCH_DECODED_CACHE
// bytes (unset or 0: none, as before it; the server's default is
// DefaultDecodedCacheMaxBytes). Compare the two each in its own process:
// in one, whichever runs second runs cheaper.
func rawTierQueryable(b *testing.B, st *storage.TSDB, now func() time.Time) *tier.Queryable {
	var cfg tier.Config
	cfg.Normalise()
	var raw promstorage.Queryable = st
	if n, err := strconv.Atoi(os.Getenv("GMC_BENCH_DECODED_CACHE")); err == nil && n > 0 {
		raw = storage.NewDecodedCache(int64(n), nil).Queryable(st)
	}
	set, err := tier.Open(tier.Options{Config: cfg, Dir: b.TempDir(), Raw: st, RawRead: raw, RawRetention: 15 * 24 * time.Hour,
		Now: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { set.Close() })
	return set.Queryable(DefaultLookbackDelta.Milliseconds())
}

// benchHeavyNice is the heavy lane's nice of BenchmarkRawHourPath:
// GMC_BENCH_HEAVY_NICE (0: none; on a busy machine a niced query's wall
// time is the machine's load more than its cost), else c's.
func benchHeavyNice(c Config) int {
	if n, err := strconv.Atoi(os.Getenv("GMC_BENCH_HEAVY_NICE")); err == nil && n >= 0 {
		return n
	}
	return c.HeavyQueryNice
}

// reportHeap reports the heap live after a GC (heap-MiB): with
// GMC_BENCH_DECODED_CACHE, the decoded samples the cache kept beside the
// store's own heap (its bound, or the hour's 68 MiB, whichever is less).
func reportHeap(b *testing.B) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-MiB")
}
