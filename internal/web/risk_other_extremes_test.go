package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserRiskBacktestExtremesBetweenSteps: the desk's "Backtest and
// paper PnL" legend gave its min and max at the chart's steps, while the
// live accounts' beside it gave the lowest and highest within each step
// (t-user15 F4: 30d min −1.31k USD where the backtest PnL reached −2.19k,
// max 48.6k where it reached 49.1k). A backtest account's PnL of 1,000
// that spikes to 5,000 for 100 ms and dips to −3,000 as briefly, between
// two whole seconds: the legend's max and min are the spike and the dip.
func TestBrowserRiskBacktestExtremesBetweenSteps(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(26 * time.Hour) })
	pnl := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_pnl"}, {Name: "account", Value: "backtest-1"}, {Name: "strategy", Value: "s1"},
	}}
	live := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_pnl"}, {Name: "account", Value: "acct-live"}, {Name: "strategy", Value: "s1"},
	}}
	now := time.Now().UnixMilli() / 60000 * 60000
	spike := now - 10*3600*1000 + 30_500
	dip := now - 14*3600*1000 + 30_500
	for ts := now - 24*3600*1000; ts <= now; ts += 60_000 {
		pnl.Samples = append(pnl.Samples, prompb.Sample{Timestamp: ts, Value: 1000})
		live.Samples = append(live.Samples, prompb.Sample{Timestamp: ts, Value: 200})
		for _, x := range []struct {
			at int64
			to float64
		}{{spike, 5000}, {dip, -3000}} {
			if ts < x.at && x.at < ts+60_000 {
				pnl.Samples = append(pnl.Samples, prompb.Sample{Timestamp: x.at, Value: x.to}, prompb.Sample{Timestamp: x.at + 100, Value: 1000})
			}
		}
	}
	if err := webtest.Write(context.Background(), st.URL, pnl, live); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/risk?range=24h")
	row := `[...(document.querySelector('[data-chart="pnl-other"]')?.closest('.card')?.querySelectorAll('tr[data-series]') || [])].find((x) => x.dataset.series.startsWith('backtest-1'))`
	if err := poll(ctx, 20*time.Second, `!!(`+row+`)`); err != nil {
		t.Fatalf("the Backtest and paper PnL legend has no backtest-1 row: %v", err)
	}
	stat := func(which string) float64 {
		t.Helper()
		txt := strings.TrimSpace(eval[string](t, ctx, `(`+row+`).querySelector('[data-stat="`+which+`"]').textContent`))
		f := strings.Fields(strings.NewReplacer("k", "e3 ", "−", "-", ",", "").Replace(txt))
		if len(f) == 0 {
			t.Fatalf("backtest-1 %s: %q", which, txt)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("backtest-1 %s: %q: %v", which, txt, err)
		}
		return v
	}
	if v := stat("max"); v != 5000 {
		t.Errorf("Backtest and paper PnL legend max %v, want the spike's 5000", v)
	}
	if v := stat("min"); v != -3000 {
		t.Errorf("Backtest and paper PnL legend min %v, want the dip's -3000", v)
	}
}
