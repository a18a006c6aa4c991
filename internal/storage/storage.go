// Package storage is gmc's storage seam: the embedded Prometheus TSDB, handed
// out through Prometheus's own storage interfaces so a remote mode can take its
// place later without touching ingest, query or rules.
package storage

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// Storage is what the rest of gmc needs from a metrics store. Appenders and
// queriers may be used from many goroutines at once, each its own.
type Storage interface {
	storage.AppendableV2
	storage.Queryable
	// Stats reports the state of the store for /system/status.
	Stats() Stats
	// Close flushes and releases the store; nothing may be used after it.
	Close() error
}

// Stats is a snapshot of the store's state.
type Stats struct {
	// Mode is "remote" in the remote mode (the other fields are then zero:
	// the remote reports its own state); empty for the embedded TSDB.
	Mode        string `json:"mode,omitempty"`
	Remote      string `json:"remote,omitempty"`
	HeadSeries  uint64 `json:"head_series"`
	HeadMinTime int64  `json:"head_min_time_ms"`
	HeadMaxTime int64  `json:"head_max_time_ms"`
	Blocks      int    `json:"blocks"`
	BytesOnDisk int64  `json:"bytes_on_disk"`
	Dir         string `json:"dir"`
}

// Options configure the embedded TSDB.
type Options struct {
	Dir              string
	Retention        time.Duration
	OutOfOrderWindow time.Duration
	Logger           *slog.Logger
	Registerer       prometheus.Registerer
	// MinBlockDuration bounds the blocks the head is cut into (0: tsdb's
	// 2h); MaxBlockDuration the blocks compaction merges them into (0: a
	// tenth of the retention, at most 31d, as Prometheus sizes them).
	MinBlockDuration time.Duration
	MaxBlockDuration time.Duration
	// BlockReloadInterval is how often the TSDB loads the blocks written
	// into its directory (the SLA backfill's) and drops those past the
	// retention; 0: every minute, the TSDB's default.
	BlockReloadInterval time.Duration
	// HeadMmapInterval is how often the head's full chunks are written to
	// its chunk files and read from there (mmapHead); 0: DefaultHeadMmapInterval,
	// below 0: only at the TSDB's minute.
	HeadMmapInterval time.Duration
	// SeriesCallback is told before the head creates a series (and may
	// refuse it), after, and when the head drops series; the cardinality
	// limits (ingest.SeriesLimiter) are one. nil: none.
	SeriesCallback tsdb.SeriesLifecycleCallback

	// headChunksWriteBufferSize overrides the TSDB's 4 MiB head chunk write
	// buffer (tests make it flush at small sizes); 0 keeps the default.
	headChunksWriteBufferSize int
	// walSegmentSize overrides the WAL's and WBL's 128 MiB segments (tests
	// make several segments at small sizes); 0 keeps the default.
	walSegmentSize int
}

