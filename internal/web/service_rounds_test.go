package web_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserServiceHostsInFirstRound: a service page's first refresh
// sends its host panels' queries and the count of the services gmc
// measures as a process with its other queries, before any of its label
// look-ups (the service's hosts, instances and jobs) is answered, and
// draws the host panels with its hosts' series only. The old code sent
// them a round trip later, when the look-ups had answered (the page's
// second round: host queries out at 565-577 ms after navigation, the
// first round's answers in at 490-545, at load 7).
func TestBrowserServiceHostsInFirstRound(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	var hostQ, procQ atomic.Bool
	see := func(r *http.Request) bool {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/label/"):
			// Every label look-up is held until released.
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		case strings.HasPrefix(r.URL.Path, "/api/v1/query"):
			q := queryOf(r)
			if strings.Contains(q, `node_cpu_seconds_total{mode="idle"`) {
				hostQ.Store(true)
			}
			if strings.Contains(q, "count by (service) (gmc_process_resident_memory_bytes") {
				procQ.Store(true)
			}
		}
		return false
	}
	st.refuse.Store(&see)
	if _, err := run(ctx, 20*time.Second, chromedp.Navigate(st.URL+"/#/service/"+webtest.Native+"?range=15m")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !(hostQ.Load() && procQ.Load()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !hostQ.Load() {
		t.Error("the host panels' queries were not sent while the label look-ups were unanswered (15 s)")
	}
	if !procQ.Load() {
		t.Error("the count of the services measured as a process was not sent while the label look-ups were unanswered (15 s)")
	}
	free()
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 1`); err != nil {
		t.Fatalf("page not drawn after the look-ups answered: %v", err)
	}
	// The host panels have the service's hosts' series, not every host's.
	hosts := eval[[]string](t, ctx, `[...document.querySelectorAll('.page-head a[href*="/host/"]')].map((a) => a.textContent).sort()`)
	all := evalAsync[[]string](t, ctx, `fetch('/api/v1/label/host/values?match[]=node_cpu_seconds_total').then((r) => r.json()).then((b) => b.data.sort())`)
	if len(hosts) == 0 || len(all) <= len(hosts) {
		t.Fatalf("hosts on the page %q, hosts with agent data %q: want some, and fewer than all", hosts, all)
	}
	for _, id := range []string{"host-cpu", "host-mem", "host-disk"} {
		got := eval[[]string](t, ctx, `document.querySelector('[data-chart="`+id+`"]').chart.u.series.slice(1).map((s) => s.label).filter((l) => !l.includes(" (")).sort()`)
		if !slices.Equal(got, hosts) {
			t.Errorf("%s: series %q, want the service's hosts %q", id, got, hosts)
		}
	}
	net := eval[[]string](t, ctx, `document.querySelector('[data-chart="host-net"]').chart.u.series.slice(1).map((s) => s.label).filter((l) => !l.includes(" (")).sort()`)
	var want []string
	for _, p := range []string{"rx ", "tx "} {
		for _, h := range hosts {
			want = append(want, p+h)
		}
	}
	if !slices.Equal(net, want) {
		t.Errorf("host-net: series %q, want %q", net, want)
	}
}

// TestBrowserServiceOneRound: a service page's first refresh sends every
// request it waits for before any answer comes in: one round trip. Here a
// 1h range over 15 minutes of data, so the heatmap also asks whether its
// service has data before its first column with data (the caption: a gap,
// or the data began there). The old code waited a round for the hosts and
// jobs (host panels' queries, the count of processes) and one after the
// heatmap's answer for that question. The caption is still true: the
// data began there.
func TestBrowserServiceOneRound(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	recordEveryDocument(t, ctx)
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=1h")
	// Every request before the page was drawn (its own and the chrome's).
	var sent []fetchReq
	queries := 0
	for _, r := range fetches(t, ctx) {
		if r.Refreshed == 0 {
			sent = append(sent, r)
			if strings.Contains(r.URL, "/api/") {
				queries++
			}
		}
	}
	if queries == 0 {
		t.Fatal("no request recorded before the page was drawn")
	}
	if late := sentLate(sent); len(late) > 0 {
		t.Errorf("%d of %d requests before the page was drawn went out after answers came in, want none (one round trip):\n%s", len(late), len(sent), strings.Join(late, "\n"))
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="heatmap"]').dataset.before || 0)`); n == 0 {
		t.Fatal("the heatmap marks no columns before its first with data (15 minutes of data in 1h)")
	}
	if txt := eval[string](t, ctx, `(document.querySelector('.hm-before:not([hidden])') || {textContent: ''}).textContent`); !strings.Contains(txt, "before the data began") {
		t.Errorf("the caption under the heatmap %q, want the columns said to be before the data began", txt)
	}
	if n := eval[int](t, ctx, `Number(document.querySelector('[data-chart="host-cpu"]').dataset.points || 0)`); n == 0 {
		t.Error("the host CPU chart has no points")
	}
}

