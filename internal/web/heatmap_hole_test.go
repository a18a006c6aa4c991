package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserHeatmapHoleMarked: a heatmap marked its columns without data
// before the first with data, but left those of a gap after it the plot's
// background, the colour of 0 % (t-user15 F2: the 12 minutes of a kill -9
// on a 1h order-gateway page, while the line charts beside it said "holds
// a gap in the data"). A service's latency histogram is written every
// second over the last 50 minutes but for 12 minutes from 30 to 18
// minutes ago: on the 1h range the columns in the hole are counted
// (data-holes), said under the chart, and the readout over one says a gap.
// The page's clock is held at the fixture's now (pageClockStill; the data
// run on 5 minutes past it): on the wall clock, the columns after the
// last sample counted as holes too once a slow load had passed.
func TestBrowserHeatmapHoleMarked(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	const svc = "hole-heat"
	now := time.Now().Truncate(time.Second)
	series := heatHistory(svc, now.Add(-50*time.Minute), now.Add(5*time.Minute), func(ts time.Time) bool {
		return ts.After(now.Add(-30*time.Minute)) && ts.Before(now.Add(-18*time.Minute))
	})
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, now)
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	hm := `document.querySelector('[data-chart="heatmap"]')`
	if err := poll(ctx, 20*time.Second, `Number(`+hm+`?.dataset.points || 0) > 0`); err != nil {
		t.Fatalf("the service page drew no heatmap: %v", err)
	}
	// 1h in 30 s columns: 12 minutes are 24, less those whose window
	// reaches the data on either side.
	if n := evalInt(t, ctx, `Number(`+hm+`.dataset.holes || 0)`); n < 16 || n > 25 {
		t.Errorf("the heatmap marks %d columns without data after its first, want ~20 (the 12-minute hole at 30 s a column)", n)
	}
	if txt := eval[string](t, ctx, `(document.querySelector('.hm-holes:not([hidden])') || {textContent: ''}).textContent`); !strings.Contains(txt, "no data") || !strings.Contains(txt, "gap") {
		t.Errorf("the caption under the heatmap %q does not say which columns have no data", txt)
	}
	// 24 minutes ago: in the hole, 0.6 of the way along the hour.
	ro := eval[string](t, ctx, `(() => { const u = `+hm+`.chart.u;
		u.setCursor({left: u.bbox.width / devicePixelRatio * 0.6, top: u.bbox.height / devicePixelRatio / 2});
		return `+hm+`.dataset.readout || ''; })()`)
	if !strings.Contains(ro, "gap") || !strings.Contains(ro, "no data") {
		t.Errorf("the heatmap's readout over a column in the hole reads %q, want it to say no data, a gap", ro)
	}
	if n := evalInt(t, ctx, `Number(`+hm+`.dataset.before || 0)`); n < 15 || n > 22 {
		t.Errorf("the heatmap marks %d columns before the data began, want ~20 (the 10 minutes before it)", n)
	}
	screenshot(t, ctx, artifacts(t), "heatmap-hole")
}
