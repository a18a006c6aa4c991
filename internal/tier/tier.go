// Package tier keeps downsampled tiers of the raw data beside it: 1-minute,
// 10-minute and 1-hour aggregates (min, max, sum, count, avg, last, and a
// reset-compensated counter) of every raw series, each tier its own
// embedded Prometheus TSDB under <data_dir>/tiers/<name> with its own
// retention. A background job per tier (Set.Run) aggregates the raw data
// behind a persisted watermark, so it resumes where it stopped after a
// restart; Queryable answers PromQL from the coarsest tier that fits a
// selector's function, range and step, transparently (queryable.go).
package tier

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gmc-dev/gmc/internal/atomicfile"
	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/storage"
)

// Config is the storage.downsampling section of gmc.yml.
type Config struct {
	// Disabled turns the tiers off: only raw data is kept and read.
	Disabled bool `yaml:"disabled"`
	// Tiers are the resolutions kept, finest first (default 1m for 90d,
	// 10m for 180d, 1h for 2y).
	Tiers []Level `yaml:"tiers"`
	// Retention keeps matching series for other durations than the tier's
	// default, per tier name ("raw", "1m", "10m", "1h"); when several rules match
	// a series, the shortest retention wins.
	Retention []RetentionRule `yaml:"retention"`
}

// Level is one tier: its resolution and how long it is kept.
type Level struct {
	Resolution duration.Duration `yaml:"resolution"`
	Retention  duration.Duration `yaml:"retention"`
}

// Name is the tier's name, its resolution ("1m", "10m", "1h").
func (l Level) Name() string { return l.Resolution.String() }

// RetentionRule keeps the series a selector matches for the given
// durations, by tier name ("raw", "1m", "10m", "1h").
type RetentionRule struct {
	Match string                       `yaml:"match"`
	Keep  map[string]duration.Duration `yaml:"keep"`
}

// Defaults.
var (
	// DefaultTiers: the 10m tier answers the 7- and 30-day views' steps of
	// 10 to 59 minutes, a tenth of the 1m tier's buckets to read (the 7-day
	// dashboard at a 10m step: BenchmarkDashboard7d), and costs about a
	// tenth of the 1m tier's disk per day kept.
	DefaultTiers = []Level{
		{Resolution: duration.Duration(time.Minute), Retention: duration.Duration(90 * 24 * time.Hour)},
		{Resolution: duration.Duration(10 * time.Minute), Retention: duration.Duration(180 * 24 * time.Hour)},
		{Resolution: duration.Duration(time.Hour), Retention: duration.Duration(2 * 365 * 24 * time.Hour)},
	}
)

// RawTier is the name retention rules use for the raw data.
const RawTier = "raw"

// Normalise fills the defaults: the 1m, 10m and 1h tiers when none are
// given.
func (c *Config) Normalise() {
	if len(c.Tiers) == 0 {
		c.Tiers = append([]Level(nil), DefaultTiers...)
	}
}

// Validate checks the tiers and the retention rules; the error names the
// first bad field (relative to the section: "tiers[1].resolution").
func (c Config) Validate() error {
	var errs []error
	names := map[string]bool{RawTier: true}
	for i, l := range c.Tiers {
		res := time.Duration(l.Resolution)
		switch {
		case res < time.Minute || res%time.Minute != 0:
			errs = append(errs, fmt.Errorf("tiers[%d].resolution %s: must be a whole number of minutes, at least 1m", i, l.Resolution))
		case l.Retention <= 0:
			errs = append(errs, fmt.Errorf("tiers[%d].retention: must be positive", i))
		case i > 0 && res <= time.Duration(c.Tiers[i-1].Resolution):
			errs = append(errs, fmt.Errorf("tiers[%d].resolution %s: must be coarser than tiers[%d]'s %s", i, l.Resolution, i-1, c.Tiers[i-1].Resolution))
		case i > 0 && res%time.Duration(c.Tiers[i-1].Resolution) != 0:
			errs = append(errs, fmt.Errorf("tiers[%d].resolution %s: must be a multiple of tiers[%d]'s %s", i, l.Resolution, i-1, c.Tiers[i-1].Resolution))
		}
		names[l.Name()] = true
	}
	for i, r := range c.Retention {
		if _, err := parser.NewParser(parser.Options{}).ParseMetricSelector(r.Match); err != nil {
			errs = append(errs, fmt.Errorf("retention[%d].match %q: %w", i, r.Match, err))
		}
		if len(r.Keep) == 0 {
			errs = append(errs, fmt.Errorf("retention[%d].keep: name at least one tier (raw, %s)", i, strings.Join(tierNames(c.Tiers), ", ")))
		}
		for name, d := range r.Keep {
			if !names[name] {
				errs = append(errs, fmt.Errorf("retention[%d].keep.%s: no such tier (raw, %s)", i, name, strings.Join(tierNames(c.Tiers), ", ")))
			} else if d <= 0 {
				errs = append(errs, fmt.Errorf("retention[%d].keep.%s: must be positive", i, name))
			}
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func tierNames(ls []Level) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Name())
	}
	return out
}

