package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserBenchmarkCounts: with every run of the week skipped (a
// saturated host), the page's tiles read "RUNS 0 · BENCHMARKS 0" above a
// table header and five benchmarks listed as skipped (t-user6 #7). The
// tiles count what the page lists: 0 of 13 runs completed, 13 skipped; 5
// benchmarks, none ran; and no empty table stands above the skips.
func TestBrowserBenchmarkCounts(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	names := []string{"backtest-throughput", "db-query-latency-standin", "marketdata-playback", "matching-engine-tps", "order-gateway-latency"}
	report := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var runs []*bench.Run
		for i := 0; i < 13; i++ {
			at := now.Add(time.Duration(i-13) * time.Minute)
			runs = append(runs, &bench.Run{ID: fmt.Sprintf("skip-%d", i), Benchmark: names[i%len(names)], Start: at, End: at,
				Skipped: "host saturated: load average 16.42 on 2 CPUs (limit 1.00 per CPU) at 00:26:12, waited 1m0s: not run"})
		}
		from, _ := bench.WeekBounds(now)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bench.NewReport(runs, from, now))
	})
	st := startStack(t, 1, false, withHandler("GET /benchmark/report", report))
	load(t, ctx, st.URL+"/#/benchmarks?range=1h")
	if err := poll(ctx, 20*time.Second, `document.querySelectorAll('ul.skips li').length === 5 && !!document.querySelector('[data-kpi="Benchmarks"]')`); err != nil {
		t.Fatalf("skips list and tiles: %v", err)
	}
	tile := func(name string) (string, string) {
		return eval[string](t, ctx, `document.querySelector('[data-kpi="`+name+`"] .kpi-value').textContent`),
			eval[string](t, ctx, `(document.querySelector('[data-kpi="`+name+`"] .kpi-sub') || {}).textContent || ''`)
	}
	if v, sub := tile("Runs"); v != "0 of 13" || !strings.Contains(sub, "0 completed, 13 skipped") {
		t.Errorf("Runs tile %q / %q, want 0 of 13 / 0 completed, 13 skipped", v, sub)
	}
	if v, sub := tile("Benchmarks"); v != "5" || !strings.Contains(sub, "none ran") {
		t.Errorf("Benchmarks tile %q / %q, want 5 / none ran this week", v, sub)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('table.tbl th').length`); n != 0 {
		t.Errorf("a table with %d header cells and no row above the skips, want none", n)
	}
	if txt := eval[string](t, ctx, `(document.querySelector('[data-empty="runs"]') || {}).textContent || ''`); !strings.Contains(txt, "every scheduled run was skipped") {
		t.Errorf("empty report says %q, want that every scheduled run was skipped", txt)
	}
	screenshot(t, ctx, artifacts(t), "benchmarks-all-skipped")
}

// TestBrowserBenchmarkStandingRegression: db-query-latency's last judged
// runs were a regression, and every run since was taken on a saturated
// host or skipped. BenchmarkRegression holds on that verdict (its runs
// since write no gmc_bench_regression); the page said "skipped" for the
// row and counted no regression beside the firing alert. It says
// "regression", when that verdict was and how many runs gave none since,
// and the Regressions tile counts it.
func TestBrowserBenchmarkStandingRegression(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	report := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runs := webtest.Runs(now.Add(-time.Hour), 5*time.Minute)
		for i := 1; i <= 4; i++ {
			at := now.Add(time.Duration(i-5) * 10 * time.Minute)
			r := &bench.Run{ID: fmt.Sprintf("busy-%d", i), Benchmark: "db-query-latency", Kind: "sql", Start: at, End: at.Add(10 * time.Second),
				Untrustworthy: "host saturated: load average 18.00 on 2 CPUs (limit 1.00 per CPU) when the run began"}
			if i == 4 {
				r.End, r.Untrustworthy, r.Skipped = at, "", "host saturated: load average 18.00 on 2 CPUs (limit 1.00 per CPU) at 12:00:00, waited 1m0s: not run"
			} else {
				res := runs[len(runs)-1].Results[0]
				res.Comparison = nil
				r.Results = []bench.Result{res}
			}
			runs = append(runs, r)
		}
		from, _ := bench.WeekBounds(now)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bench.NewReport(runs, from, now))
	})
	st := startStack(t, 1, false, withHandler("GET /benchmark/report", report))
	load(t, ctx, st.URL+"/#/benchmarks?range=1h")
	sel := `document.querySelector('tr[data-benchmark="db-query-latency"] [data-col="verdict"]')`
	if err := poll(ctx, 20*time.Second, `!!`+sel+` && !!document.querySelector('[data-kpi="Regressions"] .kpi-sub')`); err != nil {
		t.Fatal(err)
	}
	pillText, pillCls := eval[string](t, ctx, sel+`.querySelector('.pill').textContent`), eval[string](t, ctx, sel+`.querySelector('.pill').className`)
	if pillText != "regression" || !strings.Contains(pillCls, "pill-down") {
		t.Errorf("db-query-latency verdict %q (class %q), want a red regression: the alert still fires on its latest verdict", pillText, pillCls)
	}
	if note := eval[string](t, ctx, `(`+sel+`.querySelector('[data-standing]') || {}).textContent || ''`); !strings.HasPrefix(note, "latest verdict ") || !strings.Contains(note, "; 4 runs since without one") {
		t.Errorf("standing note %q, want when the verdict was and 4 runs since without one", note)
	}
	val := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"] .kpi-value').textContent`)
	sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"] .kpi-sub').textContent`)
	if val != "1" || !strings.Contains(sub, "regressed at the latest verdict, none since: db-query-latency") {
		t.Errorf("Regressions tile %q / %q, want 1, standing on the latest verdict", val, sub)
	}
	screenshot(t, ctx, artifacts(t), "benchmarks-standing-regression")
}

