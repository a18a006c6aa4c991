package demo

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/gmc-dev/gmc/sdk"
)

// request is one message from a strategy to the order gateway, and from the
// gateway to the matching engine: a new order or a cancel.
type request struct {
	order    Order
	cancelID uint64 // non-zero: cancel this order instead
	reply    chan response
}

// response answers a request.
type response struct {
	id     uint64
	result sdk.Result
	fills  int
	filled int64 // lots filled
	left   int64 // lots left resting in the book
}

// engine is the matching engine service: one goroutine owning the book,
// timing each place-order call (gmc_order_latency_seconds of
// service="matching-engine").
type engine struct {
	svc  *service
	in   chan *request
	risk *risk
	// slow, during a latency incident, makes one order in slowEvery sleep
	// slowFor inside the timed matching path.
	slow atomic.Bool
}

const (
	slowEvery = 10
	slowFor   = 2 * time.Millisecond
)

func (e *engine) run(ctx context.Context) {
	book := NewBook()
	fills := make([]Fill, 0, 64)
	var n uint64
	for {
		var r *request
		select {
		case <-ctx.Done():
			return
		case r = <-e.in:
		}
		if r.cancelID != 0 {
			book.Cancel(r.cancelID)
			r.reply <- response{id: r.cancelID, result: sdk.ResultSuccess}
			continue
		}
		n++
		start := time.Now()
		if e.slow.Load() && n%slowEvery == 0 {
			time.Sleep(slowFor)
		}
		var err error
		var left int64
		fills, left, err = book.Place(r.order, fills[:0])
		lat := time.Since(start)
		res := sdk.ResultSuccess
		if err != nil {
			res = sdk.ResultReject
		}
		e.svc.m.ObserveOrder(lat, res)
		e.risk.onFills(fills)
		var filled int64
		for _, f := range fills {
			filled += f.Qty
		}
		r.reply <- response{id: r.order.ID, result: res, fills: len(fills), filled: filled, left: left}
	}
}

// gateway is the order gateway service: it validates orders, asks risk,
// forwards them to the engine and waits for the answer, timing the whole
// (gmc_order_latency_seconds of service="order-gateway"). Its order success
// rate is what the order-success SLA watches.
type gateway struct {
	svc    *service
	in     chan *request
	engine *engine
	risk   *risk
	rng    *rand.Rand
	nextID uint64
	// failing, during an error incident, fails failRate of the orders as a
	// lost engine connection would.
	failing atomic.Bool
}

const failRate = 0.05

func (g *gateway) run(ctx context.Context) {
	reply := make(chan response, 1)
	for {
		var r *request
		select {
		case <-ctx.Done():
			return
		case r = <-g.in:
		}
		start := time.Now()
		if r.cancelID != 0 {
			resp, ok := g.forward(ctx, &request{cancelID: r.cancelID, reply: reply}, reply)
			if !ok {
				return
			}
			g.svc.m.ObserveRequest(endpointCancel, time.Since(start))
			r.reply <- resp
			continue
		}
		g.nextID++
		o := r.order
		o.ID = g.nextID
		var resp response
		switch {
		case o.Qty <= 0 || (o.Type == Limit && o.Price <= 0):
			resp = response{id: o.ID, result: sdk.ResultReject}
		case g.failing.Load() && g.rng.Float64() < failRate:
			resp = response{id: o.ID, result: sdk.ResultError}
		case !g.risk.check(o):
			resp = response{id: o.ID, result: sdk.ResultReject}
		default:
			var ok bool
			if resp, ok = g.forward(ctx, &request{order: o, reply: reply}, reply); !ok {
				return
			}
		}
		g.svc.m.ObserveOrder(time.Since(start), resp.result)
		r.reply <- resp
	}
}

func (g *gateway) forward(ctx context.Context, r *request, reply chan response) (response, bool) {
	select {
	case g.engine.in <- r:
	case <-ctx.Done():
		return response{}, false
	}
	select {
	case resp := <-reply:
		return resp, true
	case <-ctx.Done():
		return response{}, false
	}
}

// strategy is one of the three trading strategies: it trades through the
// gateway (it is one of the simulated traders), timing each order's round
// trip, and reports its PnL as a random walk with the strategy's drift.
type strategy struct {
	svc     *service
	name    string
	account uint32
	drift   float64 // PnL drift per second
	vol     float64 // PnL volatility per √second
	rate    int     // orders per second
	gateway *gateway
	risk    *risk
	mid     *atomic.Int64 // the market-data mid price in ticks
	rng     *rand.Rand
	pnl     float64 // where the PnL walk starts (Options.StartPnL)
}

// liveOrders is how many of its own orders a strategy keeps working; it
// cancels the oldest beyond that, so the book stays bounded.
const liveOrders = 64

func (s *strategy) run(ctx context.Context) {
	const tick = 10 * time.Millisecond
	pace := &pacer{rate: float64(s.rate)}
	reply := make(chan response, 1)
	var live [liveOrders]uint64
	var n int
	pnl := s.pnl
	// The walk moves by the time that passed since its last step, not by
	// the ticks counted: on a busy machine ticks run late, and counting
	// them moved the PnL less per second than its model (755 USD per 2
	// minutes measured at load 26, 1,314 modelled).
	mark := time.Now()
	s.svc.every(ctx, tick, func() {
		for range pace.owed(time.Now()) {
			if slot := &live[n%liveOrders]; *slot != 0 {
				if _, ok := s.send(ctx, &request{cancelID: *slot, reply: reply}, reply); !ok {
					return
				}
				*slot = 0
			}
			start := time.Now()
			resp, ok := s.send(ctx, &request{order: s.nextOrder(), reply: reply}, reply)
			if !ok {
				return
			}
			s.svc.m.ObserveOrder(time.Since(start), resp.result)
			if resp.result == sdk.ResultSuccess {
				live[n%liveOrders] = resp.id
			}
			n++
		}
		if now := time.Now(); now.Sub(mark) >= 100*time.Millisecond {
			pnl += pnlStep(s.drift, s.vol, now.Sub(mark).Seconds(), s.rng)
			s.svc.m.SetPnL(accountName(s.account), s.name, pnl)
			mark = now
		}
	})
}

// pnlStep is a strategy's PnL change over dt seconds of trading: its
// drift (per second) and a random walk of volatility vol per √second, so
// a step's standard deviation is vol·√dt whatever the step (the history's
// walk, by the minute, moves as the live one, by the 100 ms).
func pnlStep(drift, vol, dt float64, rng *rand.Rand) float64 {
	return drift*dt + vol*rng.NormFloat64()*math.Sqrt(dt)
}

func (s *strategy) send(ctx context.Context, r *request, reply chan response) (response, bool) {
	select {
	case s.gateway.in <- r:
	case <-ctx.Done():
		return response{}, false
	}
	select {
	case resp := <-reply:
		return resp, true
	case <-ctx.Done():
		return response{}, false
	}
}

// nextOrder is a limit order within 5 ticks of the mid (about half cross)
// or, one in ten, a market order; the side leans against the position so
// it stays well inside the risk limit.
func (s *strategy) nextOrder() Order {
	o := Order{Account: s.account, Side: Side(1 + s.rng.IntN(2)), Type: Limit, Qty: 1 + int64(s.rng.IntN(10))}
	pos := s.risk.position(s.account)
	switch {
	case pos > softPosition:
		o.Side = Sell
	case pos < -softPosition:
		o.Side = Buy
	}
	if s.rng.IntN(10) == 0 {
		o.Type = Market
		return o
	}
	o.Price = s.mid.Load() + int64(s.rng.IntN(11)) - 5
	return o
}
