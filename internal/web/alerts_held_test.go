package web_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrowserAlertsHeldByKeepFiringFor: an alert kept firing by its rule's
// keep_firing_for after its condition stopped holding says so, and says
// its value and summary are of before then. The Alerts page showed
// HostCPUHigh FIRING "91.2% — CPU of vm at 91.2%, above 90%" with the
// host's CPU at 45 % for the 5 minutes keep_firing_for held it (t-user23
// F1: /api/v1/alerts gave keepFiringSince, which the page did not read).
// An alert firing on its condition has no such note.
func TestBrowserAlertsHeldByKeepFiringFor(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	ts := func(d time.Duration) string { return now.Add(-d).UTC().Format(time.RFC3339Nano) }
	since := now.Add(-70 * time.Second)
	alerts := fmt.Sprintf(`{"status":"success","data":{"alerts":[
	 {"labels":{"alertname":"HostCPUHigh","instance":"vm","severity":"warning"},"annotations":{"summary":"CPU of vm at 91.2%%, above 90%%","unit":"percent"},
	  "state":"firing","activeAt":%q,"keepFiringSince":%q,"value":"91.18"},
	 {"labels":{"alertname":"TargetDown","instance":"md:1","service":"market-data","severity":"page"},"annotations":{"summary":"market-data target md:1 is down"},
	  "state":"firing","activeAt":%q,"value":"0"}]}}`, ts(4*time.Minute), since.UTC().Format(time.RFC3339Nano), ts(2*time.Minute))
	rules := `{"status":"success","data":{"groups":[{"name":"g","rules":[
	 {"type":"alerting","name":"HostCPUHigh","query":"cpu > 90","duration":60,"keepFiringFor":300,"labels":{},"annotations":{},"alerts":[],"health":"ok"},
	 {"type":"alerting","name":"TargetDown","query":"up == 0","duration":0,"keepFiringFor":0,"labels":{},"annotations":{},"alerts":[],"health":"ok"}]}]}}`
	serve := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		})
	}
	st := startStack(t, 1, false, withHandler("GET /api/v1/alerts", serve(alerts)), withHandler("GET /api/v1/rules", serve(rules)))
	load(t, ctx, st.URL+"/#/alerts?range=1h")
	if err := poll(ctx, 20*time.Second, `document.querySelector('tr[data-alert="HostCPUHigh"]') && document.querySelector('tr[data-alert="TargetDown"]')`); err != nil {
		t.Fatalf("the Active table has not both alerts: %v", err)
	}
	clock := func(at time.Time) string {
		return eval[string](t, ctx, fmt.Sprintf(`(() => { const d = new Date(%d); return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':'); })()`, at.UnixMilli()))
	}
	row := func(name string) map[string]string {
		return eval[map[string]string](t, ctx, `(() => { const r = document.querySelector('tr[data-alert="`+name+`"]'); const c = (k) => { const e = r.querySelector('[data-col="' + k + '"]'); return e ? e.textContent : ''; };
			return {held: r.dataset.held || '', state: c('held'), value: c('value'), summary: c('held-summary')}; })()`)
	}
	cpu := row("HostCPUHigh")
	for _, want := range []struct{ cell, text string }{
		{"state", "held by keep_firing_for 5m"},
		{"state", "has not held since " + clock(since)},
		{"state", "firing until " + clock(since.Add(5*time.Minute))},
		{"value", "before " + clock(since)},
		{"summary", "not the value now"},
	} {
		if !strings.Contains(cpu[want.cell], want.text) {
			t.Errorf("HostCPUHigh's %s cell %q does not say %q", want.cell, cpu[want.cell], want.text)
		}
	}
	if cpu["held"] != "true" {
		t.Errorf("HostCPUHigh's row is not marked held: %q", cpu)
	}
	if down := row("TargetDown"); down["held"] != "" || down["state"] != "" || down["summary"] != "" || strings.Contains(down["value"], "before") {
		t.Errorf("TargetDown, firing on its condition, is said to be held: %q", down)
	}
	screenshot(t, ctx, artifacts(t), "alerts-held")
}