// Tier is one downsampled tier: its TSDB and its watermark (everything up to
// it has been aggregated).
type Tier struct {
	Level
	// retention is the tier's retention in force (a time.Duration): its
	// Level's, the longest a rule asks for, or what SetRetention put in
	// force since. Level.Retention is the one it opened with.
	retention atomic.Int64
	res       int64 // resolution in ms
	block     int64 // the TSDB's smallest block, ms
	db        *storage.TSDB
	dir       string
	watermark atomic.Int64
	// audited is the time (ms) up to which Set.audit has counted the late
	// samples the tier missed (-1: not yet), lateRaw the raw samples it
	// counted and lateMissed those of them not in the tier.
	audited, lateRaw, lateMissed atomic.Int64
	// reading is the end (ms) of the span the job reads or has read from
	// the raw data: the watermark, or past it while a batch runs. A sample
	// committed to the raw data at or before it may be missing from the
	// tier (see Set.Watch).
	reading atomic.Int64
	// lateFrom is the time (ms) after which the tier is not true of the raw
	// data (math.MaxInt64: nowhere): late samples landed in buckets after
	// it that the job had aggregated. Readers read the tier only up to it,
	// the raw data after; the job re-aggregates (lateFrom, watermark]
	// (reaggregate). lateSeq counts the marks, so the job clears lateFrom
	// only if no mark came while it re-aggregated. mu guards lateSeq and
	// the writes of watermarkFile.
	lateFrom atomic.Int64
	mu       sync.Mutex
	lateSeq  uint64
	// reaggregated counts the rounds that re-aggregated late buckets and
	// reaggregatedMs the span (ms) they rewrote, since the tier opened.
	reaggregated, reaggregatedMs atomic.Int64
	lastReaggregate              time.Time
	// pendingBlock is a block of re-aggregated samples the TSDB had not
	// loaded when the round that wrote it ended, for the mark's count
	// pendingSeq (reaggregateBlock).
	pendingBlock ulid.ULID
	pendingSeq   uint64
	// rewriting is set while the job deletes and rewrites the tier's late
	// span (reaggregate): readers then read the raw data. A reader holds
	// rw's read lock from the check until it has opened its tier querier.
	rw        sync.RWMutex
	rewriting bool
	// writtenBy is the aggregationVersion its state file gave when it
	// opened (0: written before the version was kept). olderBefore (ms,
	// math.MinInt64: none) is where the buckets an older version wrote and
	// Open did not have rewritten end (Set.reaggregateOlder).
	writtenBy   int
	olderBefore atomic.Int64
	// drawnAfter (ms, math.MinInt64: everywhere) is where buckets whose
	// counter aggregate is drawn to the bucket's end begin
	// (aggregator.toEnd): the buckets ending at or before it were written
	// by a gmc that kept the counter at their last raw sample, so the job
	// and readers that go on from one of them take its counter as it is
	// (aggregator.drawn).
	drawnAfter atomic.Int64
}

