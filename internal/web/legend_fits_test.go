package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// latencyStart is a service's order latency histogram and orders, 100 a
// second, a sample a second from from to now: its first 20 s of orders
// all under 100 µs and the rest between 100 µs and 1 ms (fast), or the
// reverse (!fast), so its p99 over the windows reaching before its data
// began (dashed) is beyond every whole window's (the rate windows are
// 30 s or longer): its legend's min (fast)
// or max gives that dashed point, marked.
func latencyStart(svc string, from, now time.Time, fast bool) []prompb.TimeSeries {
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
	c := make([]float64, len(series))
	for ts := from; !ts.After(now); ts = ts.Add(time.Second) {
		low := ts.Before(from.Add(20*time.Second)) == fast
		for k := range series {
			if k > 0 || low {
				c[k] += 100
			}
			series[k].Samples = append(series[k].Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: c[k]})
		}
	}
	return series
}

// TestBrowserLegendsFitTheirCards: the Overview's p99 legend at Live and
// 1h, 1600 px wide, had its max column pushed out of its card: min cells
// read "80.8 ms in a partial window", the header "last, over 30s" wrapped
// to three lines (t-user16 F2, a regression of f38a3f8). Two services
// with long names begin 4 minutes ago, one's first 20 s of orders fast
// (its p99 legend's min is a dashed point), the other's slow (its max):
// at 1280 and 1600 px wide, on Live and 1h, the p99 legend gives those
// cells, marked, and every cell and header of every Overview legend, and
// of the first service's page, lies within its card.
func TestBrowserLegendsFitTheirCards(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(time.Hour) })
	now := time.Now().Truncate(time.Second)
	from := now.Add(-4 * time.Minute)
	fast, slow := "strategy-mean-reversion-fast", "strategy-mean-reversion-slow"
	series := append(latencyStart(fast, from, now, true), latencyStart(slow, from, now, false)...)
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	cell := func(svc, stat string) string {
		return `document.querySelector('[data-stats="p99"] tr[data-series="` + svc + `"] [data-stat="` + stat + `"]')`
	}
	for _, width := range []int64{1280, 1600} {
		if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(width, 1000)); err != nil {
			t.Fatal(err)
		}
		for _, rng := range []string{"live", "1h"} {
			name := fmt.Sprintf("%d px, %s", width, rng)
			load(t, ctx, st.URL+"/#/overview?range="+rng)
			if err := poll(ctx, 20*time.Second, `!!`+cell(fast, "min")+`?.dataset.partialAt && !!`+cell(slow, "max")+`?.dataset.partialAt`); err != nil {
				t.Fatalf("%s: the p99 legend does not give %s's min and %s's max as dashed points (%q, %q): %v", name, fast, slow,
					eval[string](t, ctx, `(`+cell(fast, "min")+` || {}).textContent || ''`), eval[string](t, ctx, `(`+cell(slow, "max")+` || {}).textContent || ''`), err)
			}
			for _, c := range []string{cell(fast, "min"), cell(slow, "max")} {
				if mark := eval[string](t, ctx, c+`.title`); !strings.Contains(mark, "dashed") {
					t.Errorf("%s: a dashed min or max cell's title %q does not say it is a dashed point", name, mark)
				}
			}
			if foot := eval[string](t, ctx, `(document.querySelector('[data-stats="p99"] tfoot') || {}).textContent || ''`); !strings.Contains(foot, "in a partial window") {
				t.Errorf("%s: the p99 legend's foot %q does not say what the marked cells are", name, foot)
			}
			if bad := eval[[]string](t, ctx, legendsOutside); len(bad) > 0 {
				t.Errorf("%s: %d legend cells reach out of their card, as %q", name, len(bad), bad)
			}
			screenshot(t, ctx, artifacts(t), fmt.Sprintf("legends-fit-%d-%s", width, rng))
			// The service page's legends (its latency quantiles' too).
			load(t, ctx, st.URL+"/#/service/"+fast+"?range="+rng)
			if err := poll(ctx, 20*time.Second, `document.querySelectorAll('#page table.stats tbody tr').length >= 3`); err != nil {
				t.Fatalf("%s: %s's page has no legends: %v", name, fast, err)
			}
			if bad := eval[[]string](t, ctx, legendsOutside); len(bad) > 0 {
				t.Errorf("%s: on %s's page %d legend cells reach out of their card, as %q", name, fast, len(bad), bad)
			}
			screenshot(t, ctx, artifacts(t), fmt.Sprintf("legends-fit-service-%d-%s", width, rng))
		}
	}
}

// legendsOutside lists each cell and header of a legend (not its foot,
// which wraps) whose box reaches out of its card's.
const legendsOutside = `(() => { const out = [];
	for (const tbl of document.querySelectorAll('#page table.stats')) {
		const card = tbl.closest('.card').getBoundingClientRect();
		for (const c of tbl.querySelectorAll('thead th, tbody td')) {
			const r = c.getBoundingClientRect();
			if (r.width === 0) continue;
			if (r.left < card.left - 0.5 || r.right > card.right + 0.5) out.push(tbl.dataset.stats + ' ' + (c.closest('tr').dataset.series || 'head') + ' ' + (c.dataset.stat || '') +
				' "' + c.textContent + '" [' + Math.round(r.left) + ', ' + Math.round(r.right) + '] in the card\'s [' + Math.round(card.left) + ', ' + Math.round(card.right) + ']');
		}
	}
	return out; })()`

// TestBrowserLegendFitsWithAnOlderLast: in the demo the Overview's p99
// legend read "last, over 30s or as said" (a row's last is its newest
// whole point, "412 µs at 10:04, over 30s") and its max column ran out of
// its card at 1440 px, three cards a row. Three services with long names,
// one whose data stopped 2 minutes ago (its last is such an older point):
// at 1440 px and at 480 px (one card a row, a phone's width), on Live and
// 1h, the p99 legend says so, and every cell and header of every Overview
// legend lies within its card.
func TestBrowserLegendFitsWithAnOlderLast(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(time.Hour) })
	now := time.Now().Truncate(time.Second)
	from := now.Add(-6 * time.Minute)
	fast, slow, stopped := "strategy-mean-reversion-fast", "strategy-mean-reversion-slow", "strategy-statistical-arbitrage"
	series := append(latencyStart(fast, from, now, true), latencyStart(slow, from, now, false)...)
	series = append(series, latencyStart(stopped, from, now.Add(-2*time.Minute), false)...)
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	older := `document.querySelector('[data-stats="p99"] tr[data-series="` + stopped + `"] [data-stat="last"][data-last-at]')`
	for _, width := range []int64{1440, 480} {
		if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(width, 1000)); err != nil {
			t.Fatal(err)
		}
		for _, rng := range []string{"live", "1h"} {
			name := fmt.Sprintf("%d px, %s", width, rng)
			load(t, ctx, st.URL+"/#/overview?range="+rng)
			if err := poll(ctx, 20*time.Second, `!!`+older+` && !!document.querySelector('[data-stats="p99"] th[data-older]')`); err != nil {
				t.Fatalf("%s: the p99 legend gives %s no older last (%q): %v", name, stopped,
					eval[string](t, ctx, `(document.querySelector('[data-stats="p99"] tr[data-series="`+stopped+`"]') || {}).textContent || ''`), err)
			}
			if bad := eval[[]string](t, ctx, legendsOutside); len(bad) > 0 {
				t.Errorf("%s: %d legend cells reach out of their card, as %q", name, len(bad), bad)
			}
			screenshot(t, ctx, artifacts(t), fmt.Sprintf("legend-fits-older-%d-%s", width, rng))
		}
	}
}
