package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

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
func TestBrowserHeatmapHoleMarked(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	const svc = "hole-heat"
	now := time.Now().Truncate(time.Second)
	lbl := func(name string, kv ...string) []prompb.Label {
		l := []prompb.Label{{Name: "__name__", Value: name}, {Name: "job", Value: "test"}, {Name: "service", Value: svc}}
		for i := 0; i+1 < len(kv); i += 2 {
			l = append(l, prompb.Label{Name: kv[i], Value: kv[i+1]})
		}
		return l
	}
	series := []prompb.TimeSeries{
		{Labels: lbl("gmc_order_latency_seconds_bucket", "le", "0.0001")},
		{Labels: lbl("gmc_order_latency_seconds_bucket", "le", "0.001")},
		{Labels: lbl("gmc_order_latency_seconds_bucket", "le", "+Inf")},
		{Labels: lbl("gmc_order_latency_seconds_count")},
		{Labels: lbl("gmc_orders_total", "result", "success")},
	}
	per := []float64{90, 100, 100, 100, 100}
	i := 0.0
	for ts := now.Add(-50 * time.Minute); !ts.After(now); ts = ts.Add(time.Second) {
		if ts.After(now.Add(-30*time.Minute)) && ts.Before(now.Add(-18*time.Minute)) {
			continue
		}
		i++
		for k := range series {
			series[k].Samples = append(series[k].Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: per[k] * i})
		}
	}
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
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
