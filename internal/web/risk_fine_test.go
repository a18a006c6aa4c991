package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserRiskDeepestDrawdown: the 1h Risk page said "max in range ≥
// 904 USD (at the chart's 12s steps)" where the raw 1 s data fell 1,264.9
// below its peak (t-user6 #8): a trough between two steps is not seen by
// the chart. A PnL at 1000 falls to −300 for 1.5 s between two of the
// range's 12 s steps and comes back to 900: the deepest drawdown of the
// range is 1300, read every second, on the desk's tile and the account's,
// and the Drawdown chart's deepest step says the same.
//
// The samples are remote-written with their timestamps: the peak in the
// steps before the dip's, the dip 3 to 4.5 s after a step boundary (the
// chart's steps are multiples of 12 s), that step a whole step before the
// range's end (now). Pushes stamped on arrival after wall-clock sleeps put
// the peak in the dip's own step when the test began just after a step
// boundary, and the chart then rightly had no peak before the dip (the
// clean-clone CI run on 84b4b38).
func TestBrowserRiskDeepestDrawdown(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	now := time.Now()
	b := now.Unix()/12*12 - 24 // a step boundary, the dip's step ending 12 s before the last whole step
	series := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_pnl"}, {Name: "account", Value: "acct-fine"}, {Name: "job", Value: "test"},
		{Name: "service", Value: "dd-fine"}, {Name: "strategy", Value: "dip"},
	}}
	at := func(ms int64, v float64) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ms, Value: v})
	}
	for s := b - 60; s < b; s++ {
		at(s*1000, 1000)
	}
	at((b+3)*1000, -300)
	at((b+4)*1000, -300)
	at((b+4)*1000+500, 900)
	for s := b + 5; s <= now.Unix(); s++ {
		at(s*1000, 900)
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	if raw := instant(t, st, `max_over_time(gmc_pnl{account="acct-fine"}[5m]) - min_over_time(gmc_pnl{account="acct-fine"}[5m])`); raw != 1300 {
		t.Fatalf("raw peak less trough %v, want 1300 (the fixture's dip)", raw)
	}
	load(t, ctx, st.URL+"/#/risk?range=1h")
	if err := poll(ctx, 15*time.Second, `(document.querySelector('[data-kpi="Desk drawdown"] .kpi-value') || {textContent: ''}).textContent.includes('(no currency)')`); err != nil {
		t.Fatalf("desk drawdown tile: %v", err)
	}
	deep := eval[map[string]float64](t, ctx, `JSON.parse(document.querySelector('[data-kpi="Desk drawdown"]').dataset.maxInRange || '{}')`)
	sub := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk drawdown"] .kpi-sub').textContent`)
	// The stack's other accounts (USD, EUR) are in the tile too.
	if deep[""] != 1300 || !strings.Contains(sub, "max in range 1.3k (no currency)") || !strings.Contains(sub, "(read every 1s)") || strings.Contains(sub, "≥") {
		t.Errorf("desk drawdown's max in range %v, %q; want 1300, read every 1s (not a bound from the chart's steps)", deep, sub)
	}
	// Read every second over the range, the peak is known: the drawdown
	// now is exact, not "at least … at most …".
	if now := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk drawdown"] .kpi-value').textContent`); !strings.HasPrefix(now, "100 (no currency)") {
		t.Errorf("desk drawdown now %q, want 100 (no currency), exact", now)
	}
	// The Drawdown chart's points are each step's deepest: its legend's
	// max said 100 beside the tile's 1300.
	// The chart is below the fold: it may be drawn a moment after the tile.
	chartMax := `(() => { const c = document.querySelector('[data-chart="drawdown"]').chart; const u = c && c.u; if (!u) return null; const i = u.series.findIndex(s => String(s.label).startsWith('acct-fine')); return i < 0 ? null : Math.max(...u.data[i].filter(v => v != null)); })()`
	if err := poll(ctx, 10*time.Second, chartMax+` === 1300`); err != nil {
		t.Errorf("drawdown chart's max for acct-fine %v, want 1300 (the dip between two steps, below the peak before it): %v", eval[any](t, ctx, chartMax), err)
	}
	load(t, ctx, st.URL+"/#/risk/acct-fine?range=1h")
	if err := poll(ctx, 15*time.Second, `document.querySelector('[data-kpi="Drawdown"]')?.dataset.maxInRange === '1300'`); err != nil {
		t.Errorf("account drawdown's max in range %q, want 1300: %v", eval[string](t, ctx, `(document.querySelector('[data-kpi="Drawdown"]') || {dataset: {}}).dataset.maxInRange || ''`), err)
	}
	screenshot(t, ctx, artifacts(t), "risk-deepest-drawdown")
}

