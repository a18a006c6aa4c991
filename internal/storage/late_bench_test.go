package storage

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkLateWritesWrote is the bookkeeping of one commit (or block
// change, delete): the clock read, the generation, the tick's slot under
// the lock.
func BenchmarkLateWritesWrote(b *testing.B) {
	l := NewLateWrites(time.Minute, nil)
	t := time.Now().UnixMilli()
	for b.Loop() {
		l.wrote(t)
	}
}

// BenchmarkLateWritesMark is Mark, once a range request asked with since.
func BenchmarkLateWritesMark(b *testing.B) {
	l := NewLateWrites(time.Minute, nil)
	for b.Loop() {
		_ = l.Mark()
	}
}

// BenchmarkLateWritesChangedSince is ChangedSince of a mark a second old
// (a Live page's: 10 slots) and one almost ChangesKept old (the scan's
// worst case: 2,900 slots), every tick since holding commits, without
// and with a watched store of 30 blocks (its blocks unchanged: the poll
// compares them).
func BenchmarkLateWritesChangedSince(b *testing.B) {
	for _, c := range []struct {
		watched bool
		age     int64 // ticks
	}{{false, 10}, {false, int64(changeTicks) - 100}, {true, 10}, {true, int64(changeTicks) - 100}} {
		watched := c.watched
		b.Run("watched="+strconv.FormatBool(watched)+"/ticks="+strconv.FormatInt(c.age, 10), func(b *testing.B) {
			l := NewLateWrites(time.Minute, nil)
			if watched {
				dir := b.TempDir()
				db, err := Open(Options{Dir: dir, Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				for i := range int64(30) {
					writeTestBlock(b, dir, "x", i*3_600_000, i*3_600_000+60_000)
				}
				if err := db.db.CompactOOOHead(context.Background()); err != nil { // no-op but for the reload
					b.Fatal(err)
				}
				l.WatchStore(db)
				if n := len(db.db.Blocks()); n != 30 {
					b.Fatalf("%d blocks loaded, want 30", n)
				}
			}
			l.began = l.began.Add(-ChangesKept)
			now := l.tick()
			for k := now - int64(changeTicks) + 1; k <= now+100; k++ {
				l.ticks[k%int64(changeTicks)] = changeTick{tick: k + 1, minT: k}
			}
			mark := l.boot + "." + strconv.FormatInt(now-c.age, 10) // known for 10 s more
			for b.Loop() {
				if _, ok := l.ChangedSince(mark); !ok {
					b.Fatal("mark unknown")
				}
			}
		})
	}
}
