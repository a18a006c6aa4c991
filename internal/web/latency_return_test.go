package web_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserLatencyReturnSameOnLiveAnd15m: just after a service came back
// from a silence longer than the latency charts' 30 s window, its p99
// point now read two ways (trial 29 F5): on Live dashed, its window
// holding the silence's end (the legend's last the newest whole point,
// before the silence), on 15m the tail, over the same 30 s, solid
// ("p99 last 311 ms"), as markPartial took a quantile's tail as whole
// whatever its window held. A service's order latency histogram written
// every second but for 51 s ending 15 s before the page's clock (held):
// on Live and on 15m the p99 row has points holding the gap, and its last
// is the newest whole point, within the 30 s before the silence. The same
// at 1h, whose 48 s windows held 12 s of the silence and read "p99 last,
// over 48s" solid (trial 31 F1: its rate legend said them partial).
func TestBrowserLatencyReturnSameOnLiveAnd15m(t *testing.T) {
	ctx := browser(t)
	const svc = "lat-back"
	st := startStackWith(t, 0, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}}
	})
	now := time.Now().Truncate(time.Second)
	back := now.Add(-15 * time.Second)
	down := back.Add(-51 * time.Second)
	series := heatHistory(svc, now.Add(-20*time.Minute), now.Add(5*time.Minute), func(ts time.Time) bool {
		return ts.After(down) && ts.Before(back)
	})
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	type lastT struct {
		Row  bool   `json:"row"`
		Gap  string `json:"gap"`
		At   string `json:"at"`
		Text string `json:"text"`
	}
	row := `document.querySelector('[data-stats="latency"] tr[data-series="p99"]')`
	for _, r := range []string{"live", "15m", "1h"} {
		tab, cancel := chromedp.NewContext(ctx) // a tab of its own: a page clock for each
		t.Cleanup(cancel)
		pageClockStill(t, tab, now)
		load(t, tab, st.URL+"/#/service/"+svc+"?range="+r)
		if err := poll(tab, 20*time.Second, `!!`+row+` && !!`+row+`.querySelector('[data-stat="last"]')`); err != nil {
			t.Fatalf("%s: no p99 row in the latency legend: %v", r, err)
		}
		got := eval[lastT](t, tab, `(() => { const r = `+row+`, c = r.querySelector('[data-stat="last"]');
			return {row: true, gap: r.dataset.gap || '', at: c.dataset.lastAt || '', text: c.textContent}; })()`)
		at, _ := strconv.ParseFloat(got.At, 64)
		if n, _ := strconv.Atoi(got.Gap); n == 0 || at <= float64(down.Unix()-30) || at > float64(down.Unix()) {
			t.Errorf("%s: the p99 row has %q points holding a gap, its last %q at %q; want some, and the last the newest whole point, within the 30 s up to %s (the silence %s–%s; after it every point's window holds its end)",
				r, got.Gap, got.Text, got.At, down.Format("15:04:05"), down.Format("15:04:05"), back.Format("15:04:05"))
		}
		screenshot(t, tab, artifacts(t), "latency-return-"+r)
	}
}