// TestBrowserBenchmarkRunFailed: an exec benchmark whose command exited
// non-zero counted only errors, and a failed run's reason was nowhere on
// the page (only "(1 failed)" beside its runs). The row now says "run
// failed" in red, as the BenchmarkRunFailed alert, with why under it.
func TestBrowserBenchmarkRunFailed(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	const why = `"/opt/bench/nightly.sh" failed in 4 of 4 runs (1 warmup, 3 measured); first in warmup run 1: exit status 3, stderr: connection refused: 127.0.0.1:5432`
	report := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		walls := []float64{0.21, 0.22, 0.2}
		res := bench.Result{Name: "nightly", Unit: "s", Better: bench.LowerIsBetter, Samples: walls, Summary: bench.Summarize(walls),
			Requests: 3, Errors: 3, Exec: &bench.ExecFigures{Runs: 3, Failed: 3, Wall: bench.Describe(walls)}}
		at := now.Add(-10 * time.Minute)
		runs := []*bench.Run{{ID: "nightly-1", Benchmark: "nightly", Kind: "exec", Start: at, End: at.Add(time.Second), Results: []bench.Result{res}, Error: why}}
		from, _ := bench.WeekBounds(now)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bench.NewReport(runs, from, now))
	})
	st := startStack(t, 1, false, withHandler("GET /benchmark/report", report))
	load(t, ctx, st.URL+"/#/benchmarks?range=1h")
	sel := `document.querySelector('tr[data-benchmark="nightly"] [data-col="verdict"]')`
	if err := poll(ctx, 20*time.Second, `!!`+sel); err != nil {
		t.Fatal(err)
	}
	pillText, pillCls := eval[string](t, ctx, sel+`.querySelector('.pill').textContent`), eval[string](t, ctx, sel+`.querySelector('.pill').className`)
	if pillText != "run failed" || !strings.Contains(pillCls, "pill-down") {
		t.Errorf("nightly verdict %q (class %q), want a red 'run failed'", pillText, pillCls)
	}
	if note := eval[string](t, ctx, `(`+sel+`.querySelector('[data-error]') || {}).textContent || ''`); note != why {
		t.Errorf("note under the pill %q, want the run's error %q", note, why)
	}
	if runs := eval[string](t, ctx, `document.querySelector('tr[data-benchmark="nightly"] td:nth-child(7)').textContent`); runs != "1 (1 failed)" {
		t.Errorf("runs cell %q, want 1 (1 failed)", runs)
	}
	screenshot(t, ctx, artifacts(t), "benchmarks-run-failed")
}
