package web_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserServiceRateAfterItsOutage: after a service's own outage its
// page's rate tile read the 1m rate, spread over the minute it was mostly
// down, and said nothing (the backtester read 5k bars/s after 53 s down,
// ~20k/s since). A service counting 20,000 bars/s, a sample a second
// (stale_after 5 s), silent from 60 s to 7 s before the page opens, then
// running again: its Requests tile reads 20k/s within 10 % and says when
// it came back and how long it had been silent.
func TestBrowserServiceRateAfterItsOutage(t *testing.T) {
	ctx := browser(t)
	const svc, perSec = "backtester-x", 20000.0
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}}
	})
	now := time.Now().Truncate(time.Second)
	origin := now.Add(-5 * time.Minute)
	down, back := now.Add(-60*time.Second), now.Add(-7*time.Second)
	sample := func(ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "bar"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(origin).Seconds()}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(down); ts = ts.Add(time.Second) {
		history = append(history, sample(ts))
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	// Back 7 s ago, and running on: a sample a second.
	writeEverySecond(t, st.URL, back, func(ts time.Time) []prompb.TimeSeries { return []prompb.TimeSeries{sample(ts)} })

	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	tile := `document.querySelector('[data-kpi="Requests"]')`
	if err := poll(ctx, 20*time.Second, `!!`+tile+` && `+tile+`.textContent.includes('back at')`); err != nil {
		t.Fatalf("the Requests tile does not say the service came back (%q): %v", eval[string](t, ctx, `(`+tile+` || {}).textContent || ''`), err)
	}
	got := eval[kpiT](t, ctx, `(() => { const e = `+tile+`; return {value: Number(e.dataset.value), text: e.textContent}; })()`)
	want := "back at " + back.Format("15:04:05") + " after 53s without samples"
	if math.Abs(got.Value-perSec) > 0.1*perSec || !strings.Contains(got.Text, want) {
		t.Errorf("the Requests tile reads %v (%q), want %v/s within 10 %% and %q", got.Value, got.Text, perSec, want)
	}
	screenshot(t, ctx, artifacts(t), "service-rate-after-its-outage")
}

// kpiT is a KPI tile's figure (data-value) and text.
type kpiT struct {
	Value float64 `json:"value"`
	Text  string  `json:"text"`
}

// TestBrowserServiceOrdersBackAfterLongSilence: a service silent longer
// than the lookback (5m) shows no sample at the start of its tiles'
// minute, then its new ones, as a service whose data begins: its Orders
// tile said "the data began at …" of a service that had run for 7
// minutes before an 8-minute silence. Back 6 s before the page opens,
// counting 3,000 orders/s: its tile reads 3k/s within 10 % and says when
// it came back after how long; a service that really is new (from 15 s
// before) still says when its data began.
func TestBrowserServiceOrdersBackAfterLongSilence(t *testing.T) {
	ctx := browser(t)
	const svc, fresh, perSec = "desk-back", "desk-new", 3000.0
	// A silence is one longer than the service's stale_after (the test
	// stack's default is 30 minutes).
	live := config.Liveness{StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: live, fresh: live}
	})
	now := time.Now().Truncate(time.Second)
	origin, began := now.Add(-15*time.Minute), now.Add(-15*time.Second)
	back := now.Add(-6 * time.Second)
	down := back.Add(-8 * time.Minute)
	orders := func(name string, from, ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: name},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(from).Seconds()}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(down); ts = ts.Add(time.Second) {
		history = append(history, orders(svc, origin, ts))
	}
	for ts := began; ts.Before(back); ts = ts.Add(time.Second) {
		history = append(history, orders(fresh, began, ts))
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	writeEverySecond(t, st.URL, back, func(ts time.Time) []prompb.TimeSeries {
		return []prompb.TimeSeries{orders(svc, origin, ts), orders(fresh, began, ts)}
	})

	tile := `document.querySelector('[data-kpi="Orders"]')`
	read := func(name string) kpiT {
		load(t, ctx, st.URL+"/#/service/"+name+"?range=1h")
		if err := poll(ctx, 20*time.Second, `!!`+tile+` && `+tile+`.textContent.includes('over the last')`); err != nil {
			t.Fatalf("%s: the Orders tile does not say the time it is over (%q): %v", name, eval[string](t, ctx, `(`+tile+` || {}).textContent || ''`), err)
		}
		return eval[kpiT](t, ctx, `(() => { const e = `+tile+`; return {value: Number(e.dataset.value), text: e.textContent}; })()`)
	}
	got := read(svc)
	want := "back at " + back.Format("15:04:05") + " after 8m without samples"
	if math.Abs(got.Value-perSec) > 0.1*perSec || !strings.Contains(got.Text, want) || strings.Contains(got.Text, "began") {
		t.Errorf("%s's Orders tile reads %v (%q), want %v/s within 10 %% and %q, not that its data began", svc, got.Value, got.Text, perSec, want)
	}
	screenshot(t, ctx, artifacts(t), "service-orders-back-after-long-silence")
	got = read(fresh)
	if want := "the data began at " + began.Format("15:04:05"); math.Abs(got.Value-perSec) > 0.1*perSec || !strings.Contains(got.Text, want) || strings.Contains(got.Text, "back at") {
		t.Errorf("%s's Orders tile reads %v (%q), want %v/s within 10 %% and %q", fresh, got.Value, got.Text, perSec, want)
	}
}

