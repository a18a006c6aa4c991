package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// recordChartsAtDrawn makes every document of the tab note, when its page's
// first refresh completes (#page's data-refreshed reaches 1: where
// bench/dashboard's load ends), each chart's place and whether its plot
// was made then, in window.__chartsAtDrawn.
const recordChartsAtDrawn = `(() => {
  new MutationObserver((ms, mo) => {
    const p = document.getElementById('page');
    if (!p || Number(p.dataset.refreshed || 0) < 1) return;
    mo.disconnect();
    const vh = window.innerHeight;
    window.__chartsAtDrawn = [...document.querySelectorAll('[data-chart]')].map((el) => {
      const r = el.getBoundingClientRect();
      const stats = document.querySelector('[data-stats="' + el.dataset.chart + '"]');
      return {id: el.dataset.chart, top: r.top, bottom: r.bottom, vh, made: !!(el.chart && el.chart._u), points: Number(el.dataset.points),
        canvas: !!el.querySelector('canvas'), rows: stats ? stats.querySelectorAll('tr[data-series]').length : -1};
    });
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-refreshed']});
})();`

type chartAtDrawn struct {
	ID     string  `json:"id"`
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
	VH     float64 `json:"vh"`
	Made   bool    `json:"made"`
	Points int     `json:"points"`
	Canvas bool    `json:"canvas"`
	Rows   int     `json:"rows"`
}

// TestBrowserDrawnOnScreen guards what bench/dashboard times as a page's
// load (navigation start → its first completed refresh, "drawn"): when the
// refresh completes, every chart on the screen has its plot (chart.js Lazy
// leaves only charts off the screen for later), and every chart's legend
// is written with the page; the charts below are made within seconds,
// unread and unscrolled. It passes on the old dist too: it pins the
// meaning of "drawn" for any later change that defers drawing (a chart on
// the screen left for after the refresh would make the load figure end
// before the user sees it).
func TestBrowserDrawnOnScreen(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordChartsAtDrawn}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"host/host-1?range=1h", "service/" + webtest.Native + "?range=1h", "overview?range=1h"} {
		t.Run(p, func(t *testing.T) {
			// A new document each time (a hash change alone does not run the recorder).
			if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
				t.Fatal(err)
			}
			load(t, ctx, st.URL+"/#/"+p)
			if err := poll(ctx, 10*time.Second, `!!window.__chartsAtDrawn`); err != nil {
				t.Fatalf("no charts recorded at drawn: %v", err)
			}
			at := eval[[]chartAtDrawn](t, ctx, `window.__chartsAtDrawn`)
			on, below := 0, 0
			var early []string
			for _, c := range at {
				switch {
				case c.Bottom > 0 && c.Top < c.VH:
					on++
					if !c.Made || !c.Canvas {
						t.Errorf("%s: chart %s on the screen (y %.0f–%.0f of %.0f) not drawn when the page was (made %v, canvas %v)", p, c.ID, c.Top, c.Bottom, c.VH, c.Made, c.Canvas)
					}
				case c.Top >= c.VH:
					below++
					if c.Made {
						early = append(early, fmt.Sprintf("%s at y %.0f", c.ID, c.Top))
					}
				}
				// (A chart without data has no legend rows; the heatmap has no legend table.)
				if c.Points > 0 && c.Rows == 0 {
					t.Errorf("%s: chart %s had %d legend rows when the page was drawn, want its legend written with the page", p, c.ID, c.Rows)
				}
			}
			if on == 0 {
				t.Fatalf("%s: no chart on the screen at drawn: %+v", p, at)
			}
			// Every chart given data is made soon after, unread and unscrolled.
			if err := poll(ctx, 10*time.Second, `[...document.querySelectorAll('[data-chart]')].every((el) => el.chart && !el.chart.pending && (!el.chart._u || el.querySelector('canvas')))`); err != nil {
				t.Errorf("%s: charts still not made 10 s after the page was drawn: %v", p,
					eval[[]string](t, ctx, `[...document.querySelectorAll('[data-chart]')].filter((el) => el.chart.pending).map((el) => el.dataset.chart)`))
			}
			if n := evalInt(t, ctx, `[...document.querySelectorAll('[data-chart]')].filter((el) => Number(el.dataset.points) > 0 && !el.chart._u).length`); n > 0 {
				t.Errorf("%s: %d charts with data have no plot 10 s after the page was drawn", p, n)
			}
			t.Logf("%s: %d charts on the screen, %d below (%d of them made by drawn: %v), %d in all", p, on, below, len(early), early, len(at))
		})
	}
}

