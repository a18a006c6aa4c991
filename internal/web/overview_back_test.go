package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserOverviewRateAfterItsOutage: just after a service came back
// from a silence of its own (longer than its stale_after) the Overview's
// Services table read its 1m rate, a minute mostly silent, unqualified:
// "backtester UP < 5s ago 3.83k bars/s" at 20k bars/s (trial-28 F1), and
// the Desk orders tile the same of an entry service. A service counting
// 20,000 bars/s and an entry service 3,000 orders/s, a sample a second
// (stale_after 5 s), silent for 51 s until 12 s before the page opens,
// then running again: on Live and on 1h the table's rate reads 20k bars/s
// within 3 % over the seconds since and says when it came back and after
// how long, and the Desk tile reads 3k orders/s within 3 % and says so too.
func TestBrowserOverviewRateAfterItsOutage(t *testing.T) {
	overviewRateAfterOutage(t, 51*time.Second, "51s", true)
}

// TestBrowserOverviewBackAfterLongSilence: the same after a silence
// longer than the lookback (5m), on 1h, whose sieve (queries.overview
// .silence) reads the newest sample within the lookback only: a service
// whose newest sample was gone the second before it came back is read to
// the second too (the table and the Desk tile say "after 7m").
func TestBrowserOverviewBackAfterLongSilence(t *testing.T) {
	overviewRateAfterOutage(t, 7*time.Minute, "7m", false)
}

// overviewRateAfterOutage checks the Overview after a service counting
// bars and an entry service were silent for silence (said as said) until
// 12 s before the page opens: on Live (onLive) and on 1h.
func overviewRateAfterOutage(t *testing.T, silence time.Duration, said string, onLive bool) {
	ctx := browser(t)
	const svc, entry, perSec, ordersPerSec = "backtester-x", "entry-x", 20000.0, 3000.0
	live := config.Liveness{StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: live, entry: live}
	})
	now := time.Now().Truncate(time.Second)
	back := now.Add(-12 * time.Second)
	down := back.Add(-silence)
	origin := down.Add(-4 * time.Minute)
	at := func(ts time.Time) []prompb.TimeSeries {
		return []prompb.TimeSeries{{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "bar"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(origin).Seconds()}}}, {Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"},
			{Name: "service", Value: entry}, {Name: "stage", Value: "entry"},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: ordersPerSec * ts.Sub(origin).Seconds()}}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(down); ts = ts.Add(time.Second) {
		history = append(history, at(ts)...)
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	// Back 12 s ago, and running on: a sample a second.
	writeEverySecond(t, st.URL, back, at)

	cell := `document.querySelector('tr[data-service="` + svc + `"] td[data-col="rate"]')`
	tile := `document.querySelector('[data-kpi="Desk orders"]')`
	wantBack := "back at " + back.Format("15:04:05") + " after " + said + " without samples"
	check := func(r string) {
		t.Helper()
		if err := poll(ctx, 20*time.Second, `!!`+cell+` && `+cell+`.textContent.includes('back at') && !!`+tile+` && `+tile+`.textContent.includes('back at')`); err != nil {
			t.Fatalf("%s: the table's rate (%q) and the Desk tile (%q) do not both say the service came back: %v", r,
				eval[string](t, ctx, `(`+cell+` || {}).textContent || ''`), eval[string](t, ctx, `(`+tile+` || {}).textContent || ''`), err)
		}
		text := eval[string](t, ctx, cell+`.textContent`)
		f := strings.Fields(text)
		if len(f) < 4 || f[1] != "bars/s" || f[2] != "over" || !near(parseK(f[0]), perSec, 0.03) || !strings.Contains(text, wantBack) {
			t.Errorf("%s: %s's rate reads %q, want ~20k bars/s (within 3 %%) over the seconds since it came back and %q", r, svc, text, wantBack)
		}
		got := eval[kpiT](t, ctx, `(() => { const e = `+tile+`; return {value: Number(e.dataset.value), text: e.textContent}; })()`)
		if !near(got.Value, ordersPerSec, 0.03) || !strings.Contains(got.Text, "over the last ") || !strings.Contains(got.Text, wantBack) {
			t.Errorf("%s: the Desk orders tile reads %v (%q), want %v/s within 3 %% over the last seconds and %q", r, got.Value, got.Text, ordersPerSec, wantBack)
		}
	}
	// Live reads the seconds from its charts' 1 s range (real clock: it
	// refreshes each second); 1h asks the services silent in the minute
	// apart, at a clock held 12 s after the return.
	if onLive {
		load(t, ctx, st.URL+"/#/overview?range=live")
		if time.Since(back) > 45*time.Second {
			t.Fatalf("machine too slow for this test: the Live page drew %v after the return", time.Since(back))
		}
		check("live")
		screenshot(t, ctx, artifacts(t), "overview-rate-after-its-outage-live")
	}
	pageClockStill(t, ctx, now)
	load(t, ctx, st.URL+"/#/overview?range=1h")
	check("1h")
	screenshot(t, ctx, artifacts(t), "overview-rate-after-"+said+"-1h")
}
