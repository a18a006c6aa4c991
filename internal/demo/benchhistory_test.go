package demo

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
)

// TestBackfillBenchmarks: t-user12 F12. `gmc demo --history` wrote no
// benchmark history: the Benchmarks page said "No gmc_bench_* series" at
// 30d, and on a busy machine, where every live run is skipped "host
// saturated", it stayed empty. With Bench the history holds a run of each
// in-process benchmark every 6 h, drawn from one real run now, stored as
// the live runs are (Runner.Finish): archived, compared by gmc's judge
// (verdicts once three earlier runs make a baseline), the weekly reports
// built, and the gmc_bench_* series in the history's blocks.
func TestBackfillBenchmarks(t *testing.T) {
	cfg := bench.DefaultConfig()
	cfg.Suite = Benchmarks(2*time.Minute, "", "")[:2] // matching-engine TPS, backtest throughput
	for i := range cfg.Suite {
		cfg.Suite[i].Func.Benchtime = bench.Duration(20 * time.Millisecond)
	}
	measured, err := measureBenchmarks(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(measured) != 2 {
		t.Fatalf("measured %d runs, want one of each func benchmark", len(measured))
	}
	dir := t.TempDir()
	end := time.Date(2026, 12, 4, 19, 20, 0, 0, time.UTC)
	res, err := Backfill(context.Background(), HistoryOptions{Dir: dir, End: end, Span: 3 * 24 * time.Hour, Seed: 3, Host: "h1",
		Bench: &BenchHistory{Config: cfg, Measured: measured}})
	if err != nil {
		t.Fatal(err)
	}
	// 3 days at 6 h: 12 runs of each.
	if res.BenchRuns != 24 {
		t.Errorf("%d benchmark runs in the history, want 24 (12 of each)", res.BenchRuns)
	}
	archive, err := bench.OpenArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := archive.Runs(end.Add(-4*24*time.Hour), end)
	if err != nil {
		t.Fatal(err)
	}
	judged := 0
	for _, r := range runs {
		for _, x := range r.Results {
			if v, _ := x.Comparison.Outcome(); v != bench.VerdictNone {
				judged++
			}
		}
	}
	// The first three runs of each have too small a baseline.
	if len(runs) != 24 || judged != 18 {
		t.Errorf("%d runs archived, %d with a verdict; want 24 and 18 (all but each benchmark's first three)", len(runs), judged)
	}
	ids, err := archive.ReportIDs()
	if err != nil || len(ids) == 0 {
		t.Fatalf("no weekly report archived (%v)", err)
	}
	data, err := archive.ReportFile(ids[0], "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.ID != bench.WeekID(end) || len(rep.Entries) != 2 || rep.Compared != 2 {
		t.Errorf("latest report %s: %d entries, %d compared; want %s with both compared", rep.ID, len(rep.Entries), rep.Compared, bench.WeekID(end))
	}
	// The drawn runs say so (t-truth13d: nothing on the page did), and a
	// measured run after them is not judged against them: no baseline.
	if rep.Simulated != rep.Runs || rep.Runs == 0 {
		t.Errorf("report: %d of %d runs simulated, want all", rep.Simulated, rep.Runs)
	}
	for _, e := range rep.Entries {
		if e.LatestSimulated == "" {
			t.Errorf("%s: latest run not said simulated", e.Name)
		}
	}
	runner, err := bench.NewRunner(bench.Options{Config: cfg, Archive: archive, Now: func() time.Time { return end.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	live := *measured[0]
	live.ID, live.Start, live.End, live.Untrustworthy = "", end.Add(time.Hour), end.Add(time.Hour+time.Second), ""
	live.Results = append([]bench.Result(nil), measured[0].Results...)
	for i := range live.Results {
		live.Results[i].Comparison = nil
	}
	if err := runner.Finish(context.Background(), &live); err != nil {
		t.Fatal(err)
	}
	if v, why := live.Results[0].Comparison.Outcome(); v != bench.VerdictNone {
		t.Errorf("a measured run after the drawn history: verdict %s (%s), want none (no measured baseline)", v, why)
	}
	_, query := openHistory(t, dir)
	for _, m := range measured {
		med := query(`gmc_bench_median{benchmark="`+m.Benchmark+`"}`, end.Add(-3*time.Hour+2*time.Minute))
		if len(med) != 1 || med[0].F < 0.9*m.Results[0].Summary.Median || med[0].F > 1.1*m.Results[0].Summary.Median {
			t.Errorf("%s: gmc_bench_median 2 minutes after the last run %v, want near the measured %v", m.Benchmark, med, m.Results[0].Summary.Median)
		}
		if n := query(`count_over_time(gmc_bench_median{benchmark="`+m.Benchmark+`"}[3d])`, end); len(n) != 1 || n[0].F != 12 {
			t.Errorf("%s: %v medians in the history's blocks, want 12", m.Benchmark, n)
		}
		if n := query(`count_over_time(gmc_bench_regression{benchmark="`+m.Benchmark+`"}[3d])`, end); len(n) != 1 || n[0].F != 9 {
			t.Errorf("%s: %v verdicts recorded (gmc_bench_regression), want 9", m.Benchmark, n)
		}
	}
}
