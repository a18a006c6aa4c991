package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// reloadServer runs a gmc server over a gmc.yml holding yml and returns
// its base URL, a function that writes the file anew and one that POSTs
// /-/reload and returns its answer, failing unless it is 200; its data
// dir is dir/data.
func reloadServer(t *testing.T, yml string) (base string, write func(string), reload func() string, dir string) {
	t.Helper()
	dir = t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write = func(yml string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	write(yml)
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	base = servertest.Ready(t, servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load}))
	reload = func() string {
		t.Helper()
		code, body := do(t, "POST", base+"/-/reload", "", nil)
		if code != http.StatusOK {
			t.Fatalf("reload: %d %q", code, body)
		}
		return body
	}
	return base, write, reload, dir
}

// configStatus is /system/status's "config".
func configStatus(t *testing.T, base string) (pending []string, message string) {
	t.Helper()
	code, body := do(t, "GET", base+"/system/status", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/system/status: %d %s", code, body)
	}
	var st struct {
		Config struct {
			PendingRestart []string `json:"pending_restart"`
			Message        string   `json:"message"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st.Config.PendingRestart, st.Config.Message
}

// TestReloadRetention: a reload named storage as "in force only after a
// restart", so a user who edited a per-metric retention rule (issue 17)
// kept the old retention until gmc restarted. Now the rules by matcher,
// each tier's retention and the raw data's apply: a rule that keeps one
// metric's raw samples 2h and its 1m aggregates 1h deletes the older ones
// at once (the other metric keeps all), and the new tier retention is the
// one /system/status reports.
func TestReloadRetention(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head)

	// 5 hours of both metrics, a sample a minute, into the empty head.
	now := time.Now().Truncate(time.Minute)
	var objs []string
	for i := 300; i >= 0; i-- {
		objs = append(objs, fmt.Sprintf(`{"service":"ret","instance":"ret-1","timestamp":%d,"metrics":{"ret_drop":%d,"ret_keep":%d}}`,
			now.Add(-time.Duration(i)*time.Minute).Unix(), i, i))
	}
	if code, resp := do(t, "POST", base+"/api/v1/push", "application/json", []byte("["+strings.Join(objs, ",")+"]")); code != http.StatusNoContent {
		t.Fatalf("push: %d %s", code, resp)
	}
	count := func(q string) int {
		t.Helper()
		n, _ := strconv.Atoi(instantValue(t, base, q, now))
		return n
	}
	if got := count(`count_over_time(ret_drop{__tier__="raw"}[6h])`); got != 301 {
		t.Fatalf("raw samples of ret_drop before the reload: %d, want 301", got)
	}

	const rules = `
  downsampling:
    tiers: [{resolution: 1m, retention: 30d}, {resolution: 10m, retention: 180d}, {resolution: 1h, retention: 2y}]
    retention:
      - match: '{__name__="ret_drop"}'
        keep: {raw: 2h, 1m: 1h}
`
	write(head + "storage:\n  retention: 20d" + rules)
	body := reload()
	if want := "applied: storage.retention, storage.downsampling.tiers, storage.downsampling.retention\n"; !strings.Contains(body, want) || strings.Contains(body, "NOT applied") {
		t.Errorf("reload answer %q: want %q and nothing else", body, want)
	}
	// The raw TSDB drops its blocks past the new retention.
	if _, m := do(t, "GET", base+"/metrics", "", nil); !strings.Contains(m, "prometheus_tsdb_retention_limit_seconds 1.728e+06\n") {
		t.Errorf("/metrics after storage.retention 20d: want prometheus_tsdb_retention_limit_seconds 1.728e+06, got %q",
			grepLines(m, "prometheus_tsdb_retention_limit_seconds"))
	}
	// The job sweeps in a round it starts at once; it aggregates the 1m
	// tier up to its settle time (2m) first.
	waitFor(t, 60*time.Second, "ret_drop's raw samples older than 2h deleted", func() bool {
		return count(`count_over_time(ret_drop{__tier__="raw"}[6h])`) <= 121
	})
	if got := count(`count_over_time(ret_drop{__tier__="raw"}[6h])`); got < 119 {
		t.Errorf("raw samples of ret_drop kept: %d, want the last 2h's (~120)", got)
	}
	if got := count(`count_over_time(ret_keep{__tier__="raw"}[6h])`); got != 301 {
		t.Errorf("raw samples of ret_keep after the reload: %d, want all 301 (no rule)", got)
	}
	waitFor(t, 60*time.Second, "ret_drop's 1m buckets older than 1h deleted", func() bool {
		n := count(`count_over_time(ret_drop{__tier__="1m"}[6h])`)
		return n > 0 && n <= 61
	})
	if got := count(`count_over_time(ret_keep{__tier__="1m"}[6h])`); got < 290 {
		t.Errorf("1m buckets of ret_keep after the reload: %d, want them all (~298: no rule)", got)
	}
	if got := tierStats(t, base)["1m"].Retention; got != "30d" {
		t.Errorf("1m tier's retention on /system/status after the reload: %q, want 30d", got)
	}
	if pending, msg := configStatus(t, base); len(pending) != 0 || msg != "" {
		t.Errorf("/system/status config after an applied reload: %v %q, want nothing pending", pending, msg)
	}

	// A setting a reload does not apply is named in the answer and on
	// /system/status until a reload finds it in force again.
	write(head + "storage:\n  retention: 20d\n  block_duration: 3h" + rules)
	if body := reload(); !strings.Contains(body, "NOT applied, changed but in force only after a restart: storage.block_duration\n") {
		t.Errorf("reload answer after block_duration changed: %q, want it named as needing a restart", body)
	}
	pending, msg := configStatus(t, base)
	if len(pending) != 1 || pending[0] != "storage.block_duration" ||
		msg != "config on disk differs from the running one in: storage.block_duration (in force after a restart)" {
		t.Errorf("/system/status config: %v %q, want storage.block_duration pending", pending, msg)
	}
	write(head + "storage:\n  retention: 20d" + rules)
	reload()
	if pending, _ := configStatus(t, base); len(pending) != 0 {
		t.Errorf("/system/status config after the file is as in force again: %v, want nothing pending", pending)
	}

}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// TestReloadOutOfOrderWindow: storage.out_of_order_window applies on a
// reload (the raw TSDB's, as Prometheus's reload applies
// storage.tsdb.out_of_order_time_window): a sample 30 minutes behind its
// series' newest, refused under a 10m window, is taken after a reload
// widens it to 1h.
func TestReloadOutOfOrderWindow(t *testing.T) {
	head := "alerting: {default_rules: false}\n"
	base, write, reload, _ := reloadServer(t, head+"storage: {out_of_order_window: 10m}\n")
	now := time.Now().Truncate(time.Second)
	push := func(at time.Time, v int) (int, string) {
		return do(t, "POST", base+"/api/v1/push", "application/json",
			[]byte(fmt.Sprintf(`{"service":"ooo","instance":"ooo-1","timestamp":%d,"metrics":{"reload_ooo":%d}}`, at.Unix(), v)))
	}
	if code, body := push(now, 1); code != http.StatusNoContent {
		t.Fatalf("push now: %d %s", code, body)
	}
	if code, body := push(now.Add(-30*time.Minute), 2); code/100 == 2 {
		t.Fatalf("a sample 30m behind under out_of_order_window 10m: %d %s, want it refused", code, body)
	}
	write(head + "storage: {out_of_order_window: 1h}\n")
	if body := reload(); !strings.Contains(body, "applied: storage.out_of_order_window\n") || strings.Contains(body, "NOT applied") {
		t.Fatalf("reload answer %q, want storage.out_of_order_window applied", body)
	}
	if code, body := push(now.Add(-30*time.Minute), 2); code != http.StatusNoContent {
		t.Errorf("a sample 30m behind after the reload widened out_of_order_window to 1h: %d %s, want it taken", code, body)
	}
	if got := instantValue(t, base, `reload_ooo{__tier__="raw"}`, now.Add(-30*time.Minute)); got != "2" {
		t.Errorf("reload_ooo 30m ago after the reload: %q, want 2", got)
	}
}
