package web_test

import (
	"context"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSilenceNotSpacing: a gap between two samples longer than the
// service's stale_after was a silence (api.markSilences) whatever the
// samples' spacing, so every 6h and 24h point over the demo's backfilled
// history (a sample a minute, stale_after 5 s) was dashed as holding a
// gap in the data (f12a47a's service page). Two services counting 1,000
// orders/s, a sample a minute over the last 6 h (stale_after 5 s); one
// of them misses four samples (a 300 s gap) 2 h ago. On the 6h range (72 s steps, 288 s windows) the first has no point
// holding a gap, on the Overview and on its page, and the legends' min is
// its rate; the second's points over its gap are dashed, out of min.
func TestBrowserSilenceNotSpacing(t *testing.T) {
	ctx := browser(t)
	const spaced, holed, perSec = "spaced-x", "holed-x", 1000.0
	live := config.Liveness{StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{spaced: live, holed: live}
		c.Storage.OutOfOrderWindow = config.Duration(8 * time.Hour)
	})
	now := time.Now().Truncate(time.Minute)
	origin := now.Add(-6 * time.Hour)
	hole := now.Add(-2 * time.Hour)
	orders := func(name string, ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: name},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(origin).Seconds()}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; ts.Before(now); ts = ts.Add(time.Minute) {
		history = append(history, orders(spaced, ts))
		if ts.Before(hole) || !ts.Before(hole.Add(4*time.Minute)) {
			history = append(history, orders(holed, ts))
		}
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	minOf := func(where, row string) float64 {
		t.Helper()
		txt := eval[string](t, ctx, row+`.querySelector('[data-stat="min"]').textContent`)
		m := regexp.MustCompile(`^([0-9.]+k?)`).FindStringSubmatch(strings.TrimSpace(txt))
		if m == nil {
			t.Errorf("%s: legend min %q: no figure (no whole point)", where, txt)
			return math.NaN()
		}
		return parseK(m[1])
	}
	check := func(where, row string, wantGap bool) {
		t.Helper()
		if err := poll(ctx, 20*time.Second, `!!`+row+` && !!`+row+`.querySelector('[data-stat="min"]')`); err != nil {
			t.Fatalf("%s: no legend row: %v", where, err)
		}
		if v := minOf(where, row); !near(v, perSec, 0.05) {
			t.Errorf("%s: legend min %v, want %v/s within 5 %%", where, v, perSec)
		}
		g := eval[string](t, ctx, row+`.dataset.gap || '0'`)
		if wantGap && g == "0" {
			t.Errorf("%s: no point holding a gap, want those over its 300 s gap", where)
		}
		if !wantGap && g != "0" {
			t.Errorf("%s: %s points holding a gap, want 0 (a sample a minute is its spacing, not a silence)", where, g)
		}
	}
	load(t, ctx, st.URL+"/#/overview?range=6h")
	check("Overview "+spaced, `document.querySelector('[data-stats="tps"] tr[data-series="`+spaced+`"]')`, false)
	check("Overview "+holed, `document.querySelector('[data-stats="tps"] tr[data-series="`+holed+`"]')`, true)
	screenshot(t, ctx, artifacts(t), "silence-not-spacing-overview")
	load(t, ctx, st.URL+"/#/service/"+spaced+"?range=6h")
	check(spaced+"'s page", `document.querySelector('[data-stats="tps"] tr[data-series="success"]')`, false)
	screenshot(t, ctx, artifacts(t), "silence-not-spacing-service")
}
