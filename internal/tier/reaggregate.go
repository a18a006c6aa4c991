package tier

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Late samples. The raw store takes samples up to its out-of-order window
// (1 h by default) behind its newest, but the job aggregates a bucket 2
// minutes after it ends and does not come back by itself: a sample that
// lands in a bucket the job has read (an agent replaying its queue after
// an outage, a sender catching up) is in the raw data and not in the tier.
// Every write path goes through Set.Watch, which marks the tier late from
// the bucket of such a sample on (Tier.markLate, kept in watermarkFile
// before the commit returns). Until the job has re-aggregated it, readers
// take the tier only up to the mark and aggregate the raw data after it
// on the fly (Tier.ReadableUntil), as they do past the watermark, so no
// answer leaves the late sample out. The job's next round (reaggregate)
// rewrites every series' aggregates from the mark to the watermark from
// the raw data: the counter aggregate after a late sample may move (it
// carries what came before), so the rewrite goes to the watermark, not to
// the late bucket's end. The audit (Set.audit) marks what no write path
// did, once its buckets are LateWindow old.
//
// Rewriting in the tier's TSDB: a TSDB takes no second sample at a
// timestamp, so the old aggregates are deleted first, and a delete is a
// tombstone over a time range. In the head a tombstone hides every sample
// in its range, also those appended after it; the head's delete covers a
// series only over its in-order chunks; and out-of-order head data is
// written into blocks without the head's tombstones (the deleted samples
// come back). So the job first writes the whole head into blocks
// (storage.TSDB.FlushHead): the delete then tombstones blocks only, whose
// tombstones hide only their own samples and are applied when they are
// compacted, and the new aggregates go into the emptied head as
// out-of-order samples, read at once. TestReaggregationSurvivesCompaction
// checks the result after the TSDB's compactions and a restart.

// reaggregateEvery spaces the job's re-aggregations of one tier (each
// writes the tier's head into a block): while an agent replays an hour,
// readers read the raw data after the mark meanwhile.
const reaggregateEvery = time.Minute

// headRewriteWindow: a late span that starts within it behind the tier's
// newest sample is rewritten into the head (the tier TSDB's out-of-order
// window), an older one as a block. Tests shorten it.
var headRewriteWindow = oooWindow

// Watch returns next with its commits watched for late samples: a commit
// holding a sample in a bucket a tier's job has read (or is reading) marks
// that tier late from that bucket on (see above). Only the oldest sample
// an appender took is kept, so the cost per sample is a comparison.
func (s *Set) Watch(next storage.AppendableV2) storage.AppendableV2 {
	if s == nil || len(s.tiers) == 0 {
		return next
	}
	return &watched{s: s, next: next}
}

type watched struct {
	s    *Set
	next storage.AppendableV2
}

func (w *watched) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &watchedAppender{AppenderV2: w.next.AppenderV2(ctx), s: w.s, minT: math.MaxInt64}
}

type watchedAppender struct {
	storage.AppenderV2
	s    *Set
	minT int64 // the oldest sample taken
}

func (a *watchedAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	ref, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	if err == nil && t < a.minT {
		a.minT = t
	}
	return ref, err
}

func (a *watchedAppender) Commit() error {
	err := a.AppenderV2.Commit()
	// Marked even when the commit failed: part of it may be in. The
	// tier's reading mark is loaded after the commit: a batch that did not
	// see the sample stored it before it read.
	if a.minT != math.MaxInt64 {
		a.s.markLate(a.minT)
	}
	a.minT = math.MaxInt64
	return err
}

func (a *watchedAppender) Rollback() error {
	a.minT = math.MaxInt64
	return a.AppenderV2.Rollback()
}

// markLate marks every tier whose job has read the bucket holding ts.
func (s *Set) markLate(ts int64) {
	for _, t := range s.tiers {
		end := bucketEnd(ts, t.res)
		if end > t.reading.Load() {
			continue
		}
		if err := t.markLate(end); err != nil {
			s.opts.Logger.Error("mark late samples", "tier", t.Name(), "bucket", fmtMS(end), "err", err)
		}
	}
}

// reaggregateDue re-aggregates t's late span when it has one, at most
// every reaggregateEvery.
func (s *Set) reaggregateDue(ctx context.Context, t *Tier) error {
	if t.lateFrom.Load() == math.MaxInt64 || time.Since(t.lastReaggregate) < reaggregateEvery {
		return nil
	}
	t.lastReaggregate = time.Now()
	_, err := s.reaggregate(ctx, t)
	return err
}