// watermarkFile holds a tier's state, written atomically after each batch
// and each round of the late-sample audit: the watermark, from which the
// job resumes after a restart, and the audit's progress and counts, which
// go on from where they were.
const watermarkFile = "watermark.json"

// aggregationVersion is the version of what the job writes into a bucket
// (its aggregates, a counter's stop and resumption marks, start values),
// kept in watermarkFile: bump it with a change that makes the buckets an
// older gmc wrote read wrong, and Open has the job rewrite them from the
// raw data (Set.reaggregateOlder). 1: the marks of ccee692, aea88ff and
// f0b4564 (2026-12-06) and everything before them; a tier's state file
// without the field was written before.
const aggregationVersion = 1

// oooWindow is a tier's out-of-order window: how far behind its head's
// newest sample the TSDB still takes one.
const oooWindow = 24 * time.Hour

// state is the content of watermarkFile. The late_* fields are absent in
// files written before they were kept (the audit then starts afresh).
type state struct {
	Watermark   int64  `json:"watermark_ms"`
	Time        string `json:"watermark"`
	LateAudited *int64 `json:"late_audited_ms,omitempty"`
	LateRaw     int64  `json:"late_audited_samples"`
	LateMissed  int64  `json:"late_samples_missed"`
	// LateFrom is Tier.lateFrom, absent when the tier is true of the raw data.
	LateFrom *int64 `json:"late_from_ms,omitempty"`
	// Aggregation is the aggregationVersion the tier's buckets are written
	// by, or are being rewritten by (LateFrom); 0 when absent.
	Aggregation int `json:"aggregation,omitempty"`
	// OlderBefore is Tier.olderBefore, absent when none.
	OlderBefore *int64 `json:"older_before_ms,omitempty"`
	// DrawnAfter is Tier.drawnAfter, absent when everywhere; a state file
	// written before it was kept gives the watermark.
	DrawnAfter *int64 `json:"ends_drawn_after_ms,omitempty"`
}

// openTier opens (or creates) the tier's TSDB in dir.
// minBlock is Options.BlockDuration (0: the default).
func openTier(dir string, l Level, minBlock time.Duration, logger *slog.Logger) (*Tier, error) {
	res := time.Duration(l.Resolution)
	retention := time.Duration(l.Retention)
	// Blocks of about 120 samples per series at first (the raw data's 2h at
	// 1m); storage.Open has them compacted up to a tenth of the retention.
	block := max(2*time.Hour, 120*res, minBlock)
	db, err := storage.Open(storage.Options{
		Dir: dir, Retention: retention, Logger: slog.New(housekeeping{logger.Handler()}),
		// A tier is written behind a watermark, batch after batch, series
		// after series: the out-of-order window lets a batch span more than
		// the head (Tier.batchSpan keeps a batch inside it).
		OutOfOrderWindow: oooWindow,
		MinBlockDuration: block,
	})
	if err != nil {
		return nil, fmt.Errorf("open tier %s: %w", l.Name(), err)
	}
	t := &Tier{Level: l, res: res.Milliseconds(), block: block.Milliseconds(), db: db, dir: dir}
	t.retention.Store(int64(retention))
	t.watermark.Store(-1)
	t.audited.Store(-1)
	t.lateFrom.Store(math.MaxInt64)
	t.writtenBy = aggregationVersion // a new tier: nothing written before
	t.olderBefore.Store(math.MinInt64)
	t.drawnAfter.Store(math.MinInt64)
	if b, err := os.ReadFile(filepath.Join(dir, watermarkFile)); err == nil {
		var st state
		if err := json.Unmarshal(b, &st); err != nil {
			db.Close()
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, watermarkFile), err)
		}
		t.watermark.Store(st.Watermark)
		t.writtenBy = st.Aggregation
		if st.OlderBefore != nil {
			t.olderBefore.Store(*st.OlderBefore)
		}
		t.drawnAfter.Store(st.Watermark)
		if st.DrawnAfter != nil {
			t.drawnAfter.Store(*st.DrawnAfter)
		}
		if st.LateAudited != nil {
			t.audited.Store(*st.LateAudited)
			t.lateRaw.Store(st.LateRaw)
			t.lateMissed.Store(st.LateMissed)
		}
		if st.LateFrom != nil {
			t.lateFrom.Store(*st.LateFrom)
			// A re-aggregation may have stopped between its delete and
			// the rewrite of the blocks it tombstoned (see reaggregate).
			if err := db.CleanTombstones(); err != nil {
				db.Close()
				return nil, fmt.Errorf("tier %s: clean tombstones: %w", l.Name(), err)
			}
		}
	}
	t.reading.Store(t.watermark.Load())
	return t, nil
}

