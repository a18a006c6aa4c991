package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
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

// TestBrowserHostUnknownDuringIngestStall: the Hosts index judges a host's
// state in the page from its agent's newest sample; while gmc's own ingest
// stalls (a write request in flight for over 3 s) a host whose samples stop
// may be waiting in its agent's spool, as a service's may. The page said
// DOWN; it now says unknown, since when gmc's ingest stalled, as the
// services' states do.
func TestBrowserHostUnknownDuringIngestStall(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	// h-quiet's newest sample is 30 s old: down by its samples (10 s).
	ts := time.Now().Add(-30 * time.Second).UnixMilli()
	if err := webtest.Write(context.Background(), st.URL, prompb.TimeSeries{
		Labels:  []prompb.Label{{Name: "__name__", Value: "node_cpu_seconds_total"}, {Name: "cpu", Value: "0"}, {Name: "host", Value: "h-quiet"}, {Name: "mode", Value: "idle"}},
		Samples: []prompb.Sample{{Timestamp: ts, Value: 100}},
	}); err != nil {
		t.Fatal(err)
	}
	// A write request gmc takes seconds over: its body comes slowly (the
	// 24 MiB of blanks cannot all wait in the loopback's buffers).
	pr, pw := io.Pipe()
	defer pw.CloseWithError(errors.New("test ended"))
	go func() {
		if resp, err := http.Post(st.URL+"/api/v1/push", "application/json", pr); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write([]byte(strings.Repeat(" ", 24<<20))); err != nil {
		t.Fatal(err)
	}
	var since int64
	deadline := time.Now().Add(30 * time.Second)
	for since == 0 {
		var status struct {
			Watching *struct {
				Cause   string `json:"cause"`
				SinceMs int64  `json:"since_ms"`
				UntilMs *int64 `json:"until_ms"`
			} `json:"watching"`
		}
		getJSON(t, st.URL+"/system/status", &status)
		if w := status.Watching; w != nil && w.Cause == "ingest_stall" && w.UntilMs == nil {
			since = w.SinceMs
		} else if time.Now().After(deadline) {
			t.Fatalf("no ingest stall on /system/status 30 s after a write began to drip (watching %+v)", status.Watching)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	why := "gmc's ingest stalled since " + time.UnixMilli(since).Format("15:04:05")

	load(t, ctx, st.URL+"/#/host?range=1h")
	cell := `document.querySelector('tr[data-host="h-quiet"] [data-col="state"]')`
	if err := poll(ctx, 30*time.Second, cell+` && `+cell+`.querySelector('.pill')`); err != nil {
		screenshot(t, ctx, artifacts(t), "hosts-no-row")
		t.Fatalf("hosts: no row for h-quiet: %v\n%s", err, eval[string](t, ctx, `document.querySelector('main') ? document.querySelector('main').innerText : document.body.innerText`))
	}
	state := eval[string](t, ctx, cell+`.querySelector('.pill').textContent`)
	text := eval[string](t, ctx, cell+`.textContent`)
	hold := eval[string](t, ctx, cell+`.dataset.hold || ''`)
	if state != "unknown" || hold != "ingest_stall" || !strings.Contains(text, why) {
		t.Errorf("hosts: h-quiet %q (%q, data-hold %q), want unknown: %s", state, text, hold, why)
	}
	screenshot(t, ctx, artifacts(t), "hosts-unknown-during-stall")
}