// hostCPUSel finds the host selector of a host CPU query.
var hostCPUSel = regexp.MustCompile(`node_cpu_seconds_total\{mode="idle", (host[^}]*)\}\[`)

// TestBrowserServiceHostsOwnWhenMany: with more than two hosts besides
// its own sending agent data, a Live service page reads every host only
// in its first refresh (one round trip) and its own hosts after that:
// every host's series each second cost Live ~5.5 KB/s a host (895878b
// read every host on every refresh). Its host panels show its own hosts
// throughout.
func TestBrowserServiceHostsOwnWhenMany(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	for _, h := range []string{"extra-a", "extra-b", "extra-c"} {
		startAgent(t, st.URL, h)
	}
	// The agents' first samples are in.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := run(ctx, 20*time.Second, chromedp.Navigate(st.URL+"/#/hosts")); err != nil {
			t.Fatal(err)
		}
		all := evalAsync[[]string](t, ctx, `fetch('/api/v1/label/host/values?match[]=node_cpu_seconds_total').then((r) => r.json()).then((b) => b.data)`)
		if len(all) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hosts with agent data %q, want the 2 seeded and 3 agents'", all)
		}
		time.Sleep(500 * time.Millisecond)
	}
	recordEveryDocument(t, ctx)
	if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=live")
	if err := poll(ctx, 30*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 4`); err != nil {
		t.Fatalf("the Live page did not refresh 4 times: %v", err)
	}
	// The host selector of each host CPU query (host!="" for every host,
	// host=~"…" for its own) and its refresh.
	type hq struct {
		Sel     string
		Refresh int
	}
	var qs []hq
	for _, r := range fetches(t, ctx) {
		if m := hostCPUSel.FindStringSubmatch(r.URL); m != nil && strings.Contains(r.URL, "/api/v1/query_range") {
			qs = append(qs, hq{m[1], r.Refreshed})
		}
	}
	if len(qs) == 0 {
		t.Fatal("no host CPU query recorded")
	}
	if qs[0].Refresh != 0 || qs[0].Sel != `host!=""` {
		t.Errorf("first refresh's host CPU query selects %q (refresh %d), want every host (host!=\"\") in the first", qs[0].Sel, qs[0].Refresh)
	}
	for _, q := range qs[1:] {
		if q.Refresh >= 2 && q.Sel == `host!=""` {
			t.Errorf("refresh %d read every host (%d besides the service's), want the service's own hosts", q.Refresh, 4)
		}
	}
	last := qs[len(qs)-1]
	if !strings.HasPrefix(last.Sel, `host=~`) {
		t.Errorf("the last host CPU query selects %q, want the service's hosts (host=~…)", last.Sel)
	}
	hosts := eval[[]string](t, ctx, `[...document.querySelectorAll('.page-head a[href*="/host/"]')].map((a) => a.textContent).sort()`)
	got := eval[[]string](t, ctx, `document.querySelector('[data-chart="host-cpu"]').chart.u.series.slice(1).map((s) => s.label).filter((l) => !l.includes(" (")).sort()`)
	if len(hosts) == 0 || !slices.Equal(got, hosts) {
		t.Errorf("host-cpu: series %q, want the service's hosts %q", got, hosts)
	}
}
