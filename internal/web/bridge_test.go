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

// TestBrowserBridgeGap: on the 7d and 30d views the newest data between
// the last step boundary and the tail's 1m window was on no point. The
// order gateway failed 5 % of its orders for a minute 20 minutes before
// the Overview was opened at 7d, and the Error rate legend read max
// 0.00102 %: the last step point's window ended before the burst, the
// tail (now) is over 1m only (t-user8 #4). A service's orders counters are
// written with their timestamps, every 10 s for 12 hours (a 30d point's
// window is 9.6 h), with 6,000 errors in the 30 s from 20 s after the last
// step boundary; every point on the step grid and the tail read 0 %. The
// Error rate chart has a point over the time from the last step to a
// minute ago (the bridge) that holds the burst, and the legend's max is
// its figure. Which range: the one whose last step is far enough back for
// the burst and a minute to fit (7d, else 30d; both too near their last
// step only 150 s in every 16.8 h).
func TestBrowserBridgeGap(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(72 * time.Hour) })
	now := time.Now()
	var key string
	var gend int64
	for _, r := range []struct {
		key  string
		step int64
	}{{"7d", 2016}, {"30d", 8640}} {
		if g := now.Unix() / r.step * r.step; now.Unix()-g >= 150 {
			key, gend = r.key, g
			break
		}
	}
	if key == "" {
		t.Skipf("now (%v) is within 150 s of both the 7d and the 30d last step: no room for a burst between them and the last minute", now)
	}
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
	// Samples on a 10 s grid through the last step boundary (gend).
	for ts := gend - 12*3600; ts <= now.Unix(); ts += every {
		okC += okPerSec * every
		if ts > gend+burstFrom && ts <= gend+burstTo {
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
	// The fixture tests the gap: the last step's point (over the range's
	// window) and a tail over the last minute read no errors.
	rw := map[string]string{"7d": "8064s", "30d": "34560s"}[key]
	if v := instantAt(t, st, errRate(rw), float64(gend)); v != 0 {
		t.Fatalf("the error rate at the last step %d over %s is %v, want 0 (the burst after it)", gend, rw, v)
	}
	if v := instant(t, st, errRate("1m")); v != 0 {
		t.Fatalf("the error rate over the last minute is %v, want 0 (the burst before it)", v)
	}

	load(t, ctx, st.URL+"/#/overview?range="+key)
	row := `document.querySelector('[data-stats="errors"] tr[data-series="` + svc + `"]')`
	if err := poll(ctx, 20*time.Second, row+` && `+row+`.querySelector('[data-stat="max"]').textContent !== '–'`); err != nil {
		t.Fatalf("the Error rate legend has no %s row: %v", svc, err)
	}
	// The chart's last three points: the last step, the bridge (a minute
	// before the last, over the time since the last step) and the tail.
	xy := eval[[]float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="errors"]').chart.u;
		const i = u.series.findIndex((s) => s.label === `+jsString(svc)+`);
		const n = u.data[0].length; return [u.data[0][n - 3], u.data[0][n - 2], u.data[0][n - 1], i < 1 ? -1 : u.data[i][n - 2] ?? -1]; })()`)
	gx, bx, tx, bv := xy[0], xy[1], xy[2], xy[3]
	// The burst's errors over the samples after gend up to a minute
	// before the page's now (the last point): all 6,000 against 1,000/s of
	// successes.
	last := min(lastTS, gend+int64(math.Floor((tx-60-float64(gend))/every))*every)
	errs := errPerSec * (burstTo - burstFrom)
	// (Both counters sampled together: the extrapolation cancels in the ratio.)
	want := 100 * errs / (errs + okPerSec*float64(last-gend-every))
	maxTxt := eval[string](t, ctx, row+`.querySelector('[data-stat="max"]').textContent`)
	if got, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(maxTxt), "%"), 64); err != nil || !near(got, want, 0.01) {
		t.Errorf("the %s Error rate legend's max reads %q, want %.3g%% (the burst since the last step)", key, maxTxt, want)
	}
	if gx != float64(gend) || math.Abs(tx-bx-60) > 1e-3 {
		t.Errorf("the chart's last three points are at %v, %v, %v; want the last step %d, a minute before the last, the last", gx, bx, tx, gend)
	} else if !near(bv, want, 1e-6) {
		t.Errorf("the bridge point at %v reads %v %%, want %v %%", bx, bv, want)
	}
	// The caption says the bridge's window.
	cap := eval[string](t, ctx, `document.querySelector('[data-stats="errors"] caption')?.textContent || ''`)
	if !strings.Contains(cap, "; the one 1m before the last over ") {
		t.Errorf("the Error rate legend's caption %q does not state the bridge's window", cap)
	}
	screenshot(t, ctx, artifacts(t), "bridge-"+key)
}
