package ingest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// The remote-write workload of ../shared/BASELINES.md: 10k series of 10
// trading-shaped labels, one sample per series per round (rounds 1 s apart),
// 2000 samples per request.
const (
	benchSeries    = 10_000
	benchPerReq    = 2000
	benchReqsRound = benchSeries / benchPerReq
)

// benchLabels returns the sorted labels of series i.
func benchLabels(i int) []prompb.Label {
	names := []string{"fill_latency_us", "order_latency_us", "orders_total", "fills_total", "pnl_usd",
		"notional_usd", "queue_depth", "rejects_total", "cancels_total", "md_updates_total"}
	venues := []string{"xnas", "xnys", "arcx", "bats", "iexg"}
	return []prompb.Label{
		{Name: "__name__", Value: names[i%10]},
		{Name: "account", Value: fmt.Sprintf("acc-%03d", i%200)},
		{Name: "env", Value: "prod"},
		{Name: "instance", Value: fmt.Sprintf("10.0.%d.%d:9100", i/7%20, i%250)},
		{Name: "job", Value: "trading"},
		{Name: "region", Value: []string{"us-east-1", "eu-west-1"}[i%2]},
		{Name: "service", Value: fmt.Sprintf("svc-%02d", i/10%20)},
		{Name: "strategy", Value: fmt.Sprintf("strat-%d", i/200%10)},
		{Name: "symbol", Value: fmt.Sprintf("SYM%04d", i/10)},
		{Name: "venue", Value: venues[i%5]},
	}
}

// benchBodies returns the requests of rounds [from, from+n) for the series
// with index ≡ part (mod parts), encoded as a sender would.
func benchBodies(tb testing.TB, from, n, part, parts int) [][]byte {
	rng := rand.New(rand.NewPCG(1, uint64(part)))
	var bodies [][]byte
	var ts []prompb.TimeSeries
	flush := func() {
		if len(ts) == 0 {
			return
		}
		b, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		bodies = append(bodies, snappy.Encode(nil, b))
		ts = ts[:0]
	}
	for r := from; r < from+n; r++ {
		t := nowMs - 3600_000 + int64(r)*1000
		for i := part; i < benchSeries; i += parts {
			v := float64(r * (i%7 + 1)) // counters
			if i%10 >= 4 {
				v = rng.NormFloat64()*50 + 300 // noisy gauges
			}
			ts = append(ts, prompb.TimeSeries{Labels: benchLabels(i), Samples: []prompb.Sample{{Value: v, Timestamp: t}}})
			if len(ts) == benchPerReq {
				flush()
			}
		}
		flush()
	}
	return bodies
}

func benchPost(tb testing.TB, h http.Handler, body []byte) {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
	r.Header.Set("Content-Encoding", "snappy")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		tb.Errorf("status %d: %s", w.Code, w.Body) // Errorf: called from sender goroutines too
	}
}

// BenchmarkRemoteWrite measures one sender writing the workload through
// the handler into a real TSDB; one op is one request of 2000 samples.
func BenchmarkRemoteWrite(b *testing.B) {
	e := newTestEnv(b, nil)
	h := e.in.RemoteWrite()
	for _, body := range benchBodies(b, 0, 1, 0, 1) { // create the series
		benchPost(b, h, body)
	}
	rounds := b.N/benchReqsRound + 1
	bodies := benchBodies(b, 1, rounds, 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		benchPost(b, h, bodies[i])
	}
	reportRate(b, start, cpu0)
}

// BenchmarkRemoteWriteParallel is BenchmarkRemoteWrite with concurrent
// senders, one per batch of 2000 series (so per-series order holds); one op is
// one request.
func BenchmarkRemoteWriteParallel(b *testing.B) {
	e := newTestEnv(b, nil)
	h := e.in.RemoteWrite()
	for _, body := range benchBodies(b, 0, 1, 0, 1) {
		benchPost(b, h, body)
	}
	rounds := b.N/benchReqsRound + 1
	all := benchBodies(b, 1, rounds, 0, 1) // request k is batch k%5 of round k/5
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for p := range benchReqsRound {
		wg.Go(func() {
			for k := p; k < b.N; k += benchReqsRound {
				benchPost(b, h, all[k])
			}
		})
	}
	wg.Wait()
	reportRate(b, start, cpu0)
}

// cpuTime is the CPU time this process used so far (user + system, all
// goroutines: the handler, the TSDB and the GC).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate reports samples/s (wall clock) and CPU ns per sample; the latter
// is the steadier figure on a shared machine.
func reportRate(b *testing.B, start time.Time, cpu0 time.Duration) {
	n := float64(b.N * benchPerReq)
	b.ReportMetric(n/time.Since(start).Seconds(), "samples/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/n, "cpu-ns/sample")
}

// BenchmarkRemoteWriteNewSeries measures requests that each create 2000 new
// series (the cardinality limits' only cost: the head asks the
// SeriesLimiter before creating a series), with the default limits and with
// every limit off; one op is one request.
func BenchmarkRemoteWriteNewSeries(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("limits=%v", on), func(b *testing.B) {
			e := newTestEnv(b, func(l *Limits) {
				if !on {
					l.MaxHeadSeries, l.MaxSeriesPerMetric, l.MaxSeriesPerService, l.MaxNewSeriesPerSecond = 0, 0, 0, 0
				} else {
					l.MaxNewSeriesPerSecond, l.NewSeriesBurst = 1<<30, 1<<30 // the bucket is checked, never empty
					l.MaxHeadSeries = 1 << 30
				}
			})
			h := e.in.RemoteWrite()
			bodies := make([][]byte, b.N)
			for i := range bodies {
				ts := make([]prompb.TimeSeries, benchPerReq)
				for j := range ts {
					ls := benchLabels(j)
					ls[8].Value = fmt.Sprintf("SYM%d-%d", i, j) // symbol: a new series
					ts[j] = prompb.TimeSeries{Labels: ls, Samples: []prompb.Sample{{Value: 1, Timestamp: nowMs}}}
				}
				body, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
				if err != nil {
					b.Fatal(err)
				}
				bodies[i] = snappy.Encode(nil, body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := range b.N {
				benchPost(b, h, bodies[i])
			}
			reportRate(b, start, cpu0)
		})
	}
}
