package web_test

import (
	"math"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/config"
)

// TestBrowserBenchWhiskerReachesEveryRun: a benchmark trend draws each
// step's last run, so a run between two steps had no mark while the
// legend gave it as the max (at 7d "max 84k" above dots reaching ~80k).
// Three runs within one 7d step, 100, 500 and 200 ops/s, and one 12 hours
// before, 300: the chart's y axis reaches 500 and 100, and the run's
// colour is painted at the 200 dot's x all the way from 100 to 500.
func TestBrowserBenchWhiskerReachesEveryRun(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(24 * time.Hour) })
	g := math.Ceil(float64(time.Now().Add(-10*time.Hour).Unix())/step7d) * step7d
	var runs []*bench.Run
	for i, r := range []struct {
		back   float64 // seconds before the step g
		median float64
	}{{12*3600 + 600, 300}, {1500, 100}, {1000, 500}, {500, 200}} {
		runs = append(runs, throughputRun("bar-"+string(rune('a'+i)), "bar-run", time.Unix(int64(g-r.back), 0),
			bench.Summary{N: 10, Median: r.median, Lo: r.median, Hi: r.median}, 1000))
	}
	writeBenchRuns(t, st.URL, runs...)
	load(t, ctx, st.URL+"/#/benchmarks?range=7d")
	chart := `[data-benchmark="bar-run"] [data-chart]`
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-benchmark="bar-run"] [data-series="median"] [data-stat="max"]')`); err != nil {
		t.Fatalf("no legend for the runs: %v", err)
	}
	type drawn struct {
		Found      bool
		YMin, YMax float64
		Unpainted  []float64 // values on the bar with no pixel of the run's colour at the dot's x
	}
	// The values sampled along the bar keep clear of the dot (200).
	got := evalAsync[drawn](t, ctx, `(async () => {
		const u = document.querySelector('`+chart+`').chart.u;
		const j = u.data[1].findIndex((v) => v === 200);
		if (j < 0) return {Found: false, YMin: 0, YMax: 0, Unpainted: []};
		const x = Math.round(u.valToPos(u.data[0][j], 'x', true));
		const blue = (px) => { for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 128 && Math.abs(px[i] - 0x4c) < 40 && Math.abs(px[i + 1] - 0xc2) < 40 && Math.abs(px[i + 2] - 0xff) < 40) return true; return false; };
		const vals = [102, 120, 150, 175, 230, 260, 300, 350, 400, 450, 498];
		let unpainted = vals;
		// uPlot draws on a later task: look until the bar is there, at most 2 s.
		for (let k = 0; k < 40 && unpainted.length; k++) {
			await new Promise((r) => setTimeout(r, 50));
			unpainted = vals.filter((v) => !blue(u.ctx.getImageData(x - 1, Math.round(u.valToPos(v, 'y', true)), 3, 1).data));
		}
		return {Found: true, YMin: u.scales.y.min, YMax: u.scales.y.max, Unpainted: unpainted};
	})()`)
	if !got.Found {
		t.Fatal("the 7d chart has no point of 200 (the step's last run)")
	}
	if got.YMax < 500 || got.YMin > 100 {
		t.Errorf("the 7d chart's y axis spans %v … %v: the runs of 500 and 100 (the legend's max and min) are off it", got.YMin, got.YMax)
	}
	if len(got.Unpainted) > 0 {
		t.Errorf("at the step's point, nothing of the run's colour is drawn at %v ops/s: the step's runs from 100 to 500 have no mark", got.Unpainted)
	}
	screenshot(t, ctx, artifacts(t), "bench-whisker-7d")
}
