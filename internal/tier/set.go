package tier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/duration"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// Raw is what the tiers need from the raw store: its data, its start, and
// deletion (per-metric retention).
type Raw interface {
	storage.Queryable
	// StartTime is the timestamp (ms) of the oldest raw sample.
	StartTime() (int64, error)
	// Delete removes the samples of the matching series in [mint, maxt].
	Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error
}

// Options configure a Set.
type Options struct {
	// Config is normalised and valid (see Open).
	Config Config
	// Dir is gmc's data dir; tiers live in Dir/tiers/<name>.
	Dir string
	// Raw is the raw store. Required.
	Raw Raw
	// RawRead is the raw data as queries read it (Queryable: a selector
	// answered from raw data, and the raw part past a tier's watermark);
	// nil: Raw. The server hands the raw store read through the
	// decoded-sample cache (storage.DecodedCache); the job reads Raw.
	RawRead storage.Queryable
	// Decoded, when not nil, is the decoded-sample cache queries read the
	// tiers' float chunks through (the server's: RawRead's). The 1m tier's
	// 10,080 buckets a series of a 7-day plain selector were decoded at
	// every query. The job's own reads of a tier keep nothing in it.
	Decoded *gmcstorage.DecodedCache
	// RawRetention is the raw data's default retention (for retention rules).
	RawRetention time.Duration
	// MaxSamples bounds the samples the engine that answers an
	// avg_over_time read from a tier (selectAvg) may hold, as the query
	// engine's query.max_samples does; 0: 50,000,000, Prometheus's default.
	MaxSamples int
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Settle is how far behind now the job stays, so late samples (several
	// senders, a retry) are in the raw data before their bucket is
	// aggregated; default 2m. Later samples mark the tier late (Watch):
	// readers read the raw data from their bucket on until the job has
	// re-aggregated it (reaggregate.go).
	Settle time.Duration
	// Interval between the job's rounds; default 15s.
	Interval time.Duration
	// LateWindow is how long after a bucket's end raw samples may still
	// arrive for it (default 3h: the raw store's out-of-order window, 1h by
	// default, and its head's 2h chunk range, within which a series silent
	// for a while takes old samples in order). A sample that arrives after
	// the watermark passed its bucket marks the tier late through Watch;
	// once a bucket is LateWindow old the audit counts the samples no mark
	// covered (Stats.LateMissed) and marks them (reaggregate.go).
	LateWindow time.Duration
	// BlockDuration is the least span of a tier TSDB's blocks, the head's
	// before it is cut (default and at least: 120 buckets, and 2h). Tests
	// that catch a tier up over weeks set a day: the TSDB then writes a
	// block a day, not one every 2 hours, and its compaction of those (4 MiB
	// of buffers cleared for each) was most of their time
	// (sla.TestCoverageFromTier: 44 s, 26 s of CPU, at load 11).
	BlockDuration time.Duration
	// Registerer receives gmc_tier_selects_total (nil: none).
	Registerer prometheus.Registerer
}

// Set is the tiers of one gmc server.
type Set struct {
	opts  Options
	tiers []*Tier // finest first
	// keep is the retention in force: the rules and the defaults, which
	// SetRetention replaces while the job runs.
	keep atomic.Pointer[retention]
	// sweepDue asks Run for a sweep in its next round, kick for that round
	// now: SetRetention sets and sends.
	sweepDue atomic.Bool
	kick     chan struct{}
	// avgKey signs the AvgLabel values PrepareQuery writes, so that Select
	// evaluates no division a query wrote itself (newAvgKey).
	avgKey []byte
	// selects counts the selectors queries read, by what answered them:
	// a tier's name or RawTier (gmc_tier_selects_total).
	selects *prometheus.CounterVec
}

// retention is the retention in force: the rules by matcher, the raw
// data's default and each tier's (by position in tiers).
type retention struct {
	rules []rule
	raw   time.Duration
	tiers []time.Duration
}

type rule struct {
	matchers []*labels.Matcher
	keep     map[string]time.Duration
}

// Defaults of Options.
const (
	DefaultSettle     = 2 * time.Minute
	DefaultInterval   = 15 * time.Second
	DefaultLateWindow = 3 * time.Hour
	// maxBatchBuckets bounds one batch of the job: this many buckets of the
	// tier's resolution (2h of raw data for the 1m tier).
	maxBatchBuckets = 120
)

// commitEvery bounds the samples one tier append transaction holds (tests
// lower it).
var commitEvery = 200_000

// Open opens every tier's TSDB. With the tiers disabled it returns a Set
// without tiers, whose Queryable is the raw store. opts.Config must be
// normalised and valid (Normalise, then Validate: config.Load does both);
// Open does not check it again.
func Open(opts Options) (*Set, error) {
	if opts.Raw == nil {
		return nil, errors.New("tiers: raw store is required")
	}
	if opts.RawRead == nil {
		opts.RawRead = opts.Raw
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.LateWindow <= 0 {
		opts.LateWindow = DefaultLateWindow
	}
	s := &Set{opts: opts, kick: make(chan struct{}, 1), avgKey: newAvgKey(), selects: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gmc_tier_selects_total",
		Help: "Selectors of range and instant queries read, by what answered them: a downsampled tier (1m, 10m, 1h) or raw data (raw).",
	}, []string{"tier"})}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(s.selects); err != nil {
			if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
				s.selects = are.ExistingCollector.(*prometheus.CounterVec)
			} else {
				return nil, err
			}
		}
	}
	s.keep.Store(newRetention(opts.Config, opts.RawRetention))
	if opts.Config.Disabled {
		return s, nil
	}
	for _, l := range opts.Config.Tiers {
		// The TSDB drops whole blocks at the longest retention any rule asks for.
		l.Retention = duration.Duration(longestRetention(opts.Config, l.Name(), time.Duration(l.Retention)))
		dir := filepath.Join(opts.Dir, "tiers", l.Name())
		if err := prepareDir(dir); err != nil {
			s.Close()
			return nil, fmt.Errorf("open tier %s: %w", l.Name(), err)
		}
		t, err := openTier(dir, l, opts.BlockDuration, opts.Logger.With("tier", l.Name()))
		if err != nil {
			s.Close()
			return nil, err
		}
		// A tier the job cannot go on with (see stuck) is rebuilt now,
		// before anything reads it.
		why, err := s.stuck(t)
		if err == nil && why != "" {
			opts.Logger.Warn("tier stuck: rebuilding it", "tier", l.Name(), "watermark", fmtWM(t.Watermark()), "why", why)
			t, err = s.rebuild(context.Background(), t)
		}
		if t != nil {
			s.tiers = append(s.tiers, t)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("tier %s: %w", l.Name(), err)
		}
	}
	if err := s.reaggregateOlder(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// reaggregateOlder marks late every tier whose buckets an older gmc wrote
// (an aggregationVersion before this one), as a re-aggregation request
// would (Reaggregate): readers read the raw data from the mark at once, and
// the job rewrites the tier from it. The aggregates of an older gmc kept
// their wrong answers until retention (+89,057 % through the 1h tier for a
// counter stopped next to its bucket's end) unless someone asked. Only its
// last autoReaggregateSpan is marked: an older span is rewritten as one
// block built in memory (reaggregateBlock), a month of the demo's 1m tier
// ~700 MB on disk, too much to take unasked at every upgrade. Where older
// buckets stay, the tier's status says so (older_aggregates_before) and so
// does the log, with the request that rewrites them; before the first
// bucket the raw data still back (rawFloor) nothing can.
func (s *Set) reaggregateOlder() error {
	var older []*Tier
	for _, t := range s.tiers {
		if t.writtenBy < aggregationVersion && t.reading.Load() >= 0 {
			older = append(older, t)
		}
	}
	if len(older) == 0 {
		return nil
	}
	floor, err := s.rawFloor()
	if err != nil {
		s.opts.Logger.Warn("tiers written by an older gmc, kept as they are: the raw data's start is not known", "err", err)
		return nil
	}
	for _, t := range older {
		if floor == math.MaxInt64 {
			s.opts.Logger.Warn("tier written by an older gmc, kept as it is: no raw data to rewrite it from", "tier", t.Name())
			continue
		}
		reading := t.reading.Load()
		from := max(floor, reading-autoReaggregateSpan.Milliseconds())
		end := bucketEnd(from+t.res, t.res) // its first bucket starting at or after from
		if end > reading {
			continue // nothing aggregated there yet: the job writes it as it is
		}
		if first := bucketEnd(floor+t.res, t.res); end > first {
			t.olderBefore.Store(max(end-t.res, t.olderBefore.Load())) // saved with the mark
			s.opts.Logger.Warn("tier written by an older gmc: its buckets before "+fmtMS(end-t.res)+" are kept as written "+
				"(POST /api/v1/admin/tiers/reaggregate?from="+fmtMS(first-t.res+1000)+" rewrites them from the raw data)", "tier", t.Name())
		}
		if err := t.markLate(end); err != nil {
			return fmt.Errorf("tier %s: %w", t.Name(), err)
		}
		// Saved even where an earlier mark stood (markLate then saves nothing).
		if err := t.setOlderBefore(t.olderBefore.Load()); err != nil {
			return fmt.Errorf("tier %s: %w", t.Name(), err)
		}
		s.opts.Logger.Warn("tier written by an older gmc: re-aggregating it from the raw data (raw data read there until done)",
			"tier", t.Name(), "written_by", t.writtenBy, "version", aggregationVersion, "from", fmtMS(end-t.res))
	}
	return nil
}

// autoReaggregateSpan is how much of a tier an older gmc wrote Open has
// rewritten unasked (reaggregateOlder): the span a rewrite writes into the
// tier's head (headRewriteWindow). Tests shorten it.
var autoReaggregateSpan = oooWindow

// newRetention is c's retention with def the raw data's default.
func newRetention(c Config, raw time.Duration) *retention {
	k := &retention{raw: raw}
	for _, r := range c.Retention {
		ms, _ := parser.NewParser(parser.Options{}).ParseMetricSelector(r.Match)
		keep := map[string]time.Duration{}
		for k, d := range r.Keep {
			keep[k] = time.Duration(d)
		}
		k.rules = append(k.rules, rule{ms, keep})
	}
	if !c.Disabled {
		for _, l := range c.Tiers {
			k.tiers = append(k.tiers, time.Duration(l.Retention))
		}
	}
	return k
}

// SameTiers reports whether a and b keep the same tiers (on or off, the
// same resolutions): then SetRetention can put b's retention in force.
func SameTiers(a, b Config) bool {
	if a.Disabled != b.Disabled || len(a.Tiers) != len(b.Tiers) {
		return false
	}
	for i := range a.Tiers {
		if a.Tiers[i].Resolution != b.Tiers[i].Resolution {
			return false
		}
	}
	return true
}

// SetRetention puts c's retention in force while the tiers run (a
// reload): the retention rules by matcher, each tier's retention and the
// raw data's default raw (RawRetention applies c's rules to the raw TSDB
// itself). c is normalised and valid and keeps the tiers the Set was
// opened with (SameTiers), else SetRetention changes nothing and fails.
// The job applies the rules in a round it starts at once (Sweep), then
// every hour as before; each tier's TSDB drops whole blocks past its new
// retention at its next compaction or retention check.
func (s *Set) SetRetention(c Config, raw time.Duration) error {
	if !SameTiers(s.opts.Config, c) {
		return errors.New("the tiers (downsampling.disabled, tiers' resolutions) differ from those opened: a restart applies them")
	}
	var errs []error
	for i, t := range s.tiers {
		keep := longestRetention(c, t.Name(), time.Duration(c.Tiers[i].Retention))
		if err := t.db.SetRetention(keep, oooWindow); err != nil {
			errs = append(errs, fmt.Errorf("tier %s: %w", t.Name(), err))
			continue
		}
		t.retention.Store(int64(keep))
	}
	s.keep.Store(newRetention(c, raw))
	s.sweepDue.Store(true)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return errors.Join(errs...)
}

// RawRetention is the retention the raw TSDB must be opened with so that
// the longest rule for raw data holds.
func RawRetention(c Config, def time.Duration) time.Duration {
	return longestRetention(c, RawTier, def)
}

// longestRetention is the longest retention of tier name: def or a rule's.
func longestRetention(c Config, name string, def time.Duration) time.Duration {
	for _, r := range c.Retention {
		if d, ok := r.Keep[name]; ok && time.Duration(d) > def {
			def = time.Duration(d)
		}
	}
	return def
}

// RawStart is the time (ms) of the oldest raw sample (math.MaxInt64
// without any).
func (s *Set) RawStart() (int64, error) { return s.opts.Raw.StartTime() }

// Tiers are the open tiers, finest first.
func (s *Set) Tiers() []*Tier { return s.tiers }

// Stats reports every tier (none for a nil Set: remote storage mode).
func (s *Set) Stats() []Stats {
	out := []Stats{}
	if s == nil {
		return out
	}
	for _, t := range s.tiers {
		out = append(out, t.Stats())
	}
	return out
}

// Close closes every tier; a nil Set has none.
func (s *Set) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, t := range s.tiers {
		if err := t.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close tier %s: %w", t.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Run aggregates behind the watermarks every Interval and applies the
// retention rules every hour, until ctx ends.
func (s *Set) Run(ctx context.Context) error {
	if s == nil {
		return nil
	}
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	var lastSweep time.Time
	for {
		kicked := s.sweepDue.Swap(false) // new retention: sweep in this round
		for _, t := range s.tiers {
			// Late samples first: the batches after it prime their
			// counters from the tier at the watermark.
			if err := s.reaggregateDue(ctx, t); err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("re-aggregate late samples", "tier", t.Name(), "err", err)
			}
			// Catch up in bounded batches, yielding to ctx between them.
			for range 1000 {
				advanced, err := s.Step(ctx, t)
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					s.opts.Logger.Error("downsample", "tier", t.Name(), "err", err)
					break
				}
				if !advanced || ctx.Err() != nil {
					break
				}
			}
			if err := s.audit(ctx, t); err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("count late samples", "tier", t.Name(), "err", err)
			}
		}
		if now := s.opts.Now(); kicked || now.Sub(lastSweep) >= time.Hour {
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.opts.Logger.Error("apply retention rules", "err", err)
			}
			lastSweep = now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.kick:
		}
	}
}

