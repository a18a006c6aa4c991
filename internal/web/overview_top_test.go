package web_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserOverviewTopByLegendLast: the Overview's charts draw the top
// 10 services by each line's last value, but ranked it over every point,
// those over partial windows too, which the legend leaves out: a service
// begun seconds ago took a line whose legend read "–" and pushed a service
// with a whole last out. Eleven services at 100,001–100,011 orders/s for
// two hours and one at 1,000,000/s begun 8 s ago: the Orders chart draws
// the ten highest of the eleven, not the new one, and its note says how
// many more are not drawn. The page's clock is held at the fixture's
// instant (pageClockStill): it ran on from there, and at high load the
// page refreshed a minute later, the new service's tail then over a whole
// window (it failed at load 19-55).
func TestBrowserOverviewTopByLegendLast(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(3 * time.Hour) })
	// The page's now 10-11 s after a 12 s step of the 1h grid, the new
	// service begun 8 s before it: no grid point of it, its tail partial.
	// The samples run 5 minutes past it (gmc's status keeps the services
	// up however long the test takes; the page reads none of them).
	now := time.Now().Truncate(time.Second)
	for now.Unix()%12 < 10 {
		now = now.Add(-time.Second)
	}
	var series []prompb.TimeSeries
	counter := func(svc string, from time.Time, every time.Duration, perSec float64) {
		s := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: svc}}}
		c := 0.0
		for ts := from; !ts.After(now.Add(5 * time.Minute)); ts = ts.Add(every) {
			c += perSec * every.Seconds()
			s.Samples = append(s.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: c})
		}
		series = append(series, s)
	}
	for i := 1; i <= 11; i++ {
		counter(fmt.Sprintf("ov-%02d", i), now.Add(-2*time.Hour), 10*time.Second, 100_000+float64(i))
	}
	counter("ov-new", now.Add(-8*time.Second), time.Second, 1_000_000)
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, now)
	load(t, ctx, st.URL+"/#/overview?range=1h")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-stats="tps"] tr[data-series="ov-11"]') && document.querySelectorAll('tr[data-service]').length >= 12`); err != nil {
		t.Fatalf("the Orders legend has no ov-11 row: %v", err)
	}
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll('[data-stats="tps"] tbody tr[data-series]')].map((r) => r.dataset.series)`)
	got := strings.Join(rows, " ")
	for i := 2; i <= 11; i++ {
		if !strings.Contains(got, fmt.Sprintf("ov-%02d", i)) {
			t.Errorf("the Orders chart's legend %q lacks ov-%02d (one of the ten highest whole lasts)", got, i)
		}
	}
	if strings.Contains(got, "ov-new") {
		t.Errorf("the Orders chart's legend %q draws ov-new, whose every point is over a partial window (its legend last \"–\")", got)
	}
	note := eval[string](t, ctx, `document.querySelector('[data-chart="tps"]').closest('.card').querySelector('.card-note').textContent`)
	m := regexp.MustCompile(`top 10 of (\d+) services.*\+(\d+) more`).FindStringSubmatch(note)
	if m == nil {
		t.Fatalf("the Orders chart's note %q does not say the top 10 of its 12 or more services and how many more", note)
	}
	var n, more int
	_, _ = fmt.Sscan(m[1], &n)
	_, _ = fmt.Sscan(m[2], &more)
	if n < 12 || more != n-10 {
		t.Errorf("the Orders chart's note %q: %d services, %d more, want %d more", note, n, more, n-10)
	}
}
