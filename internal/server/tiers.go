package server

import (
	"math"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// openTiers opens the downsampled tiers beside the embedded TSDB and sets
// s.queryable, the store every reader (PromQL API, REST API, rules, trends)
// goes through. In remote storage mode there are no tiers: readers read
// the remote store.
func (s *Server) openTiers(cfg config.Config) error {
	s.queryable = s.store
	db, ok := s.store.(*storage.TSDB)
	if !ok {
		return nil
	}
	// Queries read the raw data's and the tiers' float chunks through the
	// decoded-sample cache (the tier job reads the store itself: it reads
	// every series once a round and would push queries' chunks out).
	s.decoded = storage.NewDecodedCache(int64(cfg.Query.DecodedCacheMaxBytes), s.reg)
	set, err := tier.Open(tier.Options{
		Config: cfg.Storage.Downsampling, Dir: cfg.Server.DataDir, Raw: db, RawRead: s.decoded.Queryable(db), Decoded: s.decoded,
		RawRetention: time.Duration(cfg.Storage.Retention), MaxSamples: cfg.Query.MaxSamples, Logger: s.logger.With("component", "tier"), Now: s.opts.Now,
		Registerer: s.reg,
	})
	if err != nil {
		return err
	}
	s.tiers = set
	s.queryable = set.Queryable(query.DefaultLookbackDelta.Milliseconds())
	return nil
}

// tiersFrom is the oldest sample time (ms) the downsampled tiers hold
// (math.MaxInt64: none, or no tiers; false: not known): with the raw
// store's, which /api/v1/series_start reads itself, its data_from.
func (s *Server) tiersFrom() (int64, bool) {
	oldest := int64(math.MaxInt64)
	if s.tiers == nil {
		return oldest, true
	}
	for _, t := range s.tiers.Tiers() {
		ts, err := t.StartTime()
		if err != nil {
			return 0, false
		}
		oldest = min(oldest, ts)
	}
	return oldest, true
}
