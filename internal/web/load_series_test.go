package web_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// recordEndpointSeries makes every document of the tab note the service of
// each series with an endpoint label in gmc's query answers (on the
// Overview only its requests' series carry one) in window.__endpointSeries.
const recordEndpointSeries = `(() => {
  const seen = window.__endpointSeries = [];
  const f = window.fetch;
  window.fetch = async (...a) => {
    const r = await f(...a);
    const u = String((a[0] && a[0].url) || a[0]);
    if (u.includes('/api/v1/query')) {
      r.clone().json().then((b) => {
        for (const s of (b.data && b.data.result) || []) if (s.metric && s.metric.endpoint != null) seen.push(s.metric.service);
      }, () => {});
    }
    return r;
  };
})();`

// TestBrowserOverviewRequestsOfOrderlessServicesOnly: the Overview shows
// a service that counts orders by its orders and only one that counts none
// (a feed handler) by its requests in their own unit, so its requests
// queries (range and now) answer the series of the services without orders
// only: the order services' request series were 78 of the 217 series of
// the Live Overview's first answer with 50 services (0.46 of 1.84 MB,
// parsed and aligned on every load for nothing).
func TestBrowserOverviewRequestsOfOrderlessServicesOnly(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 10, false)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordEndpointSeries}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"1h", "live"} {
		if r != "1h" {
			// The next range in the same document (a hash change): its own record.
			eval[any](t, ctx, `window.__endpointSeries.length = 0`)
		}
		load(t, ctx, st.URL+"/#/overview?range="+r)
		// The recorder reads its copy of an answer after the page's own.
		if err := poll(ctx, 10*time.Second, `window.__endpointSeries.length > 0`); err != nil {
			t.Fatalf("range %s: no series with an endpoint answered (the feed handlers' messages): %v", r, err)
		}
		var seen []string
		for _, s := range eval[[]string](t, ctx, `[...new Set(window.__endpointSeries)]`) {
			if !webtest.IsFeed(s) {
				seen = append(seen, s)
			}
		}
		slices.Sort(seen)
		if len(seen) > 0 {
			t.Errorf("range %s: the Overview asked for the requests of %d services that count orders (%v): it shows their orders", r, len(seen), seen)
		}
		// A feed handler's rate is still in its own unit.
		if err := poll(ctx, 10*time.Second, `(document.querySelector('tr[data-service="svc-04"] [data-col="rate"]') || {}).textContent?.includes('messages/s')`); err != nil {
			t.Errorf("range %s: svc-04's rate %q, want messages/s", r, eval[string](t, ctx, `(document.querySelector('tr[data-service="svc-04"] [data-col="rate"]') || {}).textContent || ''`))
		}
		// An order service's is in orders.
		if txt := eval[string](t, ctx, `document.querySelector('tr[data-service="matching-engine"] [data-col="rate"]').textContent`); !strings.Contains(txt, "orders/s") {
			t.Errorf("range %s: matching-engine's rate %q, want orders/s", r, txt)
		}
	}
}
