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

// TestBrowserCustomRangeEndsAtItsEnd: a custom (or zoomed) range whose
// length is not a multiple of its step had its points on a grid from its
// start, the last up to a step before its end: what happened in that step
// was on no point. A range of 3599 s (step 12 s, each point over 48 s)
// ending at T: the old grid's last point was at T-11 s. A service's orders
// counters are written every 2 s around it, 2,000 errors in the 10 s up to
// T and none before: the Error rate chart's last point is at T and holds
// them (the old page: max 0 %), the time axis spans [T-3599, T].
func TestBrowserCustomRangeEndsAtItsEnd(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(6 * time.Hour) })
	const svc, every, okPerSec, errPerSample = "end-svc", 2, 1000.0, 400.0
	end := time.Now().Add(-10*time.Minute).Unix() / every * every
	from := end - 3599
	series := func(result string) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: result}, {Name: "service", Value: svc},
		}}
	}
	ok, bad := series("success"), series("error")
	okC, badC := 0.0, 1e6
	for ts := from - 600; ts <= end+300; ts += every {
		okC += okPerSec * every
		if ts > end-10 && ts <= end {
			badC += errPerSample
		}
		ok.Samples = append(ok.Samples, prompb.Sample{Timestamp: ts * 1000, Value: okC})
		bad.Samples = append(bad.Samples, prompb.Sample{Timestamp: ts * 1000, Value: badC})
	}
	if err := webtest.Write(context.Background(), st.URL, ok, bad); err != nil {
		t.Fatal(err)
	}
	errRate := fmt.Sprintf(`100 * sum(rate(gmc_orders_total{service=%q, result!="success"}[48s])) / sum(rate(gmc_orders_total{service=%q}[48s]))`, svc, svc)
	// The fixture: no errors in the window of a point 11 s before the end.
	if v := instantAt(t, st, errRate, float64(end-11)); v != 0 {
		t.Fatalf("the error rate at T-11 s over 48 s is %v, want 0 (the errors after it)", v)
	}
	// Over the 48 s up to T: 5 samples of 400 errors against 1,000/s of
	// successes between the window's first and last samples (46 s).
	want := 100 * 5 * errPerSample / (5*errPerSample + okPerSec*46)
	if v := instantAt(t, st, errRate, float64(end)); !near(v, want, 1e-9) {
		t.Fatalf("the error rate at T over 48 s is %v, want %v", v, want)
	}

	load(t, ctx, fmt.Sprintf("%s/#/overview?range=1h&from=%d&to=%d", st.URL, from, end))
	row := `document.querySelector('[data-stats="errors"] tr[data-series="` + svc + `"]')`
	if err := poll(ctx, 20*time.Second, row+` && `+row+`.querySelector('[data-stat="max"]').textContent !== '–'`); err != nil {
		t.Fatalf("the Error rate legend has no %s row: %v", svc, err)
	}
	xs := eval[[]float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="errors"]').chart.u;
		const i = u.series.findIndex((s) => s.label === `+jsString(svc)+`);
		const n = u.data[0].length; return [u.data[0][n - 1], i < 1 ? -1 : u.data[i][n - 1] ?? -1, u.scales.x.min, u.scales.x.max, u.data[0][1] - u.data[0][0]]; })()`)
	if xs[0] != float64(end) {
		t.Errorf("the Error rate chart's last point is at %v, want the range's end %d (%v s before it)", xs[0], end, float64(end)-xs[0])
	}
	if !near(xs[1], want, 1e-6) {
		t.Errorf("the Error rate chart's last point reads %v %%, want %v %% (the errors of the range's last 10 s)", xs[1], want)
	}
	if xs[2] != float64(from) || xs[3] != float64(end) || xs[4] != 12 {
		t.Errorf("the time axis spans %v..%v with steps of %v s, want %d..%d (the range) and 12 s", xs[2], xs[3], xs[4], from, end)
	}
	maxTxt := eval[string](t, ctx, row+`.querySelector('[data-stat="max"]').textContent`)
	if got, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(maxTxt), "%"), 64); err != nil || !near(got, want, 0.01) {
		t.Errorf("the Error rate legend's max reads %q, want %.3g%% (the errors just before the range's end)", maxTxt, want)
	}
	screenshot(t, ctx, artifacts(t), "custom-range-end")

	// A service page's heatmap too: its columns (30 s here) end at the
	// range's end, not at the last multiple of their step before it.
	load(t, ctx, fmt.Sprintf("%s/#/service/%s?range=1h&from=%d&to=%d", st.URL, webtest.Native, from, end))
	if err := poll(ctx, 20*time.Second, `document.querySelector('[data-chart="heatmap"]')?.chart.end != null`); err != nil {
		t.Fatalf("the service page drew no heatmap: %v", err)
	}
	if hx := eval[float64](t, ctx, `document.querySelector('[data-chart="heatmap"]').chart.end`); hx != float64(end) {
		t.Errorf("the heatmap's last column is at %v, want the range's end %d", hx, end)
	}
}
