// Command history measures gmc's downsampled tiers in process: it writes
// 30 days of 15-second samples for 50 series (25 counters with resets, 25
// gauges) as TSDB blocks, lets the tier job aggregate them, and times the
// same PromQL range queries on the raw data and through the tiers: a
// 30-day panel over the 50 series, a 7-day dashboard of 10 panels, and
// 1 h at 1 s and 15 s steps (raw either way). It prints medians, the
// largest difference between the two answers, and the bytes per sample on
// disk of the raw data and of each tier after compaction. See
// bench/README.md. Prometheus and VictoriaMetrics are not run by this
// harness (their query figures on raw data are in ../shared/BASELINES.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/history:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	days := fs.Int("days", 30, "days of history")
	series := fs.Int("series", 50, "series (half counters, half gauges)")
	interval := fs.Duration("interval", 15*time.Second, "sample interval")
	runs := fs.Int("runs", 11, "timed runs per query (after one warm-up); the median is reported")
	keep := fs.String("keep", "", "keep the data dir here instead of a removed temp dir")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := *keep
	if dir == "" {
		d, err := os.MkdirTemp("", "gmc-bench-history-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	now := time.Now().Truncate(time.Hour)
	start := now.Add(-time.Duration(*days) * 24 * time.Hour)
	t0 := time.Now()
	samples, err := write(ctx, dir, start, now, *interval, *series)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d samples (%d series × %d days at %s) in %.1fs\n", samples, *series, *days, *interval, time.Since(t0).Seconds())

	raw, err := storage.Open(storage.Options{Dir: dir, Retention: time.Duration(*days+1) * 24 * time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	defer raw.Close()
	set, err := tier.Open(tier.Options{Dir: dir, Raw: raw, RawRetention: time.Duration(*days+1) * 24 * time.Hour,
		Now: func() time.Time { return now.Add(3 * time.Minute) }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer set.Close()
	t0 = time.Now()
	for _, t := range set.Tiers() {
		for range 100000 {
			moved, err := set.Step(ctx, t)
			if err != nil {
				return err
			}
			if !moved {
				break
			}
		}
	}
	fmt.Fprintf(out, "downsampled into %d tiers in %.1fs (%.0f raw samples/s per tier)\n", len(set.Tiers()), time.Since(t0).Seconds(), float64(samples)*float64(len(set.Tiers()))/time.Since(t0).Seconds())

	api, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	eng := api.Engine()
	tiered := set.Queryable(query.DefaultLookbackDelta.Milliseconds())

	type qdef struct {
		name, expr  string
		span, step  time.Duration
		compareOnly bool
	}
	panel30 := []qdef{
		{"30d panel, 50 series: rate[1h] step 1h", `rate(bench_requests_total[1h])`, 30 * 24 * time.Hour, time.Hour, false},
		{"30d panel, 50 series: max_over_time[1h] step 1h", `max_over_time({__name__=~"bench_.+"}[1h])`, 30 * 24 * time.Hour, time.Hour, false},
		{"30d panel: sum by (service) rate[1d] step 1d", `sum by (service) (rate(bench_requests_total[1d]))`, 30 * 24 * time.Hour, 24 * time.Hour, false},
	}
	dash7 := []qdef{}
	for i, e := range []string{
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
	} {
		dash7 = append(dash7, qdef{fmt.Sprintf("7d dashboard panel %d", i+1), e, 7 * 24 * time.Hour, 10 * time.Minute, false})
	}
	hour := []qdef{
		{"1h at 1s: sum by (service) rate[1m]", `sum by (service) (rate(bench_requests_total[1m]))`, time.Hour, time.Second, false},
		{"1h at 15s: sum by (service) rate[1m]", `sum by (service) (rate(bench_requests_total[1m]))`, time.Hour, 15 * time.Second, false},
	}
	fmt.Fprintf(out, "\n%-52s %12s %12s %8s %10s\n", "query", "raw ms", "tiers ms", "ratio", "max diff")
	var dashRaw, dashTier time.Duration
	for _, group := range [][]qdef{panel30, dash7, hour} {
		for _, q := range group {
			end := now
			qstart := end.Add(-q.span)
			rawMs, rawRes, err := timeQuery(ctx, eng, raw, q.expr, qstart, end, q.step, *runs)
			if err != nil {
				return err
			}
			tierMs, tierRes, err := timeQuery(ctx, eng, tiered, q.expr, qstart, end, q.step, *runs)
			if err != nil {
				return err
			}
			diff := maxRelDiff(rawRes, tierRes)
			fmt.Fprintf(out, "%-52s %12.1f %12.1f %7.1f× %9.2g%%\n", q.name, ms(rawMs), ms(tierMs), float64(rawMs)/float64(tierMs), diff*100)
			if len(q.name) > 4 && q.name[:4] == "7d d" {
				dashRaw += rawMs
				dashTier += tierMs
			}
		}
	}
	fmt.Fprintf(out, "%-52s %12.1f %12.1f %7.1f×\n", "7d dashboard, 10 panels, total", ms(dashRaw), ms(dashTier), float64(dashRaw)/float64(dashTier))

	// Bytes per sample after compaction: compact the tiers' heads into blocks.
	fmt.Fprintf(out, "\n%-6s %14s %14s %14s %18s\n", "tier", "bytes on disk", "samples", "bytes/sample", "bytes/raw sample")
	rawBytes := raw.Stats().BytesOnDisk
	fmt.Fprintf(out, "%-6s %14d %14d %14.2f %18.2f\n", "raw", rawBytes, samples, float64(rawBytes)/float64(samples), float64(rawBytes)/float64(samples))
	for _, t := range set.Tiers() {
		st := t.Stats()
		n := samples / int(time.Duration(t.Resolution)/(*interval)) * 7
		fmt.Fprintf(out, "%-6s %14d %14d %14.2f %18.3f\n", t.Name(), st.BytesOnDisk, n, float64(st.BytesOnDisk)/float64(n), float64(st.BytesOnDisk)/float64(samples))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timeQuery runs expr once to warm up, then runs times, and returns the
// median duration and the last result (copied).
func timeQuery(ctx context.Context, eng *promql.Engine, q promstorage.Queryable, expr string, start, end time.Time, step time.Duration, runs int) (time.Duration, promql.Matrix, error) {
	var durs []time.Duration
	var res promql.Matrix
	for i := range runs + 1 {
		t0 := time.Now()
		qry, err := eng.NewRangeQuery(ctx, q, nil, expr, start, end, step)
		if err != nil {
			return 0, nil, err
		}
		r := qry.Exec(ctx)
		if r.Err != nil {
			qry.Close()
			return 0, nil, fmt.Errorf("%s: %w", expr, r.Err)
		}
		m, _ := r.Matrix()
		d := time.Since(t0)
		if i == runs {
			res = make(promql.Matrix, len(m))
			for j, s := range m {
				res[j] = promql.Series{Metric: s.Metric, Floats: slices.Clone(s.Floats)}
			}
		}
		qry.Close()
		if i > 0 {
			durs = append(durs, d)
		}
	}
	slices.Sort(durs)
	return durs[len(durs)/2], res, nil
}

// maxRelDiff is the largest relative difference between matching points.
func maxRelDiff(a, b promql.Matrix) float64 {
	idx := map[string]promql.Series{}
	for _, s := range b {
		idx[s.Metric.String()] = s
	}
	worst := 0.0
	for _, s := range a {
		o, ok := idx[s.Metric.String()]
		if !ok || len(o.Floats) != len(s.Floats) {
			return math.Inf(1)
		}
		for i, p := range s.Floats {
			d := math.Abs(p.F-o.Floats[i].F) / math.Max(math.Abs(p.F), 1e-9)
			worst = math.Max(worst, d)
		}
	}
	return worst
}

// write writes the workload as one block per day and returns its samples.
func write(ctx context.Context, dir string, start, end time.Time, interval time.Duration, n int) (int, error) {
	rng := rand.New(rand.NewPCG(7, 11))
	type ser struct {
		l       labels.Labels
		counter bool
		v       float64
	}
	var ss []*ser
	for i := range n {
		svc := fmt.Sprintf("svc-%d", i%5)
		if i%2 == 0 {
			ss = append(ss, &ser{l: labels.FromStrings("__name__", "bench_requests_total", "service", svc, "instance", fmt.Sprintf("i-%d", i)), counter: true})
		} else {
			ss = append(ss, &ser{l: labels.FromStrings("__name__", "bench_latency_us", "service", svc, "instance", fmt.Sprintf("i-%d", i))})
		}
	}
	total := 0
	for from := start; from.Before(end); from = from.Add(24 * time.Hour) {
		w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, (24 * time.Hour).Milliseconds())
		if err != nil {
			return total, err
		}
		app := w.AppenderV2(ctx)
		for t := from; t.Before(from.Add(24*time.Hour)) && t.Before(end); t = t.Add(interval) {
			h := float64(t.UTC().Hour())
			load := 0.2 + 0.8*math.Max(0, math.Sin((h-6)/24*2*math.Pi))
			for _, s := range ss {
				if s.counter {
					if rng.IntN(20000) == 0 {
						s.v = 0 // a restart
					}
					s.v += math.Round(load * 100 * interval.Seconds() * (0.5 + rng.Float64()))
				} else {
					s.v = 200 + 300*load + 50*rng.NormFloat64()
				}
				if _, err := app.Append(0, s.l, 0, t.UnixMilli(), s.v, nil, nil, promstorage.AOptions{}); err != nil {
					return total, err
				}
				total++
			}
		}
		if err := app.Commit(); err != nil {
			return total, err
		}
		if _, err := w.Flush(ctx); err != nil {
			return total, err
		}
		w.Close()
	}
	return total, nil
}
