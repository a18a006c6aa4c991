package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web"
)

// TestBrowserBannerHeldByKeepFiringFor: the banner's chip of an alert
// firing only because keep_firing_for holds it said nothing of it, and its
// title gave the summary of before as if now (t-user23 F1: HostCPUHigh "CPU
// of vm at 91.2%" with the host at 45 %). Now the chip says "held", its
// title since when the condition has not held and that the summary is of
// before, and the count says how many are held; an alert firing on its
// condition gets none of it.
func TestBrowserBannerHeldByKeepFiringFor(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	now := time.Now()
	active, since := now.Add(-4*time.Minute), now.Add(-70*time.Second)
	firing := []web.Alert{
		{Name: "HostCPUHigh", Severity: "warning", State: "firing", ActiveAt: &active, KeepFiringSince: &since,
			Summary: "CPU of vm at 91.2%, above 90%", Labels: map[string]string{"alertname": "HostCPUHigh", "instance": "vm"}},
		{Name: "TargetDown", Severity: "page", Service: "market-data", State: "firing", ActiveAt: &active,
			Summary: "market-data target md:1 is down", Labels: map[string]string{"alertname": "TargetDown", "service": "market-data"}},
		{Name: "OrderLatencyHigh", Severity: "page", Service: "matching-engine", State: "firing", ActiveAt: &active,
			Summary: "matching-engine p99 above 500µs", Labels: map[string]string{"alertname": "OrderLatencyHigh", "service": "matching-engine"}},
	}
	st.alerts.Store(&firing)
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'firing'`); err != nil {
		t.Fatalf("the banner shows no firing alert: %v", err)
	}
	type chip struct{ Text, Title, Held string }
	chips := eval[map[string]chip](t, ctx, `Object.fromEntries([...document.querySelectorAll('#banner .banner-item')].map((c) =>
		[c.firstChild.textContent, {Text: c.textContent, Title: c.title, Held: c.dataset.held || ''}]))`)
	at := eval[string](t, ctx, fmt.Sprintf(`(() => { const d = new Date(%d); return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':'); })()`, since.UnixMilli()))
	cpu, down := chips["HostCPUHigh"], chips["TargetDown"]
	if cpu.Held != "true" || !strings.HasSuffix(cpu.Text, "· held") {
		t.Errorf("HostCPUHigh's chip %+v does not say it is held", cpu)
	}
	for _, want := range []string{"has not held since " + at, "this summary is of before", "CPU of vm at 91.2%"} {
		if !strings.Contains(cpu.Title, want) {
			t.Errorf("HostCPUHigh's chip's title %q does not say %q", cpu.Title, want)
		}
	}
	if down.Text == "" || down.Held != "" || strings.Contains(down.Text, "held") || strings.Contains(down.Title, "held") {
		t.Errorf("TargetDown, firing on its condition, is said to be held (or has no chip): %+v", down)
	}
	if got := eval[string](t, ctx, `(document.querySelector('#banner .banner-held') || {textContent: ''}).textContent`); !strings.Contains(got, "1 held by keep_firing_for") {
		t.Errorf("the banner's count says %q of the held alerts, want \"1 held by keep_firing_for\"", got)
	}
	screenshot(t, ctx, artifacts(t), "banner-held")

	// At 480 px the held count ran past the strip and took "All alerts →"
	// with it (trial 30 F1: "3 alerts firing (1 held by keep_firing_for)
	// ▲…"). It says "(1 held)" there, and nothing runs past the strip.
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(480, 1000)); err != nil {
		t.Fatal(err)
	}
	if cut := bannerCut(t, ctx); len(cut) > 0 {
		t.Errorf("at 480 px the banner cuts %v", cut)
	}
	if got := eval[string](t, ctx, `document.getElementById('banner').innerText.replace(/\s+/g, ' ')`); !strings.Contains(got, "3 alerts firing (1 held)") || !strings.Contains(got, "All alerts →") {
		t.Errorf("at 480 px the banner says %q, want \"3 alerts firing (1 held)\" and \"All alerts →\"", got)
	}
	screenshot(t, ctx, artifacts(t), "banner-held-480")

	// And with four alerts suppressed beside them: "3 alerts firing (1
	// held) · 4 suppressed All" (trial 31 F3). The line's short form, the
	// count and "All alerts →" whole.
	for _, svc := range []string{"risk", "strategy-a", "strategy-b", "strategy-c"} {
		firing = append(firing, web.Alert{Name: "ServiceLatencyHigh", Severity: "page", Service: svc, State: "suppressed", ActiveAt: &active,
			Labels: map[string]string{"alertname": "ServiceLatencyHigh", "service": svc}})
	}
	st.alerts.Store(&firing)
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.suppressed === '4'`); err != nil {
		t.Fatalf("the banner does not count the 4 suppressed alerts: %v", err)
	}
	if cut := bannerCut(t, ctx); len(cut) > 0 {
		t.Errorf("at 480 px with 4 suppressed the banner cuts %v", cut)
	}
	if got := eval[string](t, ctx, `document.getElementById('banner').innerText.replace(/\s+/g, ' ')`); !strings.Contains(got, "3 firing (1 held) · 4 supp.") || !strings.Contains(got, "All alerts →") {
		t.Errorf("at 480 px with 4 suppressed the banner says %q, want \"3 firing (1 held) · 4 supp.\" and \"All alerts →\"", got)
	}
	screenshot(t, ctx, artifacts(t), "banner-held-suppressed-480")
}
