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

// TestBrowserBenchmarkSimulated: the demo's benchmark history is drawn
// from one run measured at its start; the page showed its runs, trends and
// verdicts as measured ones (t-truth13d). The Runs tile counts them as
// simulated and a benchmark whose latest run is one says so.
func TestBrowserBenchmarkSimulated(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	const why = "the demo's history: drawn from one run measured at the demo's start, not measured at this time"
	serve := func(w http.ResponseWriter, _ *http.Request) {
		runs := webtest.Runs(now, 5*time.Minute)
		for _, r := range runs {
			if r.Benchmark == "matching-engine-tps" {
				r.Simulated = why
			}
		}
		from, _ := bench.WeekBounds(now)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bench.NewReport(runs, from, now))
	}
	st := startStack(t, 1, false, withHandler("GET /benchmark/report", http.HandlerFunc(serve)))
	load(t, ctx, st.URL+"/#/benchmarks?range=1h")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-kpi="Runs"]') && !!document.querySelector('tr[data-benchmark]')`); err != nil {
		t.Fatal(err)
	}
	if n := eval[string](t, ctx, `document.querySelector('[data-kpi="Runs"]').dataset.simulated`); n == "0" || n == "" {
		t.Errorf("Runs tile: %q simulated runs, want the matching-engine-tps ones", n)
	}
	if sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Runs"]').textContent`); !strings.Contains(sub, "simulated (the demo's history, not measured)") {
		t.Errorf("Runs tile %q: want the simulated runs said", sub)
	}
	if !eval[bool](t, ctx, `!!document.querySelector('tr[data-benchmark="matching-engine-tps"] [data-simulated]')`) {
		t.Error("matching-engine-tps: its latest run, simulated, not said so")
	}
	if eval[bool](t, ctx, `[...document.querySelectorAll('tr[data-benchmark] [data-simulated]')].some((x) => !x.closest('tr[data-benchmark="matching-engine-tps"]'))`) {
		t.Error("a measured benchmark said simulated")
	}
}
