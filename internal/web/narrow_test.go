package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserNarrowFits: at 480 px the header's menu ran 61 px past the
// window on every page (its seven links on one line), and on the SLA page
// the legends and the windows' table ran 142 px past it: the page scrolled
// sideways. Now the menu takes a line of its own and fits, the range
// picker wraps (an absolute range adds its dates), the legends' figures
// wrap and the SLA table scrolls within its card, so nothing is wider than
// the window. At 900 and 1440 px the header keeps its rows: brand and menu
// on one line, the range picker beside them at 1440 and under them at 900.
func TestBrowserNarrowFits(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, true)
	now := time.Now().Unix()
	var pages []string
	for _, p := range []string{"overview", "service/matching-engine", "host", "risk", "trends", "sla", "alerts", "benchmarks"} {
		pages = append(pages, p+"?range=15m")
	}
	pages = append(pages, fmt.Sprintf("service/matching-engine?from=%d&to=%d", now-1200, now-300))
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(480, 1000)); err != nil {
		t.Fatal(err)
	}
	// Past the window: the page's width, and the first elements whose
	// right edge is past it (outside the tables that scroll in their cards
	// and the status strip, which clips).
	over := `document.documentElement.scrollWidth > window.innerWidth ? 'page ' + document.documentElement.scrollWidth + ' px wide in ' + window.innerWidth + ': ' +
		[...document.querySelectorAll('body *')].filter((e) => !e.closest('.table-wrap, .status') && e.getBoundingClientRect().right > window.innerWidth + 0.5)
			.slice(0, 4).map((e) => e.tagName + '.' + e.className).join(' ') : ''`
	for _, p := range pages {
		load(t, ctx, st.URL+"/#/"+p)
		if got := eval[string](t, ctx, over); got != "" {
			t.Errorf("at 480 px #/%s: %s", p, got)
		}
		// Every menu link is whole on screen.
		if got := eval[[]string](t, ctx, `[...document.querySelectorAll('#nav a')].filter((a) => a.getBoundingClientRect().right > innerWidth).map((a) => a.textContent)`); len(got) > 0 {
			t.Errorf("at 480 px #/%s the menu's %v run past the window", p, got)
		}
	}
	screenshot(t, ctx, artifacts(t), "narrow-480")

	// The vertical middles of the brand and the menu, and the top of the
	// range picker.
	rows := `(() => { const r = (s) => document.querySelector(s).getBoundingClientRect();
		return [(r('.brand').top + r('.brand').bottom) / 2, (r('#nav').top + r('#nav').bottom) / 2, r('#range').top, r('#nav').bottom].map(Math.round); })()`
	for _, w := range []int64{900, 1440} {
		if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(w, 1000)); err != nil {
			t.Fatal(err)
		}
		load(t, ctx, st.URL+"/#/overview?range=15m")
		if got := eval[string](t, ctx, over); got != "" {
			t.Errorf("at %d px: %s", w, got)
		}
		r := eval[[]int](t, ctx, rows)
		// Brand and menu on one line; the range picker beside them at
		// 1440 px, on the line under them at 900 px.
		if d := r[0] - r[1]; d < -2 || d > 2 || (w == 1440) != (r[2] < r[3]) {
			t.Errorf("at %d px the brand, menu and range picker are at y %v (brand and menu middles, picker top, menu bottom): want brand and menu on one line, the picker %s", w, r,
				map[bool]string{true: "on it", false: "under it"}[w == 1440])
		}
	}
}
