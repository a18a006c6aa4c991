package server_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// TestReloadRuleFiles: POST /-/reload applies the rule files (read again)
// and the thresholds, as Prometheus's reload does: an unchanged group's
// firing alert keeps its active-since, a changed group's alert with the
// same name and labels keeps it too (its state is copied), an added group
// and an added threshold run, a removed group's alert ends, and a rule
// file that does not load changes nothing and is answered 500 naming it.
func TestReloadRuleFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	rulesFile := filepath.Join(dir, "rules.yml")
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
	head := "alerting:\n  default_rules: false\n  evaluation_interval: 1s\n  rule_files: [rules.yml]\n"
	group := func(name, alert, expr string) string {
		return "  - name: " + name + "\n    rules:\n      - alert: " + alert + "\n        expr: " + expr + "\n"
	}
	write(file, head)
	write(rulesFile, "groups:\n"+group("steady", "Steady", "vector(1)")+group("changing", "Changing", "vector(2)")+group("leaving", "Leaving", "vector(3)"))
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load, Logger: slog.New(slog.DiscardHandler)})
	base := "http://" + srv.Addr()

	// alerts are the firing alerts by name, with their active-since.
	alerts := func() map[string]string {
		t.Helper()
		code, body := do(t, "GET", base+"/api/v1/alerts", "", nil)
		if code != http.StatusOK {
			t.Fatalf("/api/v1/alerts: %d %s", code, body)
		}
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
		out := map[string]string{}
		for _, a := range r.Data.Alerts {
			if a.State == "firing" {
				out[a.Labels["alertname"]] = a.ActiveAt
			}
		}
		return out
	}
	waitFor(t, 20*time.Second, "the three alerts firing", func() bool {
		return len(alerts()) == 3
	})
	before := alerts()
	reload := func() (int, string) {
		t.Helper()
		return do(t, "POST", base+"/-/reload", "", nil)
	}

	// steady unchanged, changing's expression changed (same alert name
	// and labels), leaving removed, arriving added, and a threshold.
	write(rulesFile, "groups:\n"+group("steady", "Steady", "vector(1)")+group("changing", "Changing", "vector(20)")+group("arriving", "Arriving", "vector(4)"))
	write(file, head+`  thresholds:
    - {name: HighLoad, metric: load_percent, op: ">", value: 90}
`)
	body := fmt.Sprintf(`{"service":"svc","instance":"svc-1","timestamp":%.3f,"metrics":{"load_percent":95}}`, float64(time.Now().UnixMilli())/1000)
	if code, b := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code/100 != 2 {
		t.Fatalf("push: %d %s", code, b)
	}
	if code, body := reload(); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "Arriving and HighLoad firing, Leaving gone", func() bool {
		a := alerts()
		_, arriving := a["Arriving"]
		_, high := a["HighLoad"]
		_, leaving := a["Leaving"]
		return arriving && high && !leaving
	})
	after := alerts()
	for _, name := range []string{"Steady", "Changing"} {
		if after[name] != before[name] {
			t.Errorf("%s active since %s after the reload, %s before it", name, after[name], before[name])
		}
	}

	// A rule file that does not parse: 500 naming it; nothing changes.
	write(rulesFile, "groups:\n"+group("steady", "Steady", "vector(1")+group("arriving", "Arriving", "vector(4)"))
	code, body := reload()
	if code != http.StatusInternalServerError || !strings.Contains(body, "rules.yml") {
		t.Fatalf("reload of a bad rule file: %d %s, want 500 naming rules.yml", code, body)
	}
	if a := alerts(); a["Steady"] != before["Steady"] || a["Changing"] == "" || a["Arriving"] == "" {
		t.Errorf("after the failed reload: %v", a)
	}
}

// TestReloadNotifyRoutes: POST /-/reload applies notify:'s routes and
// receivers, as Alertmanager's reload: an alert firing before it reaches
// the webhook its new route names, and the one it reached is not told
// again.
func TestReloadNotifyRoutes(t *testing.T) {
	type hook struct {
		mu   sync.Mutex
		got  []string
		srv  *httptest.Server
		name string
	}
	newHook := func(name string) *hook {
		h := &hook{name: name}
		h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var msg struct {
				Status string `json:"status"`
				Alerts []struct {
					Labels map[string]string `json:"labels"`
				} `json:"alerts"`
			}
			_ = json.NewDecoder(r.Body).Decode(&msg)
			h.mu.Lock()
			for _, a := range msg.Alerts {
				h.got = append(h.got, msg.Status+" "+a.Labels["alertname"])
			}
			h.mu.Unlock()
		}))
		t.Cleanup(h.srv.Close)
		return h
	}
	told := func(h *hook) []string {
		h.mu.Lock()
		defer h.mu.Unlock()
		return append([]string(nil), h.got...)
	}
	first, second := newHook("first"), newHook("second")
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
	gmcYML := func(recv string) string {
		return `alerting:
  default_rules: false
  evaluation_interval: 1s
  rule_files: [rules.yml]
notify:
  route: {receiver: ` + recv + `, group_by: [alertname], group_wait: 0s, group_interval: 1h, repeat_interval: 4h}
  receivers:
    - {name: first, webhook_configs: [{url: "` + first.srv.URL + `"}]}
    - {name: second, webhook_configs: [{url: "` + second.srv.URL + `"}]}
`
	}
	write(filepath.Join(dir, "rules.yml"), "groups:\n  - name: g\n    rules:\n      - alert: Up\n        expr: vector(1)\n")
	write(file, gmcYML("first"))
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load, Logger: slog.New(slog.DiscardHandler)})
	base := "http://" + srv.Addr()
	waitFor(t, 20*time.Second, "the first webhook told of Up", func() bool { return len(told(first)) > 0 })

	write(file, gmcYML("second"))
	if code, body := do(t, "POST", base+"/-/reload", "", nil); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the second webhook told of Up", func() bool { return len(told(second)) > 0 })
	if got := told(second); got[0] != "firing Up" {
		t.Errorf("second webhook told %v", got)
	}
	if got := told(first); len(got) != 1 {
		t.Errorf("first webhook told %v, want once", got)
	}
}
