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

// TestBrowserBenchmarksNoNull: the Benchmarks page printed a line "null"
// under "No run completed this week: every scheduled run was skipped" on a
// saturated host (t-user8 #5): the report's body was built with a null for
// the absent table, and Element.replaceChildren writes a null as text. So
// did a week of completed runs without skips (a null for the skip list).
func TestBrowserBenchmarksNoNull(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	weeks := map[string]func() []*bench.Run{
		"all-skipped": func() []*bench.Run {
			return []*bench.Run{
				{ID: "s1", Benchmark: "matching-engine-tps", Start: now.Add(-time.Hour), End: now.Add(-time.Hour), Skipped: "host saturated: not run"},
				{ID: "s2", Benchmark: "db-query-latency", Start: now.Add(-time.Minute), End: now.Add(-time.Minute), Skipped: "host saturated: waited 10m0s: not run"},
			}
		},
		"no-skips": func() []*bench.Run { return webtest.Runs(now, 5*time.Minute) },
	}
	for name, runs := range weeks {
		t.Run(name, func(t *testing.T) {
			st := startStack(t, 1, false, withHandler("GET /benchmark/report", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				from, _ := bench.WeekBounds(now)
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(bench.NewReport(runs(), from, now))
			})))
			load(t, ctx, st.URL+"/#/benchmarks?range=1h")
			if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-kpi="Regressions"] .kpi-sub') && !!document.querySelector('a.btn[href*="format=json"]')`); err != nil {
				t.Fatal(err)
			}
			text := eval[string](t, ctx, `document.querySelector('#page').innerText`)
			for _, line := range strings.Split(text, "\n") {
				if strings.TrimSpace(line) == "null" {
					t.Errorf("the page has a line %q:\n%s", line, text)
				}
			}
			if name == "all-skipped" && !strings.Contains(text, "No run completed this week: every scheduled run was skipped") {
				t.Errorf("no sentence for a week of skipped runs:\n%s", text)
			}
			screenshot(t, ctx, artifacts(t), "benchmarks-no-null-"+name)
		})
	}
}
