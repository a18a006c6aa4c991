package server_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// TestReloadAnswerNamesWhatChanged: the reload's "applied:" line names
// exactly what changed and was put in force. It named "slas" and left out
// the rule file a reload did replace, and named "notify" when only an SLA
// was added, the notify section unchanged (t-user14b F4, F11): the added
// SLA's burn windows changed the inhibit rules gmc derives from the SLAs.
func TestReloadAnswerNamesWhatChanged(t *testing.T) {
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
	head := `alerting:
  default_rules: false
  evaluation_interval: 1h
  rule_files: [rules.yml]
notify:
  route: {receiver: ops, group_wait: 5s}
  receivers:
    - name: ops
      webhook_configs: [{url: "http://127.0.0.1:1/ops"}]
slas:
  - name: orders
    service: me
    objective: %s
    indicator:
      ratio:
        errors: 'app_errors_total{service="me"}'
        total: 'app_requests_total{service="me"}'
`
	hardErrors := `  - name: hard-errors
    service: me
    objective: 99.99
    windows: [1h, 1d]
    indicator:
      ratio:
        errors: 'app_errors_total{service="me"}'
        total: 'app_requests_total{service="me"}'
`
	rule := func(expr string) string {
		return "groups:\n  - name: desk\n    rules:\n      - alert: Late\n        expr: " + expr + "\n"
	}
	write(file, fmt.Sprintf(head, "99"))
	write(rulesFile, rule("vector(30) > 30"))
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load, Logger: slog.New(slog.DiscardHandler)})
	base := servertest.Ready(t, srv)
	reload := func(step, want string) {
		t.Helper()
		code, body := do(t, "POST", base+"/-/reload", "", nil)
		if code != http.StatusOK || body != "configuration and credentials reloaded.\n"+want {
			t.Errorf("%s: reload answered %d %q, want %q", step, code, body, want)
		}
	}

	reload("nothing changed", "applied: nothing changed that a reload applies\n")
	write(rulesFile, rule("vector(30) > 12"))
	reload("the rule file changed", "applied: rule file "+rulesFile+"\n")
	write(file, fmt.Sprintf(head, "99.5"))
	reload("an SLA's objective changed", "applied: slas\n")
	write(file, fmt.Sprintf(head, "99.5")+hardErrors)
	reload("an SLA added", "applied: slas\n")
	write(file, fmt.Sprintf(head, "99.9")+hardErrors)
	write(rulesFile, rule("vector(30) > 10"))
	reload("an SLA and the rule file changed", "applied: slas, rule file "+rulesFile+"\n")
	reload("nothing changed again", "applied: nothing changed that a reload applies\n")
}
