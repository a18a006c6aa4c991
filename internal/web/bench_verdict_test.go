package web_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserBenchmarkNotCompared: a benchmark whose latest run was taken
// on a saturated host is "not compared" on the benchmarks page, as the
// report itself says, never "ok" (finding of the user review: the page
// showed OK for all five demo benchmarks while /benchmark/report?format=md
// said "not compared: host saturated").
func TestBrowserBenchmarkNotCompared(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	const reason = "host saturated: load average 16.02 on 2 CPUs (limit 1.00 per CPU) when the run began"
	report := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runs := webtest.Runs(now, 5*time.Minute)
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].Benchmark == "matching-engine-tps" {
				runs[i].Untrustworthy = reason
				break
			}
		}
		from, _ := bench.WeekBounds(now)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bench.NewReport(runs, from, now))
	})
	st := startStack(t, 1, false, withHandler("GET /benchmark/report", report))
	load(t, ctx, st.URL+"/#/benchmarks?range=1h")
	verdict := func(name string) (text, title string) {
		t.Helper()
		sel := `document.querySelector('tr[data-benchmark="` + name + `"] [data-col="verdict"]')`
		return eval[string](t, ctx, sel+`.textContent`), eval[string](t, ctx, sel+`.querySelector('.pill').title`)
	}
	if text, title := verdict("matching-engine-tps"); text != "not compared" || title != reason {
		t.Errorf("saturated run: verdict %q (title %q), want \"not compared\" (title %q)", text, title, reason)
	}
	if text, _ := verdict("db-query-latency"); text != "regression" {
		t.Errorf("regressed benchmark: verdict %q, want regression", text)
	}
	screenshot(t, ctx, artifacts(t), "benchmarks-not-compared")
}