// recordSparksAtDrawn makes every document of the tab note, when its page's
// first refresh completes, each table row's sparkline cells: their places
// and whether their lines were drawn then, in window.__sparksAtDrawn.
const recordSparksAtDrawn = `(() => {
  new MutationObserver((ms, mo) => {
    const p = document.getElementById('page');
    if (!p || Number(p.dataset.refreshed || 0) < 1) return;
    mo.disconnect();
    const vh = window.innerHeight;
    window.__sparksAtDrawn = [...document.querySelectorAll('tr[data-service]')].map((tr) => {
      const r = tr.getBoundingClientRect();
      return {id: tr.dataset.service, top: r.top, bottom: r.bottom, vh, lines: tr.querySelectorAll('svg.spark').length};
    });
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-refreshed']});
})();`

type rowAtDrawn struct {
	ID     string  `json:"id"`
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
	VH     float64 `json:"vh"`
	Lines  int     `json:"lines"`
}

// TestBrowserSparklinesOnScreenAtDrawn: the Overview of 50 services draws
// the sparklines of the rows on the screen with the page (each row's two,
// when the page's first refresh completes: bench/dashboard's "drawn") and
// leaves those of the rows further down for later (chart.js Sparks: it
// drew all 100 with the page, ~12 rows of them on a 1300 px screen); those
// are drawn soon after, unread and unscrolled. The old dist fails it:
// every row had its lines at drawn.
func TestBrowserSparklinesOnScreenAtDrawn(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := browser(t)
	st := startStack(t, 50, false)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordSparksAtDrawn}); err != nil {
		t.Fatal(err)
	}
	// A screen tall enough for some rows below the charts (at 1440 × 857
	// the table begins below the screen).
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(1440, 1300)); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/overview?range=1h")
	if err := poll(ctx, 10*time.Second, `!!window.__sparksAtDrawn`); err != nil {
		t.Fatalf("no rows recorded at drawn: %v", err)
	}
	at := eval[[]rowAtDrawn](t, ctx, `window.__sparksAtDrawn`)
	if len(at) != 50 {
		t.Fatalf("%d service rows at drawn, want 50", len(at))
	}
	on, later := 0, 0
	for _, r := range at {
		switch {
		case r.Bottom > 0 && r.Top < r.VH:
			on++
			if r.Lines != 2 {
				t.Errorf("row %s on the screen (y %.0f–%.0f of %.0f) had %d sparklines when the page was drawn, want both", r.ID, r.Top, r.Bottom, r.VH, r.Lines)
			}
		case r.Lines == 0:
			later++
		}
	}
	if on == 0 {
		t.Fatalf("no service row on the screen at drawn: %+v", at)
	}
	if later == 0 {
		t.Errorf("every one of the %d rows below the screen had its sparklines at drawn, want them left for later (%d rows on the screen)", len(at)-on, on)
	}
	// The rest come soon after, unread and unscrolled.
	if err := poll(ctx, 10*time.Second, `document.querySelectorAll('tr[data-service] svg.spark').length === 100 && !document.querySelector('tr[data-service] .spark-wait')`); err != nil {
		t.Errorf("sparklines 10 s after the page was drawn: %d, want 100: %v", evalInt(t, ctx, `document.querySelectorAll('tr[data-service] svg.spark').length`), err)
	}
	t.Logf("%d rows on the screen at drawn, %d of the rows below left for later", on, later)
}
