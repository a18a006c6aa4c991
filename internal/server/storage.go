package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/forward"
	"github.com/gmc-dev/gmc/internal/ingest"
	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// openStorage opens the store the configuration asks for — the embedded
// TSDB, with its remote_write queues when configured, or the remote mode —
// and returns what the write paths append to.
func (s *Server) openStorage(cfg config.Config) (promstorage.AppendableV2, error) {
	if cfg.Storage.Mode == "remote" {
		r, err := storage.OpenRemote(storage.RemoteOptions{
			WriteURL: cfg.Storage.WriteURL,
			ReadURL:  cfg.Storage.ReadURL,
			Headers:  cfg.Storage.Headers,
			HTTP:     cfg.Storage.HTTPConfig,
		})
		if err != nil {
			return nil, err
		}
		s.store = r
		return r, nil
	}
	// The cardinality limits sit in the head, where every write path passes;
	// they count the series the WAL replays but refuse only after.
	limiter := ingest.NewSeriesLimiter(ingest.SeriesLimiterOptions{
		Limits:     cfg.Limits,
		Logger:     s.logger.With("component", "ingest"),
		Registerer: s.reg,
	})
	db, err := storage.Open(storage.Options{
		SeriesCallback:   limiter,
		Dir:              cfg.Server.DataDir,
		Retention:        tier.RawRetention(cfg.Storage.Downsampling, time.Duration(cfg.Storage.Retention)),
		OutOfOrderWindow: time.Duration(cfg.Storage.OutOfOrderWindow),
		MinBlockDuration: time.Duration(cfg.Storage.BlockDuration),
		Logger:           s.logger.With("component", "tsdb"),
		Registerer:       s.reg,
	})
	if err != nil {
		return nil, err
	}
	limiter.Enforce()
	s.limiter = limiter
	s.store = db
	// The remote_write queues are reached through a switch, so that a
	// reload can start them when gmc started without any.
	s.forwarding = &forwardSwitch{local: db}
	db.SetWriteNotified(s.forwarding)
	if len(cfg.RemoteWrite) == 0 {
		return s.forwarding, nil
	}
	fwd, err := s.newForwarder(cfg.RemoteWrite, false)
	if err != nil {
		db.Close()
		s.store = nil
		return nil, err
	}
	s.forward = fwd
	s.forwarding.f.Store(fwd)
	return s.forwarding, nil
}

// newForwarder starts remote_write queues over the embedded TSDB
// (forward.New); fresh: replaying nothing from a watermark on disk.
func (s *Server) newForwarder(c forward.Config, fresh bool) (*forward.Forwarder, error) {
	db := s.store.(*storage.TSDB)
	return forward.New(forward.Options{
		Config:     c,
		Dir:        s.opts.Config.Server.DataDir,
		Local:      db,
		StartTime:  db.StartTime,
		Logger:     s.logger.With("component", "forward"),
		Registerer: s.reg,
		Fresh:      fresh,
	})
}

// forwardSwitch is the embedded TSDB's appendable and WAL write notifee
// for the remote_write queues: it counts the samples for their resharding
// and tells them of WAL writes while queues run (f set), and passes
// writes straight to the TSDB before.
type forwardSwitch struct {
	local promstorage.AppendableV2
	f     atomic.Pointer[forward.Forwarder]
}

func (w *forwardSwitch) AppenderV2(ctx context.Context) promstorage.AppenderV2 {
	if f := w.f.Load(); f != nil {
		return f.Appendable(w.local).AppenderV2(ctx)
	}
	return w.local.AppenderV2(ctx)
}

// Notify implements wlog.WriteNotified.
func (w *forwardSwitch) Notify() {
	if f := w.f.Load(); f != nil {
		f.Notify()
	}
}

// closeStorage stops the remote_write queues, then closes the store.
func (s *Server) closeStorage() error {
	var first error
	s.reloadMu.Lock() // a reload may have started the queues
	defer s.reloadMu.Unlock()
	if s.forward != nil {
		if err := s.forward.Close(); err != nil {
			first = fmt.Errorf("close remote_write queues: %w", err)
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil && first == nil {
			first = fmt.Errorf("close storage: %w", err)
		}
	}
	return first
}
