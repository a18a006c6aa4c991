package storage

import (
	"sync"
	"time"
)

// deleteGate is TSDB.deleting: a read-write lock whose readers (querier
// openings, Stats, BlockLoaded) wait for a Delete at most a bound, then go
// on beside it (see deleteWaitMax), and whose waiting readers are let in
// when that Delete ends, before the next one: the retention sweep runs
// its Deletes one after the other (one per doomed series), and a reader
// that only retried now and then (the sleep-polling TryRLock before)
// rarely found the gate open between two of them, so it waited out the
// whole bound and then went on beside a Delete, the race the gate is for.
type deleteGate struct {
	writer sync.Mutex // one Delete at a time

	mu      sync.Mutex
	readers int           // holding
	waiting int           // waiting for the Delete of done
	done    chan struct{} // while a Delete waits or runs; closed at its end
	drained chan struct{} // while a Delete waits for readers; closed by the last
}

// lock waits for the readers holding the gate and holds it; readers
// coming meanwhile wait.
func (g *deleteGate) lock() {
	g.writer.Lock()
	g.mu.Lock()
	g.done = make(chan struct{})
	if g.readers == 0 {
		g.mu.Unlock()
		return
	}
	d := make(chan struct{})
	g.drained = d
	g.mu.Unlock()
	<-d
}

// unlock lets go, the readers waiting let in (holding) before another
// Delete can lock.
func (g *deleteGate) unlock() {
	g.mu.Lock()
	g.readers += g.waiting
	g.waiting = 0
	close(g.done)
	g.done = nil
	g.mu.Unlock()
	g.writer.Unlock()
}

// rlock read-holds the gate, waiting at most maxWait for a Delete, and
// returns what lets it go (nothing after going on beside a Delete).
func (g *deleteGate) rlock(maxWait time.Duration) func() {
	g.mu.Lock()
	d := g.done
	if d == nil {
		g.readers++
		g.mu.Unlock()
		return g.runlock
	}
	g.waiting++
	g.mu.Unlock()
	t := time.NewTimer(maxWait)
	defer t.Stop()
	select {
	case <-d: // let in by unlock
		return g.runlock
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-d: // the Delete ended as the wait did: let in
		return g.runlock
	default:
	}
	g.waiting--
	return func() {}
}

func (g *deleteGate) runlock() {
	g.mu.Lock()
	g.readers--
	if g.readers == 0 && g.drained != nil {
		close(g.drained)
		g.drained = nil
	}
	g.mu.Unlock()
}
