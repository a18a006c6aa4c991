package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAAxisFitsLabels: the SLA page's two charts had a y axis of
// a fixed 72 px (so their plots start at the same x), which fits tick
// labels up to ~9 characters. With an objective of 99.999999999 % the burn
// rate of the seeded error ratios (~1e-3) is ~1e8 budgets, and its ticks
// read "150000000×" (10 characters): each label must fit its axis (uPlot
// draws it right-aligned to the plot, so a wider one is cut at the
// canvas's left edge), and both plots still start at the same x.
func TestBrowserSLAAxisFitsLabels(t *testing.T) {
	ctx := browser(t)
	s := webtest.SLAs()
	body := `{"status":"success","data":[` +
		`{"name":"` + s[0].Name + `","service":"` + s[0].Service + `","indicator":"latency","objective":99.9,"state":"ok","windows":[]},` +
		`{"name":"` + s[1].Name + `","service":"` + s[1].Service + `","indicator":"ratio","objective":99.999999999,"state":"ok","windows":[]}]}`
	st := startStack(t, 3, false, withHandler("GET /sla", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	})))
	load(t, ctx, st.URL+"/#/sla?range=15m")
	ready := `['achievement', 'burn'].every((id) => { const e = document.querySelector('[data-chart="' + id + '"]'); return e && e.chart && e.chart.u && Number(e.dataset.points) > 0; })`
	if err := poll(ctx, 20*time.Second, ready); err != nil {
		t.Fatalf("SLA charts: %v", err)
	}
	// Each chart's y tick labels, the room they have (the axis less uPlot's
	// ticks and gap, 15 px) and the widest's width in the axis font.
	type axis struct {
		Labels      []string
		Room, Width float64
		Left        float64
	}
	read := func(id string) axis {
		return eval[axis](t, ctx, `(() => { const c = document.querySelector('[data-chart="`+id+`"]').chart; const u = c.u; const a = u.axes[1];
			const x = document.createElement('canvas').getContext('2d'); x.font = a.font[0] ? a.font[0] : a.font;
			const labels = (a._values || []).map(String);
			return {labels, room: a._size - 15, width: Math.max(0, ...labels.map((l) => x.measureText(l).width)), left: u.over.getBoundingClientRect().left}; })()`)
	}
	// The axes settle once both charts have laid out their labels.
	if err := poll(ctx, 10*time.Second, `(() => { const l = ['achievement', 'burn'].map((id) => document.querySelector('[data-chart="' + id + '"]').chart.u.over.getBoundingClientRect().left); return Math.abs(l[0] - l[1]) < 0.5; })()`); err != nil {
		t.Errorf("plots do not start at the same x: %v", err)
	}
	burn, ach := read("burn"), read("achievement")
	long := 0
	for _, l := range burn.Labels {
		long = max(long, len([]rune(l)))
	}
	if long < 10 {
		t.Fatalf("burn axis labels %q: want one of ≥ 10 characters (the fixture's point)", burn.Labels)
	}
	for _, a := range []struct {
		id string
		axis
	}{{"burn", burn}, {"achievement", ach}} {
		if a.Width > a.Room {
			t.Errorf("%s: y labels %q need %.1f px, the axis leaves them %.1f", a.id, a.Labels, a.Width, a.Room)
		}
	}
	if burn.Left != ach.Left {
		t.Errorf("plots at x %.1f (burn) and %.1f (achievement), want the same", burn.Left, ach.Left)
	}
	screenshot(t, ctx, artifacts(t), "sla-long-labels")
}
