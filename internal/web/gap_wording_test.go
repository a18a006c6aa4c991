package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserGapNotBeforeDataBegan: after a history/live gap the
// Overview's 7d p99 bridge point (the time from the last step to a minute
// ago) was said to "reach before the data began" (t-user13 F10d), where
// the data began weeks earlier: it reaches into a gap. A service's orders
// counter and latency histogram are written every minute from 7 days and
// 4 hours ago to 2 minutes after the 7d range's last step, then every 15 s
// from 5 minutes ago: on the Orders and p99 charts each of its dashed
// points (the bridge among them) is said to hold a gap. A second service
// begun 10 minutes ago (within the bridge's window) has its bridge said to
// reach before the data began, and the legend's foot names each kind's
// series: with both on a chart it read "2 points whose window reaches
// before the data began or past the last sample or, 1 of them, holds a
// gap", and the test, counting the foot's points, failed whenever the
// seeded desk's services (begun 15 minutes before the test) were on the
// page: when the page's clock was the wall clock, 1400-1800 s into a 7d
// step (the clean-clone CI run at 01:13 UTC: 3 of 4 dashed points were
// theirs, rightly said to reach before their data began). The page's
// clock is now stamped 1600 s into a step and at least 20 minutes before
// the seeded data, so the page shows this test's two services only.
func TestBrowserGapNotBeforeDataBegan(t *testing.T) {
	ctx := browser(t)
	const svc, fresh = "gap-words", "gap-fresh"
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(8 * 24 * time.Hour) })
	wall := time.Now().Unix()
	at := wall - 1200
	at -= ((at-1600)%step7d + step7d) % step7d // the bridge's window (1540 s) holds the gap
	pageClock(t, ctx, time.Unix(at, 0))
	gend := at / step7d * step7d
	histEnd, liveFrom := gend+120, at-300
	type point struct {
		ts int64
		n  float64
	}
	write := func(name string, pts []point) {
		t.Helper()
		lbl := func(metric string, kv ...string) []prompb.Label {
			l := []prompb.Label{{Name: "__name__", Value: metric}, {Name: "job", Value: "test"}, {Name: "service", Value: name}}
			for i := 0; i+1 < len(kv); i += 2 {
				l = append(l, prompb.Label{Name: kv[i], Value: kv[i+1]})
			}
			return l
		}
		series := []prompb.TimeSeries{
			{Labels: lbl("gmc_orders_total", "result", "success")},
			{Labels: lbl("gmc_order_latency_seconds_bucket", "le", "0.0001")},
			{Labels: lbl("gmc_order_latency_seconds_bucket", "le", "0.001")},
			{Labels: lbl("gmc_order_latency_seconds_bucket", "le", "+Inf")},
		}
		per := []float64{1, 0.9, 1, 1}
		c := 0.0
		for _, p := range pts {
			c += p.n
			for k := range series {
				series[k].Samples = append(series[k].Samples, prompb.Sample{Timestamp: p.ts * 1000, Value: per[k] * c})
			}
		}
		if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
			t.Fatal(err)
		}
	}
	var gapped, begun []point
	for ts := at - 7*86400 - 4*3600; ts <= histEnd; ts += 60 {
		gapped = append(gapped, point{ts, 60_000})
	}
	for ts := liveFrom; ts <= wall+480; ts += 15 {
		gapped = append(gapped, point{ts, 15_000})
	}
	for ts := at - 600; ts <= wall+480; ts += 15 {
		begun = append(begun, point{ts, 15_000})
	}
	write(svc, gapped)
	write(fresh, begun)
	load(t, ctx, st.URL+"/#/overview?range=7d")
	for _, ch := range []string{"tps", "p99"} {
		row := func(name string) string { return `[data-stats="` + ch + `"] tr[data-series="` + name + `"]` }
		if err := poll(ctx, 20*time.Second, `!!document.querySelector('`+row(svc)+`') && !!document.querySelector('`+row(fresh)+`') && Number(document.querySelector('[data-stats="`+ch+`"] tfoot [data-partial]')?.dataset.partial) >= 2`); err != nil {
			t.Fatalf("%s: the legend has no %s and %s rows, or fewer than 2 dashed points: %v", ch, svc, fresh, err)
		}
		// [dashed, before the data began, past the last sample, a gap] of a row.
		kinds := func(name string) []string {
			return eval[[]string](t, ctx, `(() => { const d = document.querySelector('`+row(name)+`').dataset; return [d.partial, d.began, d.ended, d.gap].map((v) => v || ''); })()`)
		}
		if k := kinds(svc); k[0] == "" || k[0] == "0" || k[3] != k[0] {
			t.Errorf("%s: %s has %s dashed points, %s said to hold a gap, %s before the data began, %s past the last sample; want every one a gap (its data began a week ago)", ch, svc, k[0], k[3], k[1], k[2])
		}
		if k := kinds(fresh); k[0] == "" || k[0] == "0" || k[1] != k[0] {
			t.Errorf("%s: %s has %s dashed points, %s said to reach before the data began, %s a gap, %s past the last sample; want every one before the data began (it began 10 minutes ago)", ch, fresh, k[0], k[1], k[3], k[2])
		}
		foot := eval[string](t, ctx, `(document.querySelector('[data-stats="`+ch+`"] tfoot [data-partial]') || {textContent: ''}).textContent`)
		if !strings.Contains(foot, "reaching before the data began: "+fresh+";") || !strings.Contains(foot, "holding a gap in the data: "+svc+")") {
			t.Errorf("%s: the legend's foot %q: want it to name %s as reaching before the data began and %s as holding a gap", ch, foot, fresh, svc)
		}
	}
	screenshot(t, ctx, artifacts(t), "gap-wording-7d")
}

// TestBrowserHeatmapGapNotBeforeData: after a restart a heatmap's columns
// before the first with data were said to be "before the data began"
// where the data had a gap (t-truth13d). A service's latency histogram
// is written every second from 3 hours to 2 hours ago and from 20
// minutes ago: on the 1h range the ~80 empty columns are said to be in a
// gap, not before the data began.
func TestBrowserHeatmapGapNotBeforeData(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(6 * time.Hour) })
	const svc = "gap-heat"
	now := time.Now().Truncate(time.Second)
	series := heatHistory(svc, now.Add(-3*time.Hour), now, func(ts time.Time) bool { return ts.After(now.Add(-2*time.Hour)) && ts.Before(now.Add(-20*time.Minute)) })
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	if err := poll(ctx, 20*time.Second, `Number(document.querySelector('[data-chart="heatmap"]')?.dataset.before || 0) > 0`); err != nil {
		t.Fatalf("the heatmap marks no empty columns: %v", err)
	}
	txt := eval[string](t, ctx, `(document.querySelector('.hm-before:not([hidden])') || {textContent: ''}).textContent`)
	if strings.Contains(txt, "before the data began") || !strings.Contains(txt, "gap") {
		t.Errorf("the caption under the heatmap %q: want the empty columns said to be in a gap, not before the data began", txt)
	}
	ro := eval[string](t, ctx, `(() => { const u = document.querySelector('[data-chart="heatmap"]').chart.u;
		u.setCursor({left: u.bbox.width / devicePixelRatio * 0.2, top: u.bbox.height / devicePixelRatio / 2});
		return document.querySelector('[data-chart="heatmap"]').dataset.readout || ''; })()`)
	if !strings.Contains(ro, "gap") {
		t.Errorf("the heatmap's readout over an empty column reads %q, want it to say a gap", ro)
	}
}