// TestBrowserServiceBackAfterStaleMarker: a scraped service's failed
// scrapes end its series with a stale marker, so its tiles' minute begins
// with no sample although it ran until 75 s before. How long it was silent
// was read at a 1m step, which after the marker found only the step
// before the last sample: market-data, 41 s down, read "after 1m12s
// without samples". A service counting requests every second until a
// time off the minute's boundary, a stale marker a second later, and back
// 6 s before the page opens: its tile gives the silence to the second.
func TestBrowserServiceBackAfterStaleMarker(t *testing.T) {
	ctx := browser(t)
	const svc, perSec = "feed-back", 5000.0
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}}
	})
	now := time.Now().Truncate(time.Second)
	origin, back := now.Add(-4*time.Minute), now.Add(-6*time.Second)
	down := back.Add(-75 * time.Second)
	if down.Second() == 0 { // off the boundary: a 1m step would read it exactly
		down = down.Add(-time.Second)
	}
	sample := func(ts time.Time, v float64) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "message"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: v}}}
	}
	count := func(ts time.Time) prompb.TimeSeries { return sample(ts, perSec*ts.Sub(origin).Seconds()) }
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(down); ts = ts.Add(time.Second) {
		history = append(history, count(ts))
	}
	history = append(history, sample(down.Add(time.Second), math.Float64frombits(value.StaleNaN)))
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	writeEverySecond(t, st.URL, back, func(ts time.Time) []prompb.TimeSeries { return []prompb.TimeSeries{count(ts)} })

	// 1h asks the minute's seconds apart; Live reads them from its charts'
	// 1 s range, batched with them.
	for _, r := range []string{"1h", "live"} {
		load(t, ctx, st.URL+"/#/service/"+svc+"?range="+r)
		tile := `document.querySelector('[data-kpi="Requests"]')`
		if err := poll(ctx, 20*time.Second, `!!`+tile+` && `+tile+`.textContent.includes('back at')`); err != nil {
			t.Fatalf("%s: the Requests tile does not say the service came back (%q): %v", r, eval[string](t, ctx, `(`+tile+` || {}).textContent || ''`), err)
		}
		got := eval[kpiT](t, ctx, `(() => { const e = `+tile+`; return {value: Number(e.dataset.value), text: e.textContent}; })()`)
		want := "back at " + back.Format("15:04:05") + " after " + back.Sub(down).String() + " without samples"
		if math.Abs(got.Value-perSec) > 0.1*perSec || !strings.Contains(got.Text, want) {
			t.Errorf("%s: the Requests tile reads %v (%q), want %v/s within 10 %% and %q", r, got.Value, got.Text, perSec, want)
		}
	}
}
