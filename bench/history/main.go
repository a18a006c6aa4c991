// Command history measures range queries over history side by side: gmc
// (through its downsampled tiers), Prometheus 2.42 and VictoriaMetrics 1.79
// loaded with the same data, the same queries over HTTP, medians and
// ratios. Two data sets, each store one at a time on 127.0.0.1:
//   - 1 h of per-second samples of 10k series in the trading shape of
//     ../shared/BASELINES.md, remote-written (1.0) into each empty store;
//     `sum by (service)(rate(trading_orders_total[1m]))` at 1 s and 15 s
//     steps;
//   - 30 days of 15-second samples of 50 series (25 counters with resets,
//     25 gauges), written once as Prometheus TSDB blocks and copied into
//     gmc's and Prometheus's data dirs (VictoriaMetrics imports the same
//     samples through /api/v1/import); a 30-day panel and a 7-day
//     dashboard of 10 panels, once gmc's tiers have caught up.
//
// Then, in process, the same history queries on gmc's raw data and through
// its tiers, and the bytes per sample of each tier. See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/bench/internal/proc"
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
	targets := fs.String("targets", "gmc,prometheus,victoria-metrics", "stores to measure, in order")
	gmcBin := fs.String("gmc", "", "gmc binary (default: built from ./cmd/gmc)")
	promBin := fs.String("prometheus", "/usr/bin/prometheus", "Prometheus 2.42 binary")
	vmBin := fs.String("victoria-metrics", "/usr/bin/victoria-metrics", "VictoriaMetrics 1.79 binary")
	hourSeries := fs.Int("hour-series", 10000, "series of the 1 h per-second workload (a tenth are trading_orders_total)")
	hourRuns := fs.Int("hour-runs", 20, "timed runs of each 1 h query (after one warm-up)")
	days := fs.Int("days", 30, "days of history")
	series := fs.Int("series", 50, "history series (half counters, half gauges)")
	interval := fs.Duration("interval", 15*time.Second, "history sample interval")
	runs := fs.Int("runs", 11, "timed runs per history query (after one warm-up); the median is reported")
	inproc := fs.Bool("in-process", true, "also time raw vs tiers in this process and measure bytes per sample per tier")
	keep := fs.String("keep", "", "keep the data dirs and logs here instead of a removed temp dir")
	decodedCache := fs.Int("gmc-decoded-cache", -1, "gmc's query.decoded_cache_max_bytes (-1: gmc's default; 0: off)")
	profile := fs.String("profile", "", "in process: write a CPU profile of each query's timed runs on the tiers here (<n>.pprof, n its row), and print every run's time")
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
	now := time.Now()
	histEnd := now.Truncate(time.Hour).Add(-time.Hour)
	histStart := histEnd.Add(-time.Duration(*days) * 24 * time.Hour)
	staged := filepath.Join(dir, "history-blocks")
	t0 := time.Now()
	samples, err := write(ctx, staged, histStart, histEnd, *interval, *series)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "history: %d samples (%d series × %d days at %s, ending %s) written as TSDB blocks in %.1fs\n",
		samples, *series, *days, *interval, histEnd.UTC().Format(time.RFC3339), time.Since(t0).Seconds())
	hw := hourWorkload{n: *hourSeries, start: now.Add(-65 * time.Minute).Truncate(time.Second).UnixMilli(), steps: 3600}
	hourEnd := time.UnixMilli(hw.start + int64(hw.steps-1)*1000)
	fmt.Fprintf(out, "hour: %d series × 3600 s at 1 s = %d samples, remote-written to each store\n\n", hw.n, hw.n*hw.steps)

	var ts []target
	for _, name := range strings.Split(*targets, ",") {
		switch strings.TrimSpace(name) {
		case "gmc":
			bin := *gmcBin
			if bin == "" {
				bindir := filepath.Join(dir, "bin")
				if err := os.MkdirAll(bindir, 0o755); err != nil {
					return err
				}
				if bin, err = proc.BuildGMC(ctx, bindir); err != nil {
					return err
				}
			}
			ts = append(ts, gmcTarget(bin, *decodedCache))
		case "prometheus":
			ts = append(ts, prometheusTarget(*promBin))
		case "victoria-metrics":
			ts = append(ts, victoriaMetricsTarget(*vmBin))
		case "":
		default:
			return fmt.Errorf("unknown target %q", name)
		}
	}
	queries := append(append(hourQueries(), panel30()...), dash7()...)
	res := map[string]map[string]time.Duration{} // query name → target → median
	answers := map[string]map[string]rangeResult{}
	for _, q := range queries {
		res[q.name], answers[q.name] = map[string]time.Duration{}, map[string]rangeResult{}
	}
	res[refreshName] = map[string]time.Duration{}
	cpu := map[string]map[string]time.Duration{} // hour query name → target → CPU per query
	for _, q := range append(hourQueries(), qdef{name: refreshName}) {
		cpu[q.name] = map[string]time.Duration{}
	}
	var order []string
	for _, t := range ts {
		if _, err := os.Stat(t.bin); err != nil {
			if os.Getenv("CI") == "true" {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			fmt.Fprintf(out, "%s: skipped (%v)\n", t.name, err)
			continue
		}
		order = append(order, t.name)
		if err := measureTarget(ctx, out, t, dir, staged, hw, hourEnd, histEnd, samples, *series, *hourRuns, *runs, res, cpu, answers); err != nil {
			return err
		}
	}
	printTable(out, order, queries, res, answers)
	printCPU(out, order, cpu)
	if *inproc {
		fmt.Fprintf(out, "\nin process (gmc's raw data vs its tiers, no HTTP; load %s)\n", loadAvg())
		return inProcess(ctx, out, staged, histEnd, *days, *interval, samples, *runs, *profile)
	}
	return nil
}

