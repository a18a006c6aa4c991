package web_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAlertsTablesInTheirCards: the Alerts page's tables stay within
// their cards. A History of episodes with long service names and
// notification notes was wider than its card (a user trial's screenshot
// at 1400 px: the Notification column ran past the card's edge and the
// page's); each table now scrolls inside its card. At 1000 px the header's
// range picker ran past the window too; the header now wraps.
func TestBrowserAlertsTablesInTheirCards(t *testing.T) {
	ctx := browser(t)
	base := time.Now()
	ts := func(d time.Duration) string { return base.Add(-d).UTC().Format(time.RFC3339Nano) }
	var eps string
	for i := range 6 {
		svc := fmt.Sprintf("strategy-mean-reversion-%d-eu-west", i)
		if i > 0 {
			eps += ","
		}
		eps += fmt.Sprintf(`{"alertname":"ServiceLatencyHigh","service":%q,"severity":"page","group":"g","labels":{"alertname":"ServiceLatencyHigh","service":%q,"severity":"page"},
		  "state":"resolved","active_at":%q,"fired_at":%q,"resolved_at":%q,"firing_seconds":52,"last_change":%q,"value":"0.004",
		  "notified":false,"inhibited_by":[{"alertname":"ServiceLatencyHigh","service":"matching-engine"}]}`,
			svc, svc, ts(10*time.Minute), ts(9*time.Minute), ts(8*time.Minute), ts(8*time.Minute))
	}
	hist := `{"status":"success","data":{"episodes":[` + eps + `]}}`
	firing := fmt.Sprintf(`{"status":"success","data":{"alerts":[
	 {"labels":{"alertname":"SLAErrorBudgetBurn","service":"order-gateway-primary-eu-west","severity":"page","long_window":"1h","short_window":"5m","sla":"order-success-eu-west"},
	  "annotations":{"summary":"SLA order-success (order-gateway, objective 99.99%%) burns its error budget at least 14.4x faster than sustainable over 1h and 5m"},
	  "state":"firing","activeAt":%q,"value":"0.00412"}]}}`, ts(5*time.Minute))
	serve := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		})
	}
	st := startStack(t, 1, false, withHandler("GET /api/v1/alerts", serve(firing)), withHandler("GET /alerts/history", serve(hist)))
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(1000, 900)); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/alerts?range=1h")
	if err := poll(ctx, 20*time.Second, `document.querySelectorAll('tr[data-episode]').length === 6 && document.querySelector('tr[data-alert="SLAErrorBudgetBurn"]')`); err != nil {
		t.Fatalf("the History has not 6 episodes, or Active not the burn: %v", err)
	}
	// Every card holding a table ends where its box does: nothing of it
	// runs past its right edge, nor the page past the window's.
	over := eval[[]string](t, ctx, `[...document.querySelectorAll('.card')].filter((c) => c.querySelector('table')).flatMap((c) => {
		const r = c.getBoundingClientRect();
		const t = c.querySelector('table').parentElement.getBoundingClientRect();
		return t.right > r.right + 0.5 || c.scrollWidth > c.clientWidth ? [c.querySelector('.card-head').textContent + ': table ends at ' + t.right + ', card at ' + r.right] : [];
	}).concat(document.documentElement.scrollWidth > window.innerWidth ? ['page ' + document.documentElement.scrollWidth + ' wide in ' + window.innerWidth + ': ' + [...document.querySelectorAll('body *')].filter((e) => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 4).map((e) => e.tagName + '.' + e.className).join(' ')] : [])`)
	if len(over) > 0 {
		t.Errorf("tables past their cards: %q", over)
	}
	screenshot(t, ctx, artifacts(t), "alerts-width")
}