// WaitCaughtUp returns once the finest tier's watermark is within of now
// (at once without tiers), or ctx's error; it looks every Interval.
func (s *Set) WaitCaughtUp(ctx context.Context, within time.Duration) error {
	if s == nil || len(s.tiers) == 0 {
		return nil
	}
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		if wm := s.tiers[0].Watermark(); wm >= 0 && s.opts.Now().Add(-within).UnixMilli() <= wm {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Step aggregates one batch of raw data into t, past its watermark; it
// reports whether the watermark moved.
func (s *Set) Step(ctx context.Context, t *Tier) (bool, error) {
	cutoff := floorTo(s.opts.Now().Add(-s.opts.Settle).UnixMilli(), t.res)
	wm := t.Watermark()
	if wm < 0 {
		start, err := s.opts.Raw.StartTime()
		if err != nil {
			return false, fmt.Errorf("read the raw data's start: %w", err)
		}
		if start == math.MaxInt64 || start > cutoff {
			return false, nil // no raw data old enough yet
		}
		wm = floorTo(start-1, t.res)
	}
	if wm >= cutoff {
		return false, nil
	}
	to := min(wm+t.batchSpan(), cutoff)
	// Before the raw data is read: a sample committed after its series was
	// read is then marked late (Set.Watch).
	t.reading.Store(max(t.reading.Load(), to))
	n, err := s.downsample(ctx, t, wm, to, t.db, commitEvery)
	if err != nil {
		return false, fmt.Errorf("tier %s, (%s, %s]: %w", t.Name(), time.UnixMilli(wm).UTC().Format(time.RFC3339), time.UnixMilli(to).UTC().Format(time.RFC3339), err)
	}
	if err := t.setWatermark(to); err != nil {
		return false, err
	}
	// Compact once the head spans several blocks, so a catch-up over days of
	// raw data does not pile them up in the WAL until the TSDB's own
	// once-a-minute compaction (compacting after every batch is slower).
	if t.db.HeadSpan() > 12*t.block {
		if err := t.db.Compact(ctx); err != nil {
			return true, fmt.Errorf("tier %s: compact: %w", t.Name(), err)
		}
	}
	s.opts.Logger.Debug("downsampled", "tier", t.Name(), "to", time.UnixMilli(to).UTC(), "samples", n)
	return true, nil
}

// batchSpan is the span (ms) of one batch of the job: maxBatchBuckets
// buckets, but no more than the tier's out-of-order window (whole buckets,
// at least one). A batch commits every commitEvery samples, series after
// series: a commit moves the head's newest sample to the batch's end, and a
// later series' first buckets must then still be within the window behind
// it, else the TSDB refuses them as too old. With 120 buckets the 1h tier's
// batch spanned 5 days: in a catch-up of a store with more than ~240
// series (200,000 samples), every batch failed after its first commit
// ("too old sample", t-user6 #5, `gmc demo --history 30d`), and every
// retry failed at its first series, whose buckets that commit had kept:
// the 1h tier's watermark never moved, and what raw retention deleted
// before it did never reached the tier kept 2 years. The marks a batch
// writes before its start, in the bucket before (aggregator.closeBefore),
// must be within the window too: the span is a bucket less than the
// window (the 1h tier's 23 h; with a day's span a series' marks after a
// commit were too old, and the job retried that batch for ever,
// TestCounterStoppedAtACatchUpBatchsEnd). A tier coarser than half the
// window gets one bucket a batch, and its marks after a commit can still
// be too old.
func (t *Tier) batchSpan() int64 {
	return max(t.res, min(maxBatchBuckets*t.res, (oooWindow.Milliseconds()/t.res-1)*t.res))
}

// downsample writes the aggregates of the raw samples in (from, to] into t
// through dst's appenders, committing every commitEvery samples (never in
// between with 0). The counter aggregates go on from t's at from.
func (s *Set) downsample(ctx context.Context, t *Tier, from, to int64, dst storage.AppendableV2, commitEvery int) (int, error) {
	primes, primesH, closed, atLast, err := t.counterValues(ctx, from)
	if err != nil {
		return 0, err
	}
	// Read past to for each series' next raw sample only (aggregator.peek):
	// the batch's last bucket's end.
	peekTo := to + min(t.res, peekSpan)
	q, err := s.opts.Raw.Querier(from-t.res+1, peekTo)
	if err != nil {
		return 0, fmt.Errorf("open raw querier: %w", err)
	}
	defer q.Close()
	ss := q.Select(ctx, false, &storage.SelectHints{Start: from - t.res + 1, End: peekTo}, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	before := &lastBuckets{t: t, at: from}
	defer before.close()
	app := dst.AppenderV2(ctx)
	n, pending := 0, 0
	lsets := make([]labels.Labels, len(aggs)+1) // and AggAtLast's
	refs := make([]storage.SeriesRef, len(aggs)+1)
	var appendErr error
	for ss.Next() {
		series := ss.At()
		base := series.Labels()
		for i, a := range aggs {
			lsets[i] = withAgg(base, a)
			refs[i] = 0
		}
		lsets[len(aggs)], refs[len(aggs)] = withAgg(base, AggAtLast), 0
		ag := &aggregator{res: t.res, from: from, peek: true, drawn: from > t.drawnAfter.Load() && !atLast[base.Hash()]}
		if p, ok := primes[base.Hash()]; ok {
			ag.prime = &p
		}
		ag.primeH, ag.closed = primesH[base.Hash()], closed[base.Hash()]
		ag.before = func() (float64, float64, *histogram.FloatHistogram, *histogram.FloatHistogram, bool) {
			return before.read(ctx, base)
		}
		ag.emit = func(b bucket) {
			if appendErr != nil {
				return
			}
			if b.Start {
				if b.WithLast {
					if refs[5], appendErr = app.Append(refs[5], lsets[5], 0, b.End, b.Last, nil, b.FH, storage.AOptions{}); appendErr != nil {
						return
					}
					n++
				}
				refs[6], appendErr = app.Append(refs[6], lsets[6], 0, b.End, b.Counter, nil, b.CounterFH, storage.AOptions{})
				n++
				return
			}
			if b.FH != nil {
				last, counter := b.lastFH()
				refs[5], appendErr = app.Append(refs[5], lsets[5], 0, b.End, 0, nil, last, storage.AOptions{})
				if appendErr == nil {
					refs[6], appendErr = app.Append(refs[6], lsets[6], 0, b.End, 0, nil, counter, storage.AOptions{})
				}
				n += 2
				return
			}
			for i, a := range aggs {
				refs[i], appendErr = app.Append(refs[i], lsets[i], 0, b.End, b.value(a), nil, nil, storage.AOptions{})
				if appendErr != nil {
					return
				}
				n++
			}
			if b.AtLast {
				i := len(aggs)
				refs[i], appendErr = app.Append(refs[i], lsets[i], 0, b.End, 1, nil, nil, storage.AOptions{})
				n++
			}
		}
		if err := ag.run(series.Iterator(nil), to); err != nil {
			app.Rollback()
			return n, fmt.Errorf("read %s: %w", base, err)
		}
		if appendErr != nil {
			app.Rollback()
			return n, fmt.Errorf("append aggregates of %s: %w", base, appendErr)
		}
		if commitEvery > 0 && n-pending >= commitEvery {
			if err := app.Commit(); err != nil {
				return n, fmt.Errorf("commit: %w", err)
			}
			pending = n
			app = dst.AppenderV2(ctx)
			for i := range refs {
				refs[i] = 0
			}
		}
	}
	if err := ss.Err(); err != nil {
		app.Rollback()
		return n, fmt.Errorf("select raw series: %w", err)
	}
	if err := app.Commit(); err != nil {
		return n, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

// peekSpan is how far past a batch's end (at most a bucket) its read of
// the raw data looks for each series' next sample (aggregator.peek): the
// job runs Settle (2 minutes) behind now, so a series sampled every few
// minutes or less has it there.
const peekSpan = 5 * 60 * 1000

// lastBuckets reads a tier's last bucket at or before at, per series (see
// aggregator.before); its queriers are opened for the first series that
// needs them.
type lastBuckets struct {
	t  *Tier
	at int64
	qs []storage.Querier // by lookBack window, opened when first needed
}

// lookBack are the windows before at that lastBuckets.read searches, the
// next only when the last bucket is not in the one before: a series is
// read over the whole retention only when its last bucket is that old.
// Reading the retention at once cost 48-62 us a series with 240 buckets
// and 1.1-2.2 ms with 4,320 (3 days; BenchmarkLastBucketLookup, load
// 14-25), so at 90 days of the 1m tier tens of ms per series per round.
var lookBack = []time.Duration{2 * time.Hour, 2 * 24 * time.Hour, 0} // 0: the retention

func (b *lastBuckets) close() {
	for _, q := range b.qs {
		if q != nil {
			q.Close()
		}
	}
}

// read returns the counter and last aggregates of the raw series base at
// its last bucket (the last sample that is not a staleness marker) within
// the tier's retention: floats, or native histograms; ok is false without
// one.
func (b *lastBuckets) read(ctx context.Context, base labels.Labels) (counter, last float64, counterH, lastH *histogram.FloatHistogram, ok bool) {
	if b.qs == nil {
		b.qs = make([]storage.Querier, len(lookBack))
	}
	var ms []*labels.Matcher
	base.Range(func(l labels.Label) { ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value)) })
	ms = append(ms, labels.MustNewMatcher(labels.MatchRegexp, AggLabel, AggCounter+"|"+AggLast))
	retention := b.t.Keep()
	for i, w := range lookBack {
		if w == 0 || w > retention {
			w = retention
		}
		if b.qs[i] == nil {
			q, err := b.t.db.Querier(b.at-w.Milliseconds(), b.at)
			if err != nil {
				return 0, 0, nil, nil, false
			}
			b.qs[i] = q
		}
		// The last bucket within the window is the last one at all when
		// the window has one.
		if counter, last, counterH, lastH, ok = lastIn(ctx, b.qs[i], ms); ok || w == retention {
			return counter, last, counterH, lastH, ok
		}
	}
	return 0, 0, nil, nil, false
}

// lastIn is lastBuckets.read over one querier.
func lastIn(ctx context.Context, q storage.Querier, ms []*labels.Matcher) (counter, last float64, counterH, lastH *histogram.FloatHistogram, ok bool) {
	type point struct {
		t  int64
		f  float64
		fh *histogram.FloatHistogram
	}
	var c, l point
	c.t, l.t = -1<<63, -1<<62
	ss := q.Select(ctx, false, nil, ms...)
	for ss.Next() {
		p := &l
		if ss.At().Labels().Get(AggLabel) == AggCounter {
			p = &c
		}
		it := ss.At().Iterator(nil)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				if tt, v := it.At(); !math.IsNaN(v) {
					*p = point{t: tt, f: v}
				}
			case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
				if tt, fh := it.AtFloatHistogram(nil); !value.IsStaleNaN(fh.Sum) {
					*p = point{t: tt, fh: fh}
				}
			}
		}
	}
	// The counter's last sample is a bucket's (a counter's start is
	// followed by its bucket in the same batch) or, before a bucket a
	// staleness marker ended, its last mark, written to the last
	// aggregate too (bucket.WithLast), so both are at one time.
	if ss.Err() != nil || c.t != l.t || (c.fh == nil) != (l.fh == nil) {
		return 0, 0, nil, nil, false
	}
	return c.f, l.f, c.fh, l.fh, true
}

// counterValues reads the tier's counter aggregate at ts of the raw series
// ms selects (every series without ms), by the hash of their labels: the
// floats, and the native histograms; closed holds the series (floats and
// native histograms) whose counter at ts is preceded 1 ms before by a mark
// holding it, the one flush writes last in a bucket the counter stopped in
// (aggregator.closed), and atLast those whose bucket at ts has an
// AggAtLast (aggregator.drawn).
func (t *Tier) counterValues(ctx context.Context, ts int64, ms ...*labels.Matcher) (out map[uint64]float64, outH map[uint64]*histogram.FloatHistogram, closed, atLast map[uint64]bool, err error) {
	out = map[uint64]float64{}
	outH = map[uint64]*histogram.FloatHistogram{}
	closed, atLast = map[uint64]bool{}, map[uint64]bool{}
	q, err := t.db.Querier(ts-1, ts)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("open tier querier: %w", err)
	}
	defer q.Close()
	// A tier series is its raw series' labels plus the aggregate label, so
	// the raw selector's other matchers select the same series here.
	tms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, AggLabel, AggCounter+"|"+AggAtLast)}
	for _, m := range ms {
		if m.Name != AggLabel {
			tms = append(tms, m)
		}
	}
	ss := q.Select(ctx, false, nil, tms...)
	for ss.Next() {
		it := ss.At().Iterator(nil)
		if ss.At().Labels().Get(AggLabel) == AggAtLast {
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				if tt, _ := it.At(); tt == ts {
					atLast[withoutAgg(ss.At().Labels()).Hash()] = true
				}
			}
			continue
		}
		held, hasHeld := 0.0, false // a mark 1 ms before ts
		var heldH *histogram.FloatHistogram
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				tt, v := it.At()
				if tt == ts-1 {
					held, hasHeld = v, true
				}
				// A bucket that ended with a staleness marker (a scrape
				// failed) stores the marker as its counter: no value to
				// continue from. Taken as one, it made the offset NaN and
				// every later bucket's counter NaN: rate over the tier NaN
				// for good after a target's first outage (t-user13 F11).
				// The aggregator reads the last bucket before instead.
				if tt == ts && !math.IsNaN(v) {
					h := withoutAgg(ss.At().Labels()).Hash()
					out[h] = v
					if hasHeld && held == v {
						closed[h] = true
					}
				}
			case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
				tt, fh := it.AtFloatHistogram(nil)
				if tt == ts-1 {
					heldH = fh
				}
				if tt == ts && !value.IsStaleNaN(fh.Sum) {
					h := withoutAgg(ss.At().Labels()).Hash()
					outH[h] = fh
					if heldH != nil && heldH.Equals(fh) {
						closed[h] = true
					}
				}
			}
		}
	}
	return out, outH, closed, atLast, ss.Err()
}

