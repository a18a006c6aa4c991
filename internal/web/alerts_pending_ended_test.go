package web_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrowserPendingEndedSaysSo: in the History an episode that went
// pending and cleared without firing read "pending · never fired" and
// "never fired (pending 40s)" two minutes after its pending had ended:
// as if pending still (issue 13, HostCPUHigh in the demo). It now says it
// was pending, how long, and until when; an episode pending now still
// reads "pending", with how long so far.
func TestBrowserPendingEndedSaysSo(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	ts := func(d time.Duration) string { return now.Add(-d).UTC().Format(time.RFC3339Nano) }
	ended := now.Add(-2 * time.Minute)
	hist := fmt.Sprintf(`{"status":"success","data":{"episodes":[
	 {"alertname":"ServiceLatencyHigh","service":"risk-engine","severity":"page","group":"g","labels":{"alertname":"ServiceLatencyHigh","service":"risk-engine","severity":"page"},
	  "state":"pending","active_at":%q,"firing_seconds":0,"last_change":%q,"value":"0.002"},
	 {"alertname":"HostCPUHigh","severity":"warning","group":"g","labels":{"alertname":"HostCPUHigh","instance":"vm","severity":"warning"},
	  "state":"inactive","active_at":%q,"firing_seconds":0,"last_change":%q,"value":"91.2"}]}}`,
		ts(30*time.Second), ts(30*time.Second), ts(2*time.Minute+40*time.Second), ended.UTC().Format(time.RFC3339Nano))
	alerts := fmt.Sprintf(`{"status":"success","data":{"alerts":[
	 {"labels":{"alertname":"ServiceLatencyHigh","service":"risk-engine","severity":"page"},"annotations":{"summary":"risk-engine p99 above 1ms","unit":"seconds"},"state":"pending","activeAt":%q,"value":"0.002"}]}}`, ts(30*time.Second))
	serve := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		})
	}
	st := startStack(t, 1, false, withHandler("GET /alerts/history", serve(hist)), withHandler("GET /api/v1/alerts", serve(alerts)))
	load(t, ctx, st.URL+"/#/alerts?range=1h")
	if err := poll(ctx, 20*time.Second, `document.querySelector('tr[data-episode="inactive"]') && document.querySelector('tr[data-episode="pending"]')`); err != nil {
		t.Fatalf("the History has not both episodes: %v", err)
	}
	row := func(state string) map[string]string {
		return eval[map[string]string](t, ctx, `(() => { const r = document.querySelector('tr[data-episode="`+state+`"]'); const p = r.querySelector('.pill');
			return {pill: p.textContent, title: p.title || '', for: r.querySelector('[data-col="firing-for"]').textContent}; })()`)
	}
	at := eval[string](t, ctx, fmt.Sprintf(`(() => { const d = new Date(%d); return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':'); })()`, ended.UnixMilli()))
	was := row("inactive")
	if was["pill"] != "was pending · never fired" {
		t.Errorf("the ended episode's state reads %q, want \"was pending · never fired\"", was["pill"])
	}
	if !strings.Contains(was["title"], "until ") || !strings.Contains(was["title"], at) {
		t.Errorf("the ended episode's state's title %q does not say it ended at %s", was["title"], at)
	}
	if want := "was pending 40s until " + at + " · never fired"; was["for"] != want {
		t.Errorf("the ended episode's duration reads %q, want %q", was["for"], want)
	}
	// The episode pending now, and the Active table's alert, say pending.
	if p := row("pending"); p["pill"] != "pending" || !strings.HasPrefix(p["for"], "pending ") {
		t.Errorf("the episode pending now reads %q, %q; want pending, pending <how long>", p["pill"], p["for"])
	}
	if got := eval[string](t, ctx, `document.querySelector('tr[data-alert="ServiceLatencyHigh"] [data-col="firing-for"]').textContent`); !strings.HasPrefix(got, "pending ") {
		t.Errorf("the Active table's pending alert reads %q, want pending <how long>", got)
	}
	screenshot(t, ctx, artifacts(t), "alerts-pending-ended")
}
