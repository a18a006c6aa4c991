package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestAgentProcessSeriesDoNotKeepAServiceUp: `gmc agent --process
// SERVICE=…` reports the service's process (gmc_process_*{service}), also
// after the process died (gmc_process_count 0). Those series are the
// agent's report about the service, not samples the service sent: with
// them counted, a stopped service stayed UP on /system/status and the
// dashboard and ServiceSilent never fired (t-user14b F1).
func TestAgentProcessSeriesDoNotKeepAServiceUp(t *testing.T) {
	cfg := config.Default()
	cfg.Alerting.EvaluationInterval = config.Duration(200 * time.Millisecond)
	var c offsetClock
	base, _ := runServerIn(t, cfg, t.TempDir(), c.now)
	agent := func(running float64) {
		t.Helper()
		body := fmt.Sprintf(`{"service":"gw","instance":"host-1","timestamp":%.3f,"metrics":{"gmc_process_count":%g,"gmc_process_threads":1}}`,
			float64(c.now().UnixMilli())/1000, running)
		if code, b := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code/100 != 2 {
			t.Fatalf("agent push: %d %s", code, b)
		}
	}
	pushAt(t, base, "gw", c.now())
	agent(1)
	if s := statusOf(t, base, "", "gw"); s.State != "up" {
		t.Fatalf("while it sends gw is %q, want up", s.State)
	}
	// gw stops; the agent goes on reporting its process, now not running.
	for range 4 {
		c.advance(5 * time.Second)
		agent(0)
	}
	if s := statusOf(t, base, "", "gw"); s.State != "down" {
		t.Errorf("20s after gw's last sample, with the agent reporting its process, gw is %q (%s), want down", s.State, s.Reason)
	}
	waitFor(t, time.Minute, "ServiceSilent for gw", func() bool {
		agent(0)
		_, body := do(t, "GET", base+"/api/v1/alerts", "", nil)
		return strings.Contains(body, `"alertname":"ServiceSilent"`) && strings.Contains(body, `"service":"gw"`) &&
			strings.Contains(body, `"state":"firing"`)
	})
}
