package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserHeatmapBeforeData: a heatmap's columns before its service's
// data began were drawn as empty as a step without events, and nothing
// said which they were (after a stop the columns are faded with a
// caption: TestBrowserHeatmapAndHostAfterStop). A service's latency
// histogram is written from 20 minutes ago to now, every second; on the
// 1h range the ~80 columns of the 40 minutes before are marked grey and
// counted (data-before), the caption under the chart says "before the
// data began" and "no data yet", and the readout over such a column says
// so (not "no events"). The page's clock is held at the fixture's now
// (pageClockStill; the data run on 5 minutes past it, so gmc's status
// keeps the service up): on the wall clock, a slow load moved the counts.
func TestBrowserHeatmapBeforeData(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	const svc = "late-svc"
	now := time.Now().Truncate(time.Second)
	series := heatHistory(svc, now.Add(-20*time.Minute), now.Add(5*time.Minute), nil)
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, now)

	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	if err := poll(ctx, 20*time.Second, `Number(document.querySelector('[data-chart="heatmap"]')?.dataset.points || 0) > 0`); err != nil {
		t.Fatalf("the service page drew no heatmap: %v", err)
	}
	// 1h in 30 s columns: the 40 minutes before the data are ~80 of them.
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="heatmap"]').dataset.before || 0)`); n < 70 || n > 82 {
		t.Errorf("the heatmap marks %d columns before the data began, want ~80 (the 40 minutes before it at 30 s a column)", n)
	}
	if txt := eval[string](t, ctx, `(document.querySelector('.hm-before:not([hidden])') || {textContent: ''}).textContent`); !strings.Contains(txt, "before the data began") || !strings.Contains(txt, "no data yet") {
		t.Errorf("the caption under the heatmap %q does not say which columns are before the data began", txt)
	}
	txt := eval[string](t, ctx, `(() => { const u = document.querySelector('[data-chart="heatmap"]').chart.u;
		u.setCursor({left: u.bbox.width / devicePixelRatio * 0.2, top: u.bbox.height / devicePixelRatio / 2});
		return document.querySelector('[data-chart="heatmap"]').dataset.readout || ''; })()`)
	if !strings.Contains(txt, "no data yet") {
		t.Errorf("the heatmap's readout over a column 48 minutes ago reads %q, want it to say there is no data yet", txt)
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="heatmap"]').dataset.ended || 0)`); n != 0 {
		t.Errorf("the heatmap of a service up now fades %d columns, want none", n)
	}
	screenshot(t, ctx, artifacts(t), "heatmap-before-data")
}

// heatHistory is a service's order latency histogram (90 % of its
// orders under 100 µs, all under 1 ms) and its orders, 100 a second, a
// sample a second from from to now, less the seconds hole reports (nil:
// none).
func heatHistory(svc string, from, now time.Time, hole func(time.Time) bool) []prompb.TimeSeries {
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
	for ts := from; !ts.After(now); ts = ts.Add(time.Second) {
		if hole != nil && hole(ts) {
			continue
		}
		i++
		for k := range series {
			series[k].Samples = append(series[k].Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: per[k] * i})
		}
	}
	return series
}
