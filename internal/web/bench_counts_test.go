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
