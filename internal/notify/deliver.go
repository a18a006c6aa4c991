package notify

import (
	"context"
	"time"

	"github.com/gmc-dev/gmc/internal/notify/channel"
	"github.com/gmc-dev/gmc/internal/retry"
)

// deliver runs send with retries and exponential backoff, and counts and logs
// the outcome. It returns the last error when every attempt failed.
//
// An attempt in flight when ctx ends (Run's: gmc shuts down) is not cut
// off but completes, within Timeout, and no attempt follows it: a
// notification the receiver got is then logged (logSent) before Run
// writes the notification log's last snapshot, so the restarted gmc does
// not send it again. (Cut off, the receiver could have it while gmc saw
// the cancellation and logged nothing.) Prometheus drains its notification
// queue on shutdown likewise, within its timeout.
func (d *Dispatcher) deliver(ctx context.Context, in *integration, send func(context.Context) error) error {
	d.m.notifications.WithLabelValues(in.channel, in.receiver).Inc()
	// Initial, 2×Initial, … up to Max: gmc's one retry policy (the SDK's too).
	wait := retry.Backoff(d.opts.Retry.Initial, d.opts.Retry.Max)
	var err error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.Timeout)
		start := time.Now()
		err = send(actx)
		cancel()
		d.m.latency.WithLabelValues(in.channel).Observe(time.Since(start).Seconds())
		d.m.requests.WithLabelValues(in.channel, in.receiver).Inc()
		if err == nil {
			if attempt > 1 {
				d.logger.Info("notification delivered after retries", "channel", in.channel, "receiver", in.receiver, "attempts", attempt)
			}
			return nil
		}
		d.m.reqFailed.WithLabelValues(in.channel, in.receiver).Inc()
		if channel.IsPermanent(err) || attempt >= d.opts.Retry.Attempts || ctx.Err() != nil {
			break
		}
		d.logger.Debug("notification attempt failed, retrying", "channel", in.channel, "receiver", in.receiver, "attempt", attempt, "err", err)
		t := time.NewTimer(wait.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	d.m.failed.WithLabelValues(in.channel, in.receiver).Inc()
	d.logger.Error("notification failed", "channel", in.channel, "receiver", in.receiver, "index", in.index, "permanent", channel.IsPermanent(err), "err", err)
	return err
}
