package web_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserPartialWindows: the Overview's 30d Orders legend read a
// minimum of 516/s where every whole 9h36m window (30d's then) held at least 2,856/s:
// its first point's window held only the history's first 88 minutes,
// which rate() spread over the window (t-user7). A service's orders
// counter is written with its timestamps, a sample a minute for two days:
// 1000 orders/s but for six hours at 600/s a day ago. On the 7d range
// (steps of 1800 s, each point over the 7200 s before it) the first
// points' windows reach before the data began: raw, the first is under
// 300/s. The Orders chart draws them dashed and apart and its legend's
// min and max are the whole windows' (600/s, 1k/s); the table's sparkline
// leaves them out too.
func TestBrowserPartialWindows(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(72 * time.Hour) })
	now := time.Now().Truncate(time.Minute)
	first := now.Add(-48 * time.Hour)
	dipFrom, dipTo := now.Add(-30*time.Hour), now.Add(-24*time.Hour)
	series := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: "hist-svc"},
	}}
	var c float64
	for ts := first; !ts.After(now); ts = ts.Add(time.Minute) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: c})
		rate := 1000.0
		if !ts.Before(dipFrom) && ts.Before(dipTo) {
			rate = 600
		}
		c += rate * 60
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	// The 7d range's steps are multiples of 1800 s; the first with two
	// samples in its window is the first point drawn.
	const step, rw = step7d, 4 * step7d
	x0 := (first.Unix()/step + 1) * step
	if x0-first.Unix() < 60 {
		x0 += step
	}
	sel := fmt.Sprintf(`rate(gmc_orders_total{service="hist-svc"}[%ds])`, rw)
	if raw := instantAt(t, st, sel, float64(x0)); raw >= 300 {
		t.Fatalf("raw rate at the first point %v, want < 300 (a window mostly before the data): the fixture does not test partial windows", raw)
	}
	mid := (dipTo.Unix() / step) * step
	if raw := instantAt(t, st, sel, float64(mid)); math.Abs(raw-600) > 1e-6 || mid-rw < dipFrom.Unix() {
		t.Fatalf("raw rate over a whole window in the dip %v at %d, want 600", raw, mid)
	}

	load(t, ctx, st.URL+"/#/overview?range=7d")
	row := `document.querySelector('[data-stats="tps"] tr[data-series="hist-svc"]')`
	if err := poll(ctx, 20*time.Second, row+` && `+row+`.querySelector('[data-stat="min"]').textContent !== '–'`); err != nil {
		t.Fatalf("Orders legend has no hist-svc row: %v", err)
	}
	lo := eval[string](t, ctx, row+`.querySelector('[data-stat="min"]').textContent`)
	hi := eval[string](t, ctx, row+`.querySelector('[data-stat="max"]').textContent`)
	if lo != "600/s" || hi != "1k/s" {
		t.Errorf("Orders legend for hist-svc: min %q, max %q; want 600/s and 1k/s (the whole windows'; a partial window's rate is not a lower rate)", lo, hi)
	}
	// The partial points are drawn, dashed, as a series of their own out
	// of the legend, and said under it.
	parts := evalInt(t, ctx, `(() => { const u = document.querySelector('[data-chart="tps"]').chart.u; const i = u.series.findIndex((s) => s.label === 'hist-svc (partial window)'); return i < 0 ? -1 : u.data[i].filter((v) => v != null).length; })()`)
	if parts < 2 {
		t.Errorf("the Orders chart draws %d points of hist-svc's partial windows, want them drawn (and joined to the whole ones)", parts)
	}
	whole := eval[float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="tps"]').chart.u; const i = u.series.findIndex((s) => s.label === 'hist-svc'); return Math.min(...u.data[i].filter((v) => v != null)); })()`)
	if math.Abs(whole-600) > 0.5 {
		t.Errorf("the Orders chart's solid hist-svc line goes down to %v, want 600 (partial windows drawn apart)", whole)
	}
	foot := eval[string](t, ctx, `(document.querySelector('[data-stats="tps"] tfoot [data-partial]') || {textContent: ''}).textContent`)
	if !strings.Contains(foot, "dashed") || !strings.Contains(foot, "never in min") {
		t.Errorf("the Orders legend's note %q does not say the dashed points are partial windows left out", foot)
	}
	// Each service row's sparkline leaves them out too: its lowest point
	// is the dip, not the first partial window.
	spark := eval[string](t, ctx, `document.querySelector('tr[data-service="hist-svc"] svg.spark polyline').getAttribute('points')`)
	if ys := sparkYs(spark); len(ys) == 0 || ys[0] > 3 {
		t.Errorf("hist-svc's sparkline starts at y=%v (of 22: 2 highest, 20 lowest), want its first point at 1k/s (2): a partial window's is lower", ys)
	}
	screenshot(t, ctx, artifacts(t), "partial-windows-7d")
}

// sparkYs are the y coordinates of a sparkline's points ("x,y x,y").
func sparkYs(points string) []float64 {
	var out []float64
	for _, p := range strings.Fields(points) {
		if _, y, ok := strings.Cut(p, ","); ok {
			if v, err := strconv.ParseFloat(y, 64); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}
