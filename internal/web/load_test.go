package web_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The tests of this file guard the load-time shortcuts of issue 13's
// "load to charts drawn" budget (charts made when they come near the
// screen) and what another one would risk: rows and legends built as
// markup strings (util.hs) were tried and dropped in 88580ba, slower than
// the DOM calls; util.h makes elements.

// TestBrowserLabelsAreText: a service name is any label value, so one
// holding markup must read as text in the Overview's rows, their
// attributes and the charts' legends, and run nothing.
func TestBrowserLabelsAreText(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	evil := `x"><img src=x onerror="window.__xss=1">&amp;'<b>`
	push := func(n int) {
		b, err := json.Marshal(map[string]any{"service": evil, "labels": map[string]string{"result": "success"}, "metrics": map[string]int{"gmc_orders_total": n}})
		if err != nil {
			t.Fatal(err)
		}
		jsonPush(t, st, string(b))
	}
	// Two pushes a little apart: a rate, so the service has a line and a
	// legend row on the Orders chart.
	push(10)
	time.Sleep(1500 * time.Millisecond)
	push(40)
	load(t, ctx, st.URL+"/#/overview?range=15m")
	q := jsString(evil)
	row := `[...document.querySelectorAll('tr[data-service]')].find(r => r.dataset.service === ` + q + `)`
	if err := poll(ctx, 20*time.Second, `!!(`+row+`)`); err != nil {
		t.Fatalf("no row for the service named %q: %v", evil, err)
	}
	if got := eval[string](t, ctx, `(`+row+`).querySelector('a').textContent`); got != evil {
		t.Errorf("row link reads %q, want the name as text %q", got, evil)
	}
	legend := `[...document.querySelectorAll('[data-stats="tps"] tr[data-series]')].find(r => r.dataset.series === ` + q + `)`
	if err := poll(ctx, 20*time.Second, `!!(`+legend+`)`); err != nil {
		t.Errorf("no Orders legend row for the service: %v", err)
	} else if got := eval[string](t, ctx, `(`+legend+`).cells[0].textContent`); got != evil {
		t.Errorf("legend reads %q, want %q", got, evil)
	}
	// Give an injected image's error handler time to run.
	time.Sleep(500 * time.Millisecond)
	if n := evalInt(t, ctx, `document.querySelectorAll('#page img, #page b').length`); n != 0 {
		t.Errorf("%d elements made from a service name's markup", n)
	}
	if eval[bool](t, ctx, `window.__xss === 1`) {
		t.Error("a service name's markup ran")
	}
}

// TestBrowserChartsOffScreenDrawn: charts far below the screen are made
// when the browser is next idle after the page is drawn (or when they come
// near, or are read): every chart of the host page (20, most below the
// fold at 1440x900) is drawn within seconds without scrolling, so a
// screenshot or a print shows them all, and one made later draws what the
// others do.
func TestBrowserChartsOffScreenDrawn(t *testing.T) {
	ctx := browser(t)
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatal(err)
	}
	st := startStack(t, 3, false)
	load(t, ctx, st.URL+"/#/host/host-1?range=1h")
	shown := `[...document.querySelectorAll('[data-chart]')].filter(e => e.offsetParent && e.chart)`
	if n := evalInt(t, ctx, shown+`.length`); n < 10 {
		t.Fatalf("%d charts shown on the host page, want the page's (≥ 10)", n)
	}
	// _u is the plot itself (reading u would make it).
	if err := poll(ctx, 20*time.Second, shown+`.every(e => !!e.chart._u)`); err != nil {
		missing := eval[[]string](t, ctx, shown+`.filter(e => !e.chart._u).map(e => e.dataset.chart)`)
		t.Fatalf("charts not drawn without scrolling: %v (%v)", missing, err)
	}
	// A chart made later drew its points: its canvas holds the data it was
	// given (read through u: a plot off the screen draws a later refresh's
	// data only when wanted). Points over partial windows (the first of a
	// series begun within a window of the range's start) are drawn in a
	// dashed series of their own, which repeats its neighbours to meet the
	// solid line: counted once, in data-points, and in data-partial.
	bad := eval[[]string](t, ctx, shown+`.filter(e => !e.classList.contains('heatmap') && Number(e.dataset.points) > 0 && e.chart.u.data.slice(1).filter((_, i) => !String(e.chart.u.series[i + 1].label).endsWith('(partial window)')).flat().filter(v => v != null).length !== Number(e.dataset.points) - Number(e.dataset.partial || 0)).map(e => e.dataset.chart)`)
	if len(bad) > 0 {
		t.Errorf("charts whose plot holds other points than they counted: %v", bad)
	}
}
