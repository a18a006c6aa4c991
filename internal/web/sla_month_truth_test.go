package web_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAMonthTrueAfterAGap: trial 28 F2. At 30d (2 h steps) the
// demo's burning SLA read "last 0.102× at 17:54, max 67.4× not judged":
// the point at 17:54 (the bridge, over the time since the last step) was
// the worst judged window within it, the history's from before 16:25,
// dated at 17:54, and its windows after the history's hole (not judged,
// up to 89.6×) were dropped, so the 30d max was milder than the 7d one
// over the same data. The recorded sla:error_ratio:rate1h, every 15 s as
// gmc records it: 0.0001 (0.1× a 99.9 % budget) for 10 h up to 25
// minutes after a 2 h step, with one sample at 0.0213 (21.3×, judged)
// between two minutes 5 h before now; none for 70 minutes (gmc down);
// then for the last 20 minutes up to 0.0896 (89.6×, hours holding
// minutes of data: not judged), 0.0503 at the last. The page's now is
// pinned 115 minutes past a 2 h step, as the trial's was.
//
// At 30d and at 7d: the Burn rate legend's max is the raw
// max_over_time of the 1h burn over the range (89.6×, marked not judged,
// the judged 21.3× in its title), the Achievement legend's min the raw
// lowest 1h achievement, and the legend's last is the newest judged
// window (0.1× at the history's end), dated no later than that window
// and saying the newer windows are not judged.
func TestBrowserSLAMonthTrueAfterAGap(t *testing.T) {
	ctx := browser(t)
	const name = "t-month"
	st := slaStack(t, sla.Status{Name: name, State: "burning", Burning: "page"}, 13*time.Hour)
	const step = 2 * time.Hour
	const phase = 115 * time.Minute
	wall := time.Now()
	now := wall.Add(-phase).Truncate(step).Add(phase)
	if now.After(wall) {
		now = now.Add(-step)
	}
	g := now.Add(-phase)
	now = now.Add(-15 * time.Second)
	pageClockStill(t, ctx, now.Add(5*time.Second))
	series := slaRatio(name)
	add := func(ts time.Time, v float64) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	histEnd := g.Add(25 * time.Minute)
	spike := now.Add(-5 * time.Hour).Truncate(time.Minute).Add(45 * time.Second)
	var lastJudged time.Time
	for ts := now.Add(-10 * time.Hour).Truncate(time.Minute); !ts.After(histEnd); ts = ts.Add(15 * time.Second) {
		v := 0.0001
		if ts.Equal(spike) {
			v = 0.0213
		}
		add(ts, v)
		lastJudged = ts
	}
	back := g.Add(95 * time.Minute)
	peak := back.Add(10 * time.Minute).Add(30 * time.Second)
	for ts := back; !ts.After(now); ts = ts.Add(15 * time.Second) {
		// Up to the peak and down from it to 0.0503 at now.
		v := 0.03 + 0.0596*float64(ts.Sub(back))/float64(peak.Sub(back))
		if ts.After(peak) {
			v = 0.0896 - (0.0896-0.0503)*float64(ts.Sub(peak))/float64(now.Sub(peak))
		}
		add(ts, v)
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	at := float64(now.Add(5*time.Second).UnixMilli()) / 1000
	sel := fmt.Sprintf(`sla:error_ratio:rate1h{sla=%q}`, name)
	rawMax := instantAt(t, st, "max_over_time("+sel+"[30d])", at)
	if rawMax < 0.0895 {
		t.Fatalf("raw max_over_time of the 1h ratio over 30d %v, want 0.0896 (the fixture)", rawMax)
	}
	row := func(chart string) string { return legendRow(chart, name) }
	var want []string
	for _, rng := range []string{"30d", "7d"} {
		load(t, ctx, st.URL+"/#/sla?range="+rng)
		if err := poll(ctx, 30*time.Second, row("burn")+` && `+row("achievement")); err != nil {
			t.Fatalf("%s: the SLA charts' legends have no %s row: %v", rng, name, err)
		}
		if want == nil {
			want = evalAsync[[]string](t, ctx, fmt.Sprintf(`(async () => { const {units} = await import('/assets/util.js');
			return [units.x.fmt(%[1]v / 0.001), units.pct9.fmt(100 * (1 - %[1]v)), units.x.fmt(0.0213 / 0.001), units.pct9.fmt(100 * (1 - 0.0213)), units.x.fmt(0.1), units.pct9.fmt(99.99)]; })()`, rawMax))
		}
		cell := func(chart, stat string) (text, title, lastAt string) {
			got := eval[[]string](t, ctx, `(() => { const c = `+legendCell(chart, name, stat)+`; return [c.textContent, c.title || '', c.dataset.lastAt || '']; })()`)
			return got[0], got[1], got[2]
		}
		for _, c := range []struct{ chart, stat, worst, judged, last string }{
			{"burn", "max", want[0], want[2], want[4]},
			{"achievement", "min", want[1], want[3], want[5]},
		} {
			// The worst: the raw worst window over the range, not judged,
			// the judged spike as the whole windows' worst.
			text, title, _ := cell(c.chart, c.stat)
			if text != c.worst+" not judged" || !strings.Contains(title, "over whole windows: "+c.judged) {
				t.Errorf("%s %s legend %s %q (title %q), want %q (the raw worst 1h window over the range, not judged) with the judged %s as the whole windows'",
					rng, c.chart, c.stat, text, title, c.worst+" not judged", c.judged)
			}
			// The last: the newest judged window, at its time.
			text, title, lastAt := cell(c.chart, "last")
			when, err := strconv.ParseFloat(lastAt, 64)
			switch {
			case err != nil:
				t.Errorf("%s %s legend last %q (title %q) is not dated (data-last-at %q): its newer windows are not judged", rng, c.chart, text, title, lastAt)
			case when > float64(lastJudged.UnixMilli())/1000+1e-3:
				t.Errorf("%s %s legend last %q dated %s (title %q), later than the newest judged window it can come from, %s",
					rng, c.chart, text, time.UnixMilli(int64(when*1000)).Format(time.TimeOnly), title, lastJudged.Format(time.TimeOnly))
			case !strings.HasPrefix(text, c.last+" at ") || !strings.Contains(text, "newer not judged"):
				t.Errorf("%s %s legend last %q, want %q at the newest judged window's time, saying newer windows are not judged", rng, c.chart, text, c.last)
			}
		}
		screenshot(t, ctx, artifacts(t), "sla-month-truth-"+rng)
	}
}
