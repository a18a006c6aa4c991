package sdk

import (
	"sync"
)

// queue is the Pusher's FIFO of encoded requests: a few recent requests in
// memory while gmc keeps up, the spool once it does not. Its order is
// spool ++ mem, and at most one of the two holds requests: the first failure
// moves mem into the spool, and while the spool is not empty new requests go
// behind it. So requests are sent in the order they were gathered, and a
// healthy gmc costs no disk I/O.
type queue struct {
	mu     sync.Mutex
	mem    []memEntry
	memMax int
	sp     *spool
	seq    uint64
	wake   chan struct{} // a request was pushed
}

type memEntry struct {
	seq  uint64
	body []byte
}

func newQueue(sp *spool, memMax int) *queue {
	return &queue{sp: sp, memMax: memMax, seq: sp.lastSeq(), wake: make(chan struct{}, 1)}
}

// push appends a request.
func (q *queue) push(body []byte) error {
	q.mu.Lock()
	q.seq++
	var err error
	if q.sp.len() > 0 || len(q.mem) >= q.memMax {
		if err = q.spillLocked(); err == nil {
			err = q.sp.add(q.seq, body)
		}
	} else {
		q.mem = append(q.mem, memEntry{q.seq, body})
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return err
}

// head returns the oldest request without removing it. A spooled request that
// cannot be read is returned with its error so the caller can drop it.
func (q *queue) head() (seq uint64, body []byte, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sp.len() > 0 {
		return q.sp.head()
	}
	if len(q.mem) > 0 {
		return q.mem[0].seq, q.mem[0].body, true, nil
	}
	return 0, nil, false, nil
}

// done removes request seq wherever it is now (it may have been spilled to
// the spool, or dropped from it, while it was being sent).
func (q *queue) done(seq uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.mem) > 0 && q.mem[0].seq == seq {
		q.mem[0] = memEntry{}
		q.mem = q.mem[1:]
		return nil
	}
	return q.sp.remove(seq)
}

// spill moves the requests held in memory to the spool.
func (q *queue) spill() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.spillLocked()
}

func (q *queue) spillLocked() error {
	for len(q.mem) > 0 {
		e := q.mem[0]
		if err := q.sp.add(e.seq, e.body); err != nil {
			return err
		}
		q.mem[0] = memEntry{}
		q.mem = q.mem[1:]
	}
	q.mem = q.mem[:0:0]
	return nil
}

// len is the number of requests waiting.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.sp.len() + len(q.mem)
}