// TestBrowserRiskDrawdownWithinStep: a PnL at 0 rises to 1000 and falls to
// −300 inside one of the 1h range's 12 s steps, then stays at 900. The
// deepest drawdown is 1300 (from the peak to the trough, one after the
// other inside the step); the chart took a step's drawdown from the peak
// of the steps before it (0) and the step's own last value, so its
// deepest read 300, where the tiles, read every second, said 1300.
func TestBrowserRiskDrawdownWithinStep(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	now := time.Now()
	b := now.Unix()/12*12 - 24 // a step boundary; its step ends 12 s before the last whole step
	series := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_pnl"}, {Name: "account", Value: "acct-inner"}, {Name: "job", Value: "test"},
		{Name: "service", Value: "dd-inner"}, {Name: "strategy", Value: "spike"},
	}}
	at := func(s int64, v float64) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: s * 1000, Value: v})
	}
	for s := b - 60; s <= b+2; s++ {
		at(s, 0)
	}
	at(b+3, 1000)
	at(b+4, 1000)
	at(b+6, -300)
	at(b+7, -300)
	for s := b + 8; s <= now.Unix(); s++ {
		at(s, 900)
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/risk/acct-inner?range=1h")
	if err := poll(ctx, 15*time.Second, `document.querySelector('[data-kpi="Drawdown"]')?.dataset.maxInRange === '1300'`); err != nil {
		t.Fatalf("account drawdown's max in range %q, want 1300: %v", eval[string](t, ctx, `(document.querySelector('[data-kpi="Drawdown"]') || {dataset: {}}).dataset.maxInRange || ''`), err)
	}
	chartMax := `(() => { const c = document.querySelector('[data-chart="drawdown"]').chart; const u = c && c.u; if (!u || u.series.length < 2) return null; return Math.max(...u.data[1].filter(v => v != null)); })()`
	if err := poll(ctx, 10*time.Second, chartMax+` === 1300`); err != nil {
		t.Errorf("drawdown chart's deepest step %v, want 1300 (a peak and a trough inside one step)", eval[any](t, ctx, chartMax))
	}
	// The PnL chart's legend: its lowest and highest within the steps, not
	// at them (min 0, max 900 before).
	lo := eval[string](t, ctx, `document.querySelector('[data-stats="pnl"] tr[data-series="spike"] [data-stat="min"]').textContent`)
	hi := eval[string](t, ctx, `document.querySelector('[data-stats="pnl"] tr[data-series="spike"] [data-stat="max"]').textContent`)
	if !strings.HasPrefix(lo, "−300 ") && !strings.HasPrefix(lo, "-300 ") || !strings.HasPrefix(hi, "1k ") {
		t.Errorf("PnL legend min %q, max %q; want -300 and 1k (the trough and the peak between the steps)", lo, hi)
	}
	screenshot(t, ctx, artifacts(t), "risk-drawdown-within-step")
}

