package web_test

import (
	"encoding/json"
	"fmt"
	"math"
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

// TestBrowserOverviewSaysGmcWasDown: after gmc restarts, the Overview's
// charts dash and break over the hole, but nothing said in words that gmc
// had been down (t-user16). A real gmc stopped and started again over its
// data dir: the Overview of a range holding the outage says "gmc was down
// HH:MM:SS–HH:MM:SS (Ns)", from the stop to the start that gmc recorded
// (within the times the test saw them happen); before the restart, and
// for a range that ends before the stop, it says nothing.
func TestBrowserOverviewSaysGmcWasDown(t *testing.T) {
	ctx := browser(t)
	cfg := restartableConfig(t)
	note := `(() => { const e = document.getElementById('gmc-down'); if (!e) return 'none'; return e.hidden ? 'hidden' : e.textContent; })()`

	srv1, stop1 := servertest.ServeStop(t, server.Options{Config: cfg})
	load(t, ctx, servertest.Ready(t, srv1)+"/#/overview?range=1h")
	if got := eval[string](t, ctx, note); got != "hidden" && got != "none" {
		t.Errorf("before any restart the Overview says %q", got)
	}
	beforeStop := time.Now()
	stop1()
	afterStop := time.Now()
	time.Sleep(2 * time.Second)
	beforeStart := time.Now()
	srv2, stop2 := servertest.ServeStop(t, server.Options{Config: cfg})
	servertest.Ready(t, srv2)
	afterStart := time.Now()
	st := stackOn(t, srv2, 1, false)

	load(t, ctx, st.URL+"/#/overview?range=1h")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('#gmc-down:not([hidden]) [data-outage]')`); err != nil {
		t.Fatalf("after the restart the Overview does not say gmc was down (%q): %v", eval[string](t, ctx, note), err)
	}
	got := eval[[]string](t, ctx, `[...document.querySelectorAll('#gmc-down [data-outage]')].map((e) => [e.dataset.from, e.dataset.until, e.dataset.clean]).flat()`)
	if len(got) != 3 {
		t.Fatalf("outages said: %q, want one", got)
	}
	from, _ := strconv.ParseInt(got[0], 10, 64)
	until, _ := strconv.ParseInt(got[1], 10, 64)
	if from < beforeStop.UnixMilli() || from > afterStop.UnixMilli() || until < beforeStart.UnixMilli() || until > afterStart.UnixMilli() || got[2] != "true" {
		t.Errorf("the outage said is %s–%s (clean %s), want from the stop (%s–%s) to the start (%s–%s)",
			time.UnixMilli(from).Format(time.StampMilli), time.UnixMilli(until).Format(time.StampMilli), got[2],
			beforeStop.Format(time.StampMilli), afterStop.Format(time.StampMilli), beforeStart.Format(time.StampMilli), afterStart.Format(time.StampMilli))
	}
	text := eval[string](t, ctx, note)
	want := fmt.Sprintf("gmc was down %s–%s (%ds): it took in nothing then", time.UnixMilli(from).Format("15:04:05"), time.UnixMilli(until).Format("15:04:05"),
		int(math.Round(float64(until-from)/1000)))
	if !strings.HasPrefix(text, want) {
		t.Errorf("the Overview says %q, want %q…", text, want)
	}
	screenshot(t, ctx, artifacts(t), "overview-gmc-down")

	// A range that ends before the stop holds no outage.
	to := beforeStop.Add(-time.Minute).Unix()
	load(t, ctx, fmt.Sprintf("%s/#/overview?from=%d&to=%d", st.URL, to-600, to))
	if got := eval[string](t, ctx, note); got != "hidden" {
		t.Errorf("a range before the stop: the Overview says %q, want nothing", got)
	}

	// A crash: the run record as a kill -9 leaves it (no stop; its last
	// heartbeat, here the stop's time), then a start. The second outage
	// is said from that heartbeat, not as a clean stop.
	stop2()
	p := filepath.Join(cfg.Server.DataDir, "outages.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Run     map[string]any `json:"run"`
		Outages any            `json:"outages"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc.Run, "stopped")
	alive, err := time.Parse(time.RFC3339Nano, doc.Run["alive"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	srv3, _ := servertest.ServeStop(t, server.Options{Config: cfg})
	load(t, ctx, servertest.Ready(t, srv3)+"/#/overview?range=1h")
	if err := poll(ctx, 20*time.Second, `document.querySelectorAll('#gmc-down:not([hidden]) [data-outage]').length === 2`); err != nil {
		t.Fatalf("after the crash the Overview says %q, want two outages: %v", eval[string](t, ctx, note), err)
	}
	got = eval[[]string](t, ctx, `(() => { const e = document.querySelectorAll('#gmc-down [data-outage]')[1]; return [e.dataset.from, e.dataset.until, e.dataset.clean, e.textContent]; })()`)
	until, _ = strconv.ParseInt(got[1], 10, 64)
	if want := "gmc stopped without a clean shutdown within 5s after " + alive.Local().Format("15:04:05") + " (its last sign of life) and was down until " +
		time.UnixMilli(until).Format("15:04:05"); got[0] != strconv.FormatInt(alive.UnixMilli(), 10) || got[2] != "false" || !strings.HasPrefix(got[3], want) {
		t.Errorf("the crash's outage: from %s, clean %s, %q; want from the heartbeat %d, not clean, %q…", got[0], got[2], got[3], alive.UnixMilli(), want)
	}
	screenshot(t, ctx, artifacts(t), "overview-gmc-down-crash")
}

// restartableConfig is a gmc's config for a test that stops and starts it
// over its data dir (a temp dir), on a free loopback port, its services
// held up as startStack's are.
func restartableConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Server.StaleAfter = config.Duration(30 * time.Minute)
	cfg.Server.DownAfter = config.Duration(time.Hour)
	cfg.Server.ListenAddress = "127.0.0.1:0"
	cfg.Server.DataDir = t.TempDir()
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
