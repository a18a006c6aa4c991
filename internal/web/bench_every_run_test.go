package web_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
)

// TestBrowserBenchLegendEveryRun: a benchmark's trend legend gives the
// lowest and highest of every run in the range, not only of the runs drawn
// (each step draws its last). At 7d a benchmark run every 2 minutes read
// "min 1.01 ms, max 1.99 ms" where runs of 14.4 ms lay between the
// 30-minute steps (the 1h view said max 14.4 ms). Three runs within one 7d
// step, 100, 500 and 200 ops/s, and one 12 hours before, 300: max 500,
// min 100, last 200.
func TestBrowserBenchLegendEveryRun(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(24 * time.Hour) })
	g := math.Ceil(float64(time.Now().Add(-10*time.Hour).Unix())/step7d) * step7d
	var runs []*bench.Run
	for i, r := range []struct {
		back   float64 // seconds before the step g
		median float64
	}{{12*3600 + 600, 300}, {1500, 100}, {1000, 500}, {500, 200}} {
		runs = append(runs, throughputRun("every-"+string(rune('a'+i)), "every-run", time.Unix(int64(g-r.back), 0),
			bench.Summary{N: 10, Median: r.median, Lo: r.median, Hi: r.median}, 1000))
	}
	writeBenchRuns(t, st.URL, runs...)
	load(t, ctx, st.URL+"/#/benchmarks?range=7d")
	chart := `[data-benchmark="every-run"] [data-stats]`
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('`+chart+` [data-series="median"] [data-stat="max"]')`); err != nil {
		t.Fatalf("no legend for the runs: %v", err)
	}
	cell := func(stat string) string {
		return eval[string](t, ctx, `document.querySelector('`+chart+` [data-series="median"] [data-stat="`+stat+`"]').textContent`)
	}
	for _, c := range []struct{ stat, want string }{{"max", "500"}, {"min", "100"}, {"last", "200"}} {
		if got := cell(c.stat); !strings.HasPrefix(got, c.want) {
			t.Errorf("the 7d legend's %s reads %q, want %s (every run in the range)", c.stat, got, c.want)
		}
	}
	screenshot(t, ctx, artifacts(t), "bench-every-run-7d")
}
