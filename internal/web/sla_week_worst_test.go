package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAWeekWorstWithinStep: at 7d (a 30-minute step) each SLA
// point is the worst 1h ratio within its step, as at 30d. It was the
// ratio sampled at the step, and a burn between two steps was on no point:
// the 7d legend read max 1.89× where the worst rolling hour was 2.57×,
// which the 30d view of the same data showed (t-user23 F2). The recorded
// sla:error_ratio:rate1h: 0.0002 every 15 s for 6 hours, but 0.004 (4× a
// 99.9 % budget) for the 5 minutes from 20 to 15 minutes before the last
// step; the page's now is pinned 20 minutes after that step.
func TestBrowserSLAWeekWorstWithinStep(t *testing.T) {
	ctx := browser(t)
	const name = "t-week"
	st := slaStack(t, sla.Status{Name: name, State: "ok"}, 12*time.Hour)
	const step = 30 * time.Minute
	wall := time.Now()
	g := wall.Add(-20 * time.Minute).Truncate(step)
	now := g.Add(20 * time.Minute)
	pageClockStill(t, ctx, now.Add(5*time.Second))
	series := slaRatio(name)
	for ts := now.Add(-6 * time.Hour); !ts.After(now); ts = ts.Add(15 * time.Second) {
		v := 0.0002
		if !ts.Before(g.Add(-20*time.Minute)) && ts.Before(g.Add(-15*time.Minute)) {
			v = 0.004
		}
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/sla?range=7d")
	row := func(chart string) string { return legendRow(chart, name) }
	if err := poll(ctx, 30*time.Second, row("burn")+` && `+row("achievement")); err != nil {
		t.Fatalf("the SLA charts' legends have no %s row: %v", name, err)
	}
	want := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js'); return [units.x.fmt(4), units.pct9.fmt(99.6)]; })()`)
	if got := eval[string](t, ctx, row("burn")+`.querySelector('[data-stat="max"]').textContent`); got != want[0] {
		t.Errorf("7d Burn rate legend max %q, want %q (the burn between two steps)", got, want[0])
	}
	if got := eval[string](t, ctx, row("achievement")+`.querySelector('[data-stat="min"]').textContent`); got != want[1] {
		t.Errorf("7d Achievement legend min %q, want %q (the burn between two steps)", got, want[1])
	}
	screenshot(t, ctx, artifacts(t), "sla-week-worst")
}