// measureTarget runs the two phases on one store: the 1 h workload
// remote-written into an empty store (gmc with its tiers off, so their
// catch-up over the freshly written hour does not run during the timings),
// then the history (blocks copied in, or imported) with gmc's tiers on and
// caught up.
func measureTarget(ctx context.Context, out io.Writer, t target, dir, staged string, hw hourWorkload, hourEnd, histEnd time.Time, histSamples, series, hourRuns, runs int,
	res, cpu map[string]map[string]time.Duration, answers map[string]map[string]rangeResult) error {
	tdir := filepath.Join(dir, t.name)
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return err
	}
	// Phase 1: the hour.
	p, err := t.start(ctx, tdir, filepath.Join(tdir, "hour"), false)
	if err != nil {
		return err
	}
	t0 := time.Now()
	sent, failed, werr := remoteWrite(ctx, p.addr, hw)
	took := time.Since(t0)
	fmt.Fprintf(out, "%s: remote-wrote %d samples in %.1fs (%.0f/s), %d failed", t.name, sent, took.Seconds(), float64(sent)/took.Seconds(), failed)
	if werr != nil {
		fmt.Fprintf(out, " (first error: %v)", werr)
	}
	fmt.Fprintln(out)
	hq := hourQueries()
	if _, err := waitPoints(ctx, p, hq[1].expr, hourEnd.Add(-hq[1].span), hourEnd, hq[1].step, 20, time.Minute); err != nil {
		p.Stop()
		return err
	}
	for _, q := range hq {
		load := loadAvg()
		d, c, r, err := timeHTTP(ctx, p, q.expr, hourEnd.Add(-q.span), hourEnd, q.step, hourRuns)
		if err != nil {
			p.Stop()
			return err
		}
		res[q.name][t.name], cpu[q.name][t.name], answers[q.name][t.name] = d, c, r
		fmt.Fprintf(out, "  %-48s %9.1f ms (%d series, %d points; CPU %.1f ms/query; load %s)\n", q.name, ms(d), len(r), r.points(), ms(c), load)
	}
	// A dashboard refreshing the hour every second, caches on.
	rq := hq[0]
	load := loadAvg()
	d, c, err := timeRefresh(ctx, p, rq.expr, rq.span, hourEnd, rq.step, hourRuns)
	if err != nil {
		p.Stop()
		return err
	}
	res[refreshName][t.name], cpu[refreshName][t.name] = d, c
	fmt.Fprintf(out, "  %-48s %9.1f ms (CPU %.1f ms/query; load %s)\n", refreshName, ms(d), ms(c), load)
	p.Stop()
	if err := os.RemoveAll(filepath.Join(tdir, "hour")); err != nil {
		return err
	}

	// Phase 2: the history.
	data := filepath.Join(tdir, "history")
	if t.blocks {
		if err := copyBlocks(staged, data); err != nil {
			return fmt.Errorf("copy history blocks: %w", err)
		}
	}
	if p, err = t.start(ctx, tdir, data, true); err != nil {
		return err
	}
	defer p.Stop()
	t0 = time.Now()
	if !t.blocks {
		n, err := importBlocks(ctx, p.addr, staged)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: imported %d history samples in %.1fs\n", t.name, n, time.Since(t0).Seconds())
	}
	if t.name == "gmc" {
		if err := waitTiers(ctx, p.addr, histEnd, 15*time.Minute); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: tiers caught up with the history in %.1fs\n", t.name, time.Since(t0).Seconds())
	}
	pq := panel30()
	if _, err := waitPoints(ctx, p, pq[1].expr, histEnd.Add(-pq[1].span), histEnd, pq[1].step, series, 3*time.Minute); err != nil {
		return err
	}
	var dash time.Duration
	for _, q := range append(pq, dash7()...) {
		load := loadAvg()
		d, _, r, err := timeHTTP(ctx, p, q.expr, histEnd.Add(-q.span), histEnd, q.step, runs)
		if err != nil {
			return err
		}
		res[q.name][t.name], answers[q.name][t.name] = d, r
		if q.dash {
			dash += d
		}
		fmt.Fprintf(out, "  %-48s %9.1f ms (%d series, %d points; load %s)\n", q.name, ms(d), len(r), r.points(), load)
	}
	fmt.Fprintf(out, "  %-48s %9.1f ms\n", "7d dashboard, 10 panels, total", ms(dash))
	if t.name == "victoria-metrics" {
		// Merge the imported parts as VictoriaMetrics does in the background.
		if resp, err := http.Get("http://" + p.addr + "/internal/force_merge"); err == nil {
			resp.Body.Close()
			time.Sleep(10 * time.Second)
		}
	}
	p.Stop()
	used, err := diskUsage(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  history on disk after a clean stop: %d bytes, %.2f bytes/sample", used, float64(used)/float64(histSamples))
	if t.name == "gmc" {
		tiers, _ := diskUsage(filepath.Join(data, "tiers"))
		fmt.Fprintf(out, " (raw %.2f, tiers %.2f per raw sample)", float64(used-tiers)/float64(histSamples), float64(tiers)/float64(histSamples))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out)
	return os.RemoveAll(data)
}

