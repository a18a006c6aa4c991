package web_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLATileBurningNotJudged: with one SLA burning at page level
// and no window long enough to judge either SLA's achievement, the
// Overview's SLAs tile read "1 burning · none judged · matching-latency
// burning (page) · 2 not judged: too little data in 30d" (t-user6 #3):
// true, but it read as if the burning SLA were not judged. The burn (the
// SLAErrorBudgetBurn alert's short windows) and the achievement (the
// windows') are two facts, on two lines.
func TestBrowserSLATileBurningNotJudged(t *testing.T) {
	ctx := browser(t)
	s := webtest.SLAs()
	budget := 1 - s[0].Objective/100
	burn := map[string]float64{"5m": 20 * budget, "30m": 20 * budget, "1h": 20 * budget, "6h": 0.5 * budget, "1d": 0.5 * budget, "7d": 0.5 * budget, "30d": 0.5 * budget}
	covs := make([]map[string]float64, 2)
	for i := range covs {
		covs[i] = map[string]float64{}
		for _, w := range s[i].Windows {
			covs[i][sla.FormatWindow(time.Duration(w))] = (7 * time.Minute).Seconds() / time.Duration(w).Seconds()
		}
	}
	sts := slaFixture(t, []map[string]float64{burn, {"5m": 0, "1h": 0, "1d": 0, "7d": 0, "30d": 0}}, covs)
	if sts[0].Burning != "page" || sts[1].State != "not_judged" {
		t.Fatalf("fixture: %s burning %q, %s state %s; want burning page, not judged", sts[0].Name, sts[0].Burning, sts[1].Name, sts[1].State)
	}
	st := startStack(t, 3, false, withSLAs(t, sts))
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 15*time.Second, `!!document.querySelector('[data-kpi="SLAs"] .kpi-sub')`); err != nil {
		t.Fatal(err)
	}
	line := func(name string) string {
		return eval[string](t, ctx, `(document.querySelector('[data-kpi="SLAs"] [data-line="`+name+`"]') || {}).textContent || ''`)
	}
	if v := eval[string](t, ctx, `document.querySelector('[data-kpi="SLAs"] .kpi-value').textContent`); v != "1 burning" {
		t.Errorf("SLAs tile value %q, want 1 burning", v)
	}
	if got, want := line("burn"), "budget: "+s[0].Name+" burning (page)"; got != want {
		t.Errorf("burn line %q, want %q", got, want)
	}
	if got, want := line("achievement"), "achievement: none of the 2 judged yet (too little data in 30d)"; got != want {
		t.Errorf("achievement line %q, want %q", got, want)
	}
	if sub := eval[string](t, ctx, `document.querySelector('[data-kpi="SLAs"] .kpi-sub').textContent`); strings.Contains(sub, "none judged") || strings.Contains(sub, "2 not judged") {
		t.Errorf("SLAs tile %q still counts the burning SLA among the not judged beside \"none judged\"", sub)
	}
	screenshot(t, ctx, artifacts(t), "sla-tile-burning-not-judged")
}

// TestBrowserSLAChartsAligned: the SLA page's "Achievement over time" and
// "Burn rate" charts drew the same ticks at different x (23:30 at x≈279
// and 288, t-user6 #8): each y axis took the width of its own labels and
// title ("× budget"). Both plots start and end at the same x.
func TestBrowserSLAChartsAligned(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, true)
	load(t, ctx, st.URL+"/#/sla?range=15m")
	ready := `['achievement', 'burn'].every((id) => { const e = document.querySelector('[data-chart="' + id + '"]'); return e && e.chart && e.chart.u && Number(e.dataset.points) > 0; })`
	if err := poll(ctx, 20*time.Second, ready); err != nil {
		t.Fatalf("SLA charts: %v", err)
	}
	type box struct{ Left, Width float64 }
	plot := func(id string) box {
		return eval[box](t, ctx, `(() => { const r = document.querySelector('[data-chart="`+id+`"]').chart.u.over.getBoundingClientRect(); return {left: r.left, width: r.width}; })()`)
	}
	a, b := plot("achievement"), plot("burn")
	if math.Abs(a.Left-b.Left) > 0.5 || math.Abs(a.Width-b.Width) > 0.5 {
		t.Errorf("plots at x %.1f (width %.1f) and %.1f (width %.1f), want the same", a.Left, a.Width, b.Left, b.Width)
	}
}
