package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// recordEarlier makes every document of the tab count in
// window.__earlier the requests asking whether a heatmap's service has
// data before its first column with data (service.js, earlier): where its
// series begin (/api/v1/series_start, with the page's first round), or,
// where that cannot tell, an instant query.
const recordEarlier = `(() => {
  window.__earlier = 0;
  const f = window.fetch;
  window.fetch = (...a) => {
    const u = decodeURIComponent(String((a[0] && a[0].url) || a[0])) + ' ' + decodeURIComponent(String((a[1] && a[1].body) || ''));
    if ((u.includes('/api/v1/query?') && u.includes('count(last_over_time(gmc_order_latency_seconds')) || u.includes('/api/v1/series_start?')) window.__earlier++;
    return f(...a);
  };
})();`

// TestBrowserHeatmapEarlierAskedOnce: a heatmap whose first column with
// data is not its first asks whether the service has data before it (a
// gap) or began there, one round trip after the heatmap's own answer. The
// answer holds while that column does: it was asked again on every
// refresh, on Live every second (five minutes long after a service began
// or came back). A service's latency histogram is written from 2 minutes
// ago to now; its Live page refreshes four times: asked once, and the
// caption still says the columns are before the data began.
func TestBrowserHeatmapEarlierAskedOnce(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	const svc = "new-svc"
	now := time.Now().Truncate(time.Second)
	series := heatHistory(svc, now.Add(-2*time.Minute), now, nil)
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordEarlier}); err != nil {
		t.Fatal(err)
	}

	load(t, ctx, st.URL+"/#/service/"+svc+"?range=live")
	if err := poll(ctx, 20*time.Second, `Number(document.querySelector('[data-chart="heatmap"]')?.dataset.before || 0) > 0`); err != nil {
		t.Fatalf("the Live heatmap marks no columns before the data began (written from 2 minutes ago): %v", err)
	}
	from := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed || 0)`)
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= `+strconv.Itoa(from+4)); err != nil {
		t.Fatalf("the Live page did not refresh four more times: %v", err)
	}
	if n := evalInt(t, ctx, `window.__earlier`); n != 1 {
		t.Errorf("asked %d times whether the service has data before the heatmap's first column with data over %d refreshes, want once (the answer holds for a minute)", n, 5)
	}
	if txt := eval[string](t, ctx, `(document.querySelector('.hm-before:not([hidden])') || {textContent: ''}).textContent`); !strings.Contains(txt, "before the data began") {
		t.Errorf("the caption under the heatmap after the refreshes %q, want the columns said to be before the data began", txt)
	}
}