// TestBrowserRiskPeakBeforeRange: each point's peak is read over the step
// before it, so the first point's lay before the range, and Risk 7d took
// a desk peak from 50 minutes before its range: a drawdown of 76.2k USD
// where the range's own data said 61.6k (t-user10 #2). A PnL at 1000 until
// just before the 1h range's first step (the step before it, 12 s), then
// 100, then 0 for the last 30 s: 100 below the range's peak, not 1000.
func TestBrowserRiskPeakBeforeRange(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(2 * time.Hour) })
	// The page's now 3 s into a 12 s step, held there (pageClockStill), so
	// the page starts its range at b − 1h, the fixture's peak in the step
	// before. It waited for the wall clock to be early in a step and read
	// it: a load slower than the rest of the step moved the range on, and
	// the case was not tested (only logged).
	now := time.Now().Unix()
	now -= ((now-3)%12 + 12) % 12
	b := now / 12 * 12
	series := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_pnl"}, {Name: "account", Value: "acct-before"}, {Name: "job", Value: "test"},
		{Name: "service", Value: "dd-before"}, {Name: "strategy", Value: "s"},
	}}
	for s := b - 3640; s <= now; s++ {
		v := 100.0
		switch {
		case s < b-3600:
			v = 1000
		case s > now-30:
			v = 0
		}
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: s * 1000, Value: v})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, time.Unix(now, 0))
	load(t, ctx, st.URL+"/#/risk?range=1h")
	if err := poll(ctx, 15*time.Second, `(document.querySelector('[data-kpi="Desk drawdown"] .kpi-value') || {textContent: ''}).textContent.includes('(no currency)')`); err != nil {
		t.Fatalf("desk drawdown tile: %v", err)
	}
	// The range's first point: the fixture's peak is in the step before it.
	first := eval[float64](t, ctx, `document.querySelector('[data-chart="pnl"]').chart.u.data[0][0]`)
	if int64(first) != b-3600 {
		t.Fatalf("the range began at %v, not %d: the peak is not in the step before it", first, b-3600)
	}
	want := instantAt(t, st, fmt.Sprintf(`max_over_time(gmc_pnl{account="acct-before"}[%ds])`, time.Now().Unix()-int64(first)), float64(time.Now().Unix())) -
		instant(t, st, `gmc_pnl{account="acct-before"}`)
	if want != 100 {
		t.Fatalf("raw drawdown over the range %v, want 100", want)
	}
	tile := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk drawdown"] .kpi-value').textContent`)
	if !strings.HasPrefix(tile, "100 (no currency)") {
		t.Errorf("desk drawdown tile %q, want 100 (no currency): the range's peak, not the 1000 before it", tile)
	}
	row := eval[float64](t, ctx, `Number(document.querySelector('tr[data-account="acct-before"] td[data-col="drawdown"]').dataset.value)`)
	if row != 100 {
		t.Errorf("table drawdown %v, want 100", row)
	}
	chartMax := `(() => { const c = document.querySelector('[data-chart="drawdown"]').chart; const u = c && c.u; if (!u) return null; const i = u.series.findIndex(s => String(s.label).startsWith('acct-before')); return i < 0 ? null : Math.max(...u.data[i].filter(v => v != null)); })()`
	if err := poll(ctx, 10*time.Second, chartMax+` === 100`); err != nil {
		t.Errorf("drawdown chart's max for acct-before %v, want 100: %v", eval[any](t, ctx, chartMax), err)
	}
	load(t, ctx, st.URL+"/#/risk/acct-before?range=1h")
	if err := poll(ctx, 15*time.Second, `(document.querySelector('[data-kpi="Drawdown"] .kpi-value') || {textContent: ''}).textContent === '100 (no currency)'`); err != nil {
		t.Errorf("account drawdown tile %q, want 100 (no currency): %v", eval[string](t, ctx, `(document.querySelector('[data-kpi="Drawdown"] .kpi-value') || {}).textContent || ''`), err)
	}
	screenshot(t, ctx, artifacts(t), "risk-peak-before-range")
}
