package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// TestBrowserOneOutageEveryPage: after a restart the Overview said "gmc
// was down 10:38:07–10:39:26 (1m20s)" (gmc's record of its stop and
// start) and the Alerts page, of the same outage, "not evaluated 1m: gmc
// was down 10:38:06–10:39:26" (the alert's last evaluation before the stop
// and its first after): a second apart, and 1m for 1m20s (t-user17b F1,
// F2). A service page, the Hosts, a host page and the SLA page did not
// say the outage at all, and the Firing for column rounded down to the
// minute where the notes under it said seconds. gmc here has
// recorded one outage, 79.773 s from a stop 6 ms after a whole second
// (the trial's); the firing alert was last evaluated 200 ms before the
// stop, in the second before, and first again 300 ms after the start.
// Every page says the outage in the same words and times; the Alerts
// notes say the evaluations as the evaluations, and every duration to the
// second.
func TestBrowserOneOutageEveryPage(t *testing.T) {
	ctx := browser(t)
	base := time.Now()
	stop := base.Add(-4 * time.Minute).Truncate(time.Second).Add(6 * time.Millisecond)
	start := stop.Add(79773 * time.Millisecond)
	lastEval, nextEval := stop.Add(-200*time.Millisecond), start.Add(300*time.Millisecond)
	fired := base.Add(-9 * time.Minute)
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

	cfg := restartableConfig(t)
	doc, err := json.Marshal(map[string]any{"outages": []map[string]any{{"from": rfc(stop), "until": rfc(start), "clean_stop": true}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Server.DataDir, "outages.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	labels := `{"alertname":"HostCPUHigh","instance":"vm","severity":"warning"}`
	v1 := fmt.Sprintf(`{"status":"success","data":{"alerts":[
	 {"labels":%s,"annotations":{"summary":"CPU of vm at 97%%"},"state":"firing","activeAt":%q,"value":"97"}]}}`, labels, rfc(fired))
	hist := fmt.Sprintf(`{"status":"success","data":{"episodes":[
	 {"alertname":"HostCPUHigh","severity":"warning","group":"host","labels":%s,
	  "state":"firing","active_at":%q,"fired_at":%q,"firing_seconds":459,"last_change":%q,"value":"97",
	  "not_evaluated":[{"from":%q,"until":%q}]}]}}`, labels, rfc(fired), rfc(fired), rfc(fired), rfc(lastEval), rfc(nextEval))
	serve := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		})
	}
	srv, _ := servertest.ServeStop(t, server.Options{Config: cfg})
	servertest.Ready(t, srv)
	st := stackOn(t, srv, 1, false, withHandler("GET /api/v1/alerts", serve(v1)), withHandler("GET /alerts/history", serve(hist)))
	pageClockStill(t, ctx, base)

	clock := func(t time.Time) string { return t.Format("15:04:05") }
	down := "gmc was down " + clock(stop) + "–" + clock(start) + " (1m20s)"
	line := `(() => { const e = document.getElementById('gmc-down'); if (!e) return ['none']; const o = e.querySelector('[data-outage]');
		return [e.hidden ? 'hidden' : e.textContent, o ? o.dataset.from : '', o ? o.dataset.until : '']; })()`
	ms := []string{strconv.FormatInt(stop.UnixMilli(), 10), strconv.FormatInt(start.UnixMilli(), 10)}
	for _, page := range []struct{ name, hash string }{
		{"Overview", "#/overview?range=1h"},
		{"service page", "#/service/" + st.Data.Services[0] + "?range=1h"},
		{"Hosts page", "#/host?range=1h"},
		{"host page", "#/host/vm?range=1h"},
		{"SLA page", "#/sla?range=1h"},
		{"Alerts", "#/alerts?range=1h"},
	} {
		load(t, ctx, st.URL+"/"+page.hash)
		if err := poll(ctx, 20*time.Second, `!!document.querySelector('#gmc-down:not([hidden]) [data-outage]')`); err != nil {
			t.Errorf("the %s does not say gmc was down (%q): %v", page.name, eval[[]string](t, ctx, line), err)
			continue
		}
		got := eval[[]string](t, ctx, line)
		if !strings.HasPrefix(got[0], down+": ") || got[1] != ms[0] || got[2] != ms[1] {
			t.Errorf("the %s says %q (from %s until %s); want %q…, from %s until %s", page.name, got[0], got[1], got[2], down, ms[0], ms[1])
		}
	}

	// The Alerts page (loaded last): the Active row and the History row of
	// the alert say the same note, its evaluations and the outage as above.
	if err := poll(ctx, 20*time.Second, `document.querySelector('tr[data-alert="HostCPUHigh"]') && document.querySelector('tr[data-episode="firing"]')`); err != nil {
		t.Fatalf("no active alert and its episode on the Alerts page: %v", err)
	}
	cell := func(sel string) []string {
		return eval[[]string](t, ctx, `(() => { const c = document.querySelector('`+sel+` [data-col="firing-for"]'); const n = c.querySelector('[data-not-evaluated]');
			const o = n && n.querySelector('[data-outage]');
			return [c.firstChild ? c.firstChild.textContent : '', n ? n.textContent : '', o ? o.dataset.from : '', o ? o.dataset.until : '']; })()`)
	}
	// Fired 9 min before the page's clock, not evaluated 80.273 s of it:
	// firing 459.727 s, to the second as the notes (it read "7m", rounded
	// down to the minute).
	want := []string{"7m40s", "not evaluated 1m20s: last evaluated " + clock(lastEval) + ", next " + clock(nextEval) + "; " + down, ms[0], ms[1]}
	for _, sel := range []string{`tr[data-alert="HostCPUHigh"]`, `tr[data-episode="firing"]`} {
		if got := cell(sel); strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("%s reads %q; want %q", sel, got, want)
		}
	}
	screenshot(t, ctx, artifacts(t), "alerts-one-outage")
}
