package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserHeatmapSilenceSaid: a heatmap column whose window holds a
// silence of its service (no sample for longer than its stale_after,
// shorter than the window: the column has data) read its bucket's
// events/s over the data around the silence spread over the whole window,
// unqualified, where the service's rate points beside it are marked
// (api.markSilences). A service's latency histogram and orders written
// every second over the last 50 minutes but for 40 s ending 5 minutes
// ago (stale_after 5 s): on the 1h range (30 s columns over 120 s) the
// columns whose window holds the silence are counted (data-silent), and
// the readout over one says so, with the silence; over a column an hour's
// half earlier it does not. The page's clock is held at the fixture's now,
// chosen on a boundary of the range's 12 s steps (the charts then have no
// tail) 6 or 12 s past a column of the 30 s grid, and 5 s later (a tail):
// with now on a step boundary the page took the range for one with its
// own end and put its columns at now − 30 s·k, and the 160 s in which a
// column's window holds the silence held six of those, not the grid's
// five (the test failed at random, once in 9 runs: a clock on such a
// boundary is one in 30).
func TestBrowserHeatmapSilenceSaid(t *testing.T) {
	ctx := browser(t)
	const svc, step, window = "silent-heat", 30, 120
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}}
	})
	now := time.Now().Truncate(time.Second)
	for now.Unix()%60 != 12 && now.Unix()%60 != 36 { // a step boundary 12 s or 6 s past a column
		now = now.Add(-time.Second)
	}
	back := now.Add(-5 * time.Minute)
	for back.Unix()%step != 15 { // off the columns
		back = back.Add(-time.Second)
	}
	down := back.Add(-40 * time.Second)
	series := heatHistory(svc, now.Add(-50*time.Minute), now.Add(5*time.Minute), func(ts time.Time) bool {
		return ts.After(down) && ts.Before(back)
	})
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	want, first := 0, int64(0)
	for ts := down.Unix() + 1; ts < back.Unix()+window; ts++ {
		if ts%step == 0 {
			if want == 0 {
				first = ts
			}
			want++
		}
	}
	for _, clock := range []time.Time{now, now.Add(5 * time.Second)} {
		tab, cancel := chromedp.NewContext(ctx) // a tab of its own: a page clock for each
		t.Cleanup(cancel)
		pageClockStill(t, tab, clock)
		load(t, tab, st.URL+"/#/service/"+svc+"?range=1h")
		hm := `document.querySelector('[data-chart="heatmap"]')`
		if err := poll(tab, 20*time.Second, `Number(`+hm+`?.dataset.points || 0) > 0`); err != nil {
			t.Fatalf("the service page drew no heatmap: %v", err)
		}
		if n := eval[string](t, tab, hm+`.dataset.silent || ''`); n != strconv.Itoa(want) {
			t.Errorf("at %s (%d s past a column): the heatmap counts %q columns whose window holds the silence, want %d",
				clock.Format("15:04:05"), clock.Unix()%step, n, want)
		}
		readAt := func(ts int64) string {
			return eval[string](t, tab, `(() => { const u = `+hm+`.chart.u;
				u.setCursor({left: u.valToPos(`+strconv.FormatInt(ts, 10)+`, 'x'), top: u.bbox.height / devicePixelRatio / 2});
				return `+hm+`.dataset.readout || ''; })()`)
		}
		wantSaid := "its window holds 40s without samples (" + down.Format("15:04:05") + "–" + back.Format("15:04:05") + ")"
		if ro := readAt(first); !strings.Contains(ro, wantSaid) || !strings.Contains(ro, "reads low") {
			t.Errorf("at %s: the heatmap's readout over a column whose window holds the silence reads %q, want it to say %q and that its rate reads low", clock.Format("15:04:05"), ro, wantSaid)
		}
		if ro := readAt(first - 30*60); ro == "" || strings.Contains(ro, "without samples") {
			t.Errorf("at %s: the heatmap's readout over a column half an hour earlier reads %q, want a bucket without a silence", clock.Format("15:04:05"), ro)
		}
		screenshot(t, tab, artifacts(t), "heatmap-silence-"+strconv.FormatInt(clock.Unix()%step, 10))
	}
}