// printCPU prints the stores' CPU time per hour query (their processes,
// all threads): what a query costs whatever else the machine runs, where
// its wall time on a busy machine is the load's as much as the store's.
func printCPU(out io.Writer, order []string, cpu map[string]map[string]time.Duration) {
	fmt.Fprintf(out, "%-48s", "CPU ms per query (the store's process)")
	for _, n := range order {
		fmt.Fprintf(out, " %17s", n)
	}
	for _, n := range order[min(1, len(order)):] {
		fmt.Fprintf(out, " %10s", n[:min(4, len(n))]+"/gmc")
	}
	fmt.Fprintln(out)
	for _, q := range append(hourQueries(), qdef{name: refreshName}) {
		fmt.Fprintf(out, "%-48s", q.name)
		for _, n := range order {
			fmt.Fprintf(out, " %17.1f", ms(cpu[q.name][n]))
		}
		for _, n := range order[min(1, len(order)):] {
			if g := cpu[q.name]["gmc"]; g > 0 {
				fmt.Fprintf(out, " %9.2f×", float64(cpu[q.name][n])/float64(g))
			}
		}
		fmt.Fprintln(out)
	}
}

// printTable prints every query's medians and gmc's speed against each peer
// (the peer's time ÷ gmc's: above 1 gmc is faster), and how far each
// answer is from Prometheus's.
func printTable(out io.Writer, order []string, queries []qdef, res map[string]map[string]time.Duration, answers map[string]map[string]rangeResult) {
	fmt.Fprintf(out, "%-48s", "median ms")
	for _, n := range order {
		fmt.Fprintf(out, " %17s", n)
	}
	for _, n := range order[min(1, len(order)):] {
		fmt.Fprintf(out, " %10s", n[:min(4, len(n))]+"/gmc")
	}
	fmt.Fprintf(out, "  diff vs prometheus\n")
	sums := map[string]time.Duration{}
	var worstAt []string
	defer func() {
		if len(worstAt) > 0 {
			fmt.Fprintf(out, "answers more than 5%% from Prometheus's (worst point, Prometheus vs the store):\n  %s\n", strings.Join(worstAt, "\n  "))
		}
	}()
	for _, q := range queries {
		fmt.Fprintf(out, "%-48s", q.name)
		for _, n := range order {
			fmt.Fprintf(out, " %17.1f", ms(res[q.name][n]))
			if q.dash {
				sums[n] += res[q.name][n]
			}
		}
		g := res[q.name]["gmc"]
		for _, n := range order[min(1, len(order)):] {
			if g > 0 {
				fmt.Fprintf(out, " %9.2f×", float64(res[q.name][n])/float64(g))
			}
		}
		if p, ok := answers[q.name]["prometheus"]; ok {
			for _, n := range order {
				if n == "prometheus" {
					continue
				}
				w, miss, at := compareResults(p, answers[q.name][n], 2*q.step.Seconds()+120)
				if w > 0.05 {
					worstAt = append(worstAt, fmt.Sprintf("%s, %s: %s", q.name, n, at))
				}
				fmt.Fprintf(out, "  %s %.2g%%", n[:min(4, len(n))], w*100)
				if miss > 0 {
					fmt.Fprintf(out, " (%d pts missing)", miss)
				}
			}
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "%-48s", refreshName)
	for _, n := range order {
		fmt.Fprintf(out, " %17.1f", ms(res[refreshName][n]))
	}
	for _, n := range order[min(1, len(order)):] {
		if g := res[refreshName]["gmc"]; g > 0 {
			fmt.Fprintf(out, " %9.2f×", float64(res[refreshName][n])/float64(g))
		}
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "%-48s", "7d dashboard, 10 panels, total")
	for _, n := range order {
		fmt.Fprintf(out, " %17.1f", ms(sums[n]))
	}
	for _, n := range order[min(1, len(order)):] {
		if sums["gmc"] > 0 {
			fmt.Fprintf(out, " %9.2f×", float64(sums[n])/float64(sums["gmc"]))
		}
	}
	fmt.Fprintln(out)
}

// loadAvg is the machine's 1-minute load average, as uptime prints it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// inProcess times the same queries on the raw data and through the tiers
// in this process (no HTTP), with the tiers caught up by hand, and prints
// the bytes per sample of each tier after compaction.
func inProcess(ctx context.Context, out io.Writer, dir string, now time.Time, days int, interval time.Duration, samples, runs int, profile string) error {
	raw, err := storage.Open(storage.Options{Dir: dir, Retention: time.Duration(days+1) * 24 * time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	defer raw.Close()
	var tiers tier.Config
	tiers.Normalise() // the default tiers
	set, err := tier.Open(tier.Options{Config: tiers, Dir: dir, Raw: raw, RawRetention: time.Duration(days+1) * 24 * time.Hour,
		Now: func() time.Time { return now.Add(3 * time.Minute) }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer set.Close()
	t0 := time.Now()
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
	for _, t := range set.Tiers() {
		st := t.Stats()
		fmt.Fprintf(out, "  tier %s: %d blocks, %d series in the head\n", st.Name, st.Blocks, st.Series)
	}

	api, err := query.New(query.Options{Queryable: raw, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	eng := api.Engine()
	tiered := set.Queryable(query.DefaultLookbackDelta.Milliseconds())
	// The API over the tiers, as the server serves it (sharded, JSON,
	// gzip) but with no network or middleware.
	// Once as served (sharded), once on one goroutine.
	var handlers [2]http.Handler
	for i, par := range []int{0, 1} {
		tapi, err := query.New(query.Options{Queryable: tiered, Engine: eng, Parallelism: par})
		if err != nil {
			return err
		}
		for _, r := range tapi.Routes() {
			if r.Method == http.MethodGet && r.Path == "/api/v1/query_range" {
				handlers[i] = r.Handler
			}
		}
	}
	fmt.Fprintf(out, "\n%-52s %10s %10s %7s %11s %11s %9s %12s %12s\n", "query (in process)", "raw ms", "tiers ms", "ratio", "raw cpu-ms", "tiers cpu", "max diff", "API+gzip ms", "unsharded")
	var dashRaw, dashTier, dashRawCPU, dashTierCPU time.Duration
	var runTimes []string
	row := 0
	for _, group := range [][]qdef{panel30(), dash7()} {
		for _, q := range group {
			row++
			end := now
			qstart := end.Add(-q.span)
			rawT, rawRes, err := timeQuery(ctx, eng, raw, q.expr, qstart, end, q.step, runs)
			if err != nil {
				return err
			}
			stop := func() error { return nil }
			if profile != "" {
				if stop, err = startProfile(filepath.Join(profile, fmt.Sprintf("%d.pprof", row))); err != nil {
					return err
				}
			}
			tierT, tierRes, err := timeQuery(ctx, eng, tiered, q.expr, qstart, end, q.step, runs)
			if err := errors.Join(err, stop()); err != nil {
				return err
			}
			if profile != "" {
				line := fmt.Sprintf("%2d %-48s", row, q.name)
				for _, d := range tierT.runs {
					line += fmt.Sprintf(" %.1f", ms(d))
				}
				runTimes = append(runTimes, line)
			}
			apiMs, err := timeHandler(handlers[0], q.expr, qstart, end, q.step, runs)
			if err != nil {
				return err
			}
			oneMs, err := timeHandler(handlers[1], q.expr, qstart, end, q.step, runs)
			if err != nil {
				return err
			}
			diff := maxRelDiff(rawRes, tierRes)
			fmt.Fprintf(out, "%-52s %10.1f %10.1f %6.1f× %11.1f %11.1f %8.2g%% %12.1f %12.1f\n", q.name, ms(rawT.wall), ms(tierT.wall), float64(rawT.wall)/float64(tierT.wall),
				ms(rawT.cpu), ms(tierT.cpu), diff*100, ms(apiMs), ms(oneMs))
			if q.dash {
				dashRaw += rawT.wall
				dashTier += tierT.wall
				dashRawCPU += rawT.cpu
				dashTierCPU += tierT.cpu
			}
		}
	}
	fmt.Fprintf(out, "%-52s %10.1f %10.1f %6.1f× %11.1f %11.1f\n", "7d dashboard, 10 panels, total", ms(dashRaw), ms(dashTier), float64(dashRaw)/float64(dashTier), ms(dashRawCPU), ms(dashTierCPU))
	if profile != "" {
		fmt.Fprintf(out, "\nevery timed run on the tiers, ms, in order (CPU profiles in %s/<row>.pprof):\n%s\n", profile, strings.Join(runTimes, "\n"))
	}

	// Bytes per sample: the tiers' blocks, plus the head (WAL) of their
	// newest part, which the job leaves uncompacted.
	fmt.Fprintf(out, "\n%-6s %14s %14s %14s %18s\n", "tier", "bytes on disk", "samples", "bytes/sample", "bytes/raw sample")
	rawBytes := raw.Stats().BytesOnDisk
	fmt.Fprintf(out, "%-6s %14d %14d %14.2f %18.2f\n", "raw", rawBytes, samples, float64(rawBytes)/float64(samples), float64(rawBytes)/float64(samples))
	for _, t := range set.Tiers() {
		st := t.Stats()
		n := samples / int(time.Duration(t.Resolution)/interval) * 7
		fmt.Fprintf(out, "%-6s %14d %14d %14.2f %18.3f\n", t.Name(), st.BytesOnDisk, n, float64(st.BytesOnDisk)/float64(n), float64(st.BytesOnDisk)/float64(samples))
	}
	return nil
}

// qdef is one timed query: a range query over span ending at the data's end.
type qdef struct {
	name, expr string
	span, step time.Duration
	dash       bool // a panel of the 7-day dashboard
}

func panel30() []qdef {
	return []qdef{
		{"30d panel, 50 series: rate[1h] step 1h", `rate(bench_requests_total[1h])`, 30 * 24 * time.Hour, time.Hour, false},
		{"30d panel, 50 series: max_over_time[1h] step 1h", `max_over_time({__name__=~"bench_.+"}[1h])`, 30 * 24 * time.Hour, time.Hour, false},
		{"30d panel: sum by (service) rate[1d] step 1d", `sum by (service) (rate(bench_requests_total[1d]))`, 30 * 24 * time.Hour, 24 * time.Hour, false},
	}
}

func dash7() []qdef {
	var out []qdef
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
		out = append(out, qdef{fmt.Sprintf("7d dashboard panel %d", i+1), e, 7 * 24 * time.Hour, 10 * time.Minute, true})
	}
	return out
}

// refreshName names the dashboard-refresh figure: the 1 s step query with
// its window sliding 1 s per call and the stores' caches on.
const refreshName = "1h at 1s, refreshed every 1s (caches on)"

func hourQueries() []qdef {
	return []qdef{
		{"1h at 1s: sum by (service) rate[1m]", `sum by (service) (rate(trading_orders_total[1m]))`, time.Hour, time.Second, false},
		{"1h at 15s: sum by (service) rate[1m]", `sum by (service) (rate(trading_orders_total[1m]))`, time.Hour, 15 * time.Second, false},
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// timing is a query's timed runs: the median wall time, the median CPU
// time of this process (every goroutine's: the query's, the GC's and the
// TSDBs' background work), and every run's wall time in order.
type timing struct {
	wall, cpu time.Duration
	runs      []time.Duration
}

// timeQuery runs expr once to warm up, then runs times, and returns its
// timing and the last result (copied).
func timeQuery(ctx context.Context, eng *promql.Engine, q promstorage.Queryable, expr string, start, end time.Time, step time.Duration, runs int) (timing, promql.Matrix, error) {
	var tm timing
	var cpus []time.Duration
	var res promql.Matrix
	for i := range runs + 1 {
		t0, c0 := time.Now(), cpuTime()
		qry, err := tier.Engine(eng).NewRangeQuery(ctx, q, nil, expr, start, end, step)
		if err != nil {
			return tm, nil, err
		}
		r := qry.Exec(ctx)
		if r.Err != nil {
			qry.Close()
			return tm, nil, fmt.Errorf("%s: %w", expr, r.Err)
		}
		m, _ := r.Matrix()
		d, c := time.Since(t0), cpuTime()-c0
		if i == runs {
			res = make(promql.Matrix, len(m))
			for j, s := range m {
				res[j] = promql.Series{Metric: s.Metric, Floats: slices.Clone(s.Floats)}
			}
		}
		qry.Close()
		if i > 0 {
			tm.runs = append(tm.runs, d)
			cpus = append(cpus, c)
		}
	}
	tm.wall, tm.cpu = median(tm.runs), median(cpus)
	return tm, res, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2]
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile starts a CPU profile into file; the returned func stops it.
func startProfile(file string) (func() error, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// timeHandler runs a range query through the query API's handler (no
// step cache, as over HTTP with nocache=1) with gzip accepted, once to
// warm up, then runs times, and returns the median.
func timeHandler(h http.Handler, expr string, start, end time.Time, step time.Duration, runs int) (time.Duration, error) {
	v := url.Values{"query": {expr}, "start": {unix(start)}, "end": {unix(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	var durs []time.Duration
	for i := range runs + 1 {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/query_range?"+v.Encode(), nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(t0)
		if rec.Code != http.StatusOK {
			return 0, fmt.Errorf("%s: %d %s", expr, rec.Code, rec.Body.String())
		}
		if i > 0 {
			durs = append(durs, d)
		}
	}
	slices.Sort(durs)
	return durs[len(durs)/2], nil
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
