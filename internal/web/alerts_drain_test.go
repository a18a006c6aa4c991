package web_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/web"
)

// TestBrowserAlertsBurnDraining: the banner says of a firing burn-rate
// alert whose errors ended when they did and by when its short window
// drains them (d601ef4); the Alerts page's row of the same alert said
// only "firing". Its row now says the banner's words (the drain comes
// with the banner's event stream), another alert's row none, and when
// the errors start again (no drain) the row follows.
func TestBrowserAlertsBurnDraining(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	active, ended := now.Add(-6*time.Minute), now.Add(-2*time.Minute)
	burnLabels := map[string]string{"alertname": "SLAErrorBudgetBurn", "severity": "page", "sla": "order-success", "short_window": "5m", "long_window": "1h"}
	downLabels := map[string]string{"alertname": "TargetDown", "instance": "md:1", "service": "market-data", "severity": "page"}
	alerts := fmt.Sprintf(`{"status":"success","data":{"alerts":[
	 {"labels":{"alertname":"SLAErrorBudgetBurn","severity":"page","sla":"order-success","short_window":"5m","long_window":"1h"},"annotations":{"summary":"SLA order-success burns its error budget"},
	  "state":"firing","activeAt":%q,"value":"14.4"},
	 {"labels":{"alertname":"TargetDown","instance":"md:1","service":"market-data","severity":"page"},"annotations":{"summary":"market-data target md:1 is down"},
	  "state":"firing","activeAt":%q,"value":"0"}]}}`, active.UTC().Format(time.RFC3339Nano), active.UTC().Format(time.RFC3339Nano))
	serve := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		})
	}
	st := startStack(t, 1, false, withHandler("GET /api/v1/alerts", serve(alerts)))
	burn := func(d *web.Drain) web.Alert {
		return web.Alert{Name: "SLAErrorBudgetBurn", Severity: "page", State: "firing", ActiveAt: &active, Drain: d,
			Summary: "SLA order-success burns its error budget", Labels: burnLabels}
	}
	down := web.Alert{Name: "TargetDown", Severity: "page", Service: "market-data", State: "firing", ActiveAt: &active,
		Summary: "market-data target md:1 is down", Labels: downLabels}
	st.alerts.Store(&[]web.Alert{burn(&web.Drain{ErrorsEnded: ended, Clears: ended.Add(5 * time.Minute), Window: "5m"}), down})
	load(t, ctx, st.URL+"/#/alerts?range=1h")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('tr[data-alert="SLAErrorBudgetBurn"] [data-col="drain"]') && !!document.querySelector('tr[data-alert="TargetDown"]')`); err != nil {
		t.Fatalf("the Alerts page's SLAErrorBudgetBurn row says nothing of its drain (%q): %v",
			eval[string](t, ctx, `document.querySelector('tr[data-alert="SLAErrorBudgetBurn"]')?.textContent || ''`), err)
	}
	clock := func(at time.Time) string {
		return eval[string](t, ctx, fmt.Sprintf(`(() => { const d = new Date(%d); return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':'); })()`, at.UnixMilli()))
	}
	row := func(name string) string {
		return eval[string](t, ctx, `document.querySelector('tr[data-alert="`+name+`"]').textContent`)
	}
	want := "errors ended " + clock(ended) + "; clears as the 5m window drains (by ~" + clock(ended.Add(5*time.Minute).Add(time.Second-time.Nanosecond).Truncate(time.Second)) + ")" // the whole second after, as the burn page (trial 31 F2)
	if got := row("SLAErrorBudgetBurn"); !strings.Contains(got, want) {
		t.Errorf("the SLAErrorBudgetBurn row reads %q, want %q", got, want)
	}
	if got := row("TargetDown"); strings.Contains(got, "drain") {
		t.Errorf("the TargetDown row is said to drain: %q", got)
	}
	screenshot(t, ctx, artifacts(t), "alerts-burn-draining")
	// Errors again: no drain, and the row says none.
	st.alerts.Store(&[]web.Alert{burn(nil), down})
	if err := poll(ctx, 10*time.Second, `!document.querySelector('tr[data-alert="SLAErrorBudgetBurn"] [data-col="drain"]')`); err != nil {
		t.Errorf("the SLAErrorBudgetBurn row still says it drains after its drain ended (%q): %v", row("SLAErrorBudgetBurn"), err)
	}
}
