// Package demo is the simulated trading system of `gmc demo`: an order
// gateway and a price-time-priority matching engine fed by three strategies,
// a risk service, market-data playback and a backtester. Each service is its
// own goroutine with its own registry and talks to gmc exactly as a real
// service would: through the SDK's Pusher (remote-write over loopback HTTP)
// or, for market-data, by serving /metrics for gmc to scrape. Incidents
// (a latency spike, an error burst, a service going down) are injected on a
// schedule so alerts fire and resolve and SLA budgets burn. The order
// gateway also takes orders over HTTP (POST /orders on GatewayAddr, see
// orderapi.go), through the same path as the simulated traders' orders,
// so the http benchmark kind can measure its latency.
//
// Services (the service label of their metrics):
//
//	order-gateway        pushed   orders by result, order latency end to end (order-success SLA)
//	matching-engine      pushed   place-order latency measured around Book.Place (matching-latency SLA)
//	risk                 pushed   pre-trade checks by result, gross/net exposure per account
//	strategy-momentum    pushed   order round trips, PnL random walk (and the other two strategies)
//	market-data          scraped  messages/s replayed (gmc_requests_total{endpoint="message"})
//	backtester           pushed   bars/s (gmc_requests_total{endpoint="bar"}), backtest PnL
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gmc-dev/gmc/sdk"
)

// Service names.
const (
	ServiceGateway    = "order-gateway"
	ServiceEngine     = "matching-engine"
	ServiceRisk       = "risk"
	ServiceMarketData = "market-data"
	ServiceBacktester = "backtester"
)

// Defaults of Options.
const (
	DefaultIncidentEvery   = 3 * time.Minute
	DefaultIncidentLength  = time.Minute
	DefaultOrdersPerSecond = 3000
	DefaultMarketDataRate  = 5000
	DefaultBacktestRate    = 20000
	DefaultPushInterval    = time.Second
)

// Options configure the simulated system.
type Options struct {
	// GMCURL is where the pushed services remote-write, e.g.
	// http://127.0.0.1:9900.
	GMCURL string
	Logger *slog.Logger
	// Seed makes the order flow, prices and PnL walks reproducible.
	Seed int64
	// IncidentEvery is the pause before each incident (after the previous
	// one ended); DefaultIncidentEvery when 0, none when negative.
	IncidentEvery time.Duration
	// IncidentLength is how long each incident lasts; DefaultIncidentLength
	// when 0. A down incident needs more than down_after (8s) plus a few
	// seconds to fire ServiceSilent.
	IncidentLength time.Duration
	// Incidents is the cycle of kinds; DefaultIncidents() when nil.
	Incidents []Incident
	// OrdersPerSecond is the strategies' total order rate (cancels not
	// counted); DefaultOrdersPerSecond when 0.
	OrdersPerSecond int
	// MarketDataRate is the playback rate in messages/s; DefaultMarketDataRate when 0.
	MarketDataRate int
	// BacktestRate is the backtest speed in bars/s; DefaultBacktestRate when 0.
	BacktestRate int
	// MarketDataAddress is where market-data serves /metrics for gmc to
	// scrape; 127.0.0.1:0 (a free port, see MarketDataAddr) when empty.
	MarketDataAddress string
	// MarketDataListener, when set, is used instead of listening on
	// MarketDataAddress (so the caller knows the address before New, e.g.
	// to configure gmc's scraping); Demo closes it.
	MarketDataListener net.Listener
	// GatewayAddress is where the order gateway's HTTP front (POST /orders)
	// listens; 127.0.0.1:0 (a free port, see GatewayAddr) when empty.
	GatewayAddress string
	// GatewayListener, when set, is used instead of listening on
	// GatewayAddress; Demo closes it.
	GatewayListener net.Listener
	// SpoolDir, when set, keeps each pushed service's undelivered requests
	// on disk under SpoolDir/<service>; in memory otherwise.
	SpoolDir string
	// PushInterval is the pushed services' interval; DefaultPushInterval when 0.
	PushInterval time.Duration
	// StartPnL is each account's PnL to continue from (HistoryResult.PnL,
	// where a backfilled history ended); 0 for an account not in it.
	StartPnL map[string]float64
}

