package web_test

import (
	"strings"
	"testing"
	"time"
)

// TestBrowserRiskSpanSaid: a Risk range ending now has its points on the
// step grid, the first at the last step boundary − the range, so at 7d the
// peak, drawdowns and table were over up to 33.6 minutes more than 7 days
// (a trial's 7d25m, 4.4k USD more drawdown than raw [7d]), the page not
// saying so (t-user11 #2). The page's clock is set 10 minutes or more after
// a 7d step: the Desk drawdown tile says where its range begins.
func TestBrowserRiskSpanSaid(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	const step = step7d
	at := time.Now().Unix()
	for at%step < 600 || at%step > step-120 {
		at--
	}
	pageClock(t, ctx, time.Unix(at, 0))
	load(t, ctx, st.URL+"/#/risk?range=7d")
	sub := `(document.querySelector('[data-kpi="Desk drawdown"] .kpi-sub') || {textContent: ''}).textContent`
	if err := poll(ctx, 20*time.Second, sub+`.includes('max in range')`); err != nil {
		t.Fatalf("no Desk drawdown tile: %v", err)
	}
	txt := eval[string](t, ctx, sub)
	if !strings.Contains(txt, "the chart's first step") || !strings.Contains(txt, "before now − 7d") {
		t.Errorf("the Desk drawdown tile's note %q does not say its range begins before now − 7d", txt)
	}
}
