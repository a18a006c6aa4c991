package demo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/sdk"
)

// TestHistoryPnLMovesAsTheLiveDesk: the history's PnL walk moved
// load·dt/60·vol/10 a minute, the live strategy's vol·√dt: acct-1's
// 2-minute PnL changes had a standard deviation of 5.35 USD in a 30d
// history and 755 USD live, so the Risk page's 24h and 7d drawdowns were
// made by the first live minutes (t-user9 #5). At the history's end (the
// live desk's load) each account's one-minute steps have the live walk's
// standard deviation over a minute, the live walk measured as it runs: 600
// steps of 100 ms (pnlStep, seeded).
func TestHistoryPnLMovesAsTheLiveDesk(t *testing.T) {
	end := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	g := newHistoryGen(HistoryOptions{End: end, Span: time.Hour, Seed: 1})
	const n = 4000
	live := rand.New(rand.NewPCG(3, 5))
	for i, def := range strategyDefs() {
		acct := accountName(uint32(i + 1))
		var walk func(time.Time, float64, float64) float64
		for _, s := range g.series {
			if s.lset.Get("__name__") == sdk.MetricPnL && s.lset.Get("account") == acct {
				walk = s.next
			}
		}
		if walk == nil {
			t.Fatalf("no %s series for %s in the history", sdk.MetricPnL, acct)
		}
		// The history's steps, a minute each at the end's load.
		prev := walk(end, 60, g.endLoad)
		var hist []float64
		for range n {
			v := walk(end, 60, g.endLoad)
			hist = append(hist, v-prev)
			prev = v
		}
		// The live walk's minutes, as strategy.run steps it.
		var lv []float64
		for range n {
			var d float64
			for range 600 {
				d += pnlStep(def.drift, def.vol, 0.1, live)
			}
			lv = append(lv, d)
		}
		hs, ls := stddev(hist), stddev(lv)
		// Each estimate's relative standard error is ~1/√(2n) = 1.1 %.
		if math.Abs(hs/ls-1) > 0.08 {
			t.Errorf("%s (%s): the history's 1-minute PnL steps have a stddev of %.2f USD, the live walk's %.2f USD (vol %.0f/√s: %.2f); want within 8 %%",
				acct, def.name, hs, ls, def.vol, def.vol*math.Sqrt(60))
		}
	}
}

func stddev(xs []float64) float64 {
	var s, ss float64
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}
