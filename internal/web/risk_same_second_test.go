package web_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"
)

// TestBrowserRiskTableSameSecond: the Risk page's table and its charts'
// newest point are of one second. A user trial of Live read acct-1 gross
// 7.9k and net +7.9k in the table beside the charts' last 23.4k and
// −23.4k: the demo's exposure flips every second, and the charts were
// drawn with a refresh's figures while the table kept the refresh
// before's until the drawdown's reads were in. Here an exposure flips
// sign every second; at every change of the page (a MutationObserver,
// so the state between the charts' drawing and the table's is seen)
// the table's gross and net must read as the legends' last, and the
// table says the time of its figures: the charts' newest point.
func TestBrowserRiskTableSameSecond(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	pctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	// Net ±(20k + 1k × the second's last digit), sign by the second's parity.
	expo := func(sec int64) float64 {
		v := 20000 + float64(sec%10)*1000
		if sec%2 == 1 {
			v = -v
		}
		return v
	}
	push := func() {
		v := expo(time.Now().Unix())
		textPush(t, st, "flip-risk", fmt.Sprintf("# TYPE gmc_risk_exposure gauge\n"+
			"gmc_risk_exposure{account=\"acct-flip\",strategy=\"flip\",kind=\"gross\"} %g\n"+
			"gmc_risk_exposure{account=\"acct-flip\",strategy=\"flip\",kind=\"net\"} %g\n"+
			"# TYPE gmc_pnl gauge\ngmc_pnl{account=\"acct-flip\",strategy=\"flip\"} 100\n", math.Abs(v), v))
	}
	push()
	go func() {
		defer close(done)
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-tk.C:
				push()
			}
		}
	}()
	time.Sleep(2 * time.Second)

	load(t, ctx, st.URL+"/#/trading/acct-flip?range=live")
	waitLegendStat(t, ctx, 20*time.Second, "gross", "flip", "last")
	waitLegendStat(t, ctx, 20*time.Second, "net", "flip", "last")
	// Each change of the page: the table's figures beside the legends' last.
	eval[bool](t, ctx, `(() => {
		window.__same = {checks: 0, seen: new Set(), diff: []};
		const txt = (e) => (e && e.firstChild ? e.firstChild.textContent.trim() : null);
		const check = () => {
			const row = document.querySelector('tr[data-account="acct-flip"][data-strategy="flip"]');
			const g = document.querySelector('[data-stats="gross"] tr[data-series="flip"] [data-stat="last"]');
			const n = document.querySelector('[data-stats="net"] tr[data-series="flip"] [data-stat="last"]');
			if (!row || !g || !n) return;
			const tg = txt(row.querySelector('td[data-col="gross"]'));
			const tn = txt(row.querySelector('td[data-col="net"]'));
			window.__same.checks++;
			window.__same.seen.add(tn);
			if (tg !== txt(g) || tn !== txt(n)) window.__same.diff.push('table ' + tg + ' / ' + tn + ', legends ' + txt(g) + ' / ' + txt(n));
		};
		new MutationObserver(check).observe(document.getElementById('page'), {subtree: true, childList: true, characterData: true});
		return true;
	})()`)
	start := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`)
	// Bounded: 8 refreshes take 8 s on an idle machine.
	if err := poll(ctx, 120*time.Second, `Number(document.getElementById('page').dataset.refreshed) >= `+strconv.Itoa(start+8)); err != nil {
		t.Fatalf("Live did not refresh 8 times: %v", err)
	}
	if diff := eval[[]string](t, ctx, `window.__same.diff.slice(0, 5)`); len(diff) > 0 {
		t.Errorf("the table and the charts' last disagree (%d of %d changes of the page), first: %v",
			evalInt(t, ctx, `window.__same.diff.length`), evalInt(t, ctx, `window.__same.checks`), diff)
	}
	// The fixture did flip within the refreshes watched.
	if n := evalInt(t, ctx, `window.__same.seen.size`); n < 3 {
		t.Errorf("the table's net took %d values over 8 refreshes, want the flips (3 or more)", n)
	}
	// The table says the second its figures are of: the charts' newest point.
	at := eval[float64](t, ctx, `Number((document.querySelector('[data-figures-at]') || {dataset: {}}).dataset.figuresAt || 0)`)
	end := eval[float64](t, ctx, `document.querySelector('[data-chart="gross"]').chart.end`)
	if at == 0 || at != end {
		t.Errorf("the table's figures are of %v, want the charts' newest point %v", at, end)
	}
}