// Demo is the simulated trading system.
type Demo struct {
	opts       Options
	logger     *slog.Logger
	services   []*service
	gateway    *gateway
	engine     *engine
	risk       *risk
	strategies []*strategy
	marketData *marketData
	backtester *backtester
	gatewayLn  net.Listener
}

// strategyDef is one of the three strategies: name, PnL drift per second
// and volatility per √second, share of the order flow.
type strategyDef struct {
	name        string
	drift, vol  float64
	ordersShare int // percent of OrdersPerSecond
}

func strategyDefs() []strategyDef {
	return []strategyDef{
		{"momentum", 4, 120, 40},
		{"mean-reversion", 2, 60, 30},
		{"market-making", 1, 25, 30},
	}
}

// New builds the services and listens on market-data's and the order
// gateway's addresses; nothing runs until Run.
func New(opts Options) (*Demo, error) {
	if opts.GMCURL == "" {
		return nil, errors.New("demo: GMCURL is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.IncidentEvery == 0 {
		opts.IncidentEvery = DefaultIncidentEvery
	}
	if opts.IncidentLength <= 0 {
		opts.IncidentLength = DefaultIncidentLength
	}
	if opts.Incidents == nil {
		opts.Incidents = DefaultIncidents()
	}
	if opts.OrdersPerSecond <= 0 {
		opts.OrdersPerSecond = DefaultOrdersPerSecond
	}
	if opts.MarketDataRate <= 0 {
		opts.MarketDataRate = DefaultMarketDataRate
	}
	if opts.BacktestRate <= 0 {
		opts.BacktestRate = DefaultBacktestRate
	}
	if opts.MarketDataAddress == "" {
		opts.MarketDataAddress = "127.0.0.1:0"
	}
	if opts.PushInterval <= 0 {
		opts.PushInterval = DefaultPushInterval
	}
	if opts.GatewayAddress == "" {
		opts.GatewayAddress = "127.0.0.1:0"
	}
	d := &Demo{opts: opts, logger: opts.Logger, gatewayLn: opts.GatewayListener}
	if d.gatewayLn == nil {
		ln, err := net.Listen("tcp", opts.GatewayAddress)
		if err != nil {
			return nil, fmt.Errorf("demo: listen for the order gateway on %s: %w", opts.GatewayAddress, err)
		}
		d.gatewayLn = ln
	}
	seed := uint64(opts.Seed)
	rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

	svc := func(name string, pushed bool) (*service, error) {
		s, err := newService(name, d.logger)
		if err != nil {
			return nil, err
		}
		if pushed {
			err = s.pushTo(&d.opts)
		} else {
			err = s.serveOn(opts.MarketDataAddress, opts.MarketDataListener)
		}
		if err != nil {
			return nil, err
		}
		d.services = append(d.services, s)
		return s, nil
	}
	var err error
	mid := &atomic.Int64{}
	mid.Store(10000)
	accounts := map[uint32]string{}
	for i, def := range strategyDefs() {
		accounts[uint32(i+1)] = def.name
	}
	var s [6]*service
	for i, name := range []string{ServiceGateway, ServiceEngine, ServiceRisk, ServiceBacktester} {
		if s[i], err = svc(name, true); err != nil {
			return nil, d.closeAll(err)
		}
	}
	if s[4], err = svc(ServiceMarketData, false); err != nil {
		return nil, d.closeAll(err)
	}
	d.risk = newRisk(s[2], accounts)
	d.engine = &engine{svc: s[1], in: make(chan *request), risk: d.risk}
	d.gateway = &gateway{svc: s[0], in: make(chan *request), engine: d.engine, risk: d.risk, rng: rng(1)}
	d.backtester = &backtester{svc: s[3], rate: opts.BacktestRate, rng: rng(2), start: opts.StartPnL[backtestAccount]}
	if start, ok := opts.StartPnL[backtestAccount]; ok {
		// From the first push, as the strategies' (the backtest's PnL
		// fell to 0 at the history's end).
		s[3].m.SetAccount(backtestAccount, currency, sdk.AccountBacktest)
		s[3].m.SetPnL(backtestAccount, backtestStrategy, start)
	}
	d.marketData = newMarketData(s[4], opts.MarketDataRate, mid, recording(seed, 1<<16))
	for i, def := range strategyDefs() {
		ss, err := svc("strategy-"+def.name, true)
		if err != nil {
			return nil, d.closeAll(err)
		}
		d.strategies = append(d.strategies, &strategy{
			svc: ss, name: def.name, account: uint32(i + 1), drift: def.drift, vol: def.vol,
			rate: opts.OrdersPerSecond * def.ordersShare / 100, gateway: d.gateway, risk: d.risk, mid: mid,
			rng: rng(10 + uint64(i)), pnl: opts.StartPnL[accountName(uint32(i+1))],
		})
		if start, ok := opts.StartPnL[accountName(uint32(i+1))]; ok {
			// Published from the first push, so the series continues the
			// history's rather than starting at 0.
			ss.m.SetPnL(accountName(uint32(i+1)), def.name, start)
		}
	}
	return d, nil
}

// closeAll releases what New opened, joining err.
func (d *Demo) closeAll(err error) error {
	if cerr := d.gatewayLn.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close the order gateway listener: %w", cerr))
	}
	for _, s := range d.services {
		if s.ln != nil {
			if cerr := s.ln.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close %s listener: %w", s.name, cerr))
			}
		}
	}
	return err
}

