package notify

import (
	"context"
	"sync"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/notify/alertmanager"
)

// forwarder queues raw alerts for one Alertmanager and posts them in
// batches, like Prometheus' notifier.
type forwarder struct {
	d    *Dispatcher
	in   *integration
	am   *alertmanager.Notifier
	wake chan struct{}
	// cancel stops run (a reload replacing the forwarder); set under the
	// dispatcher's mu when run starts.
	cancel context.CancelFunc

	mu    sync.Mutex
	queue []*model.Alert
}

// maxBatch bounds the alerts of one POST.
const maxBatch = 256

func newForwarder(d *Dispatcher, recv string, idx int, am *alertmanager.Notifier) *forwarder {
	return &forwarder{
		d:    d,
		in:   &integration{channel: "alertmanager", index: idx, receiver: recv, notifier: am, sendResolved: true},
		am:   am,
		wake: make(chan struct{}, 1),
	}
}

// enqueue adds alerts, dropping the oldest when the queue is full.
func (f *forwarder) enqueue(alerts []*model.Alert) {
	f.mu.Lock()
	f.queue = append(f.queue, alerts...)
	if over := len(f.queue) - f.d.opts.ForwardQueue; over > 0 {
		f.queue = f.queue[over:]
		f.d.m.dropped.WithLabelValues(f.in.channel, f.in.receiver).Add(float64(over))
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *forwarder) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		for {
			f.mu.Lock()
			n := min(len(f.queue), maxBatch)
			batch := f.queue[:n:n]
			f.queue = f.queue[n:]
			f.mu.Unlock()
			if n == 0 {
				break
			}
			_ = f.d.deliver(ctx, f.in, func(ctx context.Context) error { return f.am.Forward(ctx, batch) })
			if ctx.Err() != nil {
				return
			}
		}
	}
}
