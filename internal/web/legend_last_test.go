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

// TestBrowserLegendOlderLast: after a gap a 24h legend's header said
// "last, over 1m" over a row whose last was an older point over that
// point's window ("error 15.6/s at 23:55", a 19m12s window; t-user14 F5),
// which read as the last minute's rate. A service's orders counter is
// written every minute from 25 hours to 20 minutes ago and every 5 s from
// 30 s ago: its newest whole point on the Overview's 24h Orders chart is
// an older one, and the cell gives its time and window, the header says
// its window is not every row's. The page's clock is held at the
// fixture's instant (pageClockStill): on the wall clock, from 30 s after it
// the tail's minute held no point from before the live run began, so the
// newest point was whole and the case was not given (a slow load).
func TestBrowserLegendOlderLast(t *testing.T) {
	ctx := browser(t)
	const svc = "older-last"
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(26 * time.Hour) })
	now := time.Now().Unix()
	ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc}, {Name: "result", Value: "success"}}}
	c := 0.0
	for at := now - 25*3600; at <= now-1200; at += 60 {
		c += 6000
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: at * 1000, Value: c})
	}
	for at := now - 30; at <= now+300; at += 5 {
		c += 500
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: at * 1000, Value: c})
	}
	if err := webtest.Write(context.Background(), st.URL, ts); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, time.Unix(now, 0))
	load(t, ctx, st.URL+"/#/overview?range=24h")
	row := `document.querySelector('[data-stats="tps"] tr[data-series="` + svc + `"] [data-stat="last"]')`
	if err := poll(ctx, 20*time.Second, `!!`+row+` && `+row+`.textContent !== '–'`); err != nil {
		t.Fatalf("the Orders legend has no %s row: %v", svc, err)
	}
	got := eval[[]string](t, ctx, `(() => { const c = `+row+`; const th = document.querySelector('[data-stats="tps"] thead th[data-window]');
		return [c.textContent, c.dataset.lastAt || '', th ? th.textContent : '', th && th.dataset.older != null ? 'older' : '']; })()`)
	if got[1] == "" {
		t.Fatalf("the %s row's last %q is not an older point (no data-last-at): the fixture does not give the case", svc, got[0])
	}
	if !strings.Contains(got[0], " at ") || !strings.Contains(got[0], ", over ") {
		t.Errorf("the %s row's last reads %q: want its point's time and window (\"… at HH:MM, over …\")", svc, got[0])
	}
	if got[3] != "older" || !strings.Contains(got[2], "or as said") {
		t.Errorf("the Orders legend's header reads %q over a row whose last is an older point: want it to say the rows may give another window", got[2])
	}
}
