package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestHistoryNotified: an alert inhibited its whole life never pages, and
// its resolved episode in /alerts/history says so (suppressed, inhibited
// by which alert, never notified); the alert that inhibited it paged, and
// its episode says notified. Before, both read alike, resolved with their
// fired-at times (t-user17 F5: 4 of the demo's 5 latency alerts never
// paged, and the History could not tell which). The engine's episode also
// says when its receiver was told it resolved (resolved_notified_at, from
// the flush that delivered the resolve; t-user17b F3: the History said
// only "notified at" the firing), the gateway's none.
func TestHistoryNotified(t *testing.T) {
	hookURL, got := startWebhook(t)
	yml := `
alerting:
  evaluation_interval: 1h
  default_rules: false
  thresholds:
    - {name: EngineLatencyHigh, metric: latency_us, op: ">", value: 1000, service: matching-engine, severity: page}
    - {name: GatewayLatencyHigh, metric: latency_us, op: ">", value: 1000, service: order-gateway, severity: page}
` + webhookNotify(hookURL) + `  inhibit_rules:
    - source_matchers: ['alertname="EngineLatencyHigh"']
      target_matchers: ['alertname="GatewayLatencyHigh"']
`
	cfg, err := config.Load([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t, cfg)
	ts := time.Now().Add(-10 * time.Second)
	push := func(svc string, v float64) {
		t.Helper()
		ts = ts.Add(time.Millisecond)
		body := fmt.Sprintf(`{"service":%q,"instance":"i-1","timestamp":%.3f,"metrics":{"latency_us":%g}}`,
			svc, float64(ts.UnixMilli())/1000, v)
		if code, resp := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code != http.StatusNoContent {
			t.Fatalf("push: %d %s", code, resp)
		}
	}
	type episode struct {
		Alertname  string     `json:"alertname"`
		State      string     `json:"state"`
		FiredAt    *time.Time `json:"fired_at"`
		ResolvedAt *time.Time `json:"resolved_at"`
		Notify     *struct {
			NotifiedAt         *time.Time          `json:"notified_at"`
			ResolvedNotifiedAt *time.Time          `json:"resolved_notified_at"`
			Unmuted            bool                `json:"unmuted"`
			InhibitedBy        []map[string]string `json:"inhibited_by"`
			SilencedBy         []json.RawMessage   `json:"silenced_by"`
		} `json:"notify"`
	}
	history := func() map[string]episode {
		t.Helper()
		code, body := do(t, "GET", base+"/alerts/history", "", nil)
		if code != http.StatusOK {
			t.Fatalf("/alerts/history = %d %s", code, body)
		}
		var r struct {
			Data struct {
				Episodes []episode `json:"episodes"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("/alerts/history: %v: %s", err, body)
		}
		out := map[string]episode{}
		for _, e := range r.Data.Episodes {
			out[e.Alertname] = e
		}
		return out
	}

	push("matching-engine", 300)
	push("order-gateway", 300)
	push("matching-engine", 2500)
	m := waitWebhook(t, got, 10*time.Second, "engine firing", func(m webhookMsg) bool { return m.Status == "firing" })
	if len(m.Alerts) != 1 || m.Alerts[0].Labels["alertname"] != "EngineLatencyHigh" {
		t.Fatalf("firing notification = %+v", m)
	}
	push("order-gateway", 2500)
	// The gateway's alert fires, inhibited: wait until a flush of its
	// group has seen it so.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if e := history()["GatewayLatencyHigh"]; e.FiredAt != nil && e.Notify != nil && len(e.Notify.InhibitedBy) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flush saw GatewayLatencyHigh firing within 10s: %+v", history())
		}
		time.Sleep(20 * time.Millisecond)
	}
	push("order-gateway", 250)
	push("matching-engine", 250)
	waitWebhook(t, got, 10*time.Second, "engine resolved", func(m webhookMsg) bool { return m.Status == "resolved" })
	resolveHeard := time.Now()
	deadline = time.Now().Add(10 * time.Second)
	for {
		h := history()
		if e := h["EngineLatencyHigh"]; h["GatewayLatencyHigh"].State == "resolved" && e.State == "resolved" && e.Notify != nil && e.Notify.ResolvedNotifiedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("episodes not resolved, or the engine's resolve notification not recorded, within 10s: %+v", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select { // the receiver never heard of the gateway's alert
	case m := <-got:
		t.Errorf("unexpected notification %+v", m)
	default:
	}

	h := history()
	gw, eng := h["GatewayLatencyHigh"], h["EngineLatencyHigh"]
	if n := gw.Notify; n == nil || n.NotifiedAt != nil || n.Unmuted || len(n.SilencedBy) != 0 || len(n.InhibitedBy) != 1 ||
		n.InhibitedBy[0]["alertname"] != "EngineLatencyHigh" || n.InhibitedBy[0]["service"] != "matching-engine" {
		t.Errorf("GatewayLatencyHigh's episode: notify = %+v, want inhibited by EngineLatencyHigh · matching-engine throughout, never notified", n)
	}
	if n := eng.Notify; n == nil || n.NotifiedAt == nil || !n.Unmuted || len(n.InhibitedBy) != 0 || len(n.SilencedBy) != 0 {
		t.Errorf("EngineLatencyHigh's episode: notify = %+v, want notified, never muted", n)
	}
	if n := gw.Notify; n != nil && n.ResolvedNotifiedAt != nil {
		t.Errorf("GatewayLatencyHigh's episode: resolved_notified_at %v, want none (its receiver never heard of it)", n.ResolvedNotifiedAt)
	}
	// Told of the resolve at a flush after it resolved, before the
	// webhook had it.
	if n := eng.Notify; n != nil && n.ResolvedNotifiedAt != nil && (eng.ResolvedAt == nil || n.ResolvedNotifiedAt.Before(*eng.ResolvedAt) || n.ResolvedNotifiedAt.After(resolveHeard)) {
		t.Errorf("EngineLatencyHigh's episode: resolved at %v, resolved_notified_at %v; want a time between it and the webhook's receipt %v", eng.ResolvedAt, n.ResolvedNotifiedAt, resolveHeard)
	}
}
