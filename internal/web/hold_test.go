package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestBrowserServiceUnknownAfterRestart: right after gmc (re)starts, a
// service whose newest sample is older than its down_after is not judged
// by ServiceSilent (gmc did not watch it meanwhile), and /system/status
// says "unknown" with the hold. The Overview's row and tile and the
// service's page say unknown and why (gmc restarted at HH:MM:SS, judged
// from HH:MM:SS), on Live (view=states) as on a 15m range, never DOWN.
func TestBrowserServiceUnknownAfterRestart(t *testing.T) {
	ctx := browser(t)
	// quiet's last sample is 15 minutes old, its down_after 10 minutes: by
	// its samples it is down, but gmc has been up for less than that.
	st := startStackWith(t, 3, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{"quiet": {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(10 * time.Minute)}}
	})
	jsonPush(t, st, fmt.Sprintf(`{"service":"quiet","instance":"quiet-1","timestamp":%.3f,"metrics":{"app_requests_total":7}}`,
		float64(time.Now().Add(-15*time.Minute).UnixMilli())/1000))

	resp, err := http.Get(st.URL + "/system/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var status struct {
		Services []struct {
			Service, State string
			Hold           *struct {
				Cause        string `json:"cause"`
				SinceMs      int64  `json:"since_ms"`
				JudgedFromMs int64  `json:"judged_from_ms"`
			}
		}
	}
	if err := json.Unmarshal(b, &status); err != nil {
		t.Fatal(err)
	}
	var since, judged string
	for _, s := range status.Services {
		if s.Service == "quiet" {
			if s.State != "unknown" || s.Hold == nil {
				t.Fatalf("/system/status: quiet is %q (hold %v), want unknown: gmc restarted less than its down_after ago", s.State, s.Hold)
			}
			since = time.UnixMilli(s.Hold.SinceMs).Format("15:04:05")
			judged = time.UnixMilli(s.Hold.JudgedFromMs).Format("15:04:05")
		}
	}
	if since == "" {
		t.Fatalf("/system/status has no service quiet: %s", b)
	}
	why := "gmc restarted at " + since + ", judged from " + judged

	for _, rng := range []string{"15m", "live"} {
		load(t, ctx, st.URL+"/#/overview?range="+rng)
		row := `document.querySelector('tr[data-service="quiet"]')`
		if err := poll(ctx, 30*time.Second, row+` && `+row+`.cells[1].querySelector('.pill')`); err != nil {
			t.Fatalf("overview (%s): no row for quiet: %v", rng, err)
		}
		state := eval[string](t, ctx, row+`.cells[1].querySelector('.pill').textContent`)
		health := eval[string](t, ctx, row+`.cells[1].textContent`)
		hold := eval[string](t, ctx, row+`.cells[1].dataset.hold || ''`)
		rate := eval[string](t, ctx, row+`.querySelector('[data-col="rate"]').textContent`)
		if state != "unknown" || hold != "restart" || !strings.Contains(health, why) {
			t.Errorf("overview (%s): quiet's health %q (%q, data-hold %q), want unknown: %q", rng, state, health, hold, why)
		}
		if rate != "unknown" {
			t.Errorf("overview (%s): quiet's rate %q, want unknown", rng, rate)
		}
		tile := eval[string](t, ctx, `document.querySelector('[data-kpi="Services up"]').textContent`)
		if !strings.Contains(tile, "1 unknown ("+why+")") {
			t.Errorf("overview (%s): Services up tile %q, want quiet counted apart: 1 unknown (%s)", rng, tile, why)
		}
		if rng == "live" {
			screenshot(t, ctx, artifacts(t), "overview-unknown-after-restart")
		}
	}

	load(t, ctx, st.URL+"/#/service/quiet?range=15m")
	head := `document.querySelector('.page-head [data-hold]')`
	if err := poll(ctx, 30*time.Second, head); err != nil {
		t.Fatalf("service page: no hold in its head: %v", err)
	}
	pill := eval[string](t, ctx, `document.querySelector('.page-head .pill').textContent`)
	text := eval[string](t, ctx, head+`.textContent`)
	if pill != "unknown" || !strings.Contains(text, "not judged: "+why) {
		t.Errorf("service page: %q, %q, want unknown, not judged: %s", pill, text, why)
	}
	kpis := eval[string](t, ctx, `[...document.querySelectorAll('[data-kpi]')].map((k) => k.dataset.kpi + '=' + k.querySelector('.kpi-value').textContent + ' | ' + (k.querySelector('.kpi-sub') || {}).textContent).join('\n')`)
	if !strings.Contains(kpis, "=unknown | no figures now; not judged: "+why) || strings.Contains(kpis, "=down") {
		t.Errorf("service page tiles:\n%s\nwant unknown, not judged: %s", kpis, why)
	}
	screenshot(t, ctx, artifacts(t), "service-unknown-after-restart")
}
