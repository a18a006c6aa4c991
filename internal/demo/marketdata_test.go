package demo

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestFeedLatencyInsideBuckets: the latest a batch can be applied (the
// playback resyncs past feedResync, one tick late at most) falls inside the
// classic buckets of gmc_feed_latency_seconds, so a quantile of it is a
// number, not the "> last edge" of the +Inf bucket. The user trial saw
// "> 81.9 ms" for the whole run: the buckets ended at 81.92 ms while a busy
// machine made batches up to a second late.
func TestFeedLatencyInsideBuckets(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x", Buckets: feedLatencyBuckets()})
	worst := feedResync + feedTick
	for _, late := range []time.Duration{50 * time.Microsecond, 90 * time.Millisecond, 400 * time.Millisecond, worst} {
		h.Observe(late.Seconds())
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	bs := m.GetHistogram().GetBucket()
	top := bs[len(bs)-1]
	if top.GetUpperBound() <= worst.Seconds() || top.GetCumulativeCount() != 4 {
		t.Fatalf("top finite bucket le=%v holds %d of 4 observations; want all, up to %v", top.GetUpperBound(), top.GetCumulativeCount(), worst)
	}
	if bs[0].GetUpperBound() > 20e-6 {
		t.Errorf("first bucket le=%v, want ≤ 20 µs (an idle feed is applied within microseconds)", bs[0].GetUpperBound())
	}
}
