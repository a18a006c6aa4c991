package tier

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/query"
)

// BenchmarkDashboard7dServed: bench/history's 7-day dashboard panels (a
// 10-minute step over 7 days, answered from the tiers) along the path a
// request takes in gmc: the query_range handler as the server mounts it
// (query.API.Routes: the compress wrapper, gzip accepted, compress_loopback
// on as bench/history runs gmc), with the default lanes classifying each
// request, the server's engine (NewEngine with the lanes), the step cache
// and nocache=1 (as bench/history asks), from the loopback. At 2-4 ms a
// panel the fixed costs of a request (classification, parsing, planning,
// encoding) are a large part of it; BenchmarkDashboard7d is the engine
// alone. The server's middleware (auth, write deadline) is not mounted.
func BenchmarkDashboard7dServed(b *testing.B) {
	tq, _, end := dashboardSet(b)
	now := func() time.Time { return end.Add(time.Second) }
	reg := prometheus.NewRegistry()
	cfg := query.DefaultConfig()
	lanes := query.NewLanes(query.LanesOptions{Config: cfg, Queryable: tq, Registerer: reg, Now: now})
	engine, tracker, err := query.NewEngine(query.EngineOptions{Registerer: reg, Lanes: lanes, ActiveQueryDir: b.TempDir(),
		Timeout: time.Duration(cfg.Timeout), MaxSamples: cfg.MaxSamples})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tracker.Close() })
	a, err := query.New(query.Options{Queryable: tq, Engine: engine, ActiveQueries: tracker, Registerer: reg, Now: now,
		Lanes: lanes, CompressLoopback: true, HeavyNice: cfg.HeavyQueryNice, Timeout: time.Duration(cfg.Timeout),
		MaxResponseBytes: cfg.MaxResponseBytes, MaxSeries: cfg.MaxSeries, MaxSamples: cfg.MaxSamples,
		StepCache: &query.StepCache{Generation: func() uint64 { return 0 }, Settle: query.DefaultCacheSettle,
			MaxAge: query.DefaultCacheMaxAge, MaxPoints: cfg.CacheMaxPoints}})
	if err != nil {
		b.Fatal(err)
	}
	var served http.Handler
	for _, r := range a.Routes() {
		if r.Method == http.MethodGet && r.Path == "/api/v1/query_range" {
			served = r.Handler
		}
	}
	start := end.Add(-7 * 24 * time.Hour)
	// What a request costs whatever its data: a selector matching no
	// series, then each panel.
	for i, expr := range append([]string{`sum(rate(bench_none_total[1h]))`}, dashboardPanels...) {
		name := fmt.Sprintf("panel%d", i)
		if i == 0 {
			name = "none"
		}
		b.Run(name, func(b *testing.B) {
			params := url.Values{"query": {expr}, "start": {strconv.FormatInt(start.Unix(), 10)},
				"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"600"}, "nocache": {"1"}}
			target := "/api/v1/query_range?" + params.Encode()
			var bytes int64
			cpu0 := cpuTime()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, target, nil)
				req.RemoteAddr = "127.0.0.1:40000"
				req.Header.Set("Accept-Encoding", "gzip")
				w := &discardWriter{header: http.Header{}}
				served.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatal(w.code)
				}
				bytes = w.n
			}
			b.ReportMetric(float64(bytes), "bytes/op")
			b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// discardWriter is a ResponseWriter that counts the bytes written.
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

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(p))
	return len(p), nil
}