// TSDB is the embedded Prometheus TSDB with its write-ahead log on: a
// committed append is in the WAL file before Commit returns.
type TSDB struct {
	db  *tsdb.DB
	dir string
	// deleting is held by Delete and read-held while a querier is opened
	// or blocks' sizes and metas are read (see readBlocks).
	deleting deleteGate
	// id names it in the decoded-sample cache's keys, decoded is the cache
	// its chunk readers find chunks in (refchunks.go).
	id      uint64
	decoded atomic.Pointer[DecodedCache]
	// late is told of each Delete (LateWrites.WatchStore).
	late atomic.Pointer[LateWrites]
	// stopMmap ends mmapHead's loop; mmapDone is closed when it has (both
	// nil with the loop off).
	stopMmap  chan struct{}
	mmapDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// DefaultHeadMmapInterval is Options.HeadMmapInterval's default.
//
// The TSDB writes the head's full chunks to its chunk files once a minute.
// Until then a series' closed chunks are a linked list in memory, which
// every read walks (twice: listing the chunks, then reading them). After a
// burst of writes (a backfill, a sender catching up, bench/history's hour
// remote-written in 17 s) a query over them walked 30 chunks a series:
// bench/history's 15 s query cost 53.7–63.2 ms of CPU where, the minute
// after, it cost 35.5. The TSDB counts, per stripe of series, those with a
// chunk to write, so a call with none costs a pass over those counts
// (16,384 atomic loads, by the code; not timed alone): once a second should
// be cheap, and a burst's chunks are on file within a second (bench/ingest
// showed no change beyond its run-to-run spread).
const DefaultHeadMmapInterval = time.Second

// The TSDB's Block.Delete (v0.316.0) replaces the block's tombstones and
// writes its meta and sizes under the block's lock, while opening a
// querier reads the tombstones (Block.Tombstones), and Blocks' Meta and
// Size read the others, without it: `go test -race` saw it beside every
// retention sweep (server.TestReloadRetention). Prometheus has the same
// race between its admin API's delete_series and queries. gmc deletes
// only for retention, so Delete waits for the queriers being opened and
// holds openings while it runs.
//
// An opening waits for a Delete at most deleteWaitMax, then goes on
// beside it: DB.Delete waits for the TSDB's compaction lock, whose holder
// may wait for a query's open querier to close (a block it drops), and
// that query may be opening another querier (tier and raw, or a shard's)
// behind the Delete. Going on beside it is the race as before, never a
// deadlock.
const deleteWaitMax = 2 * time.Second

// readBlocks read-holds deleting, waiting at most deleteWaitMax, and
// returns what lets it go.
func (s *TSDB) readBlocks() func() { return s.deleting.rlock(deleteWaitMax) }

var _ Storage = (*TSDB)(nil)

// maxBlockDuration is how far compaction merges blocks (ms): a tenth of the
// retention, at most 31 days, never below the head's block, as Prometheus
// sizes its blocks.
func maxBlockDuration(minBlock, retention int64) int64 {
	return max(minBlock, min(retention/10, (31*24*time.Hour).Milliseconds()))
}

// Open opens (or creates) the TSDB in opts.Dir, replaying its WAL.
func Open(opts Options) (*TSDB, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", opts.Dir, err)
	}
	to := tsdb.DefaultOptions()
	if opts.Retention > 0 {
		to.RetentionDuration = opts.Retention.Milliseconds()
	}
	to.OutOfOrderTimeWindow = opts.OutOfOrderWindow.Milliseconds()
	if opts.MinBlockDuration > 0 {
		to.MinBlockDuration = opts.MinBlockDuration.Milliseconds()
	}
	if opts.MaxBlockDuration > 0 {
		to.MaxBlockDuration = opts.MaxBlockDuration.Milliseconds()
	} else {
		to.MaxBlockDuration = maxBlockDuration(to.MinBlockDuration, to.RetentionDuration)
	}
	if opts.BlockReloadInterval > 0 {
		to.BlockReloadInterval = opts.BlockReloadInterval
	}
	if opts.SeriesCallback != nil {
		to.SeriesLifecycleCallback = opts.SeriesCallback
	}
	if opts.walSegmentSize > 0 {
		to.WALSegmentSize = opts.walSegmentSize
	}
	if opts.headChunksWriteBufferSize > 0 {
		to.HeadChunksWriteBufferSize = opts.headChunksWriteBufferSize
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := prepareLogs(opts.Dir, logger); err != nil {
		return nil, fmt.Errorf("open tsdb %s: %w", opts.Dir, err)
	}
	s := &TSDB{dir: opts.Dir, id: refTSDBs.Add(1)}
	to.BlockChunkQuerierFunc = s.blockChunkQuerier
	db, err := tsdb.Open(opts.Dir, logger, opts.Registerer, to, nil)
	if err != nil {
		return nil, fmt.Errorf("open tsdb %s: %w", opts.Dir, err)
	}
	if db.Head().MinOOOTime() != math.MaxInt64 {
		// The out-of-order log (WBL) marks "this series' samples so far are
		// in m-mapped chunk R", and replay trusts a marker whenever some chunk
		// file reaches past R. Head chunks are written through a buffer, so
		// after a SIGKILL the chunks a marker names may be gone while a later
		// run writes chunk files past them: the next restart then drops the
		// out-of-order samples those markers cover, although they were
		// acknowledged (this restart replayed them correctly). Writing the
		// replayed out-of-order head into blocks now and truncating the WBL
		// leaves no marker older than this run. Without out-of-order data in
		// the replayed head (the common case) there is nothing to write, and
		// the call, which walks every series, is skipped.
		if err := db.CompactOOOHead(context.Background()); err != nil {
			db.Close()
			return nil, fmt.Errorf("persist out-of-order head of %s: %w", opts.Dir, err)
		}
	}
	s.db = db
	interval := opts.HeadMmapInterval
	if interval == 0 {
		interval = DefaultHeadMmapInterval
	}
	if interval > 0 {
		s.stopMmap, s.mmapDone = make(chan struct{}), make(chan struct{})
		g := newMmapGate(db, opts.Dir, to.MinBlockDuration)
		go s.mmapHead(interval, g)
	}
	return s, nil
}

// AppenderV2 implements storage.AppendableV2.
func (s *TSDB) AppenderV2(ctx context.Context) storage.AppenderV2 { return s.db.AppenderV2(ctx) }

// Querier implements storage.Queryable.
func (s *TSDB) Querier(mint, maxt int64) (storage.Querier, error) {
	defer s.readBlocks()()
	return s.db.Querier(mint, maxt)
}

// ChunkQuerier implements storage.ChunkQueryable.
func (s *TSDB) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	defer s.readBlocks()()
	return s.db.ChunkQuerier(mint, maxt)
}

