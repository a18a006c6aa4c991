package ingest

import (
	"context"
	"fmt"
	"net/http"
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
	max   int64
	sem   *semaphore.Weighted
	wait  time.Duration
	bytes prometheus.Gauge
	full  prometheus.Counter
}

func newInflight(max int64, f promauto.Factory) *inflight {
	return &inflight{
		max:  max,
		sem:  semaphore.NewWeighted(max),
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
}

// acquire reserves n bytes, waiting up to i.wait for others to finish. Its
// error is a *requestError (413 when n alone is over the bound, else 429).
func (i *inflight) acquire(ctx context.Context, n int64) error {
	if n > i.max {
		return &requestError{code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("decoded body of %d bytes exceeds limits.max_decoded_bytes_in_flight %d", n, i.max)}
	}
	if !i.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, i.wait)
		defer cancel()
		if err := i.sem.Acquire(wctx, n); err != nil {
			i.full.Inc()
			return &requestError{code: http.StatusTooManyRequests,
				msg: fmt.Sprintf("limits.max_decoded_bytes_in_flight %d reached by concurrent requests; retry later (this one decodes to %d bytes)", i.max, n)}
		}
	}
	i.bytes.Add(float64(n))
	return nil
}

func (i *inflight) release(n int64) {
	i.bytes.Sub(float64(n))
	i.sem.Release(n)
}
