package web_test

import (
	"context"
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

// TestBrowserConfigPendingRestart: after a reload of a gmc.yml that changes
// settings only a restart applies, /system/status said "config on disk
// differs from the running one in: …" and the dashboard said nothing. The
// Overview now says so plainly: which settings, and why each waits for a
// restart; nothing before the change.
func TestBrowserConfigPendingRestart(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write := func(yml string) {
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
	// As startStack: the seeded services stay up for the test's length.
	yml := "server:\n  stale_after: 30m\n  down_after: 1h\n"
	write(yml)
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load})
	servertest.Ready(t, srv)
	st := stackOn(t, srv, 1, false)

	shown := `!document.getElementById('config-pending').hidden`
	loadPage(t, ctx, st.URL+"/#/overview?range=1h")
	if eval[bool](t, ctx, shown) {
		t.Fatalf("a pending restart shown before any change: %q", eval[string](t, ctx, `document.getElementById('config-pending').textContent`))
	}

	write(yml + "query:\n  timeout: 3m\n  max_samples: 20000000\n")
	resp, err := http.Post(st.URL+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d", resp.StatusCode)
	}
	loadPage(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 30*time.Second, shown); err != nil {
		t.Fatalf("the Overview does not say that a restart is needed: %v", err)
	}
	text := eval[string](t, ctx, `document.getElementById('config-pending').textContent`)
	if !strings.Contains(text, "Restart needed: 2 settings in gmc.yml differ from what gmc runs") {
		t.Errorf("notice says %q, want it to say a restart is needed for 2 settings", text)
	}
	got := eval[[]string](t, ctx, `[...document.querySelectorAll('#config-pending li')].map((li) => li.dataset.setting + ' | ' + li.textContent)`)
	if len(got) != 2 {
		t.Fatalf("settings listed: %q, want query.timeout and query.max_samples", got)
	}
	lines := map[string]string{}
	for _, g := range got {
		setting, line, _ := strings.Cut(g, " | ")
		lines[setting] = line
	}
	for _, want := range []string{"query.timeout", "query.max_samples"} {
		// Each with its reason (the engine fixes both when it is built).
		if line := lines[want]; !strings.HasPrefix(line, want+" — ") || len(line) < len(want)+20 {
			t.Errorf("%s: listed as %q, want it with why it needs a restart (listed: %q)", want, line, got)
		}
	}
	screenshot(t, ctx, artifacts(t), "config-pending")
}

// loadPage is load for a stack whose seed ends now (the page then has a
// refresh to show).
func loadPage(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	load(t, ctx, url)
	if err := poll(ctx, 30*time.Second, `document.getElementById('conn').textContent.startsWith('updated ')`); err != nil {
		t.Fatalf("%s: no refresh shown: %v", url, err)
	}
}
