package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAOpenStepPeakDrawn: trial 29 F2. At 7d (30-minute steps),
// in the first step after a gap in the data, the Burn rate legend read
// "max 88.9× not judged" while the chart drew only the now point (~56×):
// the grid's last step fell in the gap (no value), the open step's worst
// window was on the bridge (the step's start to a minute ago) and the
// now point on the tail, a minute apart (a fraction of a pixel at 7d),
// and such a narrow run was drawn as a dot at its newest point alone.
// The recorded sla:error_ratio:rate1h every 15 s: 0.0001 (judged) for
// 10 h up to 62 minutes before the last 30-minute step, none for 71
// minutes, then from 0.03 up to 0.0889 (88.9× a 99.9 % budget) and down
// to 0.0555 now (hours holding minutes of data: not judged); the page's
// now 24m37s past the step, as the trial's was.
//
// The burn legend's max is the raw worst window (88.9×, not judged) and
// the achievement legend's min its 91.11 %, each a point the chart
// paints: its series' colour at the point's place.
func TestBrowserSLAOpenStepPeakDrawn(t *testing.T) {
	ctx := browser(t)
	const name = "t-open"
	st := slaStack(t, sla.Status{Name: name, State: "burning", Burning: "page"}, 13*time.Hour)
	const step = 30 * time.Minute
	const phase = 24*time.Minute + 37*time.Second
	wall := time.Now()
	now := wall.Add(-phase).Truncate(step).Add(phase)
	if now.After(wall) {
		now = now.Add(-step)
	}
	g := now.Add(-phase)
	pageClockStill(t, ctx, now.Add(5*time.Second))
	series := slaRatio(name)
	add := func(ts time.Time, v float64) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	for ts := now.Add(-10 * time.Hour).Truncate(time.Minute); !ts.After(g.Add(-62 * time.Minute)); ts = ts.Add(15 * time.Second) {
		add(ts, 0.0001)
	}
	back := g.Add(9*time.Minute + 34*time.Second)
	peak := g.Add(14*time.Minute + 14*time.Second)
	const top, last = 0.0889, 0.0555
	for ts := back; !ts.After(now); ts = ts.Add(time.Second) {
		v := 0.03 + (top-0.03)*float64(ts.Sub(back))/float64(peak.Sub(back))
		if ts.After(peak) {
			v = top - (top-last)*float64(ts.Sub(peak))/float64(now.Sub(peak))
		}
		add(ts, v)
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	at := float64(now.Add(5*time.Second).UnixMilli()) / 1000
	sel := fmt.Sprintf(`sla:error_ratio:rate1h{sla=%q}`, name)
	if raw := instantAt(t, st, "max_over_time("+sel+"[7d])", at); raw < top-1e-9 || raw > top+1e-9 {
		t.Fatalf("raw max_over_time of the 1h ratio over 7d %v, want %v (the fixture)", raw, top)
	}
	load(t, ctx, st.URL+"/#/sla?range=7d")
	if err := poll(ctx, 30*time.Second, legendRow("burn", name)+` && `+legendRow("achievement", name)); err != nil {
		t.Fatalf("the SLA charts' legends have no %s row: %v", name, err)
	}
	want := evalAsync[[]string](t, ctx, fmt.Sprintf(`(async () => { const {units} = await import('/assets/util.js');
		return [units.x.fmt(%[1]v / 0.001), units.pct9.fmt(100 * (1 - %[1]v))]; })()`, top))
	for _, c := range []struct{ chart, stat, want string }{{"burn", "max", want[0]}, {"achievement", "min", want[1]}} {
		text := eval[string](t, ctx, legendCell(c.chart, name, c.stat)+`.textContent`)
		if text != c.want+" not judged" {
			t.Errorf("7d %s legend %s %q, want %q (the raw worst 1h window over the range, not judged)", c.chart, c.stat, text, c.want+" not judged")
			continue
		}
		if msg := slaStatPainted(t, ctx, c.chart, name, c.stat); msg != "" {
			t.Errorf("7d %s legend %s %q: %s", c.chart, c.stat, text, msg)
		}
	}
	screenshot(t, ctx, artifacts(t), "sla-open-step-7d")
}

// slaStatPainted checks that the chart paints the point a legend's min or
// max cell (series' stat in chart's legend) gives: a point of that value
// in the chart's data, and within 3 px of its place a pixel of the
// series' colour (palette's first: the SLA charts' first series). It
// returns what is wrong, or "".
func slaStatPainted(t *testing.T, ctx context.Context, chart, series, stat string) string {
	t.Helper()
	type drawn struct {
		Found   bool
		Painted bool
		At, V   float64
	}
	got := evalAsync[drawn](t, ctx, `(async () => {
		const cell = `+legendCell(chart, series, stat)+`;
		const u = document.querySelector('[data-chart="`+chart+`"]').chart.u;
		const v = Number(cell.dataset.partialValue ?? cell.dataset.value);
		const at = Number(cell.dataset.partialAt ?? cell.dataset.at);
		const j = u.data[0].findIndex((x) => Math.abs(x - at) < 1e-3);
		const found = j >= 0 && u.data.slice(1).some((y) => y[j] != null && Math.abs(y[j] - v) <= 1e-9 * Math.abs(v));
		if (!found) return {Found: false, Painted: false, At: at, V: v};
		const blue = (px) => { for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 128 && Math.abs(px[i] - 0x4c) < 40 && Math.abs(px[i + 1] - 0xc2) < 40 && Math.abs(px[i + 2] - 0xff) < 40) return true; return false; };
		const x = Math.round(u.valToPos(at, 'x', true)), y = Math.round(u.valToPos(v, 'y', true));
		let painted = false;
		// uPlot draws on a later task: look until it is there, at most 2 s.
		for (let k = 0; k < 40 && !painted; k++) {
			await new Promise((r) => setTimeout(r, 50));
			painted = blue(u.ctx.getImageData(x - 3, y - 3, 7, 7).data);
		}
		return {Found: true, Painted: painted, At: at, V: v};
	})()`)
	switch {
	case !got.Found:
		return fmt.Sprintf("no point of %v at %s in the chart's data", got.V, time.UnixMilli(int64(got.At*1000)).Format(time.TimeOnly))
	case !got.Painted:
		return fmt.Sprintf("the chart paints nothing of the series' colour at its point (%v at %s)", got.V, time.UnixMilli(int64(got.At*1000)).Format(time.TimeOnly))
	}
	return ""
}

// TestBrowserSLAShortRangesWorstWindow: trial 29 F3. At 1h (12 s steps)
// the SLA legends read the recorded 1h ratio sampled at the steps: "max
// 85.9×" where the raw worst window, between two steps, was 88.9×, which
// 6h and the longer ranges (each point its step's worst window) showed.
// The recorded sla:error_ratio:rate1h: every 15 s at 0.0001 for 3 h
// (hours wholly covered: judged), every 500 ms through an incident 150 s
// before now, up to one sample of 0.0889 (88.9× a 99.9 % budget) half a
// second past a whole second and 5.5 s past a 12 s step, the next 0.085,
// then every 15 s down to 0.05 now; so no step of Live (1 s), 15m (3 s)
// or 1h (12 s) has the peak as its newest sample, and most of their steps
// after the incident hold no sample at all.
//
// On each of Live, 15m, 1h and 6h the Burn rate legend's max is the raw
// worst window (88.9×, judged), the Achievement legend's min its
// 91.11 %, and the last the newest window (50×, 95 %), not said to have
// newer windows not judged.
func TestBrowserSLAShortRangesWorstWindow(t *testing.T) {
	ctx := browser(t)
	const name = "t-short"
	st := slaStack(t, sla.Status{Name: name, State: "burning", Burning: "page"}, 4*time.Hour)
	now := time.Now().Add(-30 * time.Second).Truncate(time.Second)
	pageClockStill(t, ctx, now.Add(5*time.Second))
	peak := now.Add(-150 * time.Second).Truncate(12 * time.Second).Add(5500 * time.Millisecond)
	const top, next, last = 0.0889, 0.085, 0.05
	series := slaRatio(name)
	add := func(ts time.Time, v float64) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	from := peak.Add(-60 * time.Second)
	for ts := peak.Add(-3 * time.Hour).Truncate(15 * time.Second); ts.Before(from); ts = ts.Add(15 * time.Second) {
		add(ts, 0.0001)
	}
	for ts := from; ts.Before(peak); ts = ts.Add(500 * time.Millisecond) {
		add(ts, 0.01+(0.086-0.01)*float64(ts.Sub(from))/float64(peak.Sub(from)))
	}
	add(peak, top)
	after := peak.Add(30 * time.Second)
	for ts := peak.Add(500 * time.Millisecond); !ts.After(after); ts = ts.Add(500 * time.Millisecond) {
		add(ts, next-(next-0.07)*float64(ts.Sub(peak))/float64(after.Sub(peak)))
	}
	var tail []time.Time
	for ts := now; ts.After(after); ts = ts.Add(-15 * time.Second) {
		tail = append(tail, ts)
	}
	for i := len(tail) - 1; i >= 0; i-- {
		add(tail[i], 0.07-(0.07-last)*float64(tail[i].Sub(after))/float64(now.Sub(after)))
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	at := float64(now.Add(5*time.Second).UnixMilli()) / 1000
	sel := fmt.Sprintf(`sla:error_ratio:rate1h{sla=%q}`, name)
	if raw := instantAt(t, st, "max_over_time("+sel+"[5m])", at); raw != top {
		t.Fatalf("raw max_over_time of the 1h ratio over 5m %v, want %v (the fixture)", raw, top)
	}
	want := map[string]string{}
	for _, rng := range []string{"live", "15m", "1h", "6h"} {
		load(t, ctx, st.URL+"/#/sla?range="+rng)
		if err := poll(ctx, 30*time.Second, legendRow("burn", name)+` && `+legendRow("achievement", name)); err != nil {
			t.Fatalf("%s: the SLA charts' legends have no %s row: %v", rng, name, err)
		}
		// One series per SLA: the steps holding no recorded window read
		// the newest before it, under the same labels.
		if n := evalInt(t, ctx, `document.querySelectorAll('[data-stats="burn"] tr[data-series="`+name+`"]').length`); n != 1 {
			t.Errorf("%s: the burn legend has %d rows of %s, want 1", rng, n, name)
		}
		if len(want) == 0 {
			w := evalAsync[[]string](t, ctx, fmt.Sprintf(`(async () => { const {units} = await import('/assets/util.js');
				return [units.x.fmt(%[1]v / 0.001), units.pct9.fmt(100 * (1 - %[1]v)), units.x.fmt(%[2]v / 0.001), units.pct9.fmt(100 * (1 - %[2]v))]; })()`, top, last))
			want = map[string]string{"burn max": w[0], "achievement min": w[1], "burn last": w[2], "achievement last": w[3]}
		}
		for _, c := range []struct{ chart, stat string }{{"burn", "max"}, {"achievement", "min"}, {"burn", "last"}, {"achievement", "last"}} {
			text := eval[string](t, ctx, legendCell(c.chart, name, c.stat)+`.textContent`)
			if w := want[c.chart+" "+c.stat]; text != w {
				t.Errorf("%s %s legend %s %q, want %q (the raw %s 1h window)", rng, c.chart, c.stat, text, w, map[string]string{"max": "worst", "min": "worst", "last": "newest"}[c.stat])
			}
		}
		screenshot(t, ctx, artifacts(t), "sla-short-"+rng)
	}
}

// TestBrowserSLALastIsOneWindow: trial 29 F4. At 30d a legend row read
// "last 99.999% at 19:28 … max 99.998%": the last is the newest judged
// window, one window, while each point is the worst window within its
// 2 h step. The recorded sla:error_ratio:rate1h every 15 s: 0.0003 (0.3×
// a 99.9 % budget) for 10 h up to 62 minutes before the last 30-minute
// step, its last sample 0.00001 (0.01×), then none for 71 minutes, then
// 0.02 (not judged). The 30d burn legend's last is the 0.01× window,
// below every point, and says it is one window; its min is the points'
// 0.3×.
func TestBrowserSLALastIsOneWindow(t *testing.T) {
	ctx := browser(t)
	const name = "t-one"
	st := slaStack(t, sla.Status{Name: name, State: "ok"}, 13*time.Hour)
	const step = 30 * time.Minute
	const phase = 24*time.Minute + 37*time.Second
	wall := time.Now()
	now := wall.Add(-phase).Truncate(step).Add(phase)
	if now.After(wall) {
		now = now.Add(-step)
	}
	g := now.Add(-phase)
	pageClockStill(t, ctx, now.Add(5*time.Second))
	series := slaRatio(name)
	add := func(ts time.Time, v float64) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	end := g.Add(-62 * time.Minute)
	for ts := now.Add(-10 * time.Hour).Truncate(time.Minute); ts.Before(end); ts = ts.Add(15 * time.Second) {
		add(ts, 0.0003)
	}
	add(end, 0.00001)
	for ts := g.Add(9*time.Minute + 34*time.Second); !ts.After(now); ts = ts.Add(15 * time.Second) {
		add(ts, 0.02)
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/sla?range=30d")
	if err := poll(ctx, 30*time.Second, legendRow("burn", name)); err != nil {
		t.Fatalf("the burn legend has no %s row: %v", name, err)
	}
	want := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js'); return [units.x.fmt(0.01), units.x.fmt(0.3)]; })()`)
	last := eval[string](t, ctx, legendCell("burn", name, "last")+`.textContent`)
	if !strings.HasPrefix(last, want[0]+" at ") || !strings.Contains(last, "one window") {
		t.Errorf("30d burn legend last %q, want %q at its time, saying it is one window", last, want[0])
	}
	if min := eval[string](t, ctx, legendCell("burn", name, "min")+`.textContent`); min != want[1] {
		t.Errorf("30d burn legend min %q, want %q (the points', each its step's worst)", min, want[1])
	}
	screenshot(t, ctx, artifacts(t), "sla-last-one-window-30d")
}
