package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// recordQueries makes every document of the tab note, in
// window.__queries, each query request it sends: its kind (query or
// query_range), its parameters, its PromQL, and how many charts of the
// page had been drawn (data-points above 0) when it was sent.
const recordQueries = `(() => {
  const qs = window.__queries = [];
  const f = window.fetch;
  window.fetch = (...a) => {
    const u = new URL(String((a[0] && a[0].url) || a[0]), location.href);
    if (u.pathname.startsWith('/api/v1/query')) {
      const body = a[1] && a[1].body ? new URLSearchParams(String(a[1].body)) : null;
      const drawn = [...document.querySelectorAll('[data-chart]')].filter((c) => Number(c.dataset.points || 0) > 0).length;
      qs.push({kind: u.pathname.slice('/api/v1/'.length), step: u.searchParams.get('step'), time: u.searchParams.get('time'),
        query: u.searchParams.get('query') || (body && body.get('query')) || '', drawn});
    }
    return f(...a);
  };
})();`

type sentQuery struct {
	Kind, Step, Time, Query string
	Drawn                   int
}

// TestBrowserRiskDeskDrawdownRounds: the Risk desk's drawdown tile at 1h
// (a range read every second for its deepest drawdown, rangeDrawdown)
// sends its reads before the page's charts are drawn, and reads no step's
// peak again (sumPeak's third round trip): the peak read every second over
// the whole range is the highest any step's reading again could give.
// The old code sent the drawdown's reads after drawing the five charts
// (~170 ms of script at load 10 before them) and then read up to four
// steps again, one round trip more (7 requests in a 1h load of 50
// services). The tile's figures are the raw data's (risk_fine_test.go).
func TestBrowserRiskDeskDrawdownRounds(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordQueries}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"/#/risk?range=1h", "/#/risk/acct-a?range=1h"} {
		// A new document each time (the recorder is the document's).
		if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		load(t, ctx, st.URL+u)
		qs := eval[[]sentQuery](t, ctx, `window.__queries`)
		var fine, again int
		for _, q := range qs {
			if q.Kind == "query_range" && q.Step == "1" && strings.Contains(q.Query, "gmc_pnl") {
				fine++
				if q.Drawn > 0 {
					t.Errorf("%s: the drawdown's read every second was sent after %d charts were drawn, want before any (with the charts' answers)", u, q.Drawn)
				}
			}
			if q.Kind == "query" && strings.HasPrefix(q.Query, "max_over_time(sum by () (gmc_pnl") {
				again++
			}
		}
		if fine == 0 {
			t.Errorf("%s: no read of the PnL every second among %d queries", u, len(qs))
		}
		if again > 0 {
			t.Errorf("%s: %d steps' peaks read again after the range was read every second, want none", u, again)
		}
		if ex := eval[string](t, ctx, `[...document.querySelectorAll('.kpi[data-exact]')].map((k) => k.dataset.exact).join()`); ex != "true" {
			t.Errorf("%s: drawdown tile data-exact %q, want true", u, ex)
		}
	}
}
