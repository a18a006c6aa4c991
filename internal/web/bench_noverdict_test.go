package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserBenchmarkNoVerdict: t-user5 #3 and #5. The page read "+126 %,
// p 0.00266, OK" in green and "5 of 5 compared" for a run whose comparison
// said "baseline of 2 run(s), a verdict needs 3"; and it kept a benchmark's
// skip line after a later run of it completed. Both as the server reports
// them now, and as a report archived before it had verdicts (the page
// derives them the same way).
func TestBrowserBenchmarkNoVerdict(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	const why = "baseline of 2 run(s), a verdict needs 3"
	runs := func() []*bench.Run {
		runs := webtest.Runs(now, 5*time.Minute)
		// An older skip of matching-engine-tps, which ran since; a
		// current one of db-query-latency.
		runs = append([]*bench.Run{{ID: "skip-me", Benchmark: "matching-engine-tps", Start: now.Add(-4 * time.Minute), End: now.Add(-4 * time.Minute), Skipped: "host saturated: not run"}}, runs...)
		runs = append(runs, &bench.Run{ID: "skip-db", Benchmark: "db-query-latency", Start: now, End: now, Skipped: "host saturated: waited 10m0s: not run"})
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].Benchmark == "matching-engine-tps" && runs[i].Skipped == "" {
				// As archived on 2026-12-04: a warning, not significant, no verdict field.
				runs[i].Results[0].Comparison = &bench.Comparison{Change: 1.26, P: 0.00266, BaselineRuns: 2, Warning: why}
				break
			}
		}
		return runs
	}
	serve := func(old bool) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			from, _ := bench.WeekBounds(now)
			rep := bench.NewReport(runs(), from, now)
			w.Header().Set("Content-Type", "application/json")
			if !old {
				_ = json.NewEncoder(w).Encode(rep)
				return
			}
			// The report as the previous server archived it: no verdict
			// fields, the replaced skip still listed.
			var m map[string]any
			raw, _ := json.Marshal(rep)
			_ = json.Unmarshal(raw, &m)
			delete(m, "no_verdict")
			delete(m, "worse")
			m["compared"] = 2
			for _, e := range m["benchmarks"].([]any) {
				delete(e.(map[string]any), "verdict")
				delete(e.(map[string]any), "verdict_reason")
			}
			m["skips"] = append(m["skips"].([]any), map[string]any{"benchmark": "matching-engine-tps", "time": now.Add(-4 * time.Minute), "reason": "host saturated: not run", "count": 1})
			_ = json.NewEncoder(w).Encode(m)
		}
	}
	for _, old := range []bool{false, true} {
		name := map[bool]string{false: "report", true: "archived-report"}[old]
		t.Run(name, func(t *testing.T) {
			st := startStack(t, 1, false, withHandler("GET /benchmark/report", serve(old)))
			load(t, ctx, st.URL+"/#/benchmarks?range=1h")
			if err := poll(ctx, 20*time.Second, `!!document.querySelector('tr[data-benchmark="matching-engine-tps"] [data-col="verdict"] .pill') && !!document.querySelector('[data-kpi="Regressions"] .kpi-sub')`); err != nil {
				t.Fatal(err)
			}
			sel := `document.querySelector('tr[data-benchmark="matching-engine-tps"] [data-col="verdict"] .pill')`
			text, title, cls := eval[string](t, ctx, sel+`.textContent`), eval[string](t, ctx, sel+`.title`), eval[string](t, ctx, sel+`.className`)
			if text != "no verdict" || title != why || strings.Contains(cls, "pill-up") {
				t.Errorf("run with a baseline of 2 runs: verdict %q (title %q, class %q), want a neutral \"no verdict\" (title %q)", text, title, cls, why)
			}
			if v := eval[string](t, ctx, `document.querySelector('tr[data-benchmark="db-query-latency"] [data-col="verdict"]').textContent`); v != "skipped" {
				t.Errorf("db-query-latency skipped after its last run: verdict %q, want skipped", v)
			}
			sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"] .kpi-sub').textContent`)
			if want := "1 of 2 compared, 1 without a verdict: " + why + " (matching-engine-tps)"; !strings.Contains(sub, want) {
				t.Errorf("Regressions tile says %q, want %q", sub, want)
			}
			if cls := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"]').className`); strings.Contains(cls, "kpi-good") {
				t.Errorf("Regressions tile green (%q) with a benchmark not judged", cls)
			}
			skips := eval[[]string](t, ctx, `[...document.querySelectorAll('ul.skips li')].map((li) => li.dataset.benchmark)`)
			if len(skips) != 1 || skips[0] != "db-query-latency" {
				t.Errorf("skip lines for %q, want only db-query-latency's (matching-engine-tps ran after its skip)", skips)
			}
			screenshot(t, ctx, artifacts(t), "benchmarks-no-verdict-"+name)
		})
	}
}

// TestBrowserBenchmarkWorse: a run worse than its baseline beyond the runs'
// noise, not yet confirmed by a second, is amber "worse, unconfirmed", and
// the Regressions tile counts it apart, not green.
func TestBrowserBenchmarkWorse(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	const why = "worse beyond the threshold and the runs' noise in this run only: a regression if the next run is worse too"
	report := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runs := webtest.Runs(now, 5*time.Minute)
		for _, r := range runs {
			if c := r.Results[0].Comparison; r.Benchmark == "db-query-latency" {
				c.Regression, c.Verdict, c.Reason = false, bench.VerdictUnchanged, ""
			}
		}
		c := runs[len(runs)-1].Results[0].Comparison
		c.Verdict, c.Reason = bench.VerdictWorse, why
		from, _ := bench.WeekBounds(now)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bench.NewReport(runs, from, now))
	})
	st := startStack(t, 1, false, withHandler("GET /benchmark/report", report))
	load(t, ctx, st.URL+"/#/benchmarks?range=1h")
	sel := `document.querySelector('tr[data-benchmark="db-query-latency"] [data-col="verdict"] .pill')`
	if err := poll(ctx, 20*time.Second, `!!`+sel); err != nil {
		t.Fatal(err)
	}
	if text, title, cls := eval[string](t, ctx, sel+`.textContent`), eval[string](t, ctx, sel+`.title`), eval[string](t, ctx, sel+`.className`); text != "worse, unconfirmed" || title != why || !strings.Contains(cls, "pill-warn") {
		t.Errorf("worse run: verdict %q (title %q, class %q), want an amber \"worse, unconfirmed\" (title %q)", text, title, cls, why)
	}
	if sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"] .kpi-sub').textContent`); !strings.Contains(sub, "2 of 2 compared · 1 worse once, unconfirmed") {
		t.Errorf("Regressions tile says %q, want the worse run counted", sub)
	}
	if cls := eval[string](t, ctx, `document.querySelector('[data-kpi="Regressions"]').className`); strings.Contains(cls, "kpi-good") {
		t.Errorf("Regressions tile green (%q) beside a worse run", cls)
	}
}