// Keep is the tier's retention in force: its TSDB drops whole blocks
// past it (retention rules delete finer, Set.Sweep).
func (t *Tier) Keep() time.Duration { return time.Duration(t.retention.Load()) }

// Watermark is the time (ms) up to which the tier holds every raw sample's
// aggregate; -1 before the first batch.
func (t *Tier) Watermark() int64 { return t.watermark.Load() }

// StartTime is the tier's oldest sample time (ms; math.MaxInt64: none).
func (t *Tier) StartTime() (int64, error) { return t.db.StartTime() }

func (t *Tier) setWatermark(ms int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.save(ms, t.audited.Load(), t.lateRaw.Load(), t.lateMissed.Load(), t.lateFrom.Load()); err != nil {
		return err
	}
	t.watermark.Store(ms)
	return nil
}

// ReadableUntil is the time (ms) up to which a reader takes the tier's
// aggregates as true of the raw data: its watermark, or before it where
// late samples landed that the job has not re-aggregated yet.
func (t *Tier) ReadableUntil() int64 { return min(t.Watermark(), t.lateFrom.Load()) }

// markLate records that the raw data gained samples in the tier's bucket
// ending at end after the job had read it: the tier is not true of the
// raw data after the bucket's start until the job re-aggregates. The mark
// is written to watermarkFile before markLate returns when it moves
// lateFrom back, so it outlives a restart.
func (t *Tier) markLate(end int64) error {
	from := end - t.res
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lateSeq++
	if from >= t.lateFrom.Load() {
		return nil
	}
	if err := t.save(t.Watermark(), t.audited.Load(), t.lateRaw.Load(), t.lateMissed.Load(), from); err != nil {
		return err
	}
	t.lateFrom.Store(from)
	return nil
}

// setOlderBefore records (and saves) where the buckets an older gmc wrote
// and nothing rewrote end (math.MinInt64: none left).
func (t *Tier) setOlderBefore(ms int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.olderBefore.Swap(ms)
	if err := t.save(t.Watermark(), t.audited.Load(), t.lateRaw.Load(), t.lateMissed.Load(), t.lateFrom.Load()); err != nil {
		t.olderBefore.Store(prev)
		return err
	}
	return nil
}

// lateMark is the tier's late mark: lateFrom and the marks' count.
func (t *Tier) lateMark() (from int64, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lateFrom.Load(), t.lateSeq
}

// clearLate clears the late mark once (lateFrom, watermark] is
// re-aggregated, unless a mark came since seq (the job may not have read
// its sample: the next round re-aggregates again).
func (t *Tier) clearLate(seq uint64) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lateSeq != seq {
		return false, nil
	}
	if err := t.save(t.Watermark(), t.audited.Load(), t.lateRaw.Load(), t.lateMissed.Load(), math.MaxInt64); err != nil {
		return false, err
	}
	t.lateFrom.Store(math.MaxInt64)
	return true, nil
}

// setAudited records a round of the late-sample audit: audited through ms,
// raw and missed more samples counted.
func (t *Tier) setAudited(ms, raw, missed int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	raw += t.lateRaw.Load()
	missed += t.lateMissed.Load()
	if err := t.save(t.Watermark(), ms, raw, missed, t.lateFrom.Load()); err != nil {
		return err
	}
	t.lateRaw.Store(raw)
	t.lateMissed.Store(missed)
	t.audited.Store(ms)
	return nil
}

