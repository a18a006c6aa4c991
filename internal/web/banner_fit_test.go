package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web"
)

// TestBrowserBannerChipsReadable: with the burn-rate drain note shown, a
// user trial of gmc demo read the banner's chips at 1440 px as
// "SLAErrorBudgetBurn · …", "ServiceSile…", "HostCP…": the long note
// squeezed them, so the page-severity ServiceSilent chip no longer said
// which service was silent, and no chip its "· draining". Now the burn
// chip itself says "· draining, clears by ~HH:MM" (the whole sentence in
// its title) and every chip shows its alert name and service whole.
func TestBrowserBannerChipsReadable(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	now := time.Now()
	active, ended := now.Add(-6*time.Minute), now.Add(-2*time.Minute)
	clears := ended.Add(5 * time.Minute)
	st.alerts.Store(&[]web.Alert{
		{Name: "SLAErrorBudgetBurn", Severity: "page", Service: "order-success", State: "firing", ActiveAt: &active,
			Drain: &web.Drain{ErrorsEnded: ended, Clears: clears, Window: "5m"}, Summary: "SLA order-success burns its error budget",
			Labels: map[string]string{"alertname": "SLAErrorBudgetBurn", "sla": "order-success", "short_window": "5m", "long_window": "1h"}},
		{Name: "ServiceSilent", Severity: "page", Service: "strategy-momentum", State: "firing", ActiveAt: &active,
			Summary: "strategy-momentum has sent no data for 2m", Labels: map[string]string{"alertname": "ServiceSilent", "service": "strategy-momentum"}},
		{Name: "HostCPUHigh", Severity: "warning", State: "firing", ActiveAt: &active,
			Summary: "CPU of gmc-demo-host at 93.1%", Labels: map[string]string{"alertname": "HostCPUHigh", "instance": "gmc-demo-host"}},
		{Name: "ServiceLatencyHigh", Severity: "page", Service: "order-gateway", State: "suppressed", ActiveAt: &active,
			Labels: map[string]string{"alertname": "ServiceLatencyHigh", "service": "order-gateway"}},
	})
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.count === '3'`); err != nil {
		t.Fatalf("the banner shows no 3 firing alerts: %v", err)
	}
	type chip struct {
		Text, Title string
		Whole       bool
	}
	// Whole: nothing cut by its ellipsis, nor by the strip's edge.
	chips := eval[map[string]chip](t, ctx, `(() => { const list = document.querySelector('#banner .banner-list').getBoundingClientRect();
		return Object.fromEntries([...document.querySelectorAll('#banner .banner-item')].map((c) => { const r = c.getBoundingClientRect();
			return [c.firstChild.textContent, {Text: c.textContent, Title: c.title,
				Whole: c.scrollWidth <= c.clientWidth && r.right <= list.right + 0.5 && r.right <= innerWidth}]; })); })()`)
	hhmm := eval[string](t, ctx, fmt.Sprintf(`(() => { const d = new Date(Math.ceil(%d / 60000) * 60000); return [d.getHours(), d.getMinutes()].map((x) => String(x).padStart(2, '0')).join(':'); })()`, clears.UnixMilli()))
	for name, where := range map[string]string{"SLAErrorBudgetBurn": "order-success", "ServiceSilent": "strategy-momentum", "HostCPUHigh": "gmc-demo-host"} {
		c, ok := chips[name]
		if !ok {
			t.Errorf("no chip of %s: %+v", name, chips)
			continue
		}
		if !c.Whole || !strings.Contains(c.Text, name+" · "+where) {
			t.Errorf("%s's chip %q (whole: %v) does not show %q whole at 1440 px", name, c.Text, c.Whole, name+" · "+where)
		}
	}
	burn := chips["SLAErrorBudgetBurn"]
	if want := "· draining, clears by ~" + hhmm; !strings.HasSuffix(burn.Text, want) {
		t.Errorf("the burn chip says %q, want it to end %q", burn.Text, want)
	}
	if !strings.Contains(burn.Title, "clears as the 5m window drains") {
		t.Errorf("the burn chip's title %q does not give the whole drain note", burn.Title)
	}
	screenshot(t, ctx, artifacts(t), "banner-chips-readable")

	// Narrower, the chips that do not fit whole are counted in "+N more",
	// not squeezed with the others.
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(1200, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 10*time.Second, `document.querySelectorAll('#banner .banner-item').length < 3`); err != nil {
		t.Fatalf("at 1200 px the banner still shows 3 chips: %v", err)
	}
	narrow := eval[map[string]any](t, ctx, `(() => { const list = document.querySelector('#banner .banner-list').getBoundingClientRect();
		const cs = [...document.querySelectorAll('#banner .banner-item')];
		return {n: cs.length, whole: cs.every((c) => c.scrollWidth <= c.clientWidth && c.getBoundingClientRect().right <= list.right + 0.5),
			more: [...document.querySelectorAll('#banner > a')].map((a) => a.textContent).find((x) => /^\+\d+ more$/.test(x)) || ''}; })()`)
	if n := int(narrow["n"].(float64)); n < 1 || narrow["whole"] != true || narrow["more"] != fmt.Sprintf("+%d more", 3-n) {
		t.Errorf("at 1200 px the banner shows %v chips (whole: %v) and %q, want the others in \"+N more\"", narrow["n"], narrow["whole"], narrow["more"])
	}

	// At 480 px nothing of the line runs past the strip: a user trial read
	// "3 alerts firing · 4 suppressed +2 m", one chip kept however little
	// room was left. The count and "All alerts →" stay whole; a chip is
	// shown only whole.
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(480, 1000)); err != nil {
		t.Fatal(err)
	}
	if cut := bannerCut(t, ctx); len(cut) > 0 {
		t.Errorf("at 480 px the banner cuts %v", cut)
	}
	if got := eval[string](t, ctx, `document.getElementById('banner').textContent`); !strings.Contains(got, "3 alerts firing") || !strings.Contains(got, "All alerts →") {
		t.Errorf("at 480 px the banner says %q, want the count and \"All alerts →\"", got)
	}
	screenshot(t, ctx, artifacts(t), "banner-480")
}

// TestBrowserBannerSuppressedCount: during a latency incident the banner
// said "2 alerts firing" where 6 fired, 4 of them inhibited (the Alerts
// page: "2 firing · 4 suppressed"). It now says "2 alerts firing · 4
// suppressed", from the event stream's count, and nothing of it when none
// is suppressed.
func TestBrowserBannerSuppressedCount(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	active := time.Now().Add(-3 * time.Minute)
	alert := func(name, svc, state string) web.Alert {
		return web.Alert{Name: name, Severity: "page", Service: svc, State: state, ActiveAt: &active,
			Labels: map[string]string{"alertname": name, "service": svc}}
	}
	st.alerts.Store(&[]web.Alert{
		alert("MatchingLatencyHigh", "matching-engine", "firing"),
		alert("ServiceLatencyHigh", "matching-engine", "firing"),
		alert("ServiceLatencyHigh", "order-gateway", "suppressed"),
		alert("ServiceLatencyHigh", "strategy-momentum", "suppressed"),
		alert("ServiceLatencyHigh", "strategy-meanrev", "suppressed"),
		alert("ServiceLatencyHigh", "risk-engine", "suppressed"),
	})
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'firing'`); err != nil {
		t.Fatalf("the banner shows no firing alert: %v", err)
	}
	text := `document.getElementById('banner').textContent`
	if got, want := eval[string](t, ctx, text), "2 alerts firing · 4 suppressed"; !strings.Contains(got, want) {
		t.Errorf("the banner says %q, want %q", got, want)
	}
	if got := eval[string](t, ctx, `(document.querySelector('#banner .banner-suppressed') || {title: ''}).title`); !strings.Contains(got, "silenced or inhibited") {
		t.Errorf("the suppressed count's title %q does not say what suppressed means", got)
	}
	st.alerts.Store(&[]web.Alert{alert("MatchingLatencyHigh", "matching-engine", "firing"), alert("ServiceLatencyHigh", "matching-engine", "firing")})
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.suppressed === '0'`); err != nil {
		t.Fatalf("the banner did not follow the suppressed count: %v", err)
	}
	if got := eval[string](t, ctx, text); !strings.Contains(got, "2 alerts firing") || strings.Contains(got, "suppressed") {
		t.Errorf("with none suppressed the banner says %q", got)
	}
}

// TestBrowserBannerLiveFirst: where the strip holds fewer chips than
// alerts, the ones a desk must act on lead. A trial's banner showed only a
// draining SLAErrorBudgetBurn chip (its errors over) with the live
// ServiceLatencyHigh page in "+2 more", in the server's order. Now a chip
// whose condition holds comes before held and draining ones, a page
// before a warning.
func TestBrowserBannerLiveFirst(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	now := time.Now()
	active, ended := now.Add(-6*time.Minute), now.Add(-2*time.Minute)
	held := now.Add(-time.Minute)
	st.alerts.Store(&[]web.Alert{
		{Name: "SLAErrorBudgetBurn", Severity: "page", Service: "order-success", State: "firing", ActiveAt: &active,
			Drain:  &web.Drain{ErrorsEnded: ended, Clears: ended.Add(5 * time.Minute), Window: "5m"},
			Labels: map[string]string{"alertname": "SLAErrorBudgetBurn", "sla": "order-success", "short_window": "5m", "long_window": "1h"}},
		{Name: "HostCPUHigh", Severity: "warning", State: "firing", ActiveAt: &active, KeepFiringSince: &held,
			Labels: map[string]string{"alertname": "HostCPUHigh", "instance": "gmc-demo-host"}},
		{Name: "DiskFillingUp", Severity: "warning", State: "firing", ActiveAt: &active,
			Labels: map[string]string{"alertname": "DiskFillingUp", "instance": "gmc-demo-host"}},
		{Name: "ServiceLatencyHigh", Severity: "page", Service: "matching-engine", State: "firing", ActiveAt: &active,
			Labels: map[string]string{"alertname": "ServiceLatencyHigh", "service": "matching-engine"}},
	})
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.count === '4'`); err != nil {
		t.Fatalf("the banner shows no 4 firing alerts: %v", err)
	}
	// However many fit, the live page leads, then the live warning, then
	// the draining page and the held warning.
	order := []string{"ServiceLatencyHigh", "DiskFillingUp", "SLAErrorBudgetBurn", "HostCPUHigh"}
	for _, width := range []int64{1440, 900} {
		if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(width, 1000)); err != nil {
			t.Fatal(err)
		}
		if err := poll(ctx, 10*time.Second, `document.querySelectorAll('#banner .banner-item').length >= 1`); err != nil {
			t.Fatal(err)
		}
		got := eval[[]string](t, ctx, `[...document.querySelectorAll('#banner .banner-item')].map((c) => c.firstChild.textContent)`)
		if len(got) == 0 || strings.Join(got, ",") != strings.Join(order[:len(got)], ",") {
			t.Errorf("at %d px the banner's chips are %v, want the first %d of %v", width, got, len(got), order)
		}
	}
}

