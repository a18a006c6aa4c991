package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserLegendMaxOverPartialWindows: a service page's 24h Orders
// legend read "error max 0.0667/s" on a day with three bursts of 145
// errors/s (t-user15 F5): every window holding a burst also held a gap
// (gmc or the service down), so each such point was drawn dashed and
// left out of the legend's min and max, which then said less than the
// chart drew. A rate over a partial window reads low (the data seen
// spread over the whole window): the legend's max gives the highest
// dashed point where it is above every whole one, as "≥ x in a partial
// window".
//
// The fixture, 26 hours of a service's orders every 15 s (100/s
// successful, one error per 15 s: 0.0667/s), with two bursts of 145
// errors/s for 3 minutes, each while gmc was down (no samples for 12m45s,
// 20 h before the page's now, and 13m, 8 h before; the service counted
// on), as in the trial's SIGTERM and kill -9 mid-incident: every 24h
// point (a 1200 s rate window every 300 s) holding a burst holds a gap
// (on the old build the error max read 0.0667/s). The
// legend's error max is the highest point of the chart's grid, read from
// gmc over the same windows (a subquery on the same 300 s steps), marked
// partial; the success row, whose dashed points are no higher than its
// whole ones, keeps its whole max unmarked.
func TestBrowserLegendMaxOverPartialWindows(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(27 * time.Hour) })
	const svc = "f5-svc"
	wall := time.Now().Unix()
	// The page's clock: stamped, 10 minutes before the wall clock (the
	// bursts are hours from the range's ends, wherever it drifts).
	at := (wall - 600) / 15 * 15
	pageClock(t, ctx, time.Unix(at, 0))
	// gmc down twice (no samples; the service counts on), a burst of errors
	// within each outage.
	g1, g1End := at-20*3600, at-20*3600+765
	g2, g2End := at-8*3600, at-8*3600+780
	lbl := func(result string) []prompb.Label {
		return []prompb.Label{{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "f5"}, {Name: "result", Value: result}, {Name: "service", Value: svc}}
	}
	okS, badS := prompb.TimeSeries{Labels: lbl("success")}, prompb.TimeSeries{Labels: lbl("error")}
	var ok, bad float64
	flush := func() {
		t.Helper()
		if err := webtest.Write(context.Background(), st.URL, okS, badS); err != nil {
			t.Fatal(err)
		}
		okS.Samples, badS.Samples = nil, nil
	}
	for ts := at - 26*3600; ts <= wall+300; ts += 15 {
		// The 15 s before ts: the counters' increase.
		ok += 100 * 15
		if (ts > g1+300 && ts <= g1+480) || (ts > g2+120 && ts <= g2+300) {
			bad += 145 * 15
		} else {
			bad++
		}
		if (ts > g1 && ts < g1End) || (ts > g2 && ts < g2End) {
			continue
		}
		okS.Samples = append(okS.Samples, prompb.Sample{Timestamp: ts * 1000, Value: ok})
		badS.Samples = append(badS.Samples, prompb.Sample{Timestamp: ts * 1000, Value: bad})
		if len(okS.Samples) == 4000 {
			flush()
		}
	}
	flush()
	sel := fmt.Sprintf(`gmc_orders_total{service=%q,result="error"}`, svc)
	// gmc's raw data: the second outage's errors, 145/s for its 3 minutes.
	if v := instantAt(t, st, sel, float64(g2End)) - instantAt(t, st, sel, float64(g2)); v != 145*180+(780/15-12) {
		t.Fatalf("the errors across the second outage are %v, want %v", v, 145*180+(780/15-12))
	}
	// The chart's grid points (24h: a 1200 s window every 300 s), their
	// highest, from gmc: the steps of the last 24 hours to the page's last.
	gend := float64(at / step24h * step24h)
	grid := func(e string) float64 {
		return instantAt(t, st, fmt.Sprintf(`max_over_time((%s)[86400s:%ds])`, e, step24h), gend)
	}
	wantErr := grid(fmt.Sprintf(`sum(rate(%s[%ds]))`, sel, 4*step24h))
	if wantErr < 20 {
		t.Fatalf("the highest 24h point of the error rate is %v/s, want over 20 (a burst: 26,100 errors in a 1200 s window)", wantErr)
	}
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=24h")
	fmts := evalAsync[[]string](t, ctx, fmt.Sprintf(`(async () => { const {units} = await import('/assets/util.js'); return [units.rate.fmt(%g), units.rate.fmt(%g)]; })()`, wantErr, 100.0))
	row := func(series string) string {
		return `document.querySelector('[data-stats="tps"] tr[data-series="` + series + `"]')`
	}
	if err := poll(ctx, 30*time.Second, row("error")+` && `+row("success")+` && Number(document.querySelector('[data-chart="tps"]').dataset.partial) > 0`); err != nil {
		t.Fatalf("the Orders legend has no error and success rows, or no dashed point: %v", err)
	}
	type cell struct {
		Text  string `json:"text"`
		Value string `json:"value"`
		Title string `json:"title"`
	}
	maxCell := func(series string) cell {
		return eval[cell](t, ctx, `(() => { const c = `+row(series)+`.querySelector('[data-stat="max"]'); return {text: c.textContent, value: c.dataset.partialValue || '', title: c.title || ''}; })()`)
	}
	got := maxCell("error")
	if want := "≥ " + fmts[0] + "*"; got.Text != want || !strings.HasPrefix(got.Title, "in a partial window: ") {
		t.Errorf("the Orders legend's error max reads %q (%q), want %q, its title saying in a partial window (the highest point drawn, dashed: its window holds a burst and a gap; the whole points' max is the baseline, 0.0667/s)", got.Text, got.Title, want)
	}
	if v, err := strconv.ParseFloat(got.Value, 64); err != nil || !near(v, wantErr, 1e-6) {
		t.Errorf("the error max's point is %q, want %v (gmc's highest 24h point of sum(rate(…[1200s])))", got.Value, wantErr)
	}
	if got := maxCell("success"); got.Text != fmts[1] || got.Value != "" {
		t.Errorf("the Orders legend's success max reads %q (partial %q), want %q unmarked (no dashed point above the whole ones)", got.Text, got.Value, fmts[1])
	}
	foot := eval[string](t, ctx, `(document.querySelector('[data-stats="tps"] tfoot') || {textContent: ''}).textContent`)
	if want := `in max only where higher than every whole point, marked "≥ …*" (in a partial window)`; !strings.Contains(foot, want) {
		t.Errorf("the Orders legend's foot %q does not say %q", foot, want)
	}
	screenshot(t, ctx, artifacts(t), "legend-max-partial-24h")
}
