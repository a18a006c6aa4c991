package web_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserRisk: the Risk page shows exposure against its limit (%
// utilisation and a limit line), drawdown, a currency on every money
// figure, keeps the backtest's PnL out of the desk total, and has a page
// per account and per strategy (finding "Risk" of issue 13).
func TestBrowserRisk(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	dir := artifacts(t)

	load(t, ctx, st.URL+"/#/risk?range=15m")
	screenshot(t, ctx, dir, "risk-desk")
	// The old name still opens the page.
	load(t, ctx, st.URL+"/#/trading?range=15m")
	load(t, ctx, st.URL+"/#/risk?range=15m")

	// Desk PnL per currency: live accounts only. The backtest account is in
	// USD too, so adding it would show in the USD figure.
	var desk map[string]float64
	if err := json.Unmarshal([]byte(eval[string](t, ctx, `document.querySelector('[data-kpi="Desk PnL"]').dataset.currencies`)), &desk); err != nil {
		t.Fatal(err)
	}
	for i, acct := range st.Data.Accounts {
		cur := webtest.Currencies[i%len(webtest.Currencies)]
		want := instant(t, st, fmt.Sprintf(`sum(gmc_pnl{account=%q})`, acct))
		if !near(desk[cur], want, 1e-6) {
			t.Errorf("desk PnL in %s %v, want %s's %v (with the backtest: %v)", cur, desk[cur], acct, want,
				want+instant(t, st, fmt.Sprintf(`sum(gmc_pnl{account=%q})`, webtest.BacktestAccount)))
		}
	}
	if len(desk) != len(st.Data.Accounts) {
		t.Errorf("desk PnL currencies %v, want one per account's currency", desk)
	}
	bt := eval[string](t, ctx, `(document.querySelector('[data-kpi="Backtest / paper PnL"]') || {}).textContent || ''`)
	if !strings.Contains(bt, "not in the desk total") || !strings.Contains(bt, "USD") {
		t.Errorf("backtest tile %q, want the backtest PnL in USD, not in the desk total", bt)
	}

	// The desk's PnL chart draws live accounts; the backtest has its own.
	if got := eval[[]string](t, ctx, `document.querySelector('[data-chart="pnl"]').chart.u.series.slice(1).map(s => s.label)`); len(got) != 2 || strings.Contains(strings.Join(got, ","), webtest.BacktestAccount) {
		t.Errorf("desk PnL chart series %v, want the two live accounts", got)
	}
	if got := eval[[]string](t, ctx, `document.querySelector('[data-chart="pnl-other"]').chart.u.series.slice(1).map(s => s.label)`); len(got) != 1 || !strings.Contains(got[0], webtest.BacktestAccount) {
		t.Errorf("backtest PnL chart series %v, want the backtest account", got)
	}

	// Every money figure carries its currency.
	money := eval[[]string](t, ctx, `[...document.querySelectorAll('td[data-col="pnl"], td[data-col="drawdown"], td[data-col="gross"], td[data-col="limit"], td[data-col="net"]')].map(e => e.textContent)`)
	cur := regexp.MustCompile(`^(−?[0-9.]+[kMGT]? (USD|EUR)|none|–)$`)
	for _, m := range money {
		if !cur.MatchString(m) {
			t.Errorf("money figure %q has no currency", m)
		}
	}
	if len(money) != 5*5 {
		t.Errorf("%d money cells, want 25 (5 rows)", len(money))
	}
	for _, k := range []string{"Desk PnL", "Desk drawdown", "Gross exposure"} {
		if txt := eval[string](t, ctx, `document.querySelector('[data-kpi=`+jsString(k)+`] .kpi-value').textContent`); !regexp.MustCompile(`(USD|EUR)`).MatchString(txt) {
			t.Errorf("tile %s %q has no currency", k, txt)
		}
	}

	// Utilisation: gross / limit of the raw data; acct-b / stat-arb is over it.
	for ai, acct := range st.Data.Accounts {
		for sj, strat := range st.Data.Strategies {
			sel := fmt.Sprintf(`tr[data-account=%q][data-strategy=%q]`, acct, strat)
			got := eval[float64](t, ctx, `Number(document.querySelector(`+jsString(sel+` td[data-col="use"]`)+`).dataset.value)`)
			gross := instant(t, st, fmt.Sprintf(`sum(gmc_risk_exposure{account=%q, strategy=%q, kind="gross"})`, acct, strat))
			if want := 100 * gross / webtest.RiskLimit(ai, sj); !near(got, want, 0.01) {
				t.Errorf("%s / %s: utilisation %v %%, want %v %%", acct, strat, got, want)
			}
			// Drawdown: the raw peak of the range less PnL now.
			dd := eval[float64](t, ctx, `Number(document.querySelector(`+jsString(sel+` td[data-col="drawdown"]`)+`).dataset.value)`)
			want := instant(t, st, fmt.Sprintf(`max_over_time(gmc_pnl{account=%q, strategy=%q}[15m]) - gmc_pnl{account=%q, strategy=%q}`, acct, strat, acct, strat))
			if dd < 0 || (want > 100 && !near(dd, want, 0.05)) || (want <= 100 && dd > 200) {
				t.Errorf("%s / %s: drawdown %v, want %v", acct, strat, dd, want)
			}
		}
	}
	if !eval[bool](t, ctx, `document.querySelector('tr[data-account="acct-b"][data-strategy="stat-arb"] td[data-col="use"]').classList.contains('neg')`) {
		t.Error("a position over its limit is not marked")
	}
	// The utilisation chart has its limit line at 100 %.
	if !eval[bool](t, ctx, `(() => { const u = document.querySelector('[data-chart="limit-use"]').chart.u; const i = u.series.findIndex(s => s.label === 'limit'); return i > 0 && u.data[i].every(v => v === 100); })()`) {
		t.Error("no limit line at 100% on the utilisation chart")
	}
	if w := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="Limit utilisation"]').dataset.value)`); w < 100 {
		t.Errorf("limit utilisation tile %v, want the worst (over 100 %%)", w)
	}

	// A page per account and per strategy, linked from the table.
	href := eval[string](t, ctx, `document.querySelector('tr[data-account="acct-b"][data-strategy="stat-arb"] td:nth-child(2) a').getAttribute('href')`)
	load(t, ctx, st.URL+"/"+href)
	if lvl := eval[string](t, ctx, `document.querySelector('h1').dataset.level`); lvl != "strategy" {
		t.Fatalf("%s opened level %q, want strategy", href, lvl)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('.tbl tbody tr').length`); n != 1 {
		t.Errorf("strategy page has %d rows, want 1", n)
	}
	if !eval[bool](t, ctx, `(() => { const u = document.querySelector('[data-chart="gross"]').chart.u; return u.series.some(s => / limit$/.test(s.label || '')) && u.series.some(s => s.label === 'stat-arb'); })()`) {
		t.Errorf("strategy page: gross exposure chart without its limit line: %v", eval[[]string](t, ctx, `document.querySelector('[data-chart="gross"]').chart.u.series.map(s => s.label || '')`))
	}
	pnl := eval[float64](t, ctx, `Number(document.querySelector('[data-kpi="PnL"]').dataset.value)`)
	if want := instant(t, st, `sum(gmc_pnl{account="acct-b", strategy="stat-arb"})`); !near(pnl, want, 1e-6) {
		t.Errorf("strategy PnL %v, want %v", pnl, want)
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="PnL"]').textContent`); !strings.Contains(txt, "EUR") {
		t.Errorf("strategy PnL tile %q, want EUR", txt)
	}
	screenshot(t, ctx, dir, "risk-strategy")
	load(t, ctx, st.URL+"/#/risk/acct-a?range=15m")
	if n := evalInt(t, ctx, `document.querySelectorAll('.tbl tbody tr[data-account="acct-a"]').length`); n != 2 {
		t.Errorf("account page has %d acct-a rows, want its 2 strategies", n)
	}
	if n := evalInt(t, ctx, `document.querySelectorAll('.tbl tbody tr').length`); n != 2 {
		t.Errorf("account page has %d rows, want 2", n)
	}
	screenshot(t, ctx, dir, "risk-account")
	load(t, ctx, st.URL+"/#/risk/"+webtest.BacktestAccount+"?range=15m")
	if txt := eval[string](t, ctx, `document.querySelector('[data-kpi="PnL"] .kpi-sub').textContent`); !strings.Contains(txt, "not in the desk total") {
		t.Errorf("backtest account PnL tile says %q, want it marked out of the desk total", txt)
	}
}

