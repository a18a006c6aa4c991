package web_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserBridgeWholeJustAfterAStep: from 61 s to 2 minutes after a
// step the bridge (the point a minute before the tail) is read over a
// minute (the tail's window: span's bw), which begins before that step;
// a series whose steps had a value first at that step (its data 20
// minutes old at 7d) had its bridge taken as reaching before its data
// began: dashed, out of the legend's min and max, though its window held
// data throughout (TestBrowserTailWholeJustAfterAStep's case, a minute
// later, where tailHad had made the tail whole). The page's clock is
// held 90 s after a 7d step; a service's orders, a sample every 5 s at
// 1,000/s from 20 minutes before that step: the bridge is solid and
// reads the 1m rate at its time; another's, begun 10 s before that step
// (within the bridge's window), keeps its bridge dashed.
func TestBrowserBridgeWholeJustAfterAStep(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(2 * time.Hour) })
	const svc, young = "bridge-step-svc", "bridge-young-svc"
	const step = step7d
	now := time.Now()
	g := stepBefore(now, step, 100)
	at := time.Unix(g+90, 0)
	series := ordersAt1k(svc, time.Unix(g, 0).Add(-20*time.Minute), now)
	ys := ordersAt1k(young, time.Unix(g-10, 0), now)
	if err := webtest.Write(context.Background(), st.URL, series, ys); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, at)
	load(t, ctx, st.URL+"/#/overview?range=7d")
	row := `document.querySelector('[data-stats="tps"] tr[data-series="` + svc + `"]')`
	if err := poll(ctx, 30*time.Second, `!!`+row); err != nil {
		t.Fatalf("the Orders legend has no %s row: %v", svc, err)
	}
	type point struct {
		X       float64  `json:"x"`
		Solid   *float64 `json:"solid"`
		Partial *float64 `json:"partial"`
	}
	bridge := func(svc string) point {
		t.Helper()
		return eval[point](t, ctx, `(() => { const u = document.querySelector('[data-chart="tps"]').chart.u;
			const i = u.series.findIndex((s) => s.label === `+jsString(svc)+`), j = u.series.findIndex((s) => s.label === `+jsString(svc+" (partial window)")+`);
			const n = u.data[0].length - 2;
			return {x: u.data[0][n], solid: i > 0 ? u.data[i][n] : null, partial: j > 0 ? u.data[j][n] : null}; })()`)
	}
	got := bridge(svc)
	if math.Abs(got.X-float64(at.Unix()-60)) > 1 {
		t.Fatalf("the chart's point before the tail is at %v, want the bridge a minute before the page's now %v", got.X, at.Unix())
	}
	want := instantAt(t, st, `sum(rate(gmc_orders_total{service="`+svc+`"}[1m]))`, got.X)
	// (The dashed series holds the solid points next to dashed ones too.)
	if got.Solid == nil || !near(*got.Solid, want, 0.01) {
		t.Errorf("the bridge (30 s after a step, its minute's window from 30 s before it, data 20 minutes old) is solid %v, dashed %v; want solid at the 1m rate %v", ptrText(got.Solid), ptrText(got.Partial), want)
	}
	if y := bridge(young); y.Solid != nil || y.Partial == nil {
		t.Errorf("the bridge of %s, begun 10 s before the step (within the bridge's window), is solid %v, dashed %v; want dashed", young, ptrText(y.Solid), ptrText(y.Partial))
	}
	screenshot(t, ctx, artifacts(t), "bridge-whole-just-after-a-step")
}
