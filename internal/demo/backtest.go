package demo

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gmc-dev/gmc/sdk"
)

// bar is one OHLC bar of an instrument.
type bar struct{ open, high, low, close float64 }

// barsPerDay is one trading day of one-minute bars (24 h market).
const barsPerDay = 1440

// dayOfBars generates a day of one-minute bars from a random walk.
func dayOfBars(seed uint64) []bar {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]bar, barsPerDay)
	price := 100.0
	for i := range out {
		b := bar{open: price}
		b.high, b.low = price, price
		for range 4 {
			price *= 1 + 0.0005*rng.NormFloat64()
			b.high, b.low = max(b.high, price), min(b.low, price)
		}
		b.close = price
		out[i] = b
	}
	return out
}

// smaCross is the backtested strategy: long when the 10-bar moving average
// of closes is above the 30-bar one, short otherwise, one unit.
type smaCross struct {
	fast, slow   window
	pos          float64
	pnl, lastPx  float64
	bars, trades int64
}

type window struct {
	buf [32]float64
	n   int
	len int
	sum float64
}

func (w *window) push(v float64) float64 {
	i := w.n % w.len
	if w.n >= w.len {
		w.sum -= w.buf[i]
	}
	w.buf[i] = v
	w.sum += v
	w.n++
	return w.sum / float64(min(w.n, w.len))
}

func newSMACross() *smaCross {
	return &smaCross{fast: window{len: 10}, slow: window{len: 30}}
}

// on processes one bar: marks the position to market, then re-decides it.
func (s *smaCross) on(b bar) {
	if s.lastPx != 0 {
		s.pnl += s.pos * (b.close - s.lastPx)
	}
	s.lastPx = b.close
	f, sl := s.fast.push(b.close), s.slow.push(b.close)
	want := -1.0
	if f > sl {
		want = 1
	}
	if s.slow.n >= s.slow.len && want != s.pos {
		s.pos = want
		s.trades++
	}
	s.bars++
}

// replayDay runs a fresh strategy over one day of bars and returns it.
func replayDay(day []bar) *smaCross {
	s := newSMACross()
	for _, b := range day {
		s.on(b)
	}
	return s
}

// backtester is the backtest service: it replays days of bars through the
// strategy at a steady rate, counting bars in gmc_requests_total{endpoint="bar"}
// (rate() is bars/s) and each day's replay in gmc_request_latency_seconds
// {endpoint="replay-day"}, and reports the backtest's PnL.
// backtestAccount is the account the backtester's PnL is reported under,
// backtestStrategy its strategy label.
const (
	backtestAccount  = "backtest"
	backtestStrategy = "sma-crossover"
)

// backtestDaySD is the standard deviation of the strategy's PnL over one
// replayed day, from 200 days of bars replayed (the history's backtest PnL
// moves by it). Its mean is 0: the position is set before each bar's move
// and the bars' walk has no drift (a mean measured over 200 days, 0.01-0.28
// USD with a standard error of ~0.27, would be a drift made of noise).
func backtestDaySD(seed int64) float64 {
	rng := rand.New(rand.NewPCG(uint64(seed), 21))
	const n = 200
	var ss float64
	for range n {
		p := replayDay(dayOfBars(rng.Uint64())).pnl
		ss += p * p
	}
	return math.Sqrt(ss / n)
}

type backtester struct {
	svc   *service
	rate  int
	rng   *rand.Rand
	start float64 // the PnL to continue from (Options.StartPnL)
}

func (bt *backtester) run(ctx context.Context) {
	const tick = 10 * time.Millisecond
	pace := &pacer{rate: float64(bt.rate)}
	bars := bt.svc.m.Requests.WithLabelValues("bar")
	day := dayOfBars(bt.rng.Uint64())
	s := newSMACross()
	i := 0
	dayStart := time.Now()
	// The backtest's PnL continues the history's or the last run's (start).
	total := bt.start
	// Its PnL is a backtest's: the dashboard keeps it out of the desk's total.
	bt.svc.m.SetAccount(backtestAccount, currency, sdk.AccountBacktest)
	bt.svc.every(ctx, tick, func() {
		n := pace.owed(time.Now())
		for range n {
			s.on(day[i])
			i++
			if i == len(day) {
				bt.svc.m.ObserveRequest(endpointReplayDay, time.Since(dayStart))
				total += s.pnl
				bt.svc.m.SetPnL(backtestAccount, backtestStrategy, total)
				day, s, i, dayStart = dayOfBars(bt.rng.Uint64()), newSMACross(), 0, time.Now()
			}
		}
		bars.Add(float64(n))
	})
}