// Sweep applies the retention rules: series matched by a rule lose what is
// older than the rule keeps them (the shortest matching rule wins), other
// series what is older than their tier's default.
func (s *Set) Sweep(ctx context.Context) error {
	k := s.keep.Load()
	if len(k.rules) == 0 {
		return nil
	}
	now := s.opts.Now()
	var errs []error
	errs = append(errs, s.sweep(ctx, k.rules, RawTier, k.raw, s.opts.Raw, s.opts.Raw.Delete, now))
	for i, t := range s.tiers { // one per configured tier, in order
		errs = append(errs, s.sweep(ctx, k.rules, t.Name(), k.tiers[i], t.db, t.db.Delete, now))
	}
	return errors.Join(errs...)
}

func (s *Set) sweep(ctx context.Context, rules []rule, name string, def time.Duration, q storage.Queryable, del func(context.Context, int64, int64, ...*labels.Matcher) error, now time.Time) error {
	if def <= 0 {
		return nil
	}
	// Every series older than its retention: read those older than the
	// shortest retention any rule or the default gives this tier.
	shortest := def
	for _, r := range rules {
		if d, ok := r.keep[name]; ok && d < shortest {
			shortest = d
		}
	}
	cut := now.Add(-shortest).UnixMilli()
	// Collect first, delete after the querier is closed: Delete waits for
	// the head's compaction, which waits for open readers.
	type doomed struct {
		ms    []*labels.Matcher
		limit int64
		lset  labels.Labels
	}
	var todo []doomed
	qr, err := q.Querier(math.MinInt64, cut)
	if err != nil {
		return fmt.Errorf("retention of %s: %w", name, err)
	}
	ss := qr.Select(ctx, false, &storage.SelectHints{Start: math.MinInt64, End: cut}, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	for ss.Next() {
		lset := ss.At().Labels()
		keep := time.Duration(-1)
		for _, r := range rules {
			d, ok := r.keep[name]
			if !ok || !matches(r.matchers, withoutAgg(lset)) {
				continue
			}
			if keep < 0 || d < keep {
				keep = d
			}
		}
		if keep < 0 {
			keep = def
		}
		limit := now.Add(-keep).UnixMilli()
		it := ss.At().Iterator(nil)
		if it.Next() == 0 || it.AtT() > limit {
			continue // nothing older than its retention
		}
		var ms []*labels.Matcher
		lset.Range(func(l labels.Label) { ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value)) })
		todo = append(todo, doomed{ms, limit, lset})
	}
	errs := []error{ss.Err(), qr.Close()}
	for _, d := range todo {
		if err := del(ctx, math.MinInt64, d.limit, d.ms...); err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: delete %s: %w", name, d.lset, err))
		}
	}
	return errors.Join(errs...)
}

