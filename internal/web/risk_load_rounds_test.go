package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

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
	recordEveryDocument(t, ctx)
	for _, u := range []string{"/#/risk?range=1h", "/#/risk/acct-a?range=1h"} {
		// A new document each time (the recorder is the document's).
		if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		load(t, ctx, st.URL+u)
		var qs []fetchReq
		for _, r := range fetches(t, ctx) {
			if strings.HasPrefix(r.path(), "/api/v1/query") {
				qs = append(qs, r)
			}
		}
		var fine, again int
		for _, q := range qs {
			kind, query := strings.TrimPrefix(q.path(), "/api/v1/"), q.param("query")
			if kind == "query_range" && q.param("step") == "1" && strings.Contains(query, "gmc_pnl") {
				fine++
				if q.Drawn > 0 {
					t.Errorf("%s: the drawdown's read every second was sent after %d charts were drawn, want before any (with the charts' answers)", u, q.Drawn)
				}
			}
			if kind == "query" && strings.HasPrefix(query, "max_over_time(sum by () (gmc_pnl") {
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
