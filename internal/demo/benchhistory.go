package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
)

// DefaultBenchHistoryEvery is how often the backfilled benchmark runs are
// (BenchHistory.Every): four a day, as a CI's scheduled runs might be;
// the live demo's every 2 minutes would be 5,040 runs a week for each.
const DefaultBenchHistoryEvery = 6 * time.Hour

// BenchHistory asks Backfill for a history of the demo's benchmarks, so the
// Benchmarks page has trends, verdicts and a report on first start (it
// was empty at 30d, and on a busy machine every live run is skipped "host
// saturated", t-user12 F12).
type BenchHistory struct {
	// Config is gmc's benchmarks configuration: the demo's suite and the
	// judge's settings the live runs are compared with.
	Config bench.Config
	// Every is how often the history's runs are; DefaultBenchHistoryEvery
	// when 0.
	Every time.Duration
	// Measured are the runs the history's are drawn from, one per
	// benchmark; nil: each in-process (func) benchmark of the suite is
	// run once now, as the live scheduler runs it (nice 19).
	Measured []*bench.Run
}

// simulatedWhy is what the history's runs say of their figures
// (bench.Run.Simulated).
const simulatedWhy = "the demo's history: drawn from one run measured at the demo's start, not measured at this time"

// benchRecorder keeps the samples a run is recorded as (bench.Series,
// what the live StorageRecorder appends), to be written into the
// history's blocks.
type benchRecorder struct{ samples []bench.Sample }

func (r *benchRecorder) Record(_ context.Context, run *bench.Run) error {
	r.samples = append(r.samples, bench.Series(run)...)
	return nil
}

// measureBenchmarks runs each func benchmark of cfg's suite once now, as
// the live scheduler would (its registry niced as the demo's), archived in
// a scratch dir: the levels of the history's runs.
func measureBenchmarks(ctx context.Context, cfg bench.Config) ([]*bench.Run, error) {
	reg := bench.NewRegistry()
	if err := RegisterBenchmarks(reg); err != nil {
		return nil, err
	}
	reg.SetNice(19)
	dir, err := os.MkdirTemp("", "gmc-demo-bench-")
	if err != nil {
		return nil, fmt.Errorf("measure the benchmarks: %w", err)
	}
	defer os.RemoveAll(dir)
	archive, err := bench.OpenArchive(dir)
	if err != nil {
		return nil, err
	}
	runner, err := bench.NewRunner(bench.Options{Config: cfg, Archive: archive, Registry: reg})
	if err != nil {
		return nil, err
	}
	var runs []*bench.Run
	for _, b := range cfg.Suite {
		if b.Kind != bench.KindFunc {
			continue
		}
		run, err := runner.Run(ctx, b)
		if err != nil {
			return nil, fmt.Errorf("measure the benchmarks: %w", err)
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// backfillBench writes the benchmark history from start to end: a run of
// each measured benchmark every bh.Every, its samples the measured run's
// median times this run's level (a slow drift of ±2 % over days and 1.5 %
// from run to run) with the measured run's own spread, each stored
// through the runner's Finish as a live run is: compared with its
// baseline by gmc's judge, archived in the data dir's bench archive, its
// gmc_bench_* series kept (g.bench) for the history's blocks. The weekly
// reports of the history's weeks are built from the archive as the live
// scheduler builds them. It returns the number of runs.
func (g *historyGen) backfillBench(ctx context.Context, start, end time.Time) (int, error) {
	bh := g.o.Bench
	every := bh.Every
	if every <= 0 {
		every = DefaultBenchHistoryEvery
	}
	measured := bh.Measured
	if measured == nil {
		var err error
		if measured, err = measureBenchmarks(ctx, bh.Config); err != nil {
			return 0, err
		}
	}
	archive, err := bench.OpenArchive(g.o.Dir)
	if err != nil {
		return 0, err
	}
	var clock time.Time
	rec := &benchRecorder{}
	runner, err := bench.NewRunner(bench.Options{Config: bh.Config, Archive: archive, Recorder: rec, Now: func() time.Time { return clock }})
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(uint64(g.o.Seed), 23))
	host := g.o.Host
	if host == "" {
		host = "demo-host"
	}
	n := 0
	for t := start.Add(every / 2); t.Before(end); t = t.Add(every) {
		drift := 1 + 0.02*math.Sin(2*math.Pi*end.Sub(t).Hours()/(5.3*24))
		for _, m := range measured {
			if m.Error != "" || len(m.Results) == 0 {
				continue
			}
			level := drift * (1 + 0.015*rng.NormFloat64())
			run := &bench.Run{Benchmark: m.Benchmark, Kind: m.Kind, Labels: m.Labels, Start: t, End: t.Add(m.End.Sub(m.Start)),
				Host: host + " (demo history)", GoVersion: m.GoVersion, Simulated: simulatedWhy}
			for _, r := range m.Results {
				res := r
				res.Comparison = nil
				spread := math.Min(0.05, math.Max(0.003, relSD(r.Samples)))
				res.Samples = make([]float64, len(r.Samples))
				for i := range res.Samples {
					res.Samples[i] = r.Summary.Median * level * (1 + spread*rng.NormFloat64())
				}
				res.Summary = bench.Summarize(res.Samples)
				res.Throughput = r.Throughput * level
				run.Results = append(run.Results, res)
			}
			clock = run.End
			if err := runner.Finish(ctx, run); err != nil {
				return n, err
			}
			n++
		}
	}
	// The history's weeks' reports, as of the history's end.
	clock = end
	var weeks []string
	for t := start; ; t = t.Add(24 * time.Hour) {
		if t.After(end) {
			t = end
		}
		if id := bench.WeekID(t); !slices.Contains(weeks, id) {
			weeks = append(weeks, id)
			if err := runner.UpdateReport(t); err != nil {
				return n, err
			}
		}
		if !t.Before(end) {
			break
		}
	}
	slices.SortStableFunc(rec.samples, func(a, b bench.Sample) int { return int(a.T - b.T) })
	g.bench = rec.samples
	return n, nil
}

// relSD is the standard deviation of xs relative to their median.
func relSD(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	d := bench.Describe(xs)
	if d.Median == 0 {
		return 0
	}
	return d.StdDev / math.Abs(d.Median)
}
