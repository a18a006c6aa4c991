package server_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReloadNeedsRestart: every setting a reload does not apply is named,
// by its path, in the answer (200: the file loaded, as Prometheus's
// /-/reload) and on /system/status until the file and the configuration in
// force agree again; the settings applied beside them are in force (here
// silences.max_silences, applied by a reload now: it named silences as
// needing a restart).
func TestReloadNeedsRestart(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head+"silences: {max_silences: 1}\n")
	silence := func() (int, string) {
		body := fmt.Sprintf(`{"matchers":[{"name":"service","value":"a","isRegex":false}],"endsAt":%q,"createdBy":"ops","comment":"maintenance"}`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		return do(t, "POST", base+"/api/v2/silences", "application/json", []byte(body))
	}
	if code, msg := silence(); code != http.StatusOK {
		t.Fatalf("first silence: %d %s", code, msg)
	}
	if code, msg := silence(); code != http.StatusBadRequest || !strings.Contains(msg, "(limit: 1)") {
		t.Fatalf("second silence over max_silences 1: %d %s", code, msg)
	}

	write(head + `silences: {max_silences: 5}
server: {max_connections: 50, read_timeout: 7s}
storage:
  block_duration: 3h
  downsampling: {tiers: [{resolution: 1m, retention: 90d}]}
query: {max_samples: 1000, max_concurrency: 7}
auth: {allowed_hosts: [gmc.example]}
`)
	body := reload()
	restart := []string{"server.read_timeout", "server.max_connections", "storage.block_duration",
		"storage.downsampling.tiers", "auth.allowed_hosts", "query.max_concurrency", "query.max_samples"}
	if want := "NOT applied, changed but in force only after a restart: " + strings.Join(restart, ", ") + "\n"; !strings.Contains(body, want) {
		t.Errorf("reload answer:\n%s\nwant the line %q", body, want)
	}
	for _, why := range []string{"  query.max_samples: fixed in the PromQL engine when it is built", "  storage.block_duration: the TSDB's block size is fixed when it opens"} {
		if !strings.Contains(body, why) {
			t.Errorf("reload answer:\n%s\nwant it to say why: %q", body, why)
		}
	}
	if _, st := do(t, "GET", base+"/system/status", "", nil); !strings.Contains(st, `"auth.allowed_hosts":"the Host check is built at start"`) {
		t.Errorf("/system/status config.why does not say why auth.allowed_hosts needs a restart: %s", st)
	}
	if !strings.Contains(body, "applied: silences\n") {
		t.Errorf("reload answer %q, want silences applied", body)
	}
	if code, msg := silence(); code != http.StatusOK {
		t.Errorf("second silence after the reload raised max_silences to 5: %d %s", code, msg)
	}
	pending, msg := configStatus(t, base)
	if !slices.Equal(pending, restart) {
		t.Errorf("/system/status config.pending_restart %v, want %v", pending, restart)
	}
	if want := "config on disk differs from the running one in: " + strings.Join(restart, ", ") + " (in force after a restart)"; msg != want {
		t.Errorf("/system/status config.message %q, want %q", msg, want)
	}

	if _, m := do(t, "GET", base+"/metrics", "", nil); !strings.Contains(m, "\ngmc_config_pending_restart_settings 7\n") ||
		!strings.Contains(m, "\ngmc_config_last_reload_successful 1\n") {
		t.Errorf("/metrics after the reload: %q, want 7 settings pending and the reload successful",
			grepLines(m, "gmc_config_"))
	}

	// A reload that fails keeps them pending and says why.
	write(head + "silences: {max_silences: -1}\n")
	if code, body := do(t, "POST", base+"/-/reload", "", nil); code != http.StatusInternalServerError {
		t.Errorf("reload of an invalid file: %d %q, want 500", code, body)
	}
	if pending, _ := configStatus(t, base); !slices.Equal(pending, restart) {
		t.Errorf("/system/status config.pending_restart after a failed reload %v, want %v", pending, restart)
	}
	if _, body := do(t, "GET", base+"/system/status", "", nil); !strings.Contains(body, `"last_reload_error":"reload config: `) {
		t.Errorf("/system/status after a failed reload does not give its error: %s", body)
	}
	if _, m := do(t, "GET", base+"/metrics", "", nil); !strings.Contains(m, "\ngmc_config_last_reload_successful 0\n") {
		t.Errorf("/metrics after a failed reload: %q, want gmc_config_last_reload_successful 0", grepLines(m, "gmc_config_"))
	}
}

// TestReloadWriteTimeout: server.write_timeout is set on each answer
// (routes.go, writeDeadline), so a reload applies it to the requests
// after: a 1ns bound cuts every answer (the reload's own too, which still
// applies), and a reload back to 2m serves again.
func TestReloadWriteTimeout(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head)
	healthy := func() error {
		resp, err := http.Get(base + "/-/healthy")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && string(b) != "gmc is healthy.\n" {
			err = fmt.Errorf("answer %q", b)
		}
		return err
	}
	if err := healthy(); err != nil {
		t.Fatalf("/-/healthy before: %v", err)
	}
	write(head + "server: {write_timeout: 1ns}\n")
	if body := reload(); !strings.Contains(body, "applied: server.write_timeout\n") {
		t.Fatalf("reload answer %q, want server.write_timeout applied", body)
	}
	if err := healthy(); err == nil {
		t.Errorf("/-/healthy answered whole after the reload set write_timeout 1ns")
	}
	http.DefaultClient.CloseIdleConnections()
	write(head + "server: {write_timeout: 2m}\n")
	if resp, err := http.Post(base+"/-/reload", "", nil); err == nil { // its own answer is cut
		resp.Body.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	if err := healthy(); err != nil {
		t.Errorf("/-/healthy after a reload set write_timeout back to 2m: %v", err)
	}
}