func matches(ms []*labels.Matcher, lset labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func withAgg(base labels.Labels, agg string) labels.Labels {
	b := labels.NewBuilder(base)
	b.Set(AggLabel, agg)
	return b.Labels()
}

func withoutAgg(l labels.Labels) labels.Labels {
	b := labels.NewBuilder(l)
	b.Del(AggLabel)
	return b.Labels()
}

// floorTo rounds ms down to a multiple of res.
func floorTo(ms, res int64) int64 {
	q := ms / res
	if ms < 0 && ms%res != 0 {
		q--
	}
	return q * res
}

// audit counts the raw float samples the tier missed because they arrived
// after the watermark had passed their bucket: over the buckets that have
// just become LateWindow old (each once, from the tier's first round on;
// the counts and how far they reach are kept with the watermark, so a
// restart goes on where the audit was), the raw samples that are not
// staleness markers less the tier's count aggregate, per series. Native
// histograms are not counted (the tier keeps no count of them). The job
// re-aggregates marked buckets before the audit reaches them, so what it
// finds is what no write path marked (a write straight into the TSDB, a
// mark a crash lost): it marks the tier late from the audited span's
// start, for the job to re-aggregate.
func (s *Set) audit(ctx context.Context, t *Tier) error {
	hi := min(floorTo(s.opts.Now().Add(-s.opts.LateWindow).UnixMilli(), t.res), t.Watermark())
	lo := t.audited.Load()
	if lo < 0 {
		// The tier's first round: audit from here on.
		if hi < 0 {
			return nil
		}
		return t.setAudited(hi, 0, 0)
	}
	hi = min(hi, lo+maxBatchBuckets*t.res)
	if hi <= lo {
		return nil
	}
	tierCount := map[uint64]float64{}
	tq, err := t.db.Querier(lo+1, hi)
	if err != nil {
		return fmt.Errorf("open tier querier: %w", err)
	}
	defer tq.Close()
	ts := tq.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, AggLabel, AggCount))
	for ts.Next() {
		it := ts.At().Iterator(nil)
		h := withoutAgg(ts.At().Labels()).Hash()
		for vt := it.Next(); vt == chunkenc.ValFloat; vt = it.Next() {
			if tt, v := it.At(); tt > lo && tt <= hi && !math.IsNaN(v) {
				tierCount[h] += v
			}
		}
	}
	if err := ts.Err(); err != nil {
		return fmt.Errorf("read the tier's counts: %w", err)
	}
	rq, err := s.opts.Raw.Querier(lo+1, hi)
	if err != nil {
		return fmt.Errorf("open raw querier: %w", err)
	}
	defer rq.Close()
	rs := rq.Select(ctx, false, &storage.SelectHints{Start: lo + 1, End: hi}, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var raw, missed int64
	var it chunkenc.Iterator
	for rs.Next() {
		it = rs.At().Iterator(it)
		var n int64
		for vt := it.Seek(lo + 1); vt == chunkenc.ValFloat; vt = it.Next() {
			tt, v := it.At()
			if tt > hi {
				break
			}
			if !value.IsStaleNaN(v) {
				n++
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("read %s: %w", rs.At().Labels(), err)
		}
		raw += n
		missed += max(0, n-int64(tierCount[rs.At().Labels().Hash()]))
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read raw series: %w", err)
	}
	if missed > 0 {
		// Samples no write path marked: the job re-aggregates them too.
		if err := t.markLate(lo + t.res); err != nil {
			return err
		}
	}
	return t.setAudited(hi, raw, missed)
}
