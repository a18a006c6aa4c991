package tier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// dashSpan is the raw data of dashboardSet: 7 days (GMC_BENCH_DAYS) and
// the hour before them. bench/history -days 1 writes 1 day of data, which
// its 7-day panels then read.
func dashSpan() time.Duration {
	days := 7
	if d, err := strconv.Atoi(os.Getenv("GMC_BENCH_DAYS")); err == nil && d > 0 {
		days = d
	}
	return time.Duration(days)*24*time.Hour + time.Hour
}

// dashboardSet is bench/history's 7-day dashboard data in small: n series
// (GMC_BENCH_SERIES, 50 by default), half bench_requests_total counters with
// rare resets, half bench_latency_us gauges, in 5 services, a sample every
// 15 s (GMC_BENCH_INTERVAL) over dashSpan(), and the default tiers caught up
// to its end (GMC_BENCH_TIERS: other resolutions, "1m,1h"), logging each
// tier's catch-up CPU and bytes on disk. It returns the tiered Queryable,
// the engine and the end.
func dashboardSet(b *testing.B) (*Queryable, *promql.Engine, time.Time) {
	b.Helper()
	n := 50
	if s, err := strconv.Atoi(os.Getenv("GMC_BENCH_SERIES")); err == nil {
		n = s
	}
	interval := 15 * time.Second
	if d, err := time.ParseDuration(os.Getenv("GMC_BENCH_INTERVAL")); err == nil {
		interval = d
	}
	raw, dir := openRaw(b, storage.Options{})
	rng := rand.New(rand.NewPCG(7, 11))
	span := dashSpan()
	end := t0.Add(span)
	vals := make([]float64, n)
	ls := make([]labels.Labels, n)
	for i := range n {
		name := "bench_latency_us"
		if i%2 == 0 {
			name = "bench_requests_total"
		}
		ls[i] = labels.FromStrings("__name__", name, "service", fmt.Sprintf("svc-%d", i%5), "instance", fmt.Sprintf("i-%d", i))
	}
	for day := t0; day.Before(end); day = day.Add(6 * time.Hour) {
		app := raw.AppenderV2(context.Background())
		for ts := day; ts.Before(day.Add(6*time.Hour)) && !ts.After(end); ts = ts.Add(interval) {
			load := 0.2 + 0.8*math.Max(0, math.Sin((float64(ts.Hour())-6)/24*2*math.Pi))
			for i := range n {
				if i%2 == 0 {
					if rng.IntN(20000) == 0 {
						vals[i] = 0
					}
					vals[i] += math.Round(load * 100 * interval.Seconds() * (0.5 + rng.Float64()))
				} else {
					vals[i] = 200 + 300*load + 50*rng.NormFloat64()
				}
				if _, err := app.Append(0, ls[i], 0, ts.UnixMilli(), vals[i], nil, nil, promstorage.AOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	now := end.Add(time.Second)
	cfg := Config{}
	if v := os.Getenv("GMC_BENCH_TIERS"); v != "" { // e.g. "1m,1h"
		for _, r := range strings.Split(v, ",") {
			d, err := time.ParseDuration(r)
			if err != nil {
				b.Fatal(err)
			}
			cfg.Tiers = append(cfg.Tiers, Level{Resolution: duration.Duration(d), Retention: duration.Duration(365 * 24 * time.Hour)})
		}
	}
	cfg.Normalise()
	// Queries read the raw data and the tiers through the decoded-sample
	// cache, as the server has them (server.openTiers).
	cache := storage.NewDecodedCache(query.DefaultDecodedCacheMaxBytes, nil)
	set, err := Open(Options{Dir: dir, Raw: raw, RawRead: cache.Queryable(raw), Decoded: cache, RawRetention: 15 * 24 * time.Hour, Now: func() time.Time { return now }, Settle: time.Nanosecond, Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { set.Close() })
	jobCPU := map[string]time.Duration{}
	for _, tr := range set.Tiers() {
		c0 := cpuTime()
		for range 100000 {
			moved, err := set.Step(context.Background(), tr)
			if err != nil {
				b.Fatal(err)
			}
			if !moved {
				break
			}
		}
		jobCPU[tr.Name()] = cpuTime() - c0
	}
	// Compact now, not during the timings.
	if err := raw.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	rawSamples := float64(n) * float64(span/interval)
	for _, tr := range set.Tiers() {
		// The whole head into blocks: the timings read blocks only, and
		// the bytes on disk are the blocks' (the WAL's size depends on
		// when the TSDB last truncated it).
		if err := tr.db.FlushHead(context.Background()); err != nil {
			b.Fatal(err)
		}
		// What each tier costs: the job's CPU to catch up over the data
		// (the process's, so the TSDBs' background work too) and its
		// blocks' bytes per raw sample.
		st := tr.Stats()
		head := int64(0)
		for _, sub := range []string{"wal", "wbl", "chunks_head"} {
			head += dirBytes(b, filepath.Join(tr.dir, sub))
		}
		b.Logf("tier %s: catch-up %.2f s CPU; blocks %d bytes, %.3f per raw sample (head files %d bytes)",
			st.Name, jobCPU[st.Name].Seconds(), st.BytesOnDisk-head, float64(st.BytesOnDisk-head)/rawSamples, head)
	}
	q, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	return set.Queryable(5 * 60 * 1000), q.Engine(), end
}

// dashboardPanels are bench/history's 7-day dashboard panels (dash7).
var dashboardPanels = []string{
	`sum(rate(bench_requests_total[1h]))`,
	`sum by (service) (rate(bench_requests_total[1h]))`,
	`max by (service) (max_over_time(bench_latency_us[1h]))`,
	`min by (service) (min_over_time(bench_latency_us[1h]))`,
	`avg by (service) (avg_over_time(bench_latency_us[1h]))`,
	`topk(3, rate(bench_requests_total[1h]))`,
	`sum(increase(bench_requests_total[1h]))`,
	`avg(bench_latency_us)`,
	`max(bench_latency_us)`,
	`sum by (service) (avg_over_time(bench_latency_us[1h]))`,
}

// BenchmarkDashboard7d: bench/history's 7-day dashboard panels (a 10-minute
// step over 7 days) on the tiers, in process: the engine and the tiers'
// Select, no HTTP. GMC_BENCH_SERIES, GMC_BENCH_INTERVAL and GMC_BENCH_DAYS size
// the data.
func BenchmarkDashboard7d(b *testing.B) {
	tq, eng, end := dashboardSet(b)
	start := end.Add(-7 * 24 * time.Hour)
	for i, expr := range dashboardPanels {
		b.Run(fmt.Sprintf("panel%d", i+1), func(b *testing.B) {
			var samples int64
			cpu0 := cpuTime()
			for b.Loop() {
				qry, err := eng.NewRangeQuery(context.Background(), tq, nil, expr, start, end, 10*time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				Prepare(qry, tq)
				if res := qry.Exec(context.Background()); res.Err != nil {
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

// dirBytes is the size of the files under dir.
func dirBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	return n
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
