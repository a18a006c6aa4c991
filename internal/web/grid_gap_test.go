package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserGridGap: at 7d a grid point's rate window (4 steps) that
// holds a 70-minute gap in the data (gmc down; the demo's history ends 70
// minutes before its live start) spread the data around it over the gap:
// a traffic drop drawn solid, and the legend's min, on the Overview and
// the service page (t-user13 F6: 1.32k/s where the week's low was
// 1.52k/s). Those points are partial now: dashed, out of min and max,
// the foot saying they hold a gap.
func TestBrowserGridGap(t *testing.T) {
	ctx := browser(t)
	const svc = "grid-gap"
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(20 * time.Hour) })
	wall := time.Now().Unix()
	at := wall
	for at%step7d < 200 || at%step7d > 580 { // the last step's window holds the whole gap
		at--
	}
	pageClock(t, ctx, time.Unix(at, 0))
	histEnd, liveFrom := at-80*60, at-10*60
	orders := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: svc},
	}}
	c := 0.0
	for ts := at - 14*3600; ts <= histEnd; ts += 10 {
		c += 10_000
		orders.Samples = append(orders.Samples, prompb.Sample{Timestamp: ts * 1000, Value: c})
	}
	for ts := liveFrom; ts <= wall+480; ts += 15 {
		c += 15_000
		orders.Samples = append(orders.Samples, prompb.Sample{Timestamp: ts * 1000, Value: c})
	}
	if err := webtest.Write(context.Background(), st.URL, orders); err != nil {
		t.Fatal(err)
	}
	for _, page := range []struct {
		url, chart, series string
		gap                bool // the chart's points have rate windows longer than the step
	}{
		{"/#/overview?range=7d", "tps", svc, false},
		{"/#/service/" + svc + "?range=7d", "tps", "success", true},
	} {
		load(t, ctx, st.URL+page.url)
		row := legendRow(page.chart, page.series)
		if err := poll(ctx, 20*time.Second, row+` && `+row+`.querySelector('[data-stat="min"]').textContent !== '–'`); err != nil {
			t.Fatalf("%s: no %s row in the legend: %v", page.url, page.series, err)
		}
		lo := eval[string](t, ctx, row+`.querySelector('[data-stat="min"]').textContent`)
		if v := perSec(lo); v < 980 || v > 1020 {
			t.Errorf("%s: Orders legend min %q, want 1,000/s (the gap's points partial)", page.url, lo)
		}
		if n := eval[string](t, ctx, `document.querySelector('[data-stats="`+page.chart+`"] [data-gap]')?.dataset.gap || '0'`); page.gap && n == "0" {
			t.Errorf("%s: no point said to hold a gap", page.url)
		}
	}
}
