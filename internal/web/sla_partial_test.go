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

// TestBrowserSLAPartialWindows: the SLA page's charts drew the first
// hour's 1h error ratios, each over a few minutes of data, as whole: Burn
// rate max 106× and Achievement min 96.68 % beside a table that called
// the same window "coverage 20.1 %" and did not judge it (t-user9 #3).
// An SLA's recorded sla:error_ratio:rate1h is written with its
// timestamps from 70 minutes ago, every 15 s: 0.05 (50× a 99.9 %
// objective's budget) for its first 15 minutes, then 0.002 (2×). On the
// 1h range the points up to 10 minutes ago are over an hour reaching
// before the data began, the first five of those minutes at 50×: they
// are drawn dashed and out of the legends, whose max burn is 2× and min
// achievement 99.8 %.
func TestBrowserSLAPartialWindows(t *testing.T) {
	ctx := browser(t)
	const name = "t-partial"
	st := slaStack(t, sla.Status{Name: name, State: "not_judged", Reason: "coverage"}, 6*time.Hour)
	now := time.Now().Truncate(15 * time.Second)
	first := now.Add(-70 * time.Minute)
	series := slaRatio(name)
	for ts := first; !ts.After(now); ts = ts.Add(15 * time.Second) {
		v := 0.002
		if ts.Before(first.Add(15 * time.Minute)) {
			v = 0.05
		}
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}

	load(t, ctx, st.URL+"/#/sla?range=1h")
	row := func(chart string) string { return legendRow(chart, name) }
	if err := poll(ctx, 20*time.Second, row("burn")+` && `+row("achievement")); err != nil {
		t.Fatalf("the SLA charts' legends have no %s row: %v", name, err)
	}
	want := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js'); return [units.x.fmt(2), units.x.fmt(50), units.pct9.fmt(99.8)]; })()`)
	// The max is the dashed hour's (15 minutes of data), said not judged,
	// the whole hours' on hover (t-user15 F5: a legend's max below what its
	// chart drew); the achievement's min so too.
	burnMax := eval[string](t, ctx, row("burn")+`.querySelector('[data-stat="max"]').textContent`)
	burnTitle := eval[string](t, ctx, row("burn")+`.querySelector('[data-stat="max"]').title`)
	if burnMax != want[1]+" not judged" || !strings.Contains(burnTitle, "highest over whole windows: "+want[0]) {
		t.Errorf("Burn rate legend max %q (%q), want %q and the whole hours' %q said", burnMax, burnTitle, want[1]+" not judged", want[0])
	}
	achMin := eval[string](t, ctx, row("achievement")+`.querySelector('[data-stat="min"]').textContent`)
	achTitle := eval[string](t, ctx, row("achievement")+`.querySelector('[data-stat="min"]').title`)
	if !strings.HasSuffix(achMin, " not judged") || !strings.Contains(achTitle, "lowest over whole windows: "+want[2]) {
		t.Errorf("Achievement legend min %q (%q), want the dashed hour's, not judged, and the whole hours' %q said", achMin, achTitle, want[2])
	}
	for _, c := range []string{"burn", "achievement"} {
		// The partial points are drawn, dashed, as a series of their own,
		// the 50× among them.
		hi := eval[float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="`+c+`"]').chart.u; const i = u.series.findIndex((s) => s.label === '`+name+` (partial window)'); return i < 0 ? -1 : u.data[i].filter((v) => v != null).length; })()`)
		if hi < 2 {
			t.Errorf("the %s chart draws %v points of %s's partial windows, want them drawn apart", c, hi, name)
		}
		n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="`+c+`"]').dataset.partial)`)
		if n < 200 {
			t.Errorf("the %s chart marks %d partial points, want the ~250 of the 50 minutes before the data's first whole hour (12 s steps)", c, n)
		}
		foot := eval[string](t, ctx, `(document.querySelector('[data-stats="`+c+`"] tfoot [data-partial]') || {textContent: ''}).textContent`)
		if !strings.Contains(foot, `in min or max only where beyond every whole point, marked "not judged"`) {
			t.Errorf("the %s legend's note %q does not say the dashed points are in min and max only where beyond the whole ones, marked", c, foot)
		}
	}
	note := eval[string](t, ctx, `[...document.querySelectorAll('.card-note')].map((n) => n.textContent).join(' | ')`)
	if !strings.Contains(note, "not yet covered by data") {
		t.Errorf("the SLA charts' notes %q do not say what a dashed point is", note)
	}
	screenshot(t, ctx, artifacts(t), "sla-partial-1h")

	// At 30d each point is the worst hour within its 2 h step, and the
	// notes say so.
	load(t, ctx, st.URL+"/#/sla?range=30d")
	if err := poll(ctx, 20*time.Second, `[...document.querySelectorAll('.card-note')].some((n) => n.textContent.includes('worst (highest) 1h burn within its step (2 h)'))`); err != nil {
		t.Errorf("the 30d Burn rate note does not say each point is the worst hour of its step: %v", err)
	}
}

