package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserRateAfterStop: a rate line ran on after its service stopped,
// sloping to zero over one rate window, while the tiles and the legend's
// last already said "down" (t-user8 #8, t-user9 #6): a rate over the data
// and the silence after it drawn as a falling rate, and the legend's min
// read it. A service's orders counter is written every second at 1,000/s
// from 50 to 30 minutes ago and from 20 minutes to 20 s ago (down_after
// 10 s: it is down when the page opens). On the 1h range and on Live the
// Orders chart draws the points after each stop dashed (the one before the
// gap: their rate's run ended a window later; the last: after the status's
// last sample), its legend's min is 1k/s, the whole windows', and the note
// under it says the dashed points reach past the last sample; so does the
// service page's Orders chart on Live.
func TestBrowserRateAfterStop(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) {
		c.Storage.OutOfOrderWindow = config.Duration(2 * time.Hour)
		c.Server.StaleAfter = config.Duration(5 * time.Second)
		c.Server.DownAfter = config.Duration(10 * time.Second)
	})
	const svc = "stop-svc"
	now := time.Now().Truncate(time.Second)
	series := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: svc},
	}}
	c := 0.0
	for ts := now.Add(-50 * time.Minute); !ts.After(now.Add(-20 * time.Second)); ts = ts.Add(time.Second) {
		if ts.After(now.Add(-30*time.Minute)) && ts.Before(now.Add(-20*time.Minute)) {
			continue
		}
		c += 1000
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: c})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	last := float64(now.Add(-20 * time.Second).Unix())

	row := `document.querySelector('[data-stats="tps"] tr[data-series="` + svc + `"]')`
	for _, r := range []struct {
		key    string
		minEnd int // dashed points after the last sample, at least
	}{{"1h", 1}, {"live", 15}} {
		load(t, ctx, st.URL+"/#/overview?range="+r.key)
		if err := poll(ctx, 20*time.Second, row+` && `+row+`.querySelector('[data-stat="min"]').textContent !== '–' && !!`+row+`.querySelector('[data-gone]')`); err != nil {
			t.Fatalf("%s: the Orders legend has no %s row saying it is down: %v", r.key, svc, err)
		}
		lo := eval[string](t, ctx, row+`.querySelector('[data-stat="min"]').textContent`)
		hi := eval[string](t, ctx, row+`.querySelector('[data-stat="max"]').textContent`)
		if lo != "1k/s" || hi != "1k/s" {
			t.Errorf("%s: Orders legend for %s: min %q, max %q; want 1k/s both (a window reaching past the last sample is not a lower rate)", r.key, svc, lo, hi)
		}
		// The solid line has no point after the last sample; the dashed
		// one has them.
		got := eval[[]float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="tps"]').chart.u;
			const xs = u.data[0], i = u.series.findIndex((s) => s.label === `+jsString(svc)+`), j = u.series.findIndex((s) => s.label === `+jsString(svc+" (partial window)")+`);
			const after = (k) => k < 1 ? -1 : xs.filter((x, n) => x > `+strconv.FormatFloat(last, 'f', 3, 64)+` + 1e-3 && u.data[k][n] != null).length;
			return [after(i), after(j)]; })()`)
		if got[0] != 0 || got[1] < float64(r.minEnd) {
			t.Errorf("%s: after the last sample the solid %s line has %v points (want 0), the dashed one %v (want >= %d)", r.key, svc, got[0], got[1], r.minEnd)
		}
		foot := eval[string](t, ctx, `(document.querySelector('[data-stats="tps"] tfoot [data-partial]') || {textContent: ''}).textContent`)
		if !strings.Contains(foot, "past the last sample") || !strings.Contains(foot, "never in min") {
			t.Errorf("%s: the Orders legend's note %q does not say the dashed points reach past the last sample", r.key, foot)
		}
		screenshot(t, ctx, artifacts(t), "rate-after-stop-"+r.key)
	}

	// The service page's own charts the same (Orders by result, on Live).
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=live")
	srow := `document.querySelector('[data-stats="tps"] tr[data-series="success"]')`
	if err := poll(ctx, 20*time.Second, srow+` && !!`+srow+`.querySelector('[data-gone]') && `+srow+`.querySelector('[data-stat="min"]').textContent !== '–'`); err != nil {
		t.Fatalf("the service page's Orders legend has no success row saying it is down: %v", err)
	}
	if lo := eval[string](t, ctx, srow+`.querySelector('[data-stat="min"]').textContent`); lo != "1k/s" {
		t.Errorf("the service page's Orders legend min %q, want 1k/s", lo)
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-stats="tps"] tfoot [data-ended]')?.dataset.ended || 0)`); n < 15 {
		t.Errorf("the service page's Orders chart marks %d points past the last sample, want >= 15 (the seconds since it, 20 s at least)", n)
	}
}