// MarketDataAddr is the host:port where market-data serves /metrics; give
// it to gmc as a scrape target (with label service="market-data").
func (d *Demo) MarketDataAddr() string { return d.marketData.svc.listen }

// GatewayAddr is the host:port of the order gateway's HTTP front.
func (d *Demo) GatewayAddr() string { return d.gatewayLn.Addr().String() }

// GatewayURL is the URL to POST orders to, e.g. http://127.0.0.1:9910/orders.
func (d *Demo) GatewayURL() string { return "http://" + d.GatewayAddr() + OrdersPath }

// Services lists the names of the simulated services.
func (d *Demo) Services() []string {
	out := make([]string, len(d.services))
	for i, s := range d.services {
		out[i] = s.name
	}
	return out
}

// Run runs every service until ctx ends, then stops them all and waits.
func (d *Demo) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range d.services {
		g.Go(func() error { return s.run(gctx) })
	}
	for _, f := range append(d.work(), d.injectIncidents) {
		g.Go(func() error { f(gctx); return nil })
	}
	g.Go(func() error { return d.serveGateway(gctx) })
	d.logger.Info("simulated trading system running", "services", len(d.services),
		"orders_per_second", d.opts.OrdersPerSecond, "market_data", d.MarketDataAddr(), "order_gateway", d.GatewayURL(),
		"incident_every", d.opts.IncidentEvery.String(), "incident_length", d.opts.IncidentLength.String())
	err := g.Wait()
	d.logger.Info("simulated trading system stopped")
	return err
}

// work is what the services do (their orders, feed and backtests),
// without their way to gmc, the incidents or the HTTP front: Run runs it
// with them, Calibrate alone.
func (d *Demo) work() []func(context.Context) {
	work := []func(context.Context){d.engine.run, d.gateway.run, d.risk.run, d.marketData.run, d.backtester.run}
	for _, s := range d.strategies {
		work = append(work, s.run)
	}
	return work
}

// serveGateway serves the order gateway's HTTP front until ctx ends.
func (d *Demo) serveGateway(ctx context.Context) error {
	srv := &http.Server{
		Handler:           &orderAPI{gw: d.gateway},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(d.gatewayLn) }()
	select {
	case err := <-errc:
		return fmt.Errorf("order gateway: serve %s: %w", OrdersPath, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("order gateway: stop serving: %w", err)
	}
	return nil
}

// Run builds the simulated system and runs it until ctx ends.
func Run(ctx context.Context, opts Options) error {
	d, err := New(opts)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}