// TestBrowserSLALivePartialWindows: the SLA page's Live range (read
// through the range cache) did not mark partial windows as the other
// ranges do (1f6117f). The recorded sla:error_ratio:rate1h is written from
// 62 minutes ago, every 15 s: 0.05 (50×) until an hour after the first
// sample, then 0.002 (2×). Live's points from 5 to 2 minutes ago are over
// an hour reaching before the data began: dashed, out of the legends,
// whose max burn is 2× and min achievement 99.8 % (before: 50× and 95 %,
// none dashed).
func TestBrowserSLALivePartialWindows(t *testing.T) {
	ctx := browser(t)
	const name = "t-live-partial"
	st := slaStack(t, sla.Status{Name: name, State: "not_judged", Reason: "coverage"}, 6*time.Hour)
	now := time.Now().Truncate(15 * time.Second)
	first := now.Add(-62 * time.Minute)
	series := slaRatio(name)
	for ts := first; !ts.After(now); ts = ts.Add(15 * time.Second) {
		v := 0.002
		if ts.Before(first.Add(time.Hour)) {
			v = 0.05
		}
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}

	load(t, ctx, st.URL+"/#/sla?range=live")
	row := func(chart string) string { return legendRow(chart, name) }
	if err := poll(ctx, 20*time.Second, row("burn")+` && `+row("achievement")); err != nil {
		t.Fatalf("the SLA charts' legends have no %s row: %v", name, err)
	}
	want := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js'); return [units.x.fmt(2), units.x.fmt(50), units.pct9.fmt(99.8)]; })()`)
	// The dashed hours' max and min, said not judged (t-user15 F5).
	if got := eval[string](t, ctx, row("burn")+`.querySelector('[data-stat="max"]').textContent`); got != want[1]+" not judged" {
		t.Errorf("Live Burn rate legend max %q, want %q (an hour holding less than an hour of data; the whole hours' %q)", got, want[1]+" not judged", want[0])
	}
	if got := eval[string](t, ctx, row("achievement")+`.querySelector('[data-stat="min"]').textContent`); !strings.HasSuffix(got, " not judged") {
		t.Errorf("Live Achievement legend min %q, want the dashed hours', not judged (the whole hours' %q)", got, want[2])
	}
	for _, c := range []string{"burn", "achievement"} {
		// ~180 one-second points from 5 to 2 minutes ago, fewer as the page's now moves on.
		if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="`+c+`"]').dataset.partial)`); n < 100 {
			t.Errorf("the Live %s chart marks %d partial points, want the ~180 whose hour reaches before the data began", c, n)
		}
	}
	// The next refreshes (from the cache: the newest seconds only) keep the marking.
	n0 := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`)
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed) >= `+strconv.Itoa(n0+3)); err != nil {
		t.Fatalf("Live did not refresh: %v", err)
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="burn"]').dataset.partial)`); n < 100 {
		t.Errorf("after 3 more Live refreshes the burn chart marks %d partial points, want ~180", n)
	}
	if got := eval[string](t, ctx, row("burn")+`.querySelector('[data-stat="max"]').textContent`); got != want[1]+" not judged" {
		t.Errorf("after 3 more Live refreshes the Burn rate legend max reads %q, want %q", got, want[1]+" not judged")
	}
	if s := evalInt(t, ctx, `window.gmcLive.stats.partial`); s < 1 {
		t.Errorf("the Live cache fetched no partial interval (stats %v): the marking should not cost Live its incremental fetches", s)
	}
	screenshot(t, ctx, artifacts(t), "sla-partial-live")
}
