package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserGapThenBurst: after an hour-plus gap in the data (`gmc demo
// --history 7d` ends its history 70 minutes before the live start) the
// SLA page at 30d took the burn of hours holding minutes of data after
// the gap as whole (Burn rate max 111×: the step before the gap had a
// value, so the gap inside the point's reach was not seen); at 7d the
// partial live points (the bridge and the tail, a minute apart) drew
// nothing at all and the legend's last showed the history's burn of 1 h
// 40 min before as now; the Overview's 30d bridge, over a window holding
// the gap, read a traffic drop as the Orders min (t-user10 #3, #4).
//
// The fixture, stamped relative to the page's clock (at): an SLA's
// recorded 1h error ratio at 0.00001 (0.01× a 99.9 % objective's budget)
// for 3 days up to 80 minutes before at, nothing for 70 minutes, then
// 0.05 (50×) from 10 minutes before at; a service's orders at 1,000/s
// over the same history, the same gap, and again from 10 minutes before
// at, its counter from 0 (a restarted process). at is at least 200 s
// after the 7d last step and 90 minutes after the 30d one (so the 30d
// bridge, over the time since that step, holds the gap).
func TestBrowserGapThenBurst(t *testing.T) {
	ctx := browser(t)
	const name, svc = "t-gap", "gap-orders"
	st := slaStack(t, sla.Status{Name: name, State: "burning", Burning: "page"}, 96*time.Hour)
	wall := time.Now().Unix()
	at := wall
	for at%step7d < 200 || at%step7d > step7d-300 || at%step30d < 5700 || at%step30d > step30d-300 {
		at--
	}
	pageClock(t, ctx, time.Unix(at, 0))
	histEnd, liveFrom := at-80*60, at-10*60
	ratio := slaRatio(name)
	for ts := at - 3*86400; ts <= histEnd; ts += 60 {
		ratio.Samples = append(ratio.Samples, prompb.Sample{Timestamp: ts * 1000, Value: 1e-5})
	}
	orders := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_orders_total"}, {Name: "job", Value: "test"}, {Name: "result", Value: "success"}, {Name: "service", Value: svc},
	}}
	c := 0.0
	for ts := at - 14*3600; ts <= histEnd; ts += 10 {
		c += 10_000
		orders.Samples = append(orders.Samples, prompb.Sample{Timestamp: ts * 1000, Value: c})
	}
	// The live run, up to 8 minutes past the wall clock (within gmc's 10
	// minutes of future skew): the tail is read at gmc's now, minutes
	// later, over the minute before it.
	c = 0
	for ts := liveFrom; ts <= wall+480; ts += 15 {
		ratio.Samples = append(ratio.Samples, prompb.Sample{Timestamp: ts * 1000, Value: 0.05})
		c += 15_000
		orders.Samples = append(orders.Samples, prompb.Sample{Timestamp: ts * 1000, Value: c})
	}
	if err := webtest.Write(context.Background(), st.URL, ratio, orders); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/sla?range=1h")
	fmts := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js');
		return [units.x.fmt(0.01), units.x.fmt(50), units.pct9.fmt(99.999)]; })()`)
	low, high, achWhole := fmts[0], fmts[1], fmts[2]
	row := legendRow
	stat := func(chart, series, s string) string {
		return eval[string](t, ctx, row(chart, series)+`.querySelector('[data-stat="`+s+`"]').textContent`)
	}

	// 1h: every point is an hour reaching into the gap: all dashed; the
	// legend gives the data seen, marked not judged (2a0465a, t-user12
	// F10), never as a whole hour's.
	if err := poll(ctx, 20*time.Second, row("burn", name)+` && Number(document.querySelector('[data-chart="burn"]').dataset.partial) > 0`); err != nil {
		t.Fatalf("1h: the Burn rate chart has no partial points of %s: %v", name, err)
	}
	if got := stat("burn", name, "max"); got != high+" not judged" {
		t.Errorf("1h: Burn rate legend max %q, want %q (every hour holds 10 minutes of data)", got, high+" not judged")
	}

	for _, key := range []string{"7d", "30d"} {
		load(t, ctx, st.URL+"/#/sla?range="+key)
		if err := poll(ctx, 20*time.Second, row("burn", name)+` && `+row("achievement", name)+` && `+row("burn", name)+`.querySelector('[data-stat="max"]').textContent !== '–'`); err != nil {
			t.Fatalf("%s: the SLA charts' legends have no %s row: %v", key, name, err)
		}
		// The max and min are the dashed hours after the gap (10 minutes
		// of data each), said not judged, the whole hours' on hover
		// (t-user15 F5: a legend's max below what its chart drew).
		title := func(chart, s string) string {
			return eval[string](t, ctx, row(chart, name)+`.querySelector('[data-stat="`+s+`"]').title`)
		}
		if got, tt := stat("burn", name, "max"), title("burn", "max"); got != high+" not judged" || !strings.Contains(tt, "highest over whole windows: "+low) {
			t.Errorf("%s: Burn rate legend max %q (%q), want %q, the whole hours' %q said (an hour holding 10 minutes of data)", key, got, tt, high+" not judged", low)
		}
		if got, tt := stat("achievement", name, "min"), title("achievement", "min"); !strings.HasSuffix(got, " not judged") || !strings.Contains(tt, "lowest over whole windows: "+achWhole) {
			t.Errorf("%s: Achievement legend min %q (%q), want the dashed hours' not judged, the whole hours' %q said", key, got, tt, achWhole)
		}
		// The last is the history's: said with its time, not as now.
		last := eval[string](t, ctx, row("burn", name)+`.querySelector('[data-stat="last"]').textContent`)
		if !strings.HasPrefix(last, low+" at ") {
			t.Errorf("%s: Burn rate legend last %q, want %q with the time it is at (the newer points are partial)", key, last, low)
		}
		// The partial newest points are drawn: a dot of the series' colour
		// at the tail, 50× high.
		lit := evalAsync[bool](t, ctx, `(async () => {
			const u = document.querySelector('[data-chart="burn"]').chart.u;
			const i = u.series.findIndex((s) => s.label === '`+name+` (partial window)');
			if (i < 0) return false;
			const col = u.series[i]._stroke || u.series[i].stroke;
			const rgb = [1, 3, 5].map((k) => parseInt(String(col).slice(k, k + 2), 16));
			const n = u.data[0].length;
			for (let k = 0; k < 40; k++) {
				await new Promise((r) => setTimeout(r, 50));
				const x = Math.round(u.valToPos(u.data[0][n - 1], 'x', true)), y = Math.round(u.valToPos(u.data[i][n - 1], 'y', true));
				const px = u.ctx.getImageData(x - 3, y - 3, 7, 7).data;
				for (let j = 0; j < px.length; j += 4) if (Math.abs(px[j] - rgb[0]) + Math.abs(px[j + 1] - rgb[1]) + Math.abs(px[j + 2] - rgb[2]) < 90) return true;
			}
			return false;
		})()`)
		if !lit {
			t.Errorf("%s: the Burn rate chart draws nothing at its newest (partial) point", key)
		}
		screenshot(t, ctx, artifacts(t), "gap-sla-"+key)
	}

	// The Overview at 30d: the bridge's window (since the last step, 90+
	// minutes) holds the 70-minute gap: partial, not a drop in the min.
	load(t, ctx, st.URL+"/#/overview?range=30d")
	if err := poll(ctx, 20*time.Second, row("tps", svc)+` && `+row("tps", svc)+`.querySelector('[data-stat="min"]').textContent !== '–'`); err != nil {
		t.Fatalf("30d: the Orders legend has no %s row: %v", svc, err)
	}
	// Every whole point reads 1,000/s: the min is the max (to 2 %).
	if lo, hi := stat("tps", svc, "min"), stat("tps", svc, "max"); perSec(lo) < 0.98*perSec(hi) {
		bridge := eval[float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="tps"]').chart.u; const n = u.data[0].length;
			const i = u.series.findIndex((s) => s.label === '`+svc+`'); return i < 0 ? -1 : u.data[i][n - 2] ?? -1; })()`)
		t.Errorf("30d: Orders legend min %q, want the max %q (the bridge over the gap reads %v/s whole)", lo, hi, bridge)
	}
	screenshot(t, ctx, artifacts(t), "gap-overview-30d")
}

// perSec reads a legend's rate ("1k/s", "602/s"); -1 when it is not one.
func perSec(s string) float64 {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	m := 1.0
	if strings.HasSuffix(s, "k") {
		s, m = strings.TrimSuffix(s, "k"), 1e3
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return f * m
}
