package query

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// benchServices are the services of the benchmark's series (20, as in
// ../../shared/BASELINES.md's trading shape).
var benchServices = [20]string{
	"matching-engine", "order-gateway", "risk-engine", "position-keeper", "md-feed-handler",
	"md-normalizer", "smart-order-router", "fix-gateway", "drop-copy", "pnl-calculator",
	"margin-service", "pricing-engine", "hedger", "market-maker", "stat-arb",
	"execution-algo", "reference-data", "settlement", "audit-log", "clearing-bridge",
}

// openHour opens a TSDB holding n trading_orders_total series (50 per
// service) with a sample every second over steps seconds from 0, the
// selected part of bench/history's hour.
func openHour(b testing.TB, n, steps int) *storage.TSDB {
	b.Helper()
	st, err := storage.Open(storage.Options{Dir: b.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	lsets := make([]labels.Labels, n)
	for s := range n {
		svc := benchServices[s%len(benchServices)]
		lsets[s] = labels.FromStrings("__name__", "trading_orders_total", "account", "acct-"+strconv.Itoa(s),
			"env", "prod", "instance", svc+"-"+strconv.Itoa(s%4)+":9100", "job", svc, "service", svc,
			"symbol", "SYM"+strconv.Itoa(s%500))
	}
	// Each series starts at a value of its own: their increments repeat
	// every 40 series, and series holding the same samples (the same chunk
	// bytes) shared the decoded-sample cache's entries (found by content):
	// 1,160 chunks held for the hour's 30,000, all in the processor's
	// caches, where bench/history's series are all different.
	vals := make([]float64, n)
	for s := range vals {
		vals[s] = float64(s)
	}
	refs := make([]promstorage.SeriesRef, n)
	for r0 := 0; r0 < steps; r0 += 60 {
		app := st.AppenderV2(context.Background())
		for r := r0; r < min(r0+60, steps); r++ {
			for s := range n {
				vals[s] += float64(5 + (s*7+r*13)%40)
				ref, err := app.Append(refs[s], lsets[s], 0, int64(r)*1000, vals[s], nil, nil, promstorage.AOptions{})
				if err != nil {
					b.Fatal(err)
				}
				refs[s] = ref
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	st.MmapHeadChunks() // as bench/history's gmc has by its timed queries
	return st
}

const benchExpr = `sum by (service)(rate(trading_orders_total[1m]))`

// BenchmarkHourRate is bench/history's first query in process: 1 h of
// 1 s data, 1000 selected series (GMC_BENCH_SERIES), at a 1 s and a 15 s
// step: through the engine alone, sharded (evalRange, GOMAXPROCS
// goroutines) and through the HTTP handler (sharded, JSON included).
func BenchmarkHourRate(b *testing.B) {
	n, steps := benchSeries(), 3600
	st := openHour(b, n, steps)
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return time.Unix(int64(steps), 0) }})
	if err != nil {
		b.Fatal(err)
	}
	start, end := time.Unix(60, 0), time.Unix(int64(steps-1), 0)
	for _, step := range []time.Duration{time.Second, 15 * time.Second} {
		b.Run("engine/step="+step.String(), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				q, err := a.engine.NewRangeQuery(context.Background(), st, nil, benchExpr, start, end, step)
				if err != nil {
					b.Fatal(err)
				}
				if res := q.Exec(context.Background()); res.Err != nil {
					b.Fatal(res.Err)
				}
				q.Close()
			}
		})
		b.Run("sharded/step="+step.String(), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				_, _, release, err := a.evalRange(context.Background(), nil, benchExpr, start, end, step)
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
		b.Run("http/step="+step.String(), func(b *testing.B) {
			params := url.Values{"query": {benchExpr}, "start": {"60"}, "end": {strconv.Itoa(steps - 1)}, "step": {strconv.Itoa(int(step.Seconds()))}}
			defer reportCPU(b)()
			for b.Loop() {
				rec := httptest.NewRecorder()
				a.QueryRange(rec, httptest.NewRequest("GET", "/api/v1/query_range?"+params.Encode(), nil))
				if rec.Code != 200 {
					b.Fatal(rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// BenchmarkRespondRange is the answer path of bench/history's 1 s query
// alone: 20 series × 3600 points encoded, plain and gzipped at levels 1
// and 5.
func BenchmarkRespondRange(b *testing.B) {
	m := make(promql.Matrix, 20)
	for i := range m {
		m[i].Metric = labels.FromStrings("service", benchServices[i])
		for t := range 3600 {
			m[i].Floats = append(m[i].Floats, promql.FPoint{T: int64(t) * 1000, F: 1234.5678 + float64(t%97)/3})
		}
	}
	a, err := New(Options{Queryable: openHour(b, 1, 1), Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.respond(w, queryData{resultType: m.Type(), result: m}, nil, "")
	})
	for _, level := range []int{0, 1, 5} {
		gz := level > 0
		b.Run("gzip="+strconv.Itoa(level), func(b *testing.B) {
			hh := http.Handler(h)
			if gz {
				wrap, err := gzhttp.NewWrapper(gzhttp.CompressionLevel(level))
				if err != nil {
					b.Fatal(err)
				}
				hh = wrap(h)
			}
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/", nil)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				hh.ServeHTTP(rec, req)
				b.SetBytes(int64(rec.Body.Len()))
			}
		})
	}
}

// BenchmarkRespondHeavy is the answer path of bench/soak's heavy query:
// 2,950 series × 601 points (1.8M). "fractional" has a fraction in every
// value (plain JSON of ~60 MB); "soak" has bench/soak's mix, 9 series in 10
// counters or bucket counts (whole numbers) and the rest gauges (~45 MB).
// The answer goes to a writer that keeps nothing, plain and through the
// API's gzip wrapper (for a client that is not on the loopback); the
// figures per op are the process's CPU time and the bytes allocated.
func BenchmarkRespondHeavy(b *testing.B) {
	a, err := New(Options{Queryable: openHour(b, 1, 1), Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	for _, mix := range []string{"fractional", "soak"} {
		m := heavyMatrix(mix == "soak")
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.respond(w, queryData{resultType: m.Type(), result: m}, nil, "")
		})
		for _, gz := range []bool{false, true} {
			hh := http.Handler(h)
			name := mix + "/plain"
			if gz {
				hh = a.compress(h)
				name = mix + "/gzip"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				defer reportCPU(b)()
				for b.Loop() {
					req := httptest.NewRequest("GET", "/", nil)
					req.RemoteAddr = "192.0.2.7:40000"
					if gz {
						req.Header.Set("Accept-Encoding", "gzip")
					}
					w := &discardWriter{header: http.Header{}}
					hh.ServeHTTP(w, req)
					if w.code != http.StatusOK || w.n == 0 {
						b.Fatal(w.code, w.n)
					}
					b.SetBytes(w.n)
				}
			})
		}
	}
}

// heavyMatrix is the answer of bench/soak's heavy query: 2,950 series ×
// 601 points at a 1 s step. soak: 9 series in 10 are counters rising by
// random whole steps, the rest gauges of full precision (gzip shrinks it
// about fourfold, as the soak's real answer).
func heavyMatrix(soak bool) promql.Matrix {
	rnd := rand.New(rand.NewPCG(7, 11))
	m := make(promql.Matrix, 2950)
	for i := range m {
		m[i].Metric = labels.FromStrings("__name__", "soak_latency_seconds_bucket", "endpoint", "submit", "instance", "svc-01-1", "le", strconv.Itoa(i), "service", "svc-01")
		c := float64(rnd.IntN(100_000))
		for t := range 601 {
			f := 1234.5678 + float64(t%97)/3
			if soak && i%10 != 0 {
				c += float64(rnd.IntN(40))
				f = c
			} else if soak {
				f = 20 + 30*rnd.Float64()
			}
			m[i].Floats = append(m[i].Floats, promql.FPoint{T: 1796393891000 + int64(t)*1000, F: f})
		}
	}
	return m
}

// discardWriter is a ResponseWriter that counts what is written and keeps
// nothing.
type discardWriter struct {
	header http.Header
	code   int
	n      int64
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(b))
	return len(b), nil
}

// benchSeries is the series of BenchmarkHourRate: GMC_BENCH_SERIES, else 1000.
func benchSeries() int {
	if n, err := strconv.Atoi(os.Getenv("GMC_BENCH_SERIES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// reportCPU reports the process's CPU time (user + system, all threads)
// per op from now until the returned func runs: on a shared machine the
// wall time says how busy it was as much as what an op costs.
func reportCPU(b *testing.B) func() {
	c0 := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e6, "cpu-ms/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIngestBesideHeavy measures, in one process, what a heavy range
// query (every one of 3,000 series over 10 minutes at a 1 s step, evaluated,
// encoded and gzipped through the handler, one at a time as the heavy lane
// runs them on 2 cores) does to a light writer beside it: every 5 ms, 50
// samples appended and committed to the same store, timed from the tick
// that was due. The heavy queries alternate between an API that yields the
// processor (yield.go) and one that does not, so that both arms share the
// machine's load; a write counts for the arm of the heavy query running
// when it was due. It reports the writer's p50, p99 and max per arm, and
// the heavy queries each answered. One iteration runs for
// GMC_BENCH_SECONDS (default 20).
func BenchmarkIngestBesideHeavy(b *testing.B) {
	const steps = 600
	st := openHour(b, 3000, steps)
	var apis [2]*API
	for arm, noYield := range []bool{false, true} {
		a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return time.Unix(int64(steps), 0) }})
		if err != nil {
			b.Fatal(err)
		}
		a.noYield = noYield
		apis[arm] = a
	}
	wrap, err := gzhttp.NewWrapper()
	if err != nil {
		b.Fatal(err)
	}
	ingestBesideHeavy(b, st, steps, [2]string{"yield", "noyield"}, func(arm int, w http.ResponseWriter, r *http.Request) {
		wrap(http.HandlerFunc(apis[arm].QueryRange)).ServeHTTP(w, r)
	})
}

// BenchmarkIngestBesideHeavyCompress is BenchmarkIngestBesideHeavy with
// the heavy queries alternating between a client on the loopback, answered
// plain, and one elsewhere, answered gzipped (routes.go), both through the
// API's own wrapper and both accepting gzip.
func BenchmarkIngestBesideHeavyCompress(b *testing.B) {
	const steps = 600
	st := openHour(b, 3000, steps)
	a, err := New(Options{Queryable: st, Registerer: prometheus.NewRegistry(), Now: func() time.Time { return time.Unix(int64(steps), 0) }})
	if err != nil {
		b.Fatal(err)
	}
	h := a.compress(a.QueryRange)
	ingestBesideHeavy(b, st, steps, [2]string{"loopback", "gzip"}, func(arm int, w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = [2]string{"127.0.0.1:40000", "192.0.2.7:40000"}[arm]
		h(w, r)
	})
}

// BenchmarkIngestBesideHeavyNice is BenchmarkIngestBesideHeavy with the
// heavy queries alternating between an API that evaluates and encodes them on
// a thread at query.heavy_query_nice's default (10) and one that runs them on
// the request's thread; both admit them to the heavy lane of the default
// lanes, as gmc does, and answer them plain (a loopback client).
func BenchmarkIngestBesideHeavyNice(b *testing.B) {
	const steps = 600
	st := openHour(b, 3000, steps)
	now := func() time.Time { return time.Unix(int64(steps), 0) }
	var apis [2]*API
	for arm, nice := range []int{DefaultHeavyQueryNice, 0} {
		reg := prometheus.NewRegistry()
		a, err := New(Options{Queryable: st, Registerer: reg, Now: now, ActiveQueryDir: b.TempDir(), HeavyNice: nice,
			Lanes: NewLanes(LanesOptions{Config: DefaultConfig(), Queryable: st, Registerer: reg, Now: now})})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		apis[arm] = a
	}
	ingestBesideHeavy(b, st, steps, [2]string{"nice", "plain"}, func(arm int, w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "127.0.0.1:40000"
		apis[arm].QueryRange(w, r)
	})
}

// BenchmarkIngestBesideHeavyProcs is BenchmarkIngestBesideHeavyNice with
// both arms on the niced thread, alternating between GOMAXPROCS at the
// CPUs and one more: with one more, the niced heavy query holds a
// scheduler slot of its own and the writer keeps one per CPU.
func BenchmarkIngestBesideHeavyProcs(b *testing.B) {
	const steps = 600
	st := openHour(b, 3000, steps)
	now := func() time.Time { return time.Unix(int64(steps), 0) }
	reg := prometheus.NewRegistry()
	a, err := New(Options{Queryable: st, Registerer: reg, Now: now, ActiveQueryDir: b.TempDir(), HeavyNice: DefaultHeavyQueryNice,
		Lanes: NewLanes(LanesOptions{Config: DefaultConfig(), Queryable: st, Registerer: reg, Now: now})})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	cpus := runtime.NumCPU()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	ingestBesideHeavy(b, st, steps, [2]string{"procs-cpus", "procs-cpus+1"}, func(arm int, w http.ResponseWriter, r *http.Request) {
		runtime.GOMAXPROCS(cpus + arm)
		r.RemoteAddr = "127.0.0.1:40000"
		a.QueryRange(w, r)
	})
}

// BenchmarkIngestBesideHeavyBorrow is BenchmarkIngestBesideHeavyNice with
// both arms niced at the default lanes and GOMAXPROCS at the CPUs + 1 (as gmc
// server runs), the heavy queries alternating between an API whose heavy
// queries shard onto the small lane's spare slots (on 2 cores: 2 niced
// goroutines) and one whose heavy queries take none (1 goroutine).
func BenchmarkIngestBesideHeavyBorrow(b *testing.B) {
	const steps = 600
	st := openHour(b, 3000, steps)
	now := func() time.Time { return time.Unix(int64(steps), 0) }
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.NumCPU() + 1))
	var apis [2]*API
	for arm, noBorrow := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		a, err := New(Options{Queryable: st, Registerer: reg, Now: now, ActiveQueryDir: b.TempDir(), HeavyNice: DefaultHeavyQueryNice,
			Lanes: NewLanes(LanesOptions{Config: DefaultConfig(), Queryable: st, Registerer: reg, Now: now})})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		a.noBorrow = noBorrow
		apis[arm] = a
	}
	ingestBesideHeavy(b, st, steps, [2]string{"borrow", "noborrow"}, func(arm int, w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "127.0.0.1:40000"
		apis[arm].QueryRange(w, r)
	})
}

// ingestBesideHeavy runs the heavy queries through serve, alternating
// between its two arms, beside the writer, and reports per arm.
func ingestBesideHeavy(b *testing.B, st *storage.TSDB, steps int, names [2]string, serve func(arm int, w http.ResponseWriter, r *http.Request)) {
	secs := 20
	if s := os.Getenv("GMC_BENCH_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	params := url.Values{"query": {"trading_orders_total"}, "start": {"0"}, "end": {strconv.Itoa(steps - 1)}, "step": {"1"}}
	target := "/api/v1/query_range?" + params.Encode()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
		var running atomic.Int32
		var lat, inWrite [2][]time.Duration // from the tick due; from the write's start
		var heavies [2]int
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Go(func() { // the heavy lane, one arm a query
			for arm := 0; ctx.Err() == nil; arm = 1 - arm {
				running.Store(int32(arm))
				req := httptest.NewRequest("GET", target, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				w := &discardWriter{header: http.Header{}}
				serve(arm, w, req)
				if w.code != 200 {
					b.Error(w.code)
					return
				}
				mu.Lock()
				heavies[arm]++
				mu.Unlock()
			}
		})
		wg.Go(func() { // the writer
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			ts := int64(steps) * 1000
			for {
				var due time.Time
				select {
				case <-ctx.Done():
					return
				case due = <-tick.C:
				}
				arm := running.Load()
				ts++
				began := time.Now()
				app := st.AppenderV2(context.Background())
				for s := range 50 {
					if _, err := app.Append(0, labels.FromStrings("__name__", "bench_writer", "s", strconv.Itoa(s)), 0, ts, float64(ts), nil, nil, promstorage.AOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
				if err := app.Commit(); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				inWrite[arm] = append(inWrite[arm], time.Since(began))
				lat[arm] = append(lat[arm], time.Since(due))
				mu.Unlock()
			}
		})
		wg.Wait()
		cancel()
		for arm, name := range names {
			l := lat[arm]
			slices.Sort(l)
			if len(l) == 0 {
				continue
			}
			q := func(p float64) float64 { return float64(l[int(p*float64(len(l)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.5), name+"-p50-ms")
			b.ReportMetric(q(0.99), name+"-p99-ms")
			b.ReportMetric(q(1), name+"-max-ms")
			b.ReportMetric(float64(heavies[arm]), name+"-heavy")
			// The append and commit alone, without the wait to run.
			w := inWrite[arm]
			slices.Sort(w)
			b.ReportMetric(float64(w[int(0.99*float64(len(w)-1))].Microseconds())/1000, name+"-write-p99-ms")
		}
	}
}

// heavyRangeQuery is bench/soak's heavy query on openHour's store: every
// series over 10 minutes at a 1 s step, through the HTTP handler with the
// step cache gmc runs with; it returns the answer's bytes.
func heavyRangeQuery(tb testing.TB, a *API) int64 {
	req := httptest.NewRequest("GET", "/api/v1/query_range?query=trading_orders_total&start=0&end=600&step=1", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{header: http.Header{}}
	a.QueryRange(w, req)
	if w.code != http.StatusOK || w.n == 0 {
		tb.Fatalf("HTTP %d, %d bytes", w.code, w.n)
	}
	return w.n
}

// heavyRangeAPI is an API over 1,000 series × 601 points (601k: over a
// quarter of the default step cache, so not kept), with the default step
// cache and now an hour after the data (every step settled).
func heavyRangeAPI(tb testing.TB) *API {
	a, err := New(Options{Queryable: openHour(tb, 1000, 601), Registerer: prometheus.NewRegistry(),
		StepCache: &StepCache{Generation: func() uint64 { return 0 }, Settle: DefaultCacheSettle,
			MaxAge: DefaultCacheMaxAge, MaxPoints: DefaultCacheMaxPoints},
		Now: func() time.Time { return time.Unix(3600, 0) }})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// BenchmarkHeavyRange is bench/soak's heavy query in process (see
// heavyRangeQuery): CPU and bytes allocated per answer.
func BenchmarkHeavyRange(b *testing.B) {
	a := heavyRangeAPI(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		b.SetBytes(heavyRangeQuery(b, a))
	}
}
