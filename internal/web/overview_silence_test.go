package web_test

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserOverviewSilenceMarked: the Overview drew the rate points
// whose window holds a service's own silence (no samples for longer than
// its stale_after, shorter than a window: every point has a value) solid,
// reading low, and one could be the Orders legend's min; the service's
// page marks them (api.markSilences). Two services counting orders, a
// sample a second (stale_after 5 s): one at 20,000 orders/s silent for
// 20 s ending two minutes before the page opens (at 6 s past a 1h step),
// one at 3,000/s without a silence. On Live (30 s windows) and 1h (12 s
// steps, 48 s windows) the first's Orders legend min is within 10 % of
// 20k/s and every point whose window holds the silence is dashed as
// holding a gap in the data; the second has no such point and its min is
// its rate.
func TestBrowserOverviewSilenceMarked(t *testing.T) {
	ctx := browser(t)
	const svc, steady, perSec, steadyPerSec = "gateway-gap", "steady-x", 20000.0, 3000.0
	live := config.Liveness{StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: live, steady: live}
	})
	now := time.Now().Truncate(time.Second)
	back := now.Add(-2 * time.Minute)
	for back.Unix()%12 != 6 { // off the 1h steps
		back = back.Add(-time.Second)
	}
	down := back.Add(-20 * time.Second)
	origin := now.Add(-40 * time.Minute)
	orders := func(name string, rate float64, ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: name},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: rate * ts.Sub(origin).Seconds()}}}
	}
	at := func(ts time.Time) []prompb.TimeSeries {
		out := []prompb.TimeSeries{orders(steady, steadyPerSec, ts)}
		if !ts.After(down) || !ts.Before(back) {
			out = append(out, orders(svc, perSec, ts))
		}
		return out
	}
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(now); ts = ts.Add(time.Second) {
		history = append(history, at(ts)...)
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	writeEverySecond(t, st.URL, now.Add(time.Second), at)

	// want: the points on the grid of step whose window (t − window, t]
	// holds part of the silence (down, back).
	want := func(step, window int64) int {
		n := 0
		for ts := down.Unix() + 1; ts < back.Unix()+window; ts++ {
			if ts%step == 0 {
				n++
			}
		}
		return n
	}
	row := func(name string) string {
		return `document.querySelector('[data-stats="tps"] tr[data-series="` + name + `"]')`
	}
	minOf := func(r, name string) float64 {
		t.Helper()
		txt := eval[string](t, ctx, row(name)+`.querySelector('[data-stat="min"]').textContent`)
		m := regexp.MustCompile(`^([0-9.]+k?)`).FindStringSubmatch(strings.TrimSpace(txt))
		if m == nil {
			t.Errorf("%s: %s's Orders legend min %q: no figure", r, name, txt)
			return math.NaN()
		}
		return parseK(m[1])
	}
	check := func(r string, step, window int64) {
		t.Helper()
		ready := `!!` + row(svc) + ` && !!` + row(steady) + ` && ` + row(svc) + `.querySelector('[data-stat="min"]').textContent !== '–'`
		if err := poll(ctx, 20*time.Second, ready); err != nil {
			t.Fatalf("%s: no Orders legend rows for %s and %s: %v", r, svc, steady, err)
		}
		if v := minOf(r, svc); !near(v, perSec, 0.1) {
			t.Errorf("%s: %s's Orders legend min %v, want %v/s within 10 %% (a point whose window holds its silence is not in min)", r, svc, v, perSec)
		}
		if g := eval[string](t, ctx, row(svc)+`.dataset.gap || '0'`); g != strconv.Itoa(want(step, window)) {
			t.Errorf("%s: %s's Orders legend row: %s points holding a gap, want %d (every point whose window holds its silence)", r, svc, g, want(step, window))
		}
		if v := minOf(r, steady); !near(v, steadyPerSec, 0.05) {
			t.Errorf("%s: %s's Orders legend min %v, want %v/s within 5 %%", r, steady, v, steadyPerSec)
		}
		if g := eval[string](t, ctx, row(steady)+`.dataset.gap || '0'`); g != "0" {
			t.Errorf("%s: %s (no silence) has %s points holding a gap, want 0 (another service's silence is not its own)", r, steady, g)
		}
	}
	load(t, ctx, st.URL+"/#/overview?range=live")
	if time.Since(down) > 240*time.Second {
		t.Fatalf("machine too slow for this test: the Live page drew %v after the silence began (it leaves Live's 300 s window)", time.Since(down))
	}
	check("live", 1, 30)
	screenshot(t, ctx, artifacts(t), "overview-silence-marked-live")
	load(t, ctx, st.URL+"/#/overview?range=1h")
	check("1h", 12, 48)
	screenshot(t, ctx, artifacts(t), "overview-silence-marked-1h")
}
