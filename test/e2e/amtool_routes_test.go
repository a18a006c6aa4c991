package e2e

import (
	"strings"
	"testing"
)

// TestAmtoolRoutesWithEveryChannel: amtool reads /api/v2/status's config
// with Alertmanager's strict loader, and gmc wrote its Slack field
// webhook_url there: `amtool config routes` and `routes test` failed
// whenever a Slack receiver was set ("field webhook_url not found",
// t-user12 F13), though the compatibility table had them working. gmc.yml
// now takes Alertmanager's api_url and still reads the earlier name (used
// here). With a receiver of every channel gmc has, both answer.
func TestAmtoolRoutesWithEveryChannel(t *testing.T) {
	gmc := startGMCNotify(t, `
route:
  receiver: ops
  group_by: [alertname]
  routes: [{receiver: hook, matchers: ['service="x"']}]
receivers:
  - name: ops
    slack_configs: [{webhook_url: "http://127.0.0.1:9/slack", channel: "#ops"}]
    telegram_configs: [{bot_token: abc, chat_id: 42}]
    email_configs: [{to: a@b.c, from: x@y.z, smarthost: "127.0.0.1:25"}]
  - name: hook
    webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
`)
	out, err := amtool(t, gmc.URL(), "config", "routes")
	if err != nil || !strings.Contains(out, "receiver: ops") || !strings.Contains(out, "receiver: hook") {
		t.Fatalf("amtool config routes: %v\n%s", err, out)
	}
	for matcher, want := range map[string]string{"service=x": "hook", "service=y": "ops"} {
		out, err := amtool(t, gmc.URL(), "config", "routes", "test", matcher)
		if err != nil || strings.TrimSpace(out) != want {
			t.Errorf("amtool config routes test %s: %v %q, want %s", matcher, err, out, want)
		}
	}
}