// TestBrowserBannerAllSuppressed: when every firing alert was silenced or
// inhibited, the banner hid itself, and a desk saw no sign that anything
// fired (issue 13). It now says "0 alerts firing · 3 suppressed" in a
// quiet, muted line (not the red of firing alerts), the count a link to
// the Alerts page; and goes when nothing fires at all.
func TestBrowserBannerAllSuppressed(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	active := time.Now().Add(-3 * time.Minute)
	alert := func(name, svc, state string) web.Alert {
		return web.Alert{Name: name, Severity: "page", Service: svc, State: state, ActiveAt: &active,
			Labels: map[string]string{"alertname": name, "service": svc}}
	}
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'ok'`); err != nil {
		t.Fatalf("the banner never reported the quiet state: %v", err)
	}
	st.alerts.Store(&[]web.Alert{
		alert("ServiceLatencyHigh", "order-gateway", "suppressed"),
		alert("ServiceLatencyHigh", "strategy-momentum", "suppressed"),
		alert("ServiceSilent", "risk-engine", "suppressed"),
	})
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.suppressed === '3'`); err != nil {
		t.Fatalf("the banner did not take the suppressed count: %v", err)
	}
	if bannerHidden(t, ctx) {
		t.Fatal("with every firing alert suppressed the banner is hidden")
	}
	text := eval[string](t, ctx, `document.getElementById('banner').textContent`)
	if want := "0 alerts firing · 3 suppressed"; !strings.Contains(text, want) {
		t.Errorf("the banner says %q, want %q", text, want)
	}
	if got := eval[string](t, ctx, `(document.querySelector('#banner a.banner-suppressed') || {href: ''}).href`); !strings.HasSuffix(got, "#/alerts?range=15m") {
		t.Errorf("the suppressed count links to %q, want the Alerts page", got)
	}
	// Quiet: no chip, no red. The strip's background is the panel's and
	// its text the muted grey, not the firing gradient's.
	look := eval[map[string]string](t, ctx, `(() => { const b = document.getElementById('banner'); const s = getComputedStyle(b);
		return {state: b.dataset.state, chips: String(b.querySelectorAll('.banner-item').length), image: s.backgroundImage, bg: s.backgroundColor,
			color: s.color, icon: getComputedStyle(b.querySelector('.banner-icon')).color}; })()`)
	want := map[string]string{"state": "suppressed", "chips": "0", "image": "none", "bg": "rgb(22, 27, 34)", "color": "rgb(139, 148, 158)", "icon": "rgb(139, 148, 158)"}
	for k, v := range want {
		if look[k] != v {
			t.Errorf("the all-suppressed banner's %s is %q, want %q (%v)", k, look[k], v, look)
		}
	}
	screenshot(t, ctx, artifacts(t), "banner-all-suppressed")

	// At 480 px the line still says the count and keeps its link to the
	// Alerts page whole: "All alerts →" was cut ~8 px by the strip.
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(480, 1000)); err != nil {
		t.Fatal(err)
	}
	cut := eval[[]string](t, ctx, `(() => { const b = document.getElementById('banner').getBoundingClientRect();
		return [...document.querySelectorAll('#banner > a, #banner .banner-count')].filter((e) => { const r = e.getBoundingClientRect(); return r.right > b.right + 0.5 || r.width < 1 || e.scrollWidth > e.clientWidth + 0.5; })
			.map((e) => e.className + ' ' + e.textContent + ' right ' + Math.round(e.getBoundingClientRect().right) + ' of ' + Math.round(b.right)); })()`)
	if len(cut) > 0 {
		t.Errorf("at 480 px the all-suppressed banner cuts %v", cut)
	}
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(1440, 1000)); err != nil {
		t.Fatal(err)
	}

	// One fires again: the red banner, with the others counted beside it.
	st.alerts.Store(&[]web.Alert{alert("ServiceSilent", "risk-engine", "firing"), alert("ServiceLatencyHigh", "order-gateway", "suppressed")})
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'firing'`); err != nil {
		t.Fatalf("the banner did not show the firing alert: %v", err)
	}
	if got := eval[string](t, ctx, `document.getElementById('banner').textContent`); !strings.Contains(got, "1 alert firing · 1 suppressed") {
		t.Errorf("the banner says %q, want \"1 alert firing · 1 suppressed\"", got)
	}
	st.alerts.Store(&[]web.Alert{})
	if err := poll(ctx, 10*time.Second, `document.getElementById('banner').dataset.state === 'ok'`); err != nil || !bannerHidden(t, ctx) {
		t.Fatalf("the banner did not clear when nothing fired: %v", err)
	}
}

// bannerPast lists (JS) the banner's parts and chips that run past its
// strip or the window, or are cut within their own box.
const bannerPast = `(() => { const right = Math.min(document.getElementById('banner').getBoundingClientRect().right, document.documentElement.clientWidth);
	return [...document.querySelectorAll('#banner > *, #banner .banner-item')].filter((e) => e.getBoundingClientRect().right > right + 0.5 || e.scrollWidth > e.clientWidth + 0.5)
		.map((e) => (e.className || e.tagName) + ' ' + JSON.stringify(e.textContent)); })()`

// bannerCut is bannerPast's list, after up to 10 s for the banner to fit.
func bannerCut(t *testing.T, ctx context.Context) []string {
	t.Helper()
	_ = poll(ctx, 10*time.Second, bannerPast+`.length === 0`)
	return eval[[]string](t, ctx, bannerPast)
}
