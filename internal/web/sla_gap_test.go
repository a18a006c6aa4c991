package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAJudgesCoveredHoursAfterAGap: at 30d each SLA point is
// the worst 1h ratio within its 2 h step, and a point whose reach (1 h
// + the step) held any gap was thrown out whole, so for 3 h after a
// gmc stop the legends hid the hours after it, wholly covered though
// they were (t-user13 F9: "min 99.998 %" while the last hour was
// 99.62 %). The recorded sla:error_ratio:rate1h: every minute from 10 h
// to 200 minutes ago at 0.0001 (0.1× a 99.9 % budget), none for 70
// minutes, then every 15 s at 0.05 for 5 minutes (hours holding minutes
// of data: not judged), 0.0002 and for the last 30 minutes 0.004 (4×,
// hours wholly covered). The legends' whole points' max burn is 4× and
// min achievement 99.6 %, not the history's 0.1×.
//
// The uncovered 50× minutes are a step's worst window wherever now falls
// on the 2 h grid: that step is drawn dashed (not judged), and the
// legends' max and min are that point, marked ("50× not judged", the
// whole points' 4× in its title: chart.js renderStats). Until trial 28
// F2, a step holding a covered hour was drawn as its worst covered hour
// alone, so 30 minutes past a step the 50× was on no point and the 30d
// legend read max 4×, milder than the 7d legend over the same data.
//
// What the last step on the 2 h grid holds depends on where now falls
// on it, so the page's now is pinned (pageClockStill) at two places:
// 30 minutes past a step, the last step holds the 50× minutes and the
// covered hours after them (it was drawn as those alone, whole); 72
// minutes past, it holds the 50× minutes and no covered hour (the first
// covered hour ends 70 minutes ago), and the bridge the covered 4× ones. Run on the wall
// clock, the test failed in 1 of 3 CI runs: at 71-75 minutes past a step
// (reproduced with the server's and page's clocks shifted there).
func TestBrowserSLAJudgesCoveredHoursAfterAGap(t *testing.T) {
	for _, c := range []struct {
		name  string
		phase time.Duration
	}{{"30 min past a step", 30 * time.Minute}, {"72 min past a step", 72 * time.Minute}} {
		t.Run(c.name, func(t *testing.T) { slaCoveredAfterGap(t, c.phase) })
	}
}

func slaCoveredAfterGap(t *testing.T, phase time.Duration) {
	ctx := browser(t)
	const name = "t-gap"
	// The history reaches 10 h before now, and now up to a step (2 h)
	// before the wall clock: 12 h rejected its first sample when the wall
	// clock fell within a minute before the phase (CI, at 15:11:59: "too
	// old sample" at 03:11).
	st := slaStack(t, sla.Status{Name: name, State: "ok"}, 13*time.Hour)
	// now: the newest time phase past a 2 h step (the 30d range's step)
	// and not after the wall clock (the server holds no data there).
	const step = 2 * time.Hour
	wall := time.Now()
	now := wall.Add(-phase).Truncate(step).Add(phase)
	if now.After(wall) {
		now = now.Add(-step)
	}
	now = now.Add(-15 * time.Second)
	pageClockStill(t, ctx, now.Add(5*time.Second))
	series := slaRatio(name)
	for ts := now.Add(-10 * time.Hour).Truncate(time.Minute); ts.Before(now.Add(-200 * time.Minute)); ts = ts.Add(time.Minute) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: 0.0001})
	}
	back := now.Add(-130 * time.Minute)
	for ts := back; !ts.After(now); ts = ts.Add(15 * time.Second) {
		v := 0.0002
		switch {
		case ts.Before(back.Add(5 * time.Minute)):
			v = 0.05
		case ts.After(now.Add(-30 * time.Minute)):
			v = 0.004
		}
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}

	load(t, ctx, st.URL+"/#/sla?range=30d")
	row := func(chart string) string { return legendRow(chart, name) }
	if err := poll(ctx, 30*time.Second, row("burn")+` && `+row("achievement")); err != nil {
		t.Fatalf("the SLA charts' legends have no %s row: %v", name, err)
	}
	want := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js'); return [units.x.fmt(4), units.pct9.fmt(99.6), units.x.fmt(50), units.pct9.fmt(95)]; })()`)
	cell := func(chart, stat string) (text, title string) {
		got := eval[[]string](t, ctx, `(() => { const c = `+row(chart)+`.querySelector('[data-stat="`+stat+`"]'); return [c.textContent, c.title || '']; })()`)
		return got[0], got[1]
	}
	for _, c := range []struct{ chart, stat, whole, part string }{{"burn", "max", want[0], want[2]}, {"achievement", "min", want[1], want[3]}} {
		text, title := cell(c.chart, c.stat)
		if text != c.part+" not judged" || !strings.Contains(title, "over whole windows: "+c.whole) {
			t.Errorf("30d %s legend %s %q (title %q), want %q, the dashed step of the uncovered minutes, marked, with the covered hours' %s as the whole windows'",
				c.chart, c.stat, text, title, c.part+" not judged", c.whole)
		}
	}
	screenshot(t, ctx, artifacts(t), "sla-gap-30d")
}