// save writes the tier's state to watermarkFile; t.mu is held.
func (t *Tier) save(watermark, audited, raw, missed, lateFrom int64) error {
	st := state{Watermark: watermark, Time: time.UnixMilli(watermark).UTC().Format(time.RFC3339), LateRaw: raw, LateMissed: missed,
		Aggregation: aggregationVersion}
	if audited >= 0 {
		st.LateAudited = &audited
	}
	if lateFrom != math.MaxInt64 {
		st.LateFrom = &lateFrom
	}
	if ob := t.olderBefore.Load(); ob != math.MinInt64 {
		st.OlderBefore = &ob
	}
	if da := t.drawnAfter.Load(); da != math.MinInt64 {
		st.DrawnAfter = &da
	}
	b, _ := json.Marshal(st)
	return atomicfile.Write(filepath.Join(t.dir, watermarkFile), b, 0o644)
}

// Stats is a tier's state for /system/status.
type Stats struct {
	Name        string  `json:"name"`
	Resolution  string  `json:"resolution"`
	Retention   string  `json:"retention"`
	Watermark   float64 `json:"watermark"` // Unix seconds; aggregated up to here
	Series      uint64  `json:"head_series"`
	Blocks      int     `json:"blocks"`
	BytesOnDisk int64   `json:"bytes_on_disk"`
	// Late samples: of the raw float samples from the first audit on (the
	// tier's first round of its job, or of the first gmc that kept the
	// counts) through LateAudited, LateAuditedSamples were counted and
	// LateMissed of them were not in the tier when their buckets were
	// LateWindow old: samples that arrived after the watermark passed
	// their bucket and that no write path marked (Set.Watch), such as a
	// write straight into the TSDB, or one whose mark a crash lost. The
	// audit marks them, and the job re-aggregates them like marked ones.
	// The counts are kept with the watermark and go on across restarts.
	// LateAudited is Unix seconds, 0 before the first count.
	LateAudited        float64 `json:"late_audited_through"`
	LateAuditedSamples int64   `json:"late_audited_samples"`
	LateMissed         int64   `json:"late_samples_missed"`
	// LateFrom (Unix seconds, 0 when none) is where late samples made the
	// tier untrue of the raw data until the job re-aggregates it (readers
	// read raw data from there); Reaggregated counts the job's rounds
	// that re-aggregated since gmc started, and ReaggregatedSeconds the
	// time they rewrote.
	LateFrom float64 `json:"late_from,omitempty"`
	// OlderBefore (Unix seconds, absent when none): the buckets before it
	// were written by an older gmc, whose aggregates may read wrong (a
	// counter's stop without its marks), and Open did not rewrite them
	// (Set.reaggregateOlder): POST /api/v1/admin/tiers/reaggregate does.
	OlderBefore         float64 `json:"older_aggregates_before,omitempty"`
	Reaggregated        int64   `json:"late_reaggregations"`
	ReaggregatedSeconds float64 `json:"late_reaggregated_seconds"`
}

// Stats reports the tier's size and progress.
func (t *Tier) Stats() Stats {
	db := t.db.Stats()
	st := Stats{
		Name: t.Name(), Resolution: t.Resolution.String(), Retention: duration.Duration(t.Keep()).String(),
		Watermark: float64(t.Watermark()) / 1000,
		Series:    db.HeadSeries, Blocks: db.Blocks, BytesOnDisk: db.BytesOnDisk,
		LateAudited: float64(max(0, t.audited.Load())) / 1000, LateAuditedSamples: t.lateRaw.Load(), LateMissed: t.lateMissed.Load(),
		Reaggregated: t.reaggregated.Load(), ReaggregatedSeconds: float64(t.reaggregatedMs.Load()) / 1000,
	}
	if lf := t.lateFrom.Load(); lf != math.MaxInt64 {
		st.LateFrom = float64(lf) / 1000
	}
	if ob := t.olderBefore.Load(); ob != math.MinInt64 {
		st.OlderBefore = float64(ob) / 1000
	}
	return st
}
