package web_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserBridgeGap: on the 7d and 30d views the newest data between
// the last step boundary and the tail's 1m window was on no point. The
// order gateway failed 5 % of its orders for a minute 20 minutes before
// the Overview was opened at 7d, and the Error rate legend read max
// 0.00102 %: the last step point's window ended before the burst, the
// tail (now) is over 1m only (t-user8 #4). A service's orders counters are
// written with their timestamps, every 10 s for 12 hours (a 30d point's
// window is 9.6 h), with 6,000 errors in the 30 s from 20 s after the
// later of the 7d and 30d last step boundaries; every point on the step
// grid and the tail read 0 %. The Error rate chart has a point over the
// time from the last step to a minute ago (the bridge) that holds the
// burst, and the legend's max is its figure, on both ranges.
//
// The page's clock is set (pageClock) to a time at least 200 s after both
// ranges' last step boundaries, at most ~7 minutes before the wall clock,
// and the fixture is stamped up to it: the test no longer depends on where
// now falls on the step grids (it skipped within 150 s after both, 150 s
// in every 16.8 h).
func TestBrowserBridgeGap(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(72 * time.Hour) })
	steps := map[string]int64{"7d": step7d, "30d": step30d}
	// at: the page's now (whole seconds) when it loads, the latest at or
	// before the wall clock with room for the burst and a minute after both
	// last steps, and 5 minutes before the next (the page's clock runs on
	// while the test runs).
	room := func(at int64) bool {
		for _, step := range steps {
			if at%step < 200 || at%step > step-300 {
				return false
			}
		}
		return true
	}
	at := time.Now().Unix()
	for !room(at) {
		at--
	}
	gends := map[string]int64{"7d": at / steps["7d"] * steps["7d"], "30d": at / steps["30d"] * steps["30d"]}
	late := max(gends["7d"], gends["30d"])
	pageClock(t, ctx, time.Unix(at, 0))
	const svc, every, burstFrom, burstTo, errPerSec, okPerSec = "gap-svc", 10, 20, 50, 200.0, 1000.0
	series := func(result string) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: result}, {Name: "service", Value: svc},
		}}
	}
	ok, bad := series("success"), series("error")
	// The errors counter stands at a million from before (rate() then
	// extrapolates both counters alike: one starting at 0 is not
	// extrapolated before its first sample, and the ratio would move).
	okC, badC := 0.0, 1e6
	var lastTS int64
	// Samples on a 10 s grid through the later last step boundary, up to
	// the page's now.
	first := late - (late-min(gends["7d"], gends["30d"])+12*3600)/every*every - every
	for ts := first; ts <= at; ts += every {
		okC += okPerSec * every
		if ts > late+burstFrom && ts <= late+burstTo {
			badC += errPerSec * every
		}
		ok.Samples = append(ok.Samples, prompb.Sample{Timestamp: ts * 1000, Value: okC})
		bad.Samples = append(bad.Samples, prompb.Sample{Timestamp: ts * 1000, Value: badC})
		lastTS = ts
	}
	if err := webtest.Write(context.Background(), st.URL, ok, bad); err != nil {
		t.Fatal(err)
	}
	errRate := func(win string) string {
		return fmt.Sprintf(`100 * sum(rate(gmc_orders_total{service=%q, result!="success"}[%s])) / sum(rate(gmc_orders_total{service=%q}[%s]))`, svc, win, svc, win)
	}
	// The fixture tests the gap: a tail over the page's last minute reads
	// no errors, nor does either range's last step point (over its window).
	if v := instantAt(t, st, errRate("1m"), float64(at)); v != 0 {
		t.Fatalf("the error rate over the minute before %d is %v, want 0 (the burst before it)", at, v)
	}
	for _, key := range []string{"7d", "30d"} {
		gend := gends[key]
		rw := strconv.FormatInt(4*steps[key], 10) + "s"
		if v := instantAt(t, st, errRate(rw), float64(gend)); v != 0 {
			t.Fatalf("the error rate at the %s last step %d over %s is %v, want 0 (the burst after it)", key, gend, rw, v)
		}

		load(t, ctx, st.URL+"/#/overview?range="+key)
		row := `document.querySelector('[data-stats="errors"] tr[data-series="` + svc + `"]')`
		if err := poll(ctx, 20*time.Second, row+` && `+row+`.querySelector('[data-stat="max"]').textContent !== '–'`); err != nil {
			t.Fatalf("the %s Error rate legend has no %s row: %v", key, svc, err)
		}
		// The chart's last three points: the last step, the bridge (a minute
		// before the last, over the time since the last step) and the tail.
		xy := eval[[]float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="errors"]').chart.u;
			const i = u.series.findIndex((s) => s.label === `+jsString(svc)+`);
			const n = u.data[0].length; return [u.data[0][n - 3], u.data[0][n - 2], u.data[0][n - 1], i < 1 ? -1 : u.data[i][n - 2] ?? -1]; })()`)
		gx, bx, tx, bv := xy[0], xy[1], xy[2], xy[3]
		// The burst's errors over the samples after gend up to a minute
		// before the page's now (the last point): all 6,000 against 1,000/s
		// of successes from the first sample after gend to the last.
		d := late - gend
		firstIn := gend + every
		if d%every != 0 {
			firstIn = gend + d%every
		}
		last := min(lastTS, late+int64(math.Floor((tx-60-float64(late))/every))*every)
		errs := errPerSec * (burstTo - burstFrom)
		// (Both counters sampled together: the extrapolation cancels in the ratio.)
		want := 100 * errs / (errs + okPerSec*float64(last-firstIn))
		maxTxt := eval[string](t, ctx, row+`.querySelector('[data-stat="max"]').textContent`)
		if got, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(maxTxt), "%"), 64); err != nil || !near(got, want, 0.01) {
			t.Errorf("the %s Error rate legend's max reads %q, want %.3g%% (the burst since the last step)", key, maxTxt, want)
		}
		if gx != float64(gend) || math.Abs(tx-bx-60) > 1e-3 {
			t.Errorf("the %s chart's last three points are at %v, %v, %v; want the last step %d, a minute before the last, the last", key, gx, bx, tx, gend)
		} else if !near(bv, want, 1e-6) {
			t.Errorf("the %s bridge point at %v reads %v %%, want %v %%", key, bx, bv, want)
		}
		// The caption says the bridge's window.
		cap := eval[string](t, ctx, `document.querySelector('[data-stats="errors"] caption')?.textContent || ''`)
		if !strings.Contains(cap, "; the one 1m before the last over ") {
			t.Errorf("the %s Error rate legend's caption %q does not state the bridge's window", key, cap)
		}
		screenshot(t, ctx, artifacts(t), "bridge-"+key)
	}
}

// pageClock sets the clock of the pages ctx opens from now on: their Date
// reads at when the next document loads and runs on from there (the
// server's clock is not moved). For fixtures whose meaning depends on
// where the page's now falls on a step grid: stamped relative to at, not
// to the wall clock. at must not be after the wall clock (the server holds
// no data there).
func pageClock(t *testing.T, ctx context.Context, at time.Time) {
	t.Helper()
	setPageClock(t, ctx, fmt.Sprintf("D.now() + %d", at.UnixMilli()-time.Now().UnixMilli()))
}

// pageClockStill sets the clock of the pages ctx opens from now on to at,
// where it stays (timers still run; only Date is held): for a fixture
// written relative to one instant whose meaning depends on where the
// page's now falls against it to within seconds or minutes. With
// pageClock the page's now runs on from at while the page loads and
// refreshes: TestBrowserOverviewTopByLegendLast failed at load 19-55
// (2 cores), and a 60 s pause between the stamp and the load reproduces
// it (its new service's tail, 68 s after its first sample, is over a
// whole window and drawn). The page's own durations (a refresh's "took",
// the disconnected strip's staleness) read zero.
func pageClockStill(t *testing.T, ctx context.Context, at time.Time) {
	t.Helper()
	setPageClock(t, ctx, strconv.FormatInt(at.UnixMilli(), 10))
}

// setPageClock makes the pages' Date.now() (and new Date()) the JS
// expression now (over D, the real Date).
func setPageClock(t *testing.T, ctx context.Context, now string) {
	t.Helper()
	src := fmt.Sprintf(`(() => {
		const D = Date, now = () => %s;
		class PageDate extends D {
			constructor(...a) { if (a.length) super(...a); else super(now()); }
			static now() { return now(); }
		}
		globalThis.Date = PageDate;
	})();`, now)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
		t.Fatalf("set the page's clock: %v", err)
	}
}