// StartTime is the oldest sample time the TSDB holds, in milliseconds:
// of its blocks and its head, the out-of-order part too. (The TSDB's own
// StartTime leaves out the head's out-of-order samples: history
// remote-written days into the past before the tiers' first round was
// never aggregated, their job starting at the in-order head's oldest
// sample; a 7d chart read from the 1m tier had nothing before it.)
func (s *TSDB) StartTime() (int64, error) {
	start, err := s.db.StartTime()
	if err != nil {
		return start, err
	}
	return min(start, s.db.Head().MinOOOTime()), nil
}

// SetWriteNotified has n told after every write to the WAL, as the
// remote-write queues tailing it need (see internal/forward).
func (s *TSDB) SetWriteNotified(n wlog.WriteNotified) { s.db.SetWriteNotified(n) }

// Delete removes the samples of the matching series in [mint, maxt]
// (tombstones, cleaned up by compaction): per-metric retention uses it.
// A LateWrites watching s (WatchStore) counts it as a write from mint
// once it returns, also when it failed (part of it may be done).
func (s *TSDB) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	s.deleting.lock()
	defer s.deleting.unlock()
	err := s.db.Delete(ctx, mint, maxt, ms...)
	if l := s.late.Load(); l != nil {
		l.wrote(mint)
	}
	return err
}

// HeadMaxTime is the newest sample's time in the head (ms;
// math.MinInt64 when it is empty): the decoded-sample cache keeps no chunk
// ending within a minute of it (decodedFreshMs).
func (s *TSDB) HeadMaxTime() int64 { return s.db.Head().MaxTime() }

// MmapHeadChunks writes the head's full chunks to its chunk files and
// reads them from there from now on, as mmapHead does every
// HeadMmapInterval (tests and benchmarks: now, not within the interval).
func (s *TSDB) MmapHeadChunks() { s.db.ForceHeadMMap() }

// HeadSpan is the time (ms) between the head's oldest and newest sample.
func (s *TSDB) HeadSpan() int64 { h := s.db.Head(); return h.MaxTime() - h.MinTime() }

// AppendableFrom is the oldest time (ms) at which the TSDB takes a sample
// of every series now, given the out-of-order window w (ms) it was opened
// with: the head's newest sample less w (older ones are "too old"), or,
// with an empty head, the head's least valid time (after a restart, the
// newest block's end), before which an empty head takes nothing.
func (s *TSDB) AppendableFrom(w int64) int64 {
	h := s.db.Head()
	if maxt := h.MaxTime(); maxt != math.MinInt64 {
		return maxt - w
	}
	if mv, ok := h.AppendableMinValidTime(); ok {
		return mv
	}
	return math.MinInt64
}

