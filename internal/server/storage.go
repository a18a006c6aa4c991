package server

import (
	"fmt"
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
	if len(cfg.RemoteWrite) == 0 {
		return db, nil
	}
	s.forward, err = forward.New(forward.Options{
		Config:     cfg.RemoteWrite,
		Dir:        cfg.Server.DataDir,
		Local:      db,
		StartTime:  db.StartTime,
		Logger:     s.logger.With("component", "forward"),
		Registerer: s.reg,
	})
	if err != nil {
		db.Close()
		s.store = nil
		return nil, err
	}
	db.SetWriteNotified(s.forward)
	return s.forward.Appendable(db), nil
}

// closeStorage stops the remote_write queues, then closes the store.
func (s *Server) closeStorage() error {
	var first error
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
