package ingest

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/semaphore"
)

// inflightWait is how long a request waits for room under
// limits.max_decoded_bytes_in_flight before it is answered 429.
const inflightWait = 5 * time.Second

// inflight bounds the decoded bytes held by concurrent requests. Safe for
// concurrent use.
type inflight struct {
	bound atomic.Pointer[byteBound]
	wait  time.Duration
	bytes prometheus.Gauge
	full  prometheus.Counter
}

// byteBound is one limits.max_decoded_bytes_in_flight: a request gives its
// bytes back to the bound it took them from, so a reload that sets a new
// one (setMax) need not wait for the requests holding the old.
type byteBound struct {
	max int64
	sem *semaphore.Weighted
}

func newInflight(max int64, f promauto.Factory) *inflight {
	i := &inflight{
		wait: inflightWait,
		bytes: f.NewGauge(prometheus.GaugeOpts{
			Name: "gmc_ingest_decoded_bytes_in_flight",
			Help: "Decompressed remote-write bytes held by requests being handled.",
		}),
		full: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_ingest_decoded_bytes_limit_hits_total",
			Help: "Requests answered 429 because limits.max_decoded_bytes_in_flight was reached.",
		}),
	}
	i.setMax(max)
	return i
}

// setMax puts a new bound in force for the requests that come after; those
// holding bytes under the old one give them back to it (for a moment both
// bounds' bytes may be held).
func (i *inflight) setMax(max int64) {
	if b := i.bound.Load(); b != nil && b.max == max {
		return
	}
	i.bound.Store(&byteBound{max: max, sem: semaphore.NewWeighted(max)})
}

// acquire reserves n bytes, waiting up to i.wait for others to finish, and
// returns the function that gives them back. Its error is a *requestError
// (413 when n alone is over the bound, else 429).
func (i *inflight) acquire(ctx context.Context, n int64) (release func(), err error) {
	b := i.bound.Load()
	if n > b.max {
		return nil, &requestError{code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("decoded body of %d bytes exceeds limits.max_decoded_bytes_in_flight %d", n, b.max)}
	}
	if !b.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, i.wait)
		defer cancel()
		if err := b.sem.Acquire(wctx, n); err != nil {
			i.full.Inc()
			return nil, &requestError{code: http.StatusTooManyRequests,
				msg: fmt.Sprintf("limits.max_decoded_bytes_in_flight %d reached by concurrent requests; retry later (this one decodes to %d bytes)", b.max, n)}
		}
	}
	i.bytes.Add(float64(n))
	return func() {
		i.bytes.Sub(float64(n))
		b.sem.Release(n)
	}, nil
}
