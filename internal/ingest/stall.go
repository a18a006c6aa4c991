package ingest

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// StallAfter is how long a write request may take before gmc counts its
// own ingest as stalled. Remote-write clients give up after a few seconds
// (the SDK after 5, Prometheus after 30) and send again later, so while
// gmc takes this long the newest samples it holds are old because of gmc,
// not because the services went quiet. Write p99 stays far below it on a
// loaded machine (bench/soak: under 1.6 s at load 20).
const StallAfter = 3 * time.Second

// stallWatch notes when gmc's own ingest stalled: a write request that took
// StallAfter or more, or whose client gave up before the answer. Safe for
// concurrent use.
type stallWatch struct {
	now   func() time.Time
	after time.Duration

	mu       sync.Mutex
	inflight map[uint64]time.Time // request → its start
	next     uint64
	last     time.Time // end of the latest stalled request
	// lastFrom is when the stall that ended at last began: the start of
	// the earliest of the overlapping stalled requests that ended by then.
	lastFrom time.Time

	stalls prometheus.Counter
}

func newStallWatch(now func() time.Time, f promauto.Factory) *stallWatch {
	return &stallWatch{
		now: now, after: StallAfter, inflight: map[uint64]time.Time{},
		stalls: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_ingest_stalled_requests_total",
			Help: "Write requests that took ingest.StallAfter (3s) or more, or whose client gave up first; silence alerts are held after them.",
		}),
	}
}

// wrap times h's requests.
func (w *stallWatch) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := w.now()
		w.mu.Lock()
		id := w.next
		w.next++
		w.inflight[id] = start
		w.mu.Unlock()
		defer func() {
			end := w.now()
			w.mu.Lock()
			defer w.mu.Unlock()
			delete(w.inflight, id)
			if end.Sub(start) >= w.after || r.Context().Err() != nil {
				w.stalls.Inc()
				if start.After(w.last) { // not overlapping the previous stall: a new one
					w.lastFrom = start
				} else if start.Before(w.lastFrom) {
					w.lastFrom = start
				}
				if end.After(w.last) {
					w.last = end
				}
			}
		}()
		h.ServeHTTP(rw, r)
	})
}

// stalledUntil is now while a write request has taken StallAfter or more
// so far, else the end of the latest stalled request (zero if none).
func (w *stallWatch) stalledUntil(now time.Time) time.Time {
	_, until := w.stalled(now)
	return until
}

// stalled is the latest stall: from the start of its earliest request
// until now while a request has taken StallAfter or more so far, else
// until the end of the latest stalled request (both zero if none).
func (w *stallWatch) stalled(now time.Time) (from, until time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, start := range w.inflight {
		if now.Sub(start) >= w.after && (from.IsZero() || start.Before(from)) {
			from = start
		}
	}
	if !from.IsZero() {
		if !w.last.Before(from) && w.lastFrom.Before(from) { // one stall with the ended ones it overlaps
			from = w.lastFrom
		}
		return from, now
	}
	return w.lastFrom, w.last
}
