package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserAxisTicksDistinct: the Risk page's "Backtest and paper PnL"
// y axis on Live read 47.9k, 47.9k, 47.8k, 47.8k, 47.7k USD, a 200 USD
// span labelled at three significant digits (t-user16 F3). A backtest
// account's PnL climbs from 47,700 to 47,900 over the last 10 minutes: on
// its account's page (the desk's Backtest and paper PnL chart also holds
// the seed's backtest account, at a million) the PnL chart's y ticks are
// at least three, and no two of different values read alike (every chart's
// value axis has the same labels: chart.js valueAxis).
func TestBrowserAxisTicksDistinct(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(time.Hour) })
	pnl := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "gmc_pnl"}, {Name: "account", Value: "backtest-1"}, {Name: "strategy", Value: "s1"},
	}}
	now := time.Now().UnixMilli() / 1000 * 1000
	const span = 600
	for i := 0; i <= span; i++ {
		pnl.Samples = append(pnl.Samples, prompb.Sample{Timestamp: now - int64(span-i)*1000, Value: 47700 + 200*float64(i)/span})
	}
	if err := webtest.Write(context.Background(), st.URL, pnl); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/risk/backtest-1?range=live")
	ticks := `(() => { const u = document.querySelector('[data-chart="pnl"]')?.chart?.u;
		return u && u.axes[1]._splits && u.axes[1]._values ? {splits: u.axes[1]._splits.map(Number), labels: u.axes[1]._values.map(String)} : null; })()`
	if err := poll(ctx, 20*time.Second, `(() => { const x = `+ticks+`; return !!x && x.splits.length >= 3 && Math.max(...x.splits) - Math.min(...x.splits) < 1000; })()`); err != nil {
		t.Fatalf("backtest-1's PnL chart has no y axis of 3 ticks or more over its PnL's span (%s): %v",
			eval[string](t, ctx, `JSON.stringify(`+ticks+`)`), err)
	}
	got := eval[struct {
		Splits []float64 `json:"splits"`
		Labels []string  `json:"labels"`
	}](t, ctx, ticks)
	t.Logf("y ticks %v read %q", got.Splits, got.Labels)
	if len(got.Labels) != len(got.Splits) {
		t.Fatalf("%d labels for %d ticks", len(got.Labels), len(got.Splits))
	}
	seen := map[string]float64{}
	for i, l := range got.Labels {
		if v, ok := seen[l]; ok && v != got.Splits[i] {
			t.Errorf("y ticks %v and %v both read %q (labels %q)", v, got.Splits[i], l, got.Labels)
		}
		seen[l] = got.Splits[i]
	}
	screenshot(t, ctx, artifacts(t), "axis-ticks-distinct")
}
