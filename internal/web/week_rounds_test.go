package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// weekHistory is heatHistory at one sample a minute: a latency histogram
// and orders of svc from from to now, and lone samples at the times in
// lone (a rate needs two in its window: no column has them).
func weekHistory(svc string, from, now time.Time, lone ...time.Time) []prompb.TimeSeries {
	var ts []time.Time
	ts = append(ts, lone...)
	for t := from; !t.After(now); t = t.Add(time.Minute) {
		ts = append(ts, t)
	}
	series := heatHistory(svc, now, now, nil)
	for k := range series {
		series[k].Samples = series[k].Samples[:0]
	}
	per := []float64{90, 100, 100, 100, 100}
	for i, t := range ts {
		for k := range series {
			series[k].Samples = append(series[k].Samples, prompb.Sample{Timestamp: t.UnixMilli(), Value: per[k] * float64(60*(i+1))})
		}
	}
	return series
}

// heatmapState is what the heatmap shows of its columns without data.
type heatmapState struct {
	Before, Gap, Holes, Caption string
}

const heatmapStateJS = `(() => {
  const el = document.querySelector('[data-chart="heatmap"]');
  const cap = document.querySelector('.hm-before:not([hidden])');
  return {Before: el.dataset.before || '', Gap: el.dataset.beforeGap || '', Holes: el.dataset.holes || '', Caption: cap ? cap.textContent : ''};
})()`

// noSeriesStart makes every document of the tab answer
// /api/v1/series_start itself with a 404, as gmc in the remote mode.
const noSeriesStart = `(() => {
  const f = window.fetch;
  window.fetch = (...a) => {
    if (String((a[0] && a[0].url) || a[0]).includes('/api/v1/series_start')) {
      return Promise.resolve(new Response('{"status":"error","errorType":"not_found","error":"not served"}', {status: 404, headers: {'Content-Type': 'application/json'}}));
    }
    return f(...a);
  };
})();`

// hostBegun is an agent's idle CPU counter of host from from to to, every
// 15 s (a host whose data begin there).
func hostBegun(host string, from, to time.Time) prompb.TimeSeries {
	ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "node_cpu_seconds_total"}, {Name: "cpu", Value: "0"},
		{Name: "host", Value: host}, {Name: "instance", Value: host}, {Name: "job", Value: "gmc-agent"}, {Name: "mode", Value: "idle"}}}
	for t, v := from, 0.0; !t.After(to); t, v = t.Add(15*time.Second), v+7.5 {
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: t.UnixMilli(), Value: v})
	}
	return ts
}

// TestBrowserServiceWeekOneRound: a 7d service page whose heatmap's first
// column with data is not its first asked whether the service has data
// before that column (a gap) or began there a round trip after the
// heatmap's answer (ranges over a day: asked early it read days of raw
// samples per candidate). Now it asks gmc where the series begin
// (/api/v1/series_start) with its first round: every request of the first
// refresh goes out before any answer. What the heatmap shows is what the
// full question shows (the page loaded again with series_start answered 404,
// so it asks count(last_over_time(…[7d])) a round later as before): a
// service begun two days ago "before the data began", one with a lone
// sample six and a half days ago "a gap". The page's now is 80 s after a
// step of the 7d range's 1800 s grid, with a host whose data began 10
// minutes before that step: there the tail's window begins before the
// step, and a series whose points begin at the step makes the page ask
// whether it had data at the window's start (api.tailHad); that question
// went out a round later (stop 37's CI, at 08:01:20: the stack's seeded
// host series, begun 15 minutes before), and goes with the first round
// now at steps from 5 minutes (tailHadEarly).
func TestBrowserServiceWeekOneRound(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(8 * 24 * time.Hour) })
	now := time.Now().Truncate(time.Minute)
	const fresh, gapped = "week-new", "week-gap"
	series := weekHistory(fresh, now.Add(-48*time.Hour), now)
	series = append(series, weekHistory(gapped, now.Add(-48*time.Hour), now, now.Add(-156*time.Hour))...)
	step := now.Add(-2 * time.Minute).Truncate(30 * time.Minute)
	series = append(series, hostBegun("week-host", step.Add(-10*time.Minute), now))
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, step.Add(80*time.Second))
	recordEveryDocument(t, ctx)
	cases := []struct{ svc, caption string }{{fresh, "before the data began"}, {gapped, "gap"}}
	shown := map[string]heatmapState{}
	for _, c := range cases {
		if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		load(t, ctx, st.URL+"/#/service/"+c.svc+"?range=7d")
		reqs := fetches(t, ctx)
		late, all := lateInRefresh(reqs, 0)
		if all == 0 {
			t.Fatalf("%s: no request of the first refresh recorded", c.svc)
		}
		if len(late) > 0 {
			t.Errorf("%s: %d of the first refresh's %d requests went out after answers of it came in, want none (one round trip):\n%s", c.svc, len(late), all, strings.Join(late, "\n"))
		}
		got := eval[heatmapState](t, ctx, heatmapStateJS)
		if got.Before == "" || got.Before == "0" {
			t.Fatalf("%s: the 7d heatmap marks no columns before its first with data (data from 2 days ago)", c.svc)
		}
		if !strings.Contains(got.Caption, c.caption) || (c.svc == gapped && strings.Contains(got.Caption, "before the data began")) {
			t.Errorf("%s: the caption under the heatmap %q, want it to say %q", c.svc, got.Caption, c.caption)
		}
		shown[c.svc] = got
	}
	// The full answer: series_start answered 404 (as gmc in the remote
	// mode), the page asks as before, a round trip later.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: noSeriesStart}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		load(t, ctx, st.URL+"/#/service/"+c.svc+"?range=7d")
		asked := false
		for _, r := range fetches(t, ctx) {
			if r.Refreshed == 0 && strings.Contains(r.URL, "count(last_over_time(gmc_order_latency_seconds_count") {
				asked = true
			}
		}
		if !asked {
			t.Errorf("%s: with series_start refused the page did not ask count(last_over_time(…)) (the full answer)", c.svc)
		}
		if full, got := eval[heatmapState](t, ctx, heatmapStateJS), shown[c.svc]; full != got {
			t.Errorf("%s: the heatmap shows %+v, the full answer %+v", c.svc, got, full)
		}
	}
}
