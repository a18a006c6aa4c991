package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// TestReloadScrapeConfigs: a reload named scrape_configs as "in force only
// after a restart", so a Prometheus user's usual edit (add a job, drop one,
// SIGHUP) changed nothing. Now, as in Prometheus, an added job scrapes, a
// removed one stops and its series are marked stale, and a job that does
// not load changes nothing.
func TestReloadScrapeConfigs(t *testing.T) {
	target := func(body string) string {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			fmt.Fprintln(w, body)
		}))
		t.Cleanup(ts.Close)
		return strings.TrimPrefix(ts.URL, "http://")
	}
	a, b := target("target_a_value 1"), target("target_b_value 2")
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write := func(jobs string) {
		t.Helper()
		if err := os.WriteFile(file, []byte("scrape_configs:\n"+jobs), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	job := func(name, addr, timeout string) string {
		return fmt.Sprintf("  - {job_name: %s, scrape_interval: 300ms, scrape_timeout: %s, static_configs: [{targets: [%q]}]}\n", name, timeout, addr)
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	write(job("a", a, "250ms"))
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	base := servertest.Ready(t, servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load}))
	// up is the value of up{job=…} now, "" when it has none.
	up := func(job string) string {
		t.Helper()
		return instantValue(t, base, `up{job="`+job+`"}`, time.Time{})
	}
	reload := func(wantCode int, want string) {
		t.Helper()
		code, body := do(t, "POST", base+"/-/reload", "", nil)
		if code != wantCode || !strings.Contains(body, want) {
			t.Fatalf("reload: %d %q, want %d saying %q", code, body, wantCode, want)
		}
	}
	waitFor(t, 15*time.Second, "job a scraped", func() bool { return up("a") == "1" })

	write(job("b", b, "250ms"))
	reload(http.StatusOK, "applied: scrape_configs")
	waitFor(t, 15*time.Second, "job b, added by the reload, scraped", func() bool { return up("b") == "1" })
	waitFor(t, 15*time.Second, "job a, removed by the reload, marked stale", func() bool { return up("a") == "" })
	_, targets := do(t, "GET", base+"/api/v1/targets", "", nil)
	if !strings.Contains(targets, b) || strings.Contains(targets, a) {
		t.Errorf("targets after the reload: %s, want %s only", targets, b)
	}

	// A job Prometheus would not load (timeout over the interval) changes nothing.
	write(job("c", a, "5s"))
	reload(http.StatusInternalServerError, "scrape")
	time.Sleep(time.Second) // three of b's intervals: it would have stopped
	// Still scraped: a sample of up newer than a second (a stopped job's up
	// would keep reading 1 for the lookback).
	if got := instantValue(t, base, `up{job="b"} and on () (time() - timestamp(up{job="b"}) < 1)`, time.Time{}); got != "1" {
		t.Errorf("after a bad reload job b's newest up is %q, want 1 scraped within the last second", got)
	}
	if got := up("c"); got != "" {
		t.Errorf("after a bad reload up{job=\"c\"} is %q, want none", got)
	}
}
