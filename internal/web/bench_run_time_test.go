package web_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
)

// TestBrowserBenchRunTime: a benchmark's trend legend gives its newest
// run's time. Each point is last_over_time over its step, at the step's
// time: at 7d the legend read "last 30.3k/s at 03:02" for a run at
// 02:43:03, 19 minutes before the 2016 s step it was drawn on (t-user16
// F4). One run 10 hours ago, 15 min 3 s before a 7d step (and so at
// least that before a 30d step: 7200 s steps lie on the 7d grid's
// 1800 s one): the cell says the run's minute at 7d and 30d, and each
// run's dot is drawn at its time (an earlier run's too), not its step's.
func TestBrowserBenchRunTime(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(24 * time.Hour) })
	g := math.Ceil(float64(time.Now().Add(-10*time.Hour).Unix())/step7d) * step7d
	end := time.UnixMilli(int64(g-903)*1000 + 123)
	run := throughputRun("f4", "f4-throughput", end, bench.Summary{N: 10, Median: 30262.85, Lo: 30000, Hi: 30500}, 600000)
	// An earlier run, 12 hours before, 700.456 s before a step: a point
	// of the grid, not the newest.
	early := time.UnixMilli(int64(g-12*3600-700)*1000 + 456)
	run0 := *run
	run0.ID, run0.Start, run0.End = "f4-0", early.Add(-20*time.Second), early
	writeBenchRuns(t, st.URL, &run0, run)
	want := end.Format("15:04")
	for _, rng := range []string{"7d", "30d"} {
		load(t, ctx, st.URL+"/#/benchmarks?range="+rng)
		sel := `document.querySelector('[data-benchmark="f4-throughput"] [data-series="median"] [data-stat="last"]')`
		if err := poll(ctx, 20*time.Second, `!!`+sel); err != nil {
			t.Fatalf("%s: no legend for the run: %v", rng, err)
		}
		got := eval[string](t, ctx, sel+`.textContent`)
		point := eval[float64](t, ctx, `Number(`+sel+`.dataset.pointAt || `+sel+`.dataset.lastAt)`)
		if !strings.HasSuffix(got, " at "+want) {
			t.Errorf("%s: the legend's last reads %q, want the run's time %s (its sample %s; the point drawn at %s)", rng, got, want,
				end.Format("15:04:05.000"), time.Unix(int64(point), 0).Format("15:04:05"))
		}
		at := eval[string](t, ctx, sel+`.dataset.sampleAt || ''`)
		if v, err := strconv.ParseFloat(at, 64); err != nil || math.Abs(v-float64(end.UnixMilli())/1000) > 1e-3 {
			t.Errorf("%s: data-sample-at %q, want the run's end %v", rng, at, float64(end.UnixMilli())/1000)
		}
		// Each dot is drawn at its run's time, not its step's (the point
		// of the 7d chart was 15 minutes after the run, the legend saying
		// the run's time).
		xs := eval[[]float64](t, ctx, `(() => { const u = document.querySelector('[data-benchmark="f4-throughput"] [data-chart]').chart.u;
			const i = u.series.findIndex((s) => s.label === 'median'); return u.data[0].filter((x, j) => u.data[i][j] != null); })()`)
		if len(xs) != 2 || math.Abs(xs[0]-float64(early.UnixMilli())/1000) > 1e-3 || math.Abs(xs[1]-float64(end.UnixMilli())/1000) > 1e-3 {
			t.Errorf("%s: the runs' dots are drawn at %v, want at the runs' times %v and %v", rng, xs, float64(early.UnixMilli())/1000, float64(end.UnixMilli())/1000)
		}
		screenshot(t, ctx, artifacts(t), "bench-run-time-"+rng)
	}
}
