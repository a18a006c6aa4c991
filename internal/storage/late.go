package storage

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// LateWrites watches the writes to the AppendableV2s it wraps for samples
// older than Settle before now: each commit holding one moves Generation on. A cache of
// query results over past times (the query API's step cache) keeps them only
// while the generation stands, so a late sample (a spool replay, a sender
// catching up, an out-of-order write) is never hidden behind a cached answer.
//
// It also keeps, for the last ChangesKept of commits, the oldest sample
// time each tick of commits held (Mark, ChangedSince): a client holding a
// range query's points as of a Mark asks again only for the steps a sample
// committed since can change (the Live dashboard re-read the last 30 s of
// every series each second for the few samples that arrive late).
//
// Commits are not the only writes to a TSDB: WatchStore has the blocks
// it loads or drops and its deletes count as writes too.
type LateWrites struct {
	settle int64 // ms
	now    func() time.Time
	gen    atomic.Uint64

	// The commit ticks: on the monotonic clock since began (not now,
	// which tests may hold still: a mark must order commits as they
	// happened). boot tells one process's marks from another's.
	began time.Time
	boot  string
	mu    sync.Mutex
	ticks [changeTicks]changeTick

	// blocks is the watched store's blocks as last seen (WatchStore).
	blocks atomic.Pointer[blockWatch]
}

// blockWatch is the blocks a TSDB read when LateWrites last looked.
type blockWatch struct {
	mu   sync.Mutex
	db   *tsdb.DB
	seen []*tsdb.Block
}

// changeTick is the oldest sample time (ms) of the commits of one tick.
type changeTick struct {
	tick int64 // which tick the slot holds: ticks since began, plus one (0: none yet)
	minT int64
}

const (
	// changeGrain is the grain of the commit times kept: a mark's
	// tick counts as after it (ChangedSince), so a coarser grain only
	// re-reads more.
	changeGrain = 100 * time.Millisecond
	// ChangesKept is how far back ChangedSince can answer.
	ChangesKept = 5 * time.Minute
	changeTicks = int(ChangesKept / changeGrain)
)

// NewLateWrites returns a watcher; now nil means time.Now.
func NewLateWrites(settle time.Duration, now func() time.Time) *LateWrites {
	if now == nil {
		now = time.Now
	}
	began := time.Now()
	return &LateWrites{settle: settle.Milliseconds(), now: now, began: began, boot: strconv.FormatInt(began.UnixNano(), 36)}
}

func (l *LateWrites) tick() int64 { return int64(time.Since(l.began) / changeGrain) }

// Mark names the write state now: a query evaluated after Mark returns
// sees every commit ChangedSince(mark) leaves out.
func (l *LateWrites) Mark() string { return l.boot + "." + strconv.FormatInt(l.tick(), 10) }

// ChangedSince is the oldest sample time (ms) of the commits since mark
// (those of mark's own tick included), math.MaxInt64 when there were
// none; ok is false when mark is not this watcher's (another process,
// malformed) or older than ChangesKept: anything may have changed.
// Counted after each commit returns, so a commit a query evaluated after
// the mark may not have seen is in. The watched store's other writes
// (WatchStore) count from the oldest time they can change, as far back
// as math.MinInt64/2.
func (l *LateWrites) ChangedSince(mark string) (oldest int64, ok bool) {
	l.pollBlocks()
	boot, t, found := strings.Cut(mark, ".")
	from, err := strconv.ParseInt(t, 10, 64)
	if !found || err != nil || boot != l.boot || from < 0 {
		return 0, false
	}
	now := l.tick()
	if from > now || now-from >= int64(changeTicks) {
		return 0, false
	}
	oldest = math.MaxInt64
	l.mu.Lock()
	defer l.mu.Unlock()
	i := int(from % int64(changeTicks))
	for k := from; k <= now; k++ {
		if c := &l.ticks[i]; c.tick == k+1 {
			oldest = min(oldest, c.minT)
		}
		if i++; i == changeTicks {
			i = 0
		}
	}
	return oldest, true
}

// wrote records a write whose oldest sample time (or the oldest time it
// changes) is minT: math.MaxInt64 for none.
func (l *LateWrites) wrote(minT int64) {
	if minT == math.MaxInt64 {
		return
	}
	minT = max(minT, math.MinInt64/2) // heldFrom subtracts offsets from it
	if minT < l.now().UnixMilli()-l.settle {
		l.gen.Add(1)
	}
	l.changed(minT)
}

// WatchStore has s's changes that are no commits count as writes (Mark,
// ChangedSince, Generation), from the oldest time each can change: a
// block it loads or drops — one written into its directory (the SLA
// backfill, a block copied in), compaction's (its samples were there
// before: counted all the same) or one past the retention — from the
// block's start, seen at the next ChangedSince or Generation (which ask
// the TSDB for its blocks, a slice compared pointer by pointer); a Delete
// (per-metric retention) from its start, once it returns. Call it before
// the first Mark.
func (l *LateWrites) WatchStore(s *TSDB) {
	l.blocks.Store(&blockWatch{db: s.db, seen: s.db.Blocks()})
	s.late.Store(l)
}

// pollBlocks records the blocks the watched store loaded or dropped
// since it last looked as a write from the oldest one's start. A query
// that reads them opens its querier after the poll its request made (the
// mark before it), so a block loaded after the poll counts in the next.
func (l *LateWrites) pollBlocks() {
	w := l.blocks.Load()
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.db.Blocks() // replaced, never changed in place, by each reload
	if slices.Equal(cur, w.seen) {
		return
	}
	gone := make(map[*tsdb.Block]bool, len(w.seen))
	for _, b := range w.seen {
		gone[b] = true
	}
	oldest := int64(math.MaxInt64)
	for _, b := range cur {
		if gone[b] {
			delete(gone, b)
		} else {
			oldest = min(oldest, b.MinTime())
		}
	}
	for b := range gone {
		oldest = min(oldest, b.MinTime())
	}
	w.seen = cur
	l.wrote(oldest)
}

// changed records a write's oldest sample time.
func (l *LateWrites) changed(minT int64) {
	k := l.tick()
	l.mu.Lock()
	c := &l.ticks[k%int64(changeTicks)]
	if c.tick != k+1 {
		*c = changeTick{tick: k + 1, minT: minT}
	} else {
		c.minT = min(c.minT, minT)
	}
	l.mu.Unlock()
}

// Wrap returns next with its commits watched.
func (l *LateWrites) Wrap(next storage.AppendableV2) storage.AppendableV2 {
	return &lateAppendable{next: next, l: l}
}

type lateAppendable struct {
	next storage.AppendableV2
	l    *LateWrites
}

// Generation moves on with every committed late write, and every write
// of the watched store (WatchStore) older than Settle.
func (l *LateWrites) Generation() uint64 {
	l.pollBlocks()
	return l.gen.Load()
}

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
	a.l.wrote(a.minT)
	a.minT = math.MaxInt64
	return err
}
