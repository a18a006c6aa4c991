package server_test

import (
	"fmt"
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

// TestReloadLimits: a reload named limits as "in force only after a
// restart", so raising a cardinality limit that refused a service's new
// series meant restarting the TSDB (replaying its WAL). Now a reload puts
// the new limits in force for the requests and series that come after:
// the series refused before are taken, a lowered body bound refuses, and
// the series the head holds stay.
func TestReloadLimits(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write := func(limits string) {
		t.Helper()
		if err := os.WriteFile(file, []byte("limits:\n"+limits), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	write("  max_series_per_metric: 2\n")
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	base := servertest.Ready(t, servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load}))
	push := func(series ...int) (int, string) {
		t.Helper()
		var b strings.Builder
		for _, i := range series {
			fmt.Fprintf(&b, "reload_limit_m{i=\"%d\"} %d\n", i, i)
		}
		return do(t, "POST", base+"/metrics/job/reload-limits", "text/plain", []byte(b.String()))
	}
	reload := func(want string) {
		t.Helper()
		code, body := do(t, "POST", base+"/-/reload", "", nil)
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("reload: %d %q, want 200 saying %q", code, body, want)
		}
	}
	if code, body := push(1, 2, 3); code != http.StatusTooManyRequests || !strings.Contains(body, "max_series_per_metric 2") {
		t.Fatalf("3 series of one metric under max_series_per_metric 2: %d %q, want 429 naming the limit", code, body)
	}
	write("  max_series_per_metric: 5\n")
	reload("applied: limits")
	if code, body := push(1, 2, 3); code/100 != 2 {
		t.Fatalf("the same 3 series after the reload raised the limit to 5: %d %q", code, body)
	}
	if got := instantValue(t, base, `count(reload_limit_m)`, time.Time{}); got != "3" {
		t.Errorf("series of the metric after the reload: %q, want 3", got)
	}

	// Lowered: the head's series stay, a new one past the limit and a body
	// over the new bound are refused.
	write("  max_series_per_metric: 1\n  max_body_bytes: 80\n")
	reload("applied: limits")
	if code, body := push(1, 2, 3); code/100 != 2 {
		t.Fatalf("the head's 3 series (72 bytes) after lowering the limit to 1: %d %q, want them taken", code, body)
	}
	if code, body := push(1, 2, 3, 4); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "max_body_bytes 80") {
		t.Errorf("a body over the reloaded max_body_bytes 80: %d %q, want 413 naming it", code, body)
	}
	if got := instantValue(t, base, `count(reload_limit_m)`, time.Time{}); got != "3" {
		t.Errorf("series of the metric after lowering the limit: %q, want the 3 the head holds", got)
	}
}
