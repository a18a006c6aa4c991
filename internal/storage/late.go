package storage

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// LateWrites watches the writes to the AppendableV2s it wraps for samples
// older than Settle before now: each commit holding one moves Generation on. A cache of
// query results over past times (the query API's step cache) keeps them only
// while the generation stands, so a late sample (a spool replay, a sender
// catching up, an out-of-order write) is never hidden behind a cached answer.
type LateWrites struct {
	settle int64 // ms
	now    func() time.Time
	gen    atomic.Uint64
}

// NewLateWrites returns a watcher; now nil means time.Now.
func NewLateWrites(settle time.Duration, now func() time.Time) *LateWrites {
	if now == nil {
		now = time.Now
	}
	return &LateWrites{settle: settle.Milliseconds(), now: now}
}

// Wrap returns next with its commits watched.
func (l *LateWrites) Wrap(next storage.AppendableV2) storage.AppendableV2 {
	return &lateAppendable{next: next, l: l}
}

type lateAppendable struct {
	next storage.AppendableV2
	l    *LateWrites
}

// Generation moves on with every committed late write.
func (l *LateWrites) Generation() uint64 { return l.gen.Load() }

// Settle is how old a sample must be, at commit, to count as late.
func (l *LateWrites) Settle() time.Duration { return time.Duration(l.settle) * time.Millisecond }

// AppenderV2 implements storage.AppendableV2.
func (w *lateAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &lateAppender{AppenderV2: w.next.AppenderV2(ctx), l: w.l, minT: math.MaxInt64}
}

type lateAppender struct {
	storage.AppenderV2
	l    *LateWrites
	minT int64
}

func (a *lateAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	a.minT = min(a.minT, t)
	return a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
}

func (a *lateAppender) Commit() error {
	err := a.AppenderV2.Commit()
	// Counted even when the commit failed: part of it may be in.
	if a.minT < a.l.now().UnixMilli()-a.l.settle {
		a.l.gen.Add(1)
	}
	a.minT = math.MaxInt64
	return err
}