// TestBrowserRiskDrawdownPeak: the desk drawdown tile and the Drawdown
// chart took their peak from the chart's step samples, so a peak between
// two steps was lost: the tile read 0 USD with the raw desk 154 USD below
// its peak (t-user3 #2). A PnL that rises to 1000 between two of the 1h
// range's 12 s steps and falls back to 100 is 900 below its peak, in the
// table, the tile and the chart alike.
func TestBrowserRiskDrawdownPeak(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	push := func(v int) {
		textPush(t, st, "dd-test", fmt.Sprintf("# TYPE gmc_pnl gauge\ngmc_pnl{account=\"acct-dd\",strategy=\"spike\"} %d\n", v))
	}
	push(100)
	// The spike lives 1.5 s, 3 to 4.5 s after a 12 s step boundary: no
	// step's sample sees it.
	for i := 0; i < 70 && time.Now().Unix()%12 != 3; i++ {
		time.Sleep(200 * time.Millisecond)
	}
	push(1000)
	time.Sleep(1500 * time.Millisecond)
	push(100)
	time.Sleep(time.Second)
	if raw := instant(t, st, `max_over_time(gmc_pnl{account="acct-dd"}[5m])`); raw != 1000 {
		t.Fatalf("raw peak %v, want 1000 (the fixture's spike)", raw)
	}
	load(t, ctx, st.URL+"/#/risk?range=1h")
	if err := poll(ctx, 10*time.Second, `(document.querySelector('[data-kpi="Desk drawdown"] .kpi-value') || {textContent: ''}).textContent.includes('(no currency)')`); err != nil {
		t.Fatalf("desk drawdown tile: %v", err)
	}
	tile := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk drawdown"] .kpi-value').textContent`)
	if !strings.Contains(tile, "900 (no currency)") {
		t.Errorf("desk drawdown tile %q, want 900 (no currency) for acct-dd", tile)
	}
	row := eval[float64](t, ctx, `Number(document.querySelector('tr[data-account="acct-dd"] td[data-col="drawdown"]').dataset.value)`)
	if row != 900 {
		t.Errorf("table drawdown %v, want 900", row)
	}
	chart := eval[float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="drawdown"]').chart.u; const i = u.series.findIndex(s => String(s.label).startsWith('acct-dd')); const d = u.data[i]; return d[d.length - 1]; })()`)
	if chart != 900 {
		t.Errorf("drawdown chart's last acct-dd value %v, want 900", chart)
	}
	screenshot(t, ctx, artifacts(t), "risk-drawdown-peak")
	load(t, ctx, st.URL+"/#/risk/acct-dd?range=1h")
	if err := poll(ctx, 10*time.Second, `(document.querySelector('[data-kpi="Drawdown"] .kpi-value') || {textContent: ''}).textContent === '900 (no currency)'`); err != nil {
		t.Errorf("account drawdown tile %q, want 900 (no currency): %v", eval[string](t, ctx, `(document.querySelector('[data-kpi="Drawdown"] .kpi-value') || {}).textContent || ''`), err)
	}
}