// FlushHead writes everything the head holds into blocks now — its
// out-of-order samples, then its in-order ones up to its newest — and
// empties it. Afterwards a Delete over any time before the head's newest
// sample tombstones only blocks, never the head. A tombstone in the head
// is unsafe for data that is rewritten: it hides every sample in its
// range, also one appended after it; the head's Delete covers a series
// only over its in-order chunks (a series whose samples there are all
// out-of-order gets none); and the out-of-order head is written to blocks
// without the head's tombstones, so what they hid comes back. A block's
// tombstones hide only that block's samples and are applied when it is
// compacted. The head takes samples again at once, in order after its
// newest, out of order within the window before it.
func (s *TSDB) FlushHead(ctx context.Context) error {
	if err := s.db.CompactOOOHead(ctx); err != nil {
		return fmt.Errorf("write the out-of-order head: %w", err)
	}
	h := s.db.Head()
	mint, maxt := h.MinTime(), h.MaxTime()
	if maxt == math.MinInt64 || mint > maxt || h.NumSeries() == 0 {
		return nil
	}
	if err := s.db.CompactHead(tsdb.NewRangeHead(h, mint, maxt)); err != nil {
		return fmt.Errorf("write the head: %w", err)
	}
	return nil
}

// CleanTombstones rewrites every block that has tombstones without the
// samples they hide, and loads the new blocks and any other block written
// into the directory. Tombstones inside a block's series are unsafe to
// keep: a query whose range ends before one, of a series whose chunk runs
// past the range on both sides, panics in the TSDB ("index out of range"
// in tombstones.Intervals.Add, which indexes past the intervals when it
// adds the range's back trim after a tombstone: v0.316.0).
func (s *TSDB) CleanTombstones() error { return s.db.CleanTombstones() }

// BlockLoaded says whether the TSDB reads the block id: loaded as it is,
// or compacted into a loaded one.
func (s *TSDB) BlockLoaded(id ulid.ULID) bool {
	defer s.readBlocks()()
	for _, b := range s.db.Blocks() {
		if slices.Contains(b.Meta().Compaction.Sources, id) {
			return true
		}
	}
	return false
}

// Compact writes what the head holds beyond its compactable range into
// blocks now, rather than at the TSDB's next once-a-minute compaction.
func (s *TSDB) Compact(ctx context.Context) error { return s.db.Compact(ctx) }

// Stats implements Storage.
func (s *TSDB) Stats() Stats {
	unlock := s.readBlocks()
	h := s.db.Head()
	blocks := s.db.Blocks()
	st := Stats{
		HeadSeries:  h.NumSeries(),
		HeadMinTime: h.MinTime(),
		HeadMaxTime: h.MaxTime(),
		Blocks:      len(blocks),
		Dir:         s.dir,
	}
	// Blocks know their size; only the head's few files are listed. The data
	// dir also holds what other parts keep (benchmark archive, alert history),
	// which is not the store's.
	for _, b := range blocks {
		st.BytesOnDisk += b.Size()
	}
	unlock()
	for _, sub := range []string{"wal", "wbl", "chunks_head"} {
		st.BytesOnDisk += dirSize(filepath.Join(s.dir, sub))
	}
	return st
}

// dirSize is the total size of the files under dir (0 when it is missing).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// HeadStats is the head's cardinality statistics with the top limit entries
// of each list, by metric name, as Prometheus's /api/v1/status/tsdb reads
// them. It walks the head's postings: not for hot paths.
func (s *TSDB) HeadStats(limit int) *tsdb.Stats {
	return s.db.Head().Stats(model.MetricNameLabel, limit)
}

// Close implements Storage. Later calls return the first's error.
func (s *TSDB) Close() error {
	s.closeOnce.Do(func() {
		if s.stopMmap != nil {
			close(s.stopMmap)
			<-s.mmapDone
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// SetRetention puts a new retention and out-of-order window in force, as
// Prometheus's reload applies its storage.tsdb section (tsdb.DB.ApplyConfig):
// blocks past the retention go at the next compaction or retention check;
// samples up to the window behind the head's newest are taken from the
// next append on. The blocks' sizes (a tenth of the retention when opened)
// stay until a restart.
func (s *TSDB) SetRetention(retention, outOfOrderWindow time.Duration) error {
	tc := &promconfig.TSDBConfig{OutOfOrderTimeWindow: outOfOrderWindow.Milliseconds()}
	if retention > 0 {
		tc.Retention = &promconfig.TSDBRetentionConfig{Time: model.Duration(retention)}
	}
	return s.db.ApplyConfig(&promconfig.Config{StorageConfig: promconfig.StorageConfig{TSDBConfig: tc}})
}
