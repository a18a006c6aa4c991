package web_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestBrowserEpisodeNotified: in the demo a slow matching engine fires
// ServiceLatencyHigh for itself and its clients; only the engine's pages
// (the clients' are inhibited by it). Once resolved, the History listed
// all of them alike (t-user17 F5). Each row now says what notification
// did with it: the engine's "notified", the gateway's "suppressed · never
// notified" and by what, a strategy's muted only at times and notified,
// and an episode no flush saw "—" (not known). The engine's also says when
// its resolve was notified: the row said only the firing's (t-user17b F3).
// The strategy's resolve was not notified: its row says nothing of it.
func TestBrowserEpisodeNotified(t *testing.T) {
	ctx := browser(t)
	base := time.Now()
	ts := func(d time.Duration) string { return base.Add(-d).UTC().Format(time.RFC3339Nano) }
	ep := func(service, notify string) string {
		return fmt.Sprintf(`{"alertname":"ServiceLatencyHigh","service":%q,"severity":"page","group":"g","labels":{"alertname":"ServiceLatencyHigh","service":%q,"severity":"page"},
	  "state":"resolved","active_at":%q,"fired_at":%q,"resolved_at":%q,"firing_seconds":60,"last_change":%q,"value":"0.004"%s}`,
			service, service, ts(3*time.Minute), ts(2*time.Minute), ts(time.Minute), ts(time.Minute), notify)
	}
	engine := `{"alertname":"ServiceLatencyHigh","service":"matching-engine","severity":"page"}`
	hist := `{"status":"success","data":{"episodes":[` +
		ep("matching-engine", fmt.Sprintf(`,"notify":{"notified_at":%q,"unmuted":true,"resolved_notified_at":%q}`, ts(2*time.Minute), ts(55*time.Second))) + `,` +
		ep("order-gateway", `,"notify":{"inhibited_by":[`+engine+`]}`) + `,` +
		ep("strategy-momentum", fmt.Sprintf(`,"notify":{"notified_at":%q,"unmuted":true,"inhibited_by":[%s]}`, ts(90*time.Second), engine)) + `,` +
		ep("strategy-arb", `,"notify":{"silenced_by":[{"id":"s1","created_by":"ann","comment":"ack: on it"}]}`) + `,` +
		ep("market-data", ``) + `]}}`
	st := startStack(t, 1, false, withHandler("GET /alerts/history", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, hist)
	})))
	pageClockStill(t, ctx, base)
	load(t, ctx, st.URL+"/#/alerts?range=1h")
	if err := poll(ctx, 20*time.Second, `document.querySelectorAll('tr[data-episode]').length === 5`); err != nil {
		t.Fatalf("the History has not 5 episodes: %v", err)
	}
	got := eval[map[string][]string](t, ctx, `Object.fromEntries([...document.querySelectorAll('tr[data-episode]')].map((r) => {
		const c = r.querySelector('[data-col="notification"]'), n = c.querySelector('[data-notify]'), w = c.querySelector('[data-col="notify-why"]');
		return [r.dataset.service, [n ? n.dataset.notify : '', c.querySelector('.pill') ? c.querySelector('.pill').textContent : c.textContent, w ? w.textContent : '']];
	}))`)
	clock := func(d time.Duration) string { return base.Add(-d).Format("15:04:05") }
	want := map[string][]string{
		"matching-engine":   {"notified", "notified", "at " + clock(2*time.Minute) + "; resolved notified at " + clock(55*time.Second)},
		"order-gateway":     {"suppressed", "suppressed · never notified", "inhibited by ServiceLatencyHigh · matching-engine"},
		"strategy-momentum": {"notified", "notified", "at " + clock(90*time.Second) + "; muted at times: inhibited by ServiceLatencyHigh · matching-engine"},
		"strategy-arb":      {"suppressed", "suppressed · never notified", "acknowledged by ann: on it"},
		"market-data":       {"unknown", "—", ""},
	}
	for svc, w := range want {
		if g := got[svc]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("the %s row's notification reads %q, want %q", svc, g, w)
		}
	}
	screenshot(t, ctx, artifacts(t), "alerts-history-notified")
}
