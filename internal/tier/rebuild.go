package tier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/duration"
)

// A tier whose TSDB refuses the job's next bucket is stuck: every round
// fails with "too old sample" and its watermark never moves. The 1h tiers
// the job wrote before d29cd82 were (batches of 5 days: once a commit had
// moved the TSDB's newest sample to a batch's end, the next series' first
// buckets were older than its 24h out-of-order window behind it, at every
// retry). Open finds such a tier and rebuilds it: the samples the tier
// holds up to its watermark (aggregated from complete batches) are copied
// into a new TSDB, and the job aggregates the rest from the raw data kept.
//
// The test is the TSDB's own rule for a sample it takes: a sample no older
// than the head's newest less the out-of-order window, or, with an empty
// head (after a restart whose head was all compacted), no older than the
// newest block's end (storage.TSDB.AppendableFrom). A tier the job wrote
// normally holds nothing past its watermark but what a batch cut short by
// a crash committed (under a batch, at most the window), so it is never
// found stuck.

// stuck says why the job cannot go on from t's watermark ("" when it
// can): the first bucket it would write from the raw data is older than
// the oldest time t's TSDB takes a sample at.
func (s *Set) stuck(t *Tier) (string, error) {
	start, err := s.opts.Raw.StartTime()
	if err != nil {
		return "", fmt.Errorf("read the raw data's start: %w", err)
	}
	if start == math.MaxInt64 {
		return "", nil // no raw data: nothing to write
	}
	first := max(t.Watermark(), floorTo(start-1, t.res)) + t.res
	from := t.db.AppendableFrom(oooWindow.Milliseconds())
	if first >= from {
		return "", nil
	}
	return fmt.Sprintf("its next bucket (%s) is %s older than the oldest time its TSDB takes a sample at (%s: data written past the watermark by an earlier job)",
		fmtMS(first), model.Duration(time.Duration(from-first)*time.Millisecond), fmtMS(from)), nil
}

func fmtMS(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// Suffixes of the directories a rebuild uses beside the tier's: the new
// TSDB is written in dir+rebuildSuffix, the stuck one moved to
// dir+stuckSuffix, then removed. A crash leaves at most one of them:
// prepareDir settles it at the next start.
const (
	rebuildSuffix = ".rebuild"
	stuckSuffix   = ".stuck"
)

// prepareDir settles what an interrupted rebuild of the tier in dir left:
// a half-written new TSDB is removed; a stuck TSDB moved aside is put back
// (and found stuck again) unless its replacement is in place.
func prepareDir(dir string) error {
	if err := os.RemoveAll(dir + rebuildSuffix); err != nil {
		return err
	}
	if _, err := os.Stat(dir + stuckSuffix); err != nil {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		return os.RemoveAll(dir + stuckSuffix)
	}
	return os.Rename(dir+stuckSuffix, dir)
}

// rebuild replaces the stuck tier t, open, by a new one holding t's
// samples up to its watermark, and returns it open; t is closed.
func (s *Set) rebuild(ctx context.Context, t *Tier) (*Tier, error) {
	begin := time.Now()
	wm := t.Watermark()
	staging := t.dir + rebuildSuffix
	n, err := t.copyUpTo(ctx, staging, wm)
	if err != nil {
		return t, fmt.Errorf("copy the tier's samples up to its watermark: %w", err)
	}
	nt := &Tier{Level: t.Level, res: t.res, block: t.block, dir: staging}
	nt.retention.Store(t.retention.Load())
	if wm >= 0 {
		// The job goes on from the watermark; the late-sample audit's
		// counts and the late mark go on too.
		if err := nt.save(wm, t.audited.Load(), t.lateRaw.Load(), t.lateMissed.Load(), t.lateFrom.Load()); err != nil {
			return t, err
		}
	}
	if err := t.db.Close(); err != nil {
		return t, fmt.Errorf("close the stuck tier: %w", err)
	}
	if err := os.Rename(t.dir, t.dir+stuckSuffix); err != nil {
		return nil, err
	}
	if err := os.Rename(staging, t.dir); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(t.dir + stuckSuffix); err != nil {
		return nil, err
	}
	out, err := openTier(t.dir, Level{Resolution: t.Resolution, Retention: duration.Duration(t.Keep())}, time.Duration(t.block)*time.Millisecond, s.opts.Logger.With("tier", t.Name()))
	if err != nil {
		return nil, err
	}
	s.opts.Logger.Warn("stuck tier rebuilt: the samples up to its watermark kept, the rest is aggregated again from the raw data kept",
		"tier", t.Name(), "watermark", fmtWM(wm), "samples_kept", n, "took", time.Since(begin).Round(time.Millisecond))
	return out, nil
}

func fmtWM(wm int64) string {
	if wm < 0 {
		return "none"
	}
	return fmtMS(wm)
}

// copyBatch is how many samples the copy holds in one append transaction.
const copyBatch = 200_000

// copyUpTo writes t's samples at or before wm into new blocks in dir, a
// block per retention/10 (at most 31 days, at least t's block), and
// returns how many.
func (t *Tier) copyUpTo(ctx context.Context, dir string, wm int64) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	if wm < 0 {
		return 0, nil
	}
	mint, err := t.db.StartTime()
	if err != nil || mint == math.MaxInt64 || mint > wm {
		return 0, err
	}
	span := max(t.block, min(t.Keep().Milliseconds()/10, (31*24*time.Hour).Milliseconds()))
	total := 0
	for lo := floorTo(mint, span); lo <= wm; lo += span {
		hi := min(lo+span-1, wm)
		n, err := t.copySpan(ctx, dir, lo, hi, span)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// copySpan writes t's samples in [lo, hi] as one block into dir.
func (t *Tier) copySpan(ctx context.Context, dir string, lo, hi, span int64) (int, error) {
	// A block writer's appender refuses samples older than half its block
	// before the newest it holds: a block twice the span takes them all.
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, 2*span)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	q, err := t.db.Querier(lo, hi)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	app := w.AppenderV2(ctx)
	n, pending := 0, 0
	var it chunkenc.Iterator
	for ss.Next() {
		lset := ss.At().Labels()
		it = ss.At().Iterator(it)
		var ref storage.SeriesRef
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			var ts int64
			var err error
			switch vt {
			case chunkenc.ValFloat:
				var v float64
				ts, v = it.At()
				if ts >= lo && ts <= hi {
					ref, err = app.Append(ref, lset, 0, ts, v, nil, nil, storage.AOptions{})
				}
			case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
				tt, fh := it.AtFloatHistogram(nil)
				ts = tt
				if ts >= lo && ts <= hi {
					ref, err = app.Append(ref, lset, 0, ts, 0, nil, fh, storage.AOptions{})
				}
			}
			if err != nil {
				_ = app.Rollback()
				return n, fmt.Errorf("append %s: %w", lset, err)
			}
			if ts >= lo && ts <= hi {
				n++
			}
		}
		if err := it.Err(); err != nil {
			_ = app.Rollback()
			return n, fmt.Errorf("read %s: %w", lset, err)
		}
		if n-pending >= copyBatch {
			if err := app.Commit(); err != nil {
				return n, err
			}
			pending, app = n, w.AppenderV2(ctx)
		}
	}
	if err := ss.Err(); err != nil {
		_ = app.Rollback()
		return n, err
	}
	if err := app.Commit(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, nil
	}
	if _, err := w.Flush(ctx); err != nil && !errors.Is(err, tsdb.ErrNoSeriesAppended) {
		return n, fmt.Errorf("write block: %w", err)
	}
	return n, nil
}
