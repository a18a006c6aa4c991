package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/sdk"
)

// service is what every simulated service has: its own registry with the
// SDK's metrics, and a way to gmc — an sdk.Pusher (remote-write) or a
// /metrics endpoint gmc scrapes. It can be taken down for a while (an
// injected incident): it then stops its work and stops pushing or serving,
// as a crashed process would.
type service struct {
	name    string
	reg     *prometheus.Registry
	m       *sdk.Metrics
	logger  *slog.Logger
	down    atomic.Bool
	outages chan time.Duration

	// Exactly one of these.
	pusher *sdk.Pusher
	listen string // scraped: the address of /metrics
	ln     net.Listener
}

func newService(name string, logger *slog.Logger) (*service, error) {
	reg := prometheus.NewRegistry()
	opts := sdk.MetricsOptions{Service: name, Registerer: reg}
	if name == ServiceGateway {
		// Orders enter the desk here: the dashboard counts them once, here.
		opts.Stage = sdk.StageEntry
	}
	m, err := sdk.NewMetrics(opts)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", name, err)
	}
	return &service{name: name, reg: reg, m: m, logger: logger.With("service", name), outages: make(chan time.Duration, 1)}, nil
}

// pushTo makes s remote-write to gmcURL through the SDK's Pusher.
func (s *service) pushTo(o *Options) error {
	spool := ""
	if o.SpoolDir != "" {
		spool = filepath.Join(o.SpoolDir, s.name)
	}
	p, err := sdk.NewPusher(sdk.PusherOptions{
		URL:               o.GMCURL,
		Gatherer:          s.reg,
		Interval:          o.PushInterval,
		SpoolDir:          spool,
		ExternalLabels:    map[string]string{"instance": s.name + "-1", "job": "gmc-demo"},
		ClassicHistograms: true,
		Logger:            s.logger,
		Registerer:        s.reg,
	})
	if err != nil {
		return fmt.Errorf("service %s: %w", s.name, err)
	}
	s.pusher = p
	return nil
}

// serveOn makes s serve /metrics on ln or, when nil, on addr (127.0.0.1:0
// picks a port); it listens now so the address is known before gmc is
// configured.
func (s *service) serveOn(addr string, ln net.Listener) error {
	if ln != nil {
		s.ln, s.listen = ln, ln.Addr().String()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("service %s: listen on %s: %w", s.name, addr, err)
	}
	s.ln, s.listen = ln, ln.Addr().String()
	return nil
}

// takeDown asks s to go down for d; false when it is already down or
// going down.
func (s *service) takeDown(d time.Duration) bool {
	if s.down.Load() {
		return false
	}
	select {
	case s.outages <- d:
		return true
	default:
		return false
	}
}

// isDown says whether the service is down (its workers idle meanwhile).
func (s *service) isDown() bool { return s.down.Load() }

// run keeps s connected to gmc until ctx ends, going down when asked.
func (s *service) run(ctx context.Context) error {
	for {
		upCtx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- s.connect(upCtx) }()
		var outage time.Duration
		select {
		case <-ctx.Done():
		case outage = <-s.outages:
			s.down.Store(true)
		}
		cancel()
		if err := <-errc; err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		t := time.NewTimer(outage)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		s.down.Store(false)
		if s.listen != "" {
			ln, err := net.Listen("tcp", s.listen)
			if err != nil {
				return fmt.Errorf("service %s: listen again on %s: %w", s.name, s.listen, err)
			}
			s.ln = ln
		}
	}
}

// connect pushes or serves until ctx ends.
func (s *service) connect(ctx context.Context) error {
	if s.pusher != nil {
		return s.pusher.Run(ctx)
	}
	srv := &http.Server{Handler: sdk.Handler(s.reg), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("service %s: serve /metrics: %w", s.name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("service %s: stop serving: %w", s.name, err)
	}
	return nil
}

// every calls f every d until ctx ends, skipping ticks while s is down.
func (s *service) every(ctx context.Context, d time.Duration, f func()) {
	s.everyAt(ctx, d, func(time.Time) { f() })
}

// everyAt is every with the time each tick fired (a tick delivered late,
// while f ran long, fired before; the ticks after it were dropped).
func (s *service) everyAt(ctx context.Context, d time.Duration, f func(at time.Time)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case at := <-t.C:
			if !s.isDown() {
				f(at)
			}
		}
	}
}

// pacer says how much work a steady rate owes at each tick, so a tick that
// comes late or not at all (a ticker drops ticks when its reader is slow)
// is made up at the next: with a fixed amount a tick the live desk ran at
// 2.2k of its 3k orders/s at load 15, under the history's rates at the
// join. Past maxBehind of work owed (an outage, a stalled machine) the
// clock starts again rather than bursting.
type pacer struct {
	rate  float64 // per second
	start time.Time
	done  float64
}

const maxBehind = time.Second

// owed is the work due by now that is not yet done, which it counts as done.
func (p *pacer) owed(now time.Time) int {
	if p.start.IsZero() {
		p.start = now
	}
	due := p.rate * now.Sub(p.start).Seconds()
	if due-p.done > p.rate*maxBehind.Seconds() {
		p.start, p.done, due = now, 0, 0
	}
	n := int(due - p.done)
	p.done += float64(n)
	return n
}
