package web_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// dashedT is what a chart's legend says of one series' dashed points
// and what its foot says of all.
type dashedT struct {
	Row   bool   `json:"row"`
	Gap   string `json:"gap"`
	Began string `json:"began"`
	Foot  string `json:"foot"`
}

// TestBrowserReturnNotBegan: a service silent longer than a range's
// matrix reaches (Live's window and lead, 5m30s, and the 5m lookback of
// its silence read; at 15m, 15m30s) that came back had its first points
// said to be over "a window reaching before the data began": markPartial
// saw no earlier value, and its data began 40 minutes before. Two
// services counting orders and requests a second (stale_after 5 s): one
// from 40 minutes ago, silent for 20 minutes until 60 s ago; one whose
// data began 60 s ago. On the Live and 15m service pages (Orders,
// Requests) and Overview (Orders) the first's dashed points
// hold a gap in the data and none reaches before the data began; the
// second's reach before the data began and none holds a gap.
func TestBrowserReturnNotBegan(t *testing.T) {
	ctx := browser(t)
	const back, began = "back-after-20m", "began-60s"
	live := config.Liveness{StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}
	st := startStackWith(t, 0, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{back: live, began: live}
	})
	now := time.Now().Truncate(time.Second)
	origin := now.Add(-40 * time.Minute)
	returned := now.Add(-60 * time.Second)
	silent := returned.Add(-20 * time.Minute)
	series := func(svc string, ts time.Time) []prompb.TimeSeries {
		v := ts.Sub(origin).Seconds()
		return []prompb.TimeSeries{{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: 1000 * v}}}, {Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "bar"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: 20000 * v}}}}
	}
	at := func(ts time.Time) []prompb.TimeSeries {
		var out []prompb.TimeSeries
		if ts.Before(silent) || !ts.Before(returned) {
			out = append(out, series(back, ts)...)
		}
		if !ts.Before(returned) {
			out = append(out, series(began, ts)...)
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

	dashed := func(chart, series string) dashedT {
		return eval[dashedT](t, ctx, `(() => { const r = document.querySelector('[data-stats="`+chart+`"] tr[data-series="`+series+`"]');
			const f = document.querySelector('[data-stats="`+chart+`"] tfoot td');
			return {row: !!r, gap: (r && r.dataset.gap) || '', began: (r && r.dataset.began) || '', foot: (f && f.textContent) || ''}; })()`)
	}
	// The dashed points of the series wanted, once drawn.
	drawn := func(where, chart, series string) dashedT {
		t.Helper()
		sel := `document.querySelector('[data-stats="` + chart + `"] tr[data-series="` + series + `"]')`
		if err := poll(ctx, 30*time.Second, `!!`+sel+` && Number(`+sel+`.dataset.partial || 0) > 0`); err != nil {
			t.Fatalf("%s: no dashed points in the %s legend's %s row: %v (%+v)", where, chart, series, err, dashed(chart, series))
		}
		return dashed(chart, series)
	}
	// (The foot is checked where the chart has the one series: the
	// Overview's names both services.)
	wantGap := func(where, chart, series string, foot bool) {
		t.Helper()
		d := drawn(where, chart, series)
		if n, _ := strconv.Atoi(d.Gap); n == 0 || d.Began != "0" || (foot && (strings.Contains(d.Foot, "before the data began") || !strings.Contains(d.Foot, "gap"))) {
			t.Errorf("%s: %s's %s points after its return: %s holding a gap, %s before the data began, foot %q; want all holding a gap (its data began 40 minutes before)",
				where, chart, series, d.Gap, d.Began, d.Foot)
		}
	}
	wantBegan := func(where, chart, series string, foot bool) {
		t.Helper()
		d := drawn(where, chart, series)
		if n, _ := strconv.Atoi(d.Began); n == 0 || d.Gap != "0" || (foot && (!strings.Contains(d.Foot, "before the data began") || strings.Contains(d.Foot, "gap"))) {
			t.Errorf("%s: %s's %s points: %s before the data began, %s holding a gap, foot %q; want all before the data began (it began 60 s ago)",
				where, chart, series, d.Began, d.Gap, d.Foot)
		}
	}
	for _, r := range []string{"live", "15m"} {
		load(t, ctx, st.URL+"/#/service/"+back+"?range="+r)
		wantGap(back+" "+r, "tps", "success", true)
		wantGap(back+" "+r, "requests", "bars/s", true)
		screenshot(t, ctx, artifacts(t), "return-not-began-"+r)
		load(t, ctx, st.URL+"/#/service/"+began+"?range="+r)
		wantBegan(began+" "+r, "tps", "success", true)
		wantBegan(began+" "+r, "requests", "bars/s", true)
	}
	for _, r := range []string{"live", "15m"} {
		load(t, ctx, st.URL+"/#/overview?range="+r)
		wantGap("overview "+r, "tps", back, false)
		wantBegan("overview "+r, "tps", began, false)
		screenshot(t, ctx, artifacts(t), "return-not-began-overview-"+r)
	}
	if time.Since(returned) > 4*time.Minute {
		t.Fatalf("machine too slow for this test: done %v after the return (its first points left Live's window)", time.Since(returned))
	}
}

// TestBrowserReturnTileNotBegan: in the minute after such a return the
// service page's Orders tile, its rate over the seconds since, said "the
// data began at" the return (its silence longer than the Live read of
// its samples reaches). A service counting 1,000 orders/s from 40
// minutes ago, silent for 20 minutes until 15 s ago, and one whose data
// began 15 s ago: at Live the first's tile says it came back then after
// more than the 9-odd minutes Live's read reaches without samples, the
// second's that its data began; the Overview's Services table's rate
// over the seconds since says the same (its title).
func TestBrowserReturnTileNotBegan(t *testing.T) {
	ctx := browser(t)
	const back, began = "tile-back-after-20m", "tile-began-15s"
	live := config.Liveness{StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}
	st := startStackWith(t, 0, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{back: live, began: live}
	})
	now := time.Now().Truncate(time.Second)
	origin := now.Add(-40 * time.Minute)
	returned := now.Add(-15 * time.Second)
	silent := returned.Add(-20 * time.Minute)
	orders := func(svc string, ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: 1000 * ts.Sub(origin).Seconds()}}}
	}
	at := func(ts time.Time) []prompb.TimeSeries {
		var out []prompb.TimeSeries
		if ts.Before(silent) || !ts.Before(returned) {
			out = append(out, orders(back, ts))
		}
		if !ts.Before(returned) {
			out = append(out, orders(began, ts))
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

	tile := `document.querySelector('[data-kpi="Orders"]')`
	// (Live's read of its samples reaches 5 minutes before its 5-minute
	// window: more than 9 minutes less the seconds since the return.)
	long := regexp.MustCompile(`after more than ([0-9]+)m[0-9]*s? without samples`)
	for _, c := range []struct{ svc, want, not string }{
		{back, "back at " + returned.Format("15:04:05") + " after more than ", "began"},
		{began, "the data began at " + returned.Format("15:04:05"), "back at"},
	} {
		load(t, ctx, st.URL+"/#/service/"+c.svc+"?range=live")
		if err := poll(ctx, 20*time.Second, `!!`+tile+` && `+tile+`.textContent.includes('over the last')`); err != nil {
			t.Fatalf("%s: the Orders tile (%q) is not over the seconds since: %v", c.svc, eval[string](t, ctx, `(`+tile+` || {}).textContent || ''`), err)
		}
		text := eval[string](t, ctx, tile+`.textContent`)
		if !strings.Contains(text, c.want) || strings.Contains(text, c.not) {
			t.Errorf("%s: the Orders tile reads %q, want %q (and not %q)", c.svc, text, c.want, c.not)
		}
		if c.svc == back {
			m := long.FindStringSubmatch(text)
			if n, err := strconv.Atoi(append(m, "", "")[1]); err != nil || n < 8 || n > 10 {
				t.Errorf("%s: the Orders tile reads %q, want a silence of more than 8 to 10 minutes (as far as Live's read reaches; it was 20)", c.svc, text)
			}
		}
		t.Logf("%s: %q", c.svc, text)
		if time.Since(returned) > 50*time.Second {
			t.Fatalf("machine too slow for this test: %s drawn %v after the return (past the tile's minute)", c.svc, time.Since(returned))
		}
	}
	screenshot(t, ctx, artifacts(t), "return-tile-not-began")
	// The Overview's Services table: the rate over the seconds since, its
	// title saying when the data came back or began.
	load(t, ctx, st.URL+"/#/overview?range=live")
	for _, c := range []struct{ svc, want, not string }{
		{back, "back at " + returned.Format("15:04:05"), "began"},
		{began, "its data began at " + returned.Format("15:04:05"), "back at"},
	} {
		span := `document.querySelector('tr[data-service="` + c.svc + `"] td[data-col="rate"] span[data-window]')`
		if err := poll(ctx, 20*time.Second, `!!`+span); err != nil {
			t.Fatalf("overview: %s's rate is not over the seconds since: %v", c.svc, err)
		}
		title := eval[string](t, ctx, span+`.title`)
		if !strings.Contains(title, c.want) || strings.Contains(title, c.not) {
			t.Errorf("overview: %s's rate says %q, want %q (and not %q)", c.svc, title, c.want, c.not)
		}
	}
	if time.Since(returned) > 55*time.Second {
		t.Fatalf("machine too slow for this test: the Overview drawn %v after the return (past the table's minute)", time.Since(returned))
	}
}
