package demo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gmc-dev/gmc/sdk"
)

// Position limits, in lots per account. Strategies trade against their
// position beyond softPosition, so the hard limit is rarely reached and the
// order success rate stays at its objective outside incidents.
const (
	softPosition = 500
	hardPosition = 5000
	// tickValue is the currency value of one lot moving one tick.
	tickValue = 0.01
	// currency is the demo accounts' currency (the instrument is DEMO-USD).
	currency = "USD"
)

// risk is the risk service: positions per account from the engine's fills,
// a pre-trade check for the gateway (gmc_orders_total of service="risk" by
// result, its latency in gmc_order_latency_seconds), and gross and net
// exposure per account and strategy in gmc_risk_exposure, the hard position
// limit as a gross exposure limit at the last price in gmc_risk_limit, and
// each account's currency and mode in gmc_account_info.
type risk struct {
	svc        *service
	strategies map[uint32]string // account → strategy name

	mu   sync.Mutex
	pos  map[uint32]int64
	last int64 // last trade price, ticks
}

func newRisk(svc *service, strategies map[uint32]string) *risk {
	return &risk{svc: svc, strategies: strategies, pos: map[uint32]int64{}, last: 10000}
}

func accountName(a uint32) string { return fmt.Sprintf("acct-%d", a) }

// check says whether o keeps its account within the hard position limit.
func (r *risk) check(o Order) bool {
	start := time.Now()
	r.mu.Lock()
	p := r.pos[o.Account]
	r.mu.Unlock()
	if o.Side == Buy {
		p += o.Qty
	} else {
		p -= o.Qty
	}
	ok := p <= hardPosition && p >= -hardPosition
	res := sdk.ResultSuccess
	if !ok {
		res = sdk.ResultReject
	}
	r.svc.m.ObserveOrder(time.Since(start), res)
	return ok
}

// onFills applies fills to both sides' positions.
func (r *risk) onFills(fills []Fill) {
	if len(fills) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fills {
		q := f.Qty
		if f.TakerSide == Sell {
			q = -q
		}
		r.pos[f.TakerAccount] += q
		r.pos[f.MakerAccount] -= q
		r.last = f.Price
	}
}

func (r *risk) position(account uint32) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pos[account]
}

// run publishes exposure and limits every 500ms.
func (r *risk) run(ctx context.Context) {
	for a := range r.strategies {
		r.svc.m.SetAccount(accountName(a), currency, sdk.AccountLive)
	}
	r.svc.every(ctx, 500*time.Millisecond, func() {
		r.mu.Lock()
		price := float64(r.last)
		pos := make(map[uint32]int64, len(r.strategies))
		for a := range r.strategies {
			pos[a] = r.pos[a]
		}
		r.mu.Unlock()
		for a, p := range pos {
			net := float64(p) * price * tickValue
			r.svc.m.SetExposure(accountName(a), r.strategies[a], abs(net), net)
			// check refuses an order past hardPosition lots: at the last
			// price that is this much gross exposure.
			r.svc.m.SetLimit(accountName(a), r.strategies[a], sdk.ExposureGross, hardPosition*price*tickValue)
		}
	})
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
