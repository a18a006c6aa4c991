package tier

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLongRanges: counter reads of minRateBuckets and more, which
// every counter series now reads with its edges (until t-tier23 only a
// series holding a mark in the read got them; the others were handed on
// undecoded): a 24h panel of rate over 1h windows at a 1-minute step (the
// 1m tier), one of 12h windows at a 30-minute step (the 10m tier, its
// buckets read 30 minutes at a time: coarseSet), and an SLA's 1-day ratio
// as its rule evaluates it, an instant query at a time off the minute
// through the SLAs' reader (the 1m tier, 1,440 buckets a series). On
// dashboardSet's data (GMC_BENCH_DAYS=3 is enough: no window holds the
// series' start).
func BenchmarkLongRanges(b *testing.B) {
	tq, eng, end := dashboardSet(b)
	sla := tq.WithUnaligned(1440)
	for _, c := range []struct {
		name, expr string
		q          *Queryable
		step       time.Duration
	}{
		{"rate1h-step1m-24h", `sum(rate(bench_requests_total[1h]))`, tq, time.Minute},
		{"rate12h-step30m-24h", `sum(rate(bench_requests_total[12h]))`, tq, 30 * time.Minute},
		{"sla-ratio1d-instant", `sum(increase(bench_requests_total{service="svc-0"}[1d])) / sum(increase(bench_requests_total[1d]))`, sla, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			var samples int64
			cpu0 := cpuTime()
			for b.Loop() {
				ctx := context.Background()
				qry, err := eng.NewRangeQuery(ctx, c.q, nil, c.expr, end.Add(-24*time.Hour), end, c.step)
				if c.step == 0 {
					qry, err = eng.NewInstantQuery(ctx, c.q, nil, c.expr, end.Add(-17500*time.Millisecond))
				}
				if err != nil {
					b.Fatal(err)
				}
				Prepare(qry, c.q)
				if res := qry.Exec(ctx); res.Err != nil {
					b.Fatal(res.Err)
				}
				samples = qry.Stats().Samples.TotalSamples
				qry.Close()
			}
			b.ReportMetric(float64(samples), "samples/op")
			b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}