// TestBrowserRiskDrawdownPeak7d: at 7d the peak was read every 403 s (a
// twentieth of a step), so the demo's live peaks fell between the samples
// and the desk drawdown read 0 USD where the raw data gave ~500 (t-user4
// #1). Two strategies of one account: for 1.5 s one rises to 1000 while
// the other falls to −500, so the sum peaks at 500, not at the 1000 the
// sum of each one's highest gives; now the sum is 100: 400 below its peak.
func TestBrowserRiskDrawdownPeak7d(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	push := func(a, b int) {
		textPush(t, st, "dd-test", fmt.Sprintf("# TYPE gmc_pnl gauge\ngmc_pnl{account=\"acct-dd\",strategy=\"up\"} %d\ngmc_pnl{account=\"acct-dd\",strategy=\"down\"} %d\n", a, b))
	}
	push(100, 0)
	time.Sleep(2 * time.Second)
	push(1000, -500)
	time.Sleep(1500 * time.Millisecond)
	push(100, 0)
	time.Sleep(time.Second)
	if raw := instant(t, st, `max_over_time(sum(gmc_pnl{account="acct-dd"})[5m:100ms])`); raw != 500 {
		t.Fatalf("raw peak of the sum %v, want 500 (the fixture's spike)", raw)
	}
	load(t, ctx, st.URL+"/#/risk?range=7d")
	if err := poll(ctx, 15*time.Second, `(document.querySelector('[data-kpi="Desk drawdown"] .kpi-value') || {textContent: ''}).textContent.includes('(no currency)')`); err != nil {
		t.Fatalf("desk drawdown tile: %v", err)
	}
	tile := eval[string](t, ctx, `document.querySelector('[data-kpi="Desk drawdown"]').textContent`)
	if !strings.Contains(tile, "400 (no currency)") || strings.Contains(tile, "at least") {
		t.Errorf("desk drawdown tile %q, want exactly 400 (no currency) for acct-dd", tile)
	}
	// Its "max in range" comes from the chart's steps (1800 s at 7d): a
	// lower bound, said so (it read as exact, t-user5 #1).
	if !strings.Contains(tile, "max in range ≥") {
		t.Errorf("desk drawdown tile %q, want its max in range stated as a lower bound", tile)
	}
	screenshot(t, ctx, artifacts(t), "risk-drawdown-peak-7d")
	// acct-dd alone on its page: the chart of its two strategies (one
	// series each) and the account's tile.
	load(t, ctx, st.URL+"/#/risk/acct-dd?range=7d")
	if err := poll(ctx, 15*time.Second, `(document.querySelector('[data-kpi="Drawdown"] .kpi-value') || {textContent: ''}).textContent === '400 (no currency)'`); err != nil {
		t.Errorf("account drawdown tile %q, want 400 (no currency): %v", eval[string](t, ctx, `(document.querySelector('[data-kpi="Drawdown"]') || {}).textContent || ''`), err)
	}
	up := eval[float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="drawdown"]').chart.u; const i = u.series.findIndex(s => String(s.label).startsWith('up')); const d = u.data[i]; return d[d.length - 1]; })()`)
	if up != 900 {
		t.Errorf("drawdown chart's last 'up' value %v, want 900 (its raw peak 1000 − 100, as the table)", up)
	}
}
