package web_test

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserServiceLongRangeAfterReturn: for a minute after a service
// came back from a 51 s silence, its 7d and 30d Requests legends read
// "last, over 1m 4.14k/s, min 4.14k/s" at 20k/s (trial 30 F2): the tail's
// 1m window held the silence, which the gap read does not tell at those
// steps (two grains: 150 s at 7d), and was drawn solid. A service counting
// 20,000 requests/s, a sample a minute over 10 hours and a second over
// the last 30 minutes, silent for 51 s until 12 s before the page's clock
// (held): at 24h, 7d and 30d the legend's last and min are 20k/s within
// 5 % (a point whose window holds the silence is not in them). The same
// of the Overview's Orders legend for an entry service counting 3,000
// orders/s on the same timeline.
func TestBrowserServiceLongRangeAfterReturn(t *testing.T) {
	ctx := browser(t)
	const svc, entry, perSec, ordersPerSec = "long-back", "long-entry", 20000.0, 3000.0
	live := config.Liveness{StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Storage.OutOfOrderWindow = config.Duration(12 * time.Hour)
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: live, entry: live}
	})
	now := time.Now().Truncate(time.Second)
	origin := now.Add(-10 * time.Hour).Truncate(time.Minute)
	dense := now.Add(-30 * time.Minute).Truncate(time.Minute)
	back := now.Add(-12 * time.Second)
	down := back.Add(-51 * time.Second)
	sample := func(ts time.Time) []prompb.TimeSeries {
		return []prompb.TimeSeries{{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "bar"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(origin).Seconds()}}}, {Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"},
			{Name: "service", Value: entry}, {Name: "stage", Value: "entry"},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: ordersPerSec * ts.Sub(origin).Seconds()}}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; ts.Before(dense); ts = ts.Add(time.Minute) {
		history = append(history, sample(ts)...)
	}
	for ts := dense; !ts.After(now.Add(time.Minute)); ts = ts.Add(time.Second) {
		if ts.After(down) && ts.Before(back) {
			continue
		}
		history = append(history, sample(ts)...)
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	svcRow := `document.querySelector('[data-stats="requests"] tr[data-series]')`
	ovRow := `document.querySelector('[data-stats="tps"] tr[data-series="` + entry + `"]')`
	rate := regexp.MustCompile(`([0-9.]+)(k?)/s`)
	value := func(text string) float64 {
		m := rate.FindStringSubmatch(text)
		if m == nil {
			return math.NaN()
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		if m[2] == "k" {
			v *= 1000
		}
		return v
	}
	check := func(page, r, what, row string, want float64) {
		t.Helper()
		tab, cancel := chromedp.NewContext(ctx) // a tab of its own: a page clock for each
		t.Cleanup(cancel)
		pageClockStill(t, tab, now)
		load(t, tab, st.URL+"/#/"+page+"?range="+r)
		if err := poll(tab, 20*time.Second, `!!`+row+` && `+row+`.querySelector('[data-stat="min"]').textContent !== '–'`); err != nil {
			t.Fatalf("%s %s: no %s legend with a min: %v", page, r, what, err)
		}
		last := eval[string](t, tab, row+`.querySelector('[data-stat="last"]').textContent`)
		minText := eval[string](t, tab, row+`.querySelector('[data-stat="min"]').textContent`)
		if v := value(last); !near(v, want, 0.05) {
			t.Errorf("%s %s: the %s legend's last reads %q, want %v/s within 5 %% (not the 1m tail holding the 51 s silence)", page, r, what, last, want)
		}
		if v := value(minText); !near(v, want, 0.05) {
			t.Errorf("%s %s: the %s legend's min reads %q, want %v/s within 5 %%", page, r, what, minText, want)
		}
		screenshot(t, tab, artifacts(t), "long-range-after-return-"+strings.ReplaceAll(page, "/", "-")+"-"+r)
	}
	for _, r := range []string{"24h", "7d", "30d"} {
		check("service/"+svc, r, "Requests", svcRow, perSec)
		check("overview", r, "Orders", ovRow, ordersPerSec)
	}
}