// reaggregate rewrites t's aggregates after its late mark, up to its
// watermark, from the raw data, and clears the mark unless a new one came
// meanwhile; it reports whether it cleared it. It runs in the tier's job,
// never beside Step.
func (s *Set) reaggregate(ctx context.Context, t *Tier) (bool, error) {
	from, seq := t.lateMark()
	if from == math.MaxInt64 {
		return false, nil
	}
	if t.pendingBlock != (ulid.ULID{}) {
		// The last round wrote a block the TSDB had not loaded yet.
		if !t.db.BlockLoaded(t.pendingBlock) {
			if err := t.db.Compact(ctx); err != nil {
				return false, fmt.Errorf("compact: %w", err)
			}
			if !t.db.BlockLoaded(t.pendingBlock) {
				return false, nil
			}
		}
		t.pendingBlock = ulid.ULID{}
		if t.pendingSeq == seq {
			return t.clearLate(seq)
		}
	}
	wm := t.Watermark()
	if from >= wm {
		return t.clearLate(seq) // nothing aggregated after the mark
	}
	start := time.Now()
	if err := t.db.FlushHead(ctx); err != nil {
		return false, err
	}
	// Every bucket after from is rewritten with its end drawn (saved with
	// the watermark's state; readers read raw data after from meanwhile).
	if from < t.drawnAfter.Load() {
		t.drawnAfter.Store(from)
	}
	var n int
	var err error
	// The bucket before from too: the marks of a counter that stopped
	// next to from are written there (aggregator.closeBefore), and a
	// commit moves the head's newest sample to wm. With only from within
	// the window they were too old, and the rewrite failed every round
	// (TestCounterStoppedADayBeforeReaggregated).
	if from-t.res+1 >= t.db.AppendableFrom(headRewriteWindow.Milliseconds()) {
		// Into the emptied head, out of order: read at once.
		n, err = s.rewrite(ctx, t, from, wm, func() (int, error) {
			return s.downsample(ctx, t, from, wm, t.db, commitEvery)
		})
	} else {
		// Older than the head takes (a mark, with the bucket before it,
		// more than the tier TSDB's out-of-order window behind its newest
		// sample: a raw store's window of about a day or more): a block.
		n, err = s.reaggregateBlock(ctx, t, from, wm, seq)
	}
	if err != nil {
		return false, fmt.Errorf("re-aggregate (%s, %s]: %w", fmtMS(from), fmtMS(wm), err)
	}
	t.reaggregated.Add(1)
	t.reaggregatedMs.Add(wm - from)
	s.opts.Logger.Info("re-aggregated late samples", "tier", t.Name(), "from", fmtMS(from), "to", fmtMS(wm),
		"samples", n, "took", time.Since(start).Round(time.Millisecond))
	if t.pendingBlock != (ulid.ULID{}) {
		return false, nil
	}
	return t.clearLate(seq)
}

// rewrite deletes t's samples in (from, to] (its head flushed: only blocks
// hold them), rewrites the blocks the delete tombstoned without them, then
// runs write. Readers read raw data meanwhile: a block's tombstones inside
// a series are unsafe to read (see storage.TSDB.CleanTombstones), and so
// is the tier between the delete and the write.
func (s *Set) rewrite(ctx context.Context, t *Tier, from, to int64, write func() (int, error)) (int, error) {
	t.rw.Lock()
	t.rewriting = true
	t.rw.Unlock()
	defer func() {
		t.rw.Lock()
		t.rewriting = false
		t.rw.Unlock()
	}()
	all := labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")
	if err := t.db.Delete(ctx, from+1, to, all); err != nil {
		return 0, fmt.Errorf("delete: %w", err)
	}
	if err := t.db.CleanTombstones(); err != nil {
		return 0, fmt.Errorf("clean tombstones: %w", err)
	}
	return write()
}

// reaggregateBlock writes the aggregates of (from, to] as a block in t's
// directory, computed before the old ones are deleted (their counters
// primed from the tier at from), and has the TSDB load it (t.pendingBlock
// until it has).
func (s *Set) reaggregateBlock(ctx context.Context, t *Tier, from, to int64, seq uint64) (int, error) {
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), t.dir, max(t.block, to-from))
	if err != nil {
		return 0, err
	}
	defer w.Close()
	n, err := s.downsample(ctx, t, from, to, w, 0)
	if err != nil {
		return n, err
	}
	return s.rewrite(ctx, t, from, to, func() (int, error) {
		if n == 0 {
			return 0, nil
		}
		id, err := w.Flush(ctx)
		if err != nil {
			return n, fmt.Errorf("write block: %w", err)
		}
		// The TSDB loads the blocks in its directory at its next reload
		// (within a minute): a compaction of the blocks the new one
		// overlaps reloads now.
		t.pendingBlock, t.pendingSeq = id, seq
		if err := t.db.Compact(ctx); err != nil {
			return n, fmt.Errorf("compact: %w", err)
		}
		if t.db.BlockLoaded(id) {
			t.pendingBlock = ulid.ULID{}
		}
		return n, nil
	})
}
