package storage

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A retention sweep runs its Deletes one after the other. A querier
// opening behind one must be let in when it ends, before the next: the
// sleep-polling TryRLock before found the gate open between two Deletes
// about never, waited out deleteWaitMax (2 s) and then opened beside a
// Delete (the race the gate is for), thousands of Deletes later.
func TestReaderLetInBetweenDeletes(t *testing.T) {
	var (
		g        deleteGate
		inDelete atomic.Bool
		deletes  atomic.Int64
		stop     = make(chan struct{})
		started  = make(chan struct{})
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			g.lock()
			inDelete.Store(true)
			if i == 0 {
				close(started)
			}
			time.Sleep(200 * time.Microsecond) // a Delete's work
			inDelete.Store(false)
			deletes.Add(1)
			g.unlock()
		}
	})
	<-started
	for range 5 {
		before := deletes.Load()
		release := g.rlock(time.Minute)
		during, beside := deletes.Load()-before, inDelete.Load()
		release()
		if beside {
			t.Fatalf("the reader went on beside a Delete (%d Deletes ended while it waited)", during)
		}
		// The Delete running as it came, and none after: it is let in
		// at that one's end.
		if during > 1 {
			t.Fatalf("%d Deletes ended while the reader waited, want at most 1", during)
		}
	}
	close(stop)
	wg.Wait()
}

// A reader that waited out its bound goes on beside the Delete and is not
// counted as holding: the next Delete does not wait for it.
func TestReaderGivesUpOnADelete(t *testing.T) {
	var g deleteGate
	g.lock()
	release := g.rlock(time.Millisecond) // the Delete never ends meanwhile
	g.unlock()
	release()
	locked := make(chan struct{})
	go func() {
		g.lock()
		close(locked)
	}()
	select {
	case <-locked:
		g.unlock()
	case <-time.After(time.Minute):
		t.Fatal("a Delete waits for a reader that went on beside the last one")
	}
	// Readers holding are waited for.
	release = g.rlock(time.Minute)
	locked = make(chan struct{})
	go func() {
		g.lock()
		close(locked)
	}()
	release()
	select {
	case <-locked:
		g.unlock()
	case <-time.After(time.Minute):
		t.Fatal("a Delete never locked after the reader let go")
	}
}
