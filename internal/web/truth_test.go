package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSuppressedAlerts: issue 12's user trial silenced HostCPUHigh
// and saw "1 alert firing" on every page; during a latency incident the
// Alerts page listed five ServiceLatencyHigh as firing where one paged (the
// others inhibited). The page reads /api/v2/alerts (status.state,
// silencedBy, inhibitedBy): silenced and inhibited alerts show as
// suppressed, with by what, and are not counted firing.
func TestBrowserSuppressedAlerts(t *testing.T) {
	ctx := browser(t)
	now := time.Now()
	at := now.Add(-5 * time.Minute).UTC().Format(time.RFC3339Nano)
	v1 := fmt.Sprintf(`{"status":"success","data":{"alerts":[
	 {"labels":{"alertname":"ServiceLatencyHigh","service":"matching-engine","severity":"page"},"annotations":{"summary":"p99 above 1ms"},"state":"firing","activeAt":%[1]q,"value":"2.3e-03"},
	 {"labels":{"alertname":"ServiceLatencyHigh","service":"strat-a","severity":"page"},"annotations":{"summary":"p99 above 1ms"},"state":"firing","activeAt":%[1]q,"value":"2.4e-03"},
	 {"labels":{"alertname":"HostCPUHigh","instance":"vm","severity":"warning"},"annotations":{"summary":"CPU of vm above 90%%"},"state":"firing","activeAt":%[1]q,"value":"9.9e+01"}]}}`, at)
	var silenceID string
	v2 := func() string {
		return fmt.Sprintf(`[
	 {"labels":{"alertname":"ServiceLatencyHigh","service":"matching-engine","severity":"page"},"fingerprint":"aaaa","status":{"state":"active","silencedBy":[],"inhibitedBy":[]}},
	 {"labels":{"service":"strat-a","alertname":"ServiceLatencyHigh","severity":"page"},"fingerprint":"bbbb","status":{"state":"suppressed","silencedBy":[],"inhibitedBy":["aaaa"]}},
	 {"labels":{"alertname":"HostCPUHigh","instance":"vm","severity":"warning"},"fingerprint":"cccc","status":{"state":"suppressed","silencedBy":[%q],"inhibitedBy":[]}}]`, silenceID)
	}
	st := startStack(t, 1, false,
		withHandler("GET /api/v1/alerts", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, v1) })),
		withHandler("GET /api/v2/alerts", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, v2()) })))
	// A real silence of HostCPUHigh, by "user".
	body := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"HostCPUHigh","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"user","comment":"user test"}`,
		now.UTC().Format(time.RFC3339), now.Add(15*time.Minute).UTC().Format(time.RFC3339))
	resp, err := http.Post(st.URL+"/api/v2/silences", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var sil struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&sil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("add silence: %s %v", resp.Status, err)
	}
	resp.Body.Close()
	silenceID = sil.SilenceID

	load(t, ctx, st.URL+"/#/alerts?range=1h")
	if err := poll(ctx, 10*time.Second, `document.querySelectorAll('tr[data-suppressed]').length === 2`); err != nil {
		t.Fatalf("suppressed rows: %v (%d)", err, evalInt(t, ctx, `document.querySelectorAll('tr[data-suppressed]').length`))
	}
	note := eval[string](t, ctx, `[...document.querySelectorAll('.card-note')].map(e => e.textContent).find(x => x.includes('suppressed')) || ''`)
	if !strings.Contains(note, "1 firing · 2 suppressed · 0 pending") {
		t.Errorf("active card says %q, want 1 firing · 2 suppressed · 0 pending", note)
	}
	why := eval[[]string](t, ctx, `[...document.querySelectorAll('tr[data-suppressed] [data-col="suppressed-by"]')].map(e => e.textContent).sort()`)
	if len(why) != 2 || why[0] != "inhibited by ServiceLatencyHigh · matching-engine" || why[1] != "silenced by user: user test" {
		t.Errorf("suppressed by %q, want inhibited by ServiceLatencyHigh · matching-engine and silenced by user: user test", why)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('tr[data-alert]:not([data-suppressed]) .pill-firing').length`); n != 1 {
		t.Errorf("%d rows firing, want 1 (matching-engine)", n)
	}
	screenshot(t, ctx, artifacts(t), "alerts-suppressed")
}

// TestBrowserSLANotJudged: issue 12's user trial saw "SLAS 2 / 2 ok" and
// green OK pills while every window was "not judged" (7 minutes of data).
// /sla's state not_judged (from sla.EvaluateCovered itself) is not counted
// ok on the Overview, and the SLA page says "not judged" with the reason.
func TestBrowserSLANotJudged(t *testing.T) {
	ctx := browser(t)
	slas := webtest.SLAs()
	var sts []sla.Status
	for i, s := range slas {
		s.Normalise()
		ratios := map[string]float64{"5m": 0.0012, "1h": 0.0012, "1d": 0.0012, "7d": 0.0012, "30d": 0.0012} // 12× the budget: not burning (14.4×)
		cov := map[string]float64{}
		if i == 1 { // 7 minutes of data: nothing judged
			for _, w := range s.Windows {
				cov[sla.FormatWindow(time.Duration(w))] = (7 * time.Minute).Seconds() / time.Duration(w).Seconds()
			}
		} else {
			ratios = map[string]float64{"5m": 0.0001, "1h": 0.0001, "1d": 0.0001, "7d": 0.0001, "30d": 0.0001}
		}
		sts = append(sts, s.EvaluateCovered(ratios, cov))
	}
	if sts[1].State != "not_judged" || sts[0].State != "ok" {
		t.Fatalf("fixture states %s, %s; want ok, not_judged", sts[0].State, sts[1].State)
	}
	st := startStack(t, 3, false, withSLAs(t, sts))
	load(t, ctx, st.URL+"/#/overview?range=15m")
	val := eval[string](t, ctx, `document.querySelector('[data-kpi="SLAs"] .kpi-value').textContent`)
	sub := eval[string](t, ctx, `(document.querySelector('[data-kpi="SLAs"] .kpi-sub') || {}).textContent || ''`)
	// Only judged SLAs are counted (TestBrowserSLATileCountsJudged).
	if val != "1 / 1 ok" || sub != "1 not judged: too little data in 30d" {
		t.Errorf("SLAs tile %q / %q, want 1 / 1 ok / 1 not judged: too little data in 30d", val, sub)
	}
	ach := eval[string](t, ctx, `document.querySelector('tr[data-service="`+slas[1].Service+`"] [data-col="sla"]').textContent`)
	if !strings.Contains(ach, "not judged") {
		t.Errorf("overview SLA column %q, want it to say not judged", ach)
	}
	// Not judged is no verdict: its bars are grey, never the green an
	// achievement below its objective got from its fill (t-user3 #5).
	for _, col := range []string{"sla", "budget"} {
		if cls := eval[string](t, ctx, `document.querySelector('tr[data-service="`+slas[1].Service+`"] [data-col="`+col+`"] .bar').className`); cls != "bar bar-none" {
			t.Errorf("overview %s bar of the not-judged SLA has class %q, want bar bar-none", col, cls)
		}
	}
	if cls := eval[string](t, ctx, `document.querySelector('tr[data-service="`+slas[0].Service+`"] [data-col="sla"] .bar').className`); cls != "bar bar-good" {
		t.Errorf("overview SLA bar of the met SLA has class %q, want bar bar-good", cls)
	}
	load(t, ctx, st.URL+"/#/sla?range=1h")
	if err := poll(ctx, 10*time.Second, `document.querySelectorAll('[data-sla="`+slas[1].Name+`"] [data-col="budget"] .bar').length > 0`); err != nil {
		t.Fatalf("SLA page budget bars: %v", err)
	}
	if cls := eval[[]string](t, ctx, `[...document.querySelectorAll('[data-sla="`+slas[1].Name+`"] [data-col="budget"] .bar')].map(e => e.className).filter(c => c !== 'bar bar-none')`); len(cls) > 0 {
		t.Errorf("SLA page budget bars of the not-judged SLA: %q, want all bar bar-none", cls)
	}
	// Burn chips by duration, not by the JSON keys' alphabet (t-user3 #12).
	chips := eval[[]string](t, ctx, `[...document.querySelectorAll('[data-sla="`+slas[1].Name+`"] .burns b')].map(e => e.textContent)`)
	if got := strings.Join(chips, " "); got != "5m 30m 1h 2h 6h 1d 3d" {
		t.Errorf("burn chips %q, want 5m 30m 1h 2h 6h 1d 3d", got)
	}
	pill := eval[string](t, ctx, `document.querySelector('[data-sla="`+slas[1].Name+`"] .pill').textContent`)
	reason := eval[string](t, ctx, `(document.querySelector('[data-sla="`+slas[1].Name+`"] [data-reason]') || {}).textContent || ''`)
	if pill != "not judged" || !strings.Contains(reason, "only 7m of data") {
		t.Errorf("SLA %s pill %q, reason %q; want not judged with its reason", slas[1].Name, pill, reason)
	}
	screenshot(t, ctx, artifacts(t), "sla-not-judged")
}
