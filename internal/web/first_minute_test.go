package web_test

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserDeskOrdersFirstMinute: in the first minute after a start the
// Desk orders tile read the rate over its 1m window of the ~36 s of data
// it held, about half the desk's rate (1.42k/s at 3k/s, t-user10 #1), and
// the 7d Orders legend's min was that tail point too (a rate over a minute
// of which 36 s held data). An entry service counts 3,000 orders/s from
// 15 s before the page opens, a sample a second, still running: the tile
// reads the rate over the data present (3k/s within 10 %) and says the
// window it covers ("over the last …s"); the 7d Orders chart's tail (its
// bridge a minute before had no data) is dashed and out of min and max;
// the service page's Orders tile and the Services table's rate read as the
// Desk's, and the table's rate of a service counting messages, not orders,
// reads its messages over the data present too.
func TestBrowserDeskOrdersFirstMinute(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	const svc = "entry-gw"
	const perSec = 3000.0
	start := time.Now().Add(-15 * time.Second).Truncate(time.Second)
	sample := func(ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"},
			{Name: "service", Value: svc}, {Name: "stage", Value: "entry"},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(start).Seconds()}}}
	}
	// A service that counts no orders, started with the desk (as after a
	// gmc restart): its messages in the table's requests column.
	const feed, feedPerSec = "feed-md", 5000.0
	feedSample := func(ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "message"}, {Name: "job", Value: "test"},
			{Name: "service", Value: feed},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: feedPerSec * ts.Sub(start).Seconds()}}}
	}
	var history []prompb.TimeSeries
	ts := start
	for ; !ts.After(time.Now()); ts = ts.Add(time.Second) {
		history = append(history, sample(ts), feedSample(ts))
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	// The desk keeps running: a sample a second, stamped on its second.
	writeEverySecond(t, st.URL, ts, func(ts time.Time) []prompb.TimeSeries { return []prompb.TimeSeries{sample(ts), feedSample(ts)} })

	// The pages' clock is held 15 s after the desk began (pageClockStill):
	// on the wall clock a slow machine left its first minute before the
	// page drew, and the test stopped ("machine too slow for this test").
	pageClockStill(t, ctx, start.Add(15*time.Second))
	load(t, ctx, st.URL+"/#/overview?range=7d")
	tile := `document.querySelector('[data-kpi="Desk orders"]')`
	row := `document.querySelector('[data-stats="tps"] tr[data-series="` + svc + `"]')`
	if err := poll(ctx, 20*time.Second, tile+` && `+tile+`.dataset.value != null && !!`+row); err != nil {
		t.Fatalf("no Desk orders figure and Orders row for %s: %v", svc, err)
	}
	got := eval[float64](t, ctx, `Number(`+tile+`.dataset.value)`)
	sub := eval[string](t, ctx, tile+`.querySelector('.kpi-sub').textContent`)
	if !near(got, perSec, 0.1) {
		t.Errorf("Desk orders %v/s (%q) in the desk's first minute, want %v/s within 10 %% (the rate over the data present)", got, sub, perSec)
	}
	if !strings.Contains(sub, "over the last ") {
		t.Errorf("Desk orders' note %q does not say the window its figure covers", sub)
	}
	lo := eval[string](t, ctx, row+`.querySelector('[data-stat="min"]').textContent`)
	hi := eval[string](t, ctx, row+`.querySelector('[data-stat="max"]').textContent`)
	// Its only point, now over 1m, holds under a minute of data: no min,
	// and a max said to be at least the dashed point's (t-user15 F5), not
	// a whole window's figure.
	if f := strings.Fields(hi); lo != "–" || (hi != "–" && (len(f) != 2 || f[0] != "≥" || !strings.HasSuffix(hi, "*") || !(parseK(strings.TrimSuffix(strings.TrimSuffix(f[1], "*"), "/s")) <= perSec*1.1))) {
		t.Errorf("7d Orders legend for %s: min %q, max %q; want min – and max – or \"≥ x*\" (in a partial window) with x at most %v/s (its only point, now over 1m, holds under a minute of data)", svc, lo, hi, perSec)
	}
	// The Services table's rate the same.
	cell := eval[string](t, ctx, `document.querySelector('tr[data-service="`+svc+`"] td[data-col="rate"]')?.textContent || ''`)
	if f := strings.Fields(cell); len(f) < 4 || f[1] != "orders/s" || f[2] != "over" || !near(parseK(f[0]), perSec, 0.1) {
		t.Errorf("the Services table's rate for %s reads %q, want ~3k orders/s over the seconds its data covers", svc, cell)
	}
	// And a service without orders: its messages over the data present
	// (t-user15 F1: the 1m rate of 28 s of data read half the rate).
	cell = eval[string](t, ctx, `document.querySelector('tr[data-service="`+feed+`"] td[data-col="rate"]')?.textContent || ''`)
	if f := strings.Fields(cell); len(f) < 4 || f[1] != "messages/s" || f[2] != "over" || !near(parseK(f[0]), feedPerSec, 0.1) {
		t.Errorf("the Services table's rate for %s reads %q, want ~5k messages/s over the seconds its data covers", feed, cell)
	}
	screenshot(t, ctx, artifacts(t), "desk-first-minute-7d")

	// The service page's Orders tile the same.
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	stile := `document.querySelector('[data-kpi="Orders"]')`
	if err := poll(ctx, 20*time.Second, stile+` && `+stile+`.dataset.value != null`); err != nil {
		t.Fatalf("the service page has no Orders figure: %v", err)
	}
	got = eval[float64](t, ctx, `Number(`+stile+`.dataset.value)`)
	sub = eval[string](t, ctx, stile+`.querySelector('.kpi-sub').textContent`)
	if !near(got, perSec, 0.1) || !strings.Contains(sub, "over the last ") {
		t.Errorf("the service page's Orders tile %v/s (%q) in its first minute, want %v/s within 10 %% over the data present, its window said", got, sub, perSec)
	}
}

// parseK reads "3k" or "2.98k" or "950" as a number (NaN when it is none).
func parseK(s string) float64 {
	m := 1.0
	if strings.HasSuffix(s, "k") {
		s, m = strings.TrimSuffix(s, "k"), 1000
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v * m
}

// writeEverySecond writes at's series to gmc at url for each second from
// next on, at that second, until the test ends (a desk still running).
func writeEverySecond(t *testing.T, url string, next time.Time, at func(time.Time) []prompb.TimeSeries) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			if err := webtest.Write(ctx, url, at(next)...); err != nil && ctx.Err() == nil {
				t.Errorf("write: %v", err)
				return
			}
			next = next.Add(time.Second)
		}
	}()
	t.Cleanup(func() { stop(); wg.Wait() })
}
