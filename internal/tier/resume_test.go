package tier

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// TestCounterResumedHigher: a counter sampled every 15 s that stops, and
// after a hole resumes, sampled every second, at a much higher value
// without a reset (a host's counter went on counting while its agent or
// gmc was down: t-user16 F9, node_cpu_seconds_total at the demo's join of
// backfilled history and live data). Where the hole began in the bucket
// before the one it resumed in, that bucket's end was the counter before
// the hole, and a window starting there read the jump over the hole as
// its increase, where raw data, no sample before the resumption in the
// window, do not: rate(x[1h]) and increase(x[1h]) through the 1h tier at
// the whole hour after a 72-minute gap read 1,573 times raw data's
// (+157,313 %), increase(x[2h]) an hour later +12,639 %; restarted from
// 900 (a reset), the counter's new value was read as increase: +35.9 %.
// With the job caught up at the end, and with it running during the hole
// (the resumption is then in a batch after the stop's). Also with the
// resumption 10 minutes into an hour and a gap of 3 minutes. Every tier
// forced on its grid (the 1h tier at whole hours) and the default read.
func TestCounterResumedHigher(t *testing.T) {
	c := labels.FromStrings("__name__", "c_total", "job", "node")
	end := t0.Add(rawSpan)
	for _, sc := range []struct {
		stop, back time.Duration
		value      float64 // the counter's first value after the hole
		during     bool    // the job ran during the hole: the resumption is in the next batch
	}{
		{102 * time.Minute, 174 * time.Minute, 5e6, false},
		{102 * time.Minute, 174 * time.Minute, 5e6, true},
		// Restarted from a small value (a reset): the tier's counter
		// carries the offset, and read the counter's whole new value as
		// the window's increase.
		{102 * time.Minute, 174 * time.Minute, 900, true},
		{118 * time.Minute, 190 * time.Minute, 5e6, false},
		{118 * time.Minute, 190 * time.Minute, 5e6, true},
		{171 * time.Minute, 174 * time.Minute, 5e6, false},
		{171 * time.Minute, 174 * time.Minute, 5e6, true},
	} {
		t.Run(fmt.Sprintf("stop %s back %s at %g job during the hole %v", sc.stop, sc.back, sc.value, sc.during), func(t *testing.T) {
			var samples []rawSample
			n := 1e6
			ts := t0.Add(5 * time.Second)
			for ; !ts.After(t0.Add(sc.stop)); ts = ts.Add(15 * time.Second) {
				n += 100 + float64(ts.Unix()%7)
				samples = append(samples, rawSample{c, ts, n})
			}
			n = sc.value // the host's counter went on while nothing sampled it
			for ts = t0.Add(sc.back).Add(46 * time.Second); !ts.After(end); ts = ts.Add(time.Second) {
				n += 7 + float64(ts.Unix()%3)
				samples = append(samples, rawSample{c, ts, n})
			}
			runs := []time.Time{end.Add(time.Second)}
			if sc.during {
				runs = append([]time.Time{t0.Add(sc.stop + 2*time.Minute)}, runs...)
			}
			f := counterFixture(t, samples, runs...)
			// Up to 1.5 raw intervals' increase (15 s) in windows holding
			// a stop's last minutes (TestCounterStopsInAMinuteTierWindow).
			for _, q := range []struct {
				expr string
				abs  float64
			}{
				{`rate(c_total%s[1h])`, 160.0 / 3600},
				{`increase(c_total%s[1h])`, 160},
				{`increase(c_total%s[2h])`, 160},
			} {
				from := t0.Add(150 * time.Minute)
				f.compareNear(t, q.expr, "", from, end, 10*time.Minute, 0.02, q.abs)
				f.compareNear(t, q.expr, "", t0.Add(2*time.Hour), end, time.Hour, 0.02, q.abs)
				f.compareNear(t, q.expr, `{__tier__="1m"}`, from, end, 10*time.Minute, 0.02, q.abs)
				f.compareNear(t, q.expr, `{__tier__="10m"}`, from, end, 10*time.Minute, 0.02, q.abs)
				f.compareNear(t, q.expr, `{__tier__="1h"}`, t0.Add(2*time.Hour), end, time.Hour, 0.02, q.abs)
			}
		})
	}
}
