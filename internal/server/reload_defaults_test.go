package server_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// TestReloadDefaultRulesAndDownAfter: a reload applied the rule files,
// thresholds, SLAs and routes but not alerting.default_rules nor
// server.down_after (the silence alerts and their hold were built once at
// start), and answered "configuration (slas) and credentials reloaded"
// whatever it left out. A service silent for a minute under a down_after
// of 1h is held; a reload to 2s pages it (and /system/status says down,
// judged by 2s); a reload to 3s replaces the ServiceSilent group, whose
// alert keeps its active-since, and keeps the default groups that did not
// change; a file that does not parse changes nothing and is answered 500
// naming its line; default_rules turned off resolves the page. Every
// answer names what applied and what changed but needs a restart.
func TestReloadDefaultRulesAndDownAfter(t *testing.T) {
	hookURL, hook := startWebhook(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	// write writes gmc.yml with server's fields, alerting's besides the
	// interval, and more sections.
	write := func(server, alerting, more string) {
		t.Helper()
		yml := fmt.Sprintf(`server: {%s}
alerting: {evaluation_interval: 200ms%s}
notify:
  route: {receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 100ms}
  receivers: [{name: hook, webhook_configs: [{url: %q}]}]
%s`, server, alerting, hookURL, more)
		if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	write("stale_after: 1s, down_after: 1h", "", "")
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	base := servertest.Ready(t, srv)
	reload := func(wantCode int, want ...string) {
		t.Helper()
		code, body := do(t, "POST", base+"/-/reload", "", nil)
		if code != wantCode {
			t.Fatalf("reload: %d %q, want %d", code, body, wantCode)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("reload answered %q, want it to say %q", body, w)
			}
		}
	}
	// silent is ServiceSilent{service="quiet"}'s active-since, "" when
	// it does not fire.
	silent := func() string {
		t.Helper()
		_, body := do(t, "GET", base+"/api/v1/alerts", "", nil)
		var r struct {
			Data struct {
				Alerts []struct {
					Labels   map[string]string `json:"labels"`
					State    string            `json:"state"`
					ActiveAt string            `json:"activeAt"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "ServiceSilent" && a.Labels["service"] == "quiet" && a.State == "firing" {
				return a.ActiveAt
			}
		}
		return ""
	}
	quiet := map[string]string{"alertname": "ServiceSilent", "service": "quiet"}

	// Silent for a minute: held under a down_after of 1h.
	pushAt(t, base, "quiet", time.Now().Add(-time.Minute))
	if s := statusOf(t, base, "", "quiet"); s.State != "unknown" {
		t.Fatalf("under down_after 1h quiet is %q, want unknown (held since the start)", s.State)
	}

	// down_after 2s (and a setting a reload does not apply).
	const storage = "storage: {block_duration: 3h}\n"
	write("stale_after: 1s, down_after: 2s", "", storage)
	reload(http.StatusOK, "applied: server.down_after\n", "NOT applied, changed but in force only after a restart: storage.block_duration\n")
	waitWebhook(t, hook, 20*time.Second, "firing ServiceSilent{service=quiet}", func(m webhookMsg) bool { return hasAlert(m, "firing", quiet) })
	waitFor(t, 10*time.Second, "quiet down", func() bool { return statusOf(t, base, "", "quiet").State == "down" })
	_, body := do(t, "GET", base+"/system/status", "", nil)
	if !strings.Contains(body, `"down_after_seconds":2`) {
		t.Errorf("/system/status after down_after 2s: %s", body)
	}
	if _, body := do(t, "GET", base+"/api/v1/status/config", "", nil); !strings.Contains(body, `down_after: 2s`) {
		t.Errorf("/api/v1/status/config does not show the down_after in force: %s", body)
	}
	since := silent()
	if since == "" {
		t.Fatal("ServiceSilent{service=quiet} notified but not firing")
	}

	// down_after 3s: the silence groups change, the others are kept; the
	// page keeps its active-since. The file as it is (storage unapplied
	// still) is named again.
	write("stale_after: 1s, down_after: 3s", "", storage)
	reload(http.StatusOK, "applied: server.down_after\n", "NOT applied, changed but in force only after a restart: storage.block_duration\n")
	if got := silent(); got != since {
		t.Errorf("ServiceSilent active since %q after down_after changed, %q before", got, since)
	}
	// Kept: the four groups of defaults.yml and the newest-sample recording.
	if l := logs.String(); !strings.Contains(l, `rule_groups_kept=5 rule_groups_replaced="[gmc-service-silent gmc-target-down]" rule_groups_added=[] rule_groups_removed=[]`) {
		t.Errorf("the reload's log does not say the silence groups were replaced and the others kept:\n%s", l)
	}
	reload(http.StatusOK, "applied: nothing changed that a reload applies\n")

	// A file that does not parse changes nothing.
	write("stale_after: 1s, down_after: soon", "", storage)
	reload(http.StatusInternalServerError, "line 1")
	if got := silent(); got != since {
		t.Errorf("ServiceSilent active since %q after a failed reload, %q before", got, since)
	}

	// default_rules off: the page resolves.
	write("stale_after: 1s, down_after: 3s", ", default_rules: false", storage)
	reload(http.StatusOK, "applied: alerting.default_rules\n")
	waitWebhook(t, hook, 20*time.Second, "resolved ServiceSilent{service=quiet}", func(m webhookMsg) bool { return hasAlert(m, "resolved", quiet) })
	if got := silent(); got != "" {
		t.Errorf("ServiceSilent still firing (since %s) with the default rules off", got)
	}
	if _, body := do(t, "GET", base+"/api/v1/rules", "", nil); strings.Contains(body, "gmc-service-silent") {
		t.Errorf("/api/v1/rules still has the default groups: %s", body)
	}
}

// TestReloadEvaluationInterval: alerting.evaluation_interval applied at
// the next start only. A reload from 1h to 2s gives it to the rule file's
// group and the SLA's raw group (the slow group keeps its own minute), a
// firing alert keeps its active-since, and the answer says it applied.
func TestReloadEvaluationInterval(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	write(filepath.Join(dir, "rules.yml"), "groups:\n  - name: g\n    rules:\n      - alert: Up\n        expr: vector(1)\n")
	gmcYML := func(interval string) string {
		return "alerting: {default_rules: false, evaluation_interval: " + interval + ", rule_files: [rules.yml]}\n" + ordersSLA
	}
	write(file, gmcYML("1h"))
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load, Logger: slog.New(slog.DiscardHandler)})
	base := servertest.Ready(t, srv)
	// groups are the rule groups' intervals and the Up alert's active-since.
	groups := func() (map[string]float64, string) {
		t.Helper()
		_, body := do(t, "GET", base+"/api/v1/rules", "", nil)
		var r struct {
			Data struct {
				Groups []struct {
					Name     string  `json:"name"`
					Interval float64 `json:"interval"`
					Rules    []struct {
						Alerts []struct {
							ActiveAt string `json:"activeAt"`
						} `json:"alerts"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		out, up := map[string]float64{}, ""
		for _, g := range r.Data.Groups {
			out[g.Name] = g.Interval
			if g.Name == "g" && len(g.Rules) == 1 && len(g.Rules[0].Alerts) == 1 {
				up = g.Rules[0].Alerts[0].ActiveAt
			}
		}
		return out, up
	}
	var before string
	waitFor(t, 20*time.Second, "Up active", func() bool { _, before = groups(); return before != "" })
	if iv, _ := groups(); iv["g"] != 3600 || iv["sla:orders:raw"] != 3600 || iv["sla:orders:slow"] != 60 {
		t.Fatalf("intervals before the reload: %v", iv)
	}
	write(file, gmcYML("2s"))
	if code, body := do(t, "POST", base+"/-/reload", "", nil); code != http.StatusOK || !strings.Contains(body, "applied: alerting.evaluation_interval\n") {
		t.Fatalf("reload: %d %q", code, body)
	}
	iv, after := groups()
	if iv["g"] != 2 || iv["sla:orders:raw"] != 2 || iv["sla:orders:slow"] != 60 {
		t.Errorf("intervals after the reload to 2s: %v", iv)
	}
	if after != before {
		t.Errorf("Up active since %q after the reload, %q before", after, before)
	}
}
