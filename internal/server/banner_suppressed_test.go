package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestBannerSuppressedCount: the dashboard's event stream leaves an
// inhibited alert out of the banner's firing alerts, and counts it apart
// as suppressed. The banner said "2 alerts firing" where /api/v1/alerts had
// 6 firing, 4 of them inhibited, with no word of the 4.
func TestBannerSuppressedCount(t *testing.T) {
	hookURL, _ := startWebhook(t)
	cfg, err := config.Load([]byte(`
alerting:
  evaluation_interval: 1h
  default_rules: false
  thresholds:
    - {name: EngineLatencyHigh, metric: latency_us, op: ">", value: 1000, service: matching-engine, severity: page}
    - {name: GatewayLatencyHigh, metric: latency_us, op: ">", value: 1000, service: order-gateway, severity: page}
` + webhookNotify(hookURL) + `  inhibit_rules:
    - source_matchers: ['alertname="EngineLatencyHigh"']
      target_matchers: ['alertname="GatewayLatencyHigh"']
`))
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t, cfg)
	ts := time.Now().Add(-10 * time.Second)
	for _, svc := range []string{"matching-engine", "order-gateway"} {
		ts = ts.Add(time.Millisecond)
		body := fmt.Sprintf(`{"service":%q,"instance":"i-1","timestamp":%.3f,"metrics":{"latency_us":2500}}`, svc, float64(ts.UnixMilli())/1000)
		if code, resp := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code != http.StatusNoContent {
			t.Fatalf("push: %d %s", code, resp)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/ui/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var last string
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: {")
		if !ok {
			continue
		}
		last = "{" + data
		// Both fire; the gateway's is inhibited once the engine's is known.
		if strings.Contains(last, `"suppressed":`) {
			if !strings.Contains(last, `"suppressed":1`) || !strings.Contains(last, `"name":"EngineLatencyHigh"`) || strings.Contains(last, "GatewayLatencyHigh") {
				t.Fatalf("alerts event %s, want EngineLatencyHigh firing and 1 suppressed (GatewayLatencyHigh not listed)", last)
			}
			return
		}
	}
	t.Fatalf("no alerts event counted the inhibited GatewayLatencyHigh as suppressed; last %s (%v)", last, sc.Err())
}
