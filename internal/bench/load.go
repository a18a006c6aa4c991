package bench

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Load modes.
const (
	// ModeOpen schedules each request at its intended time and measures
	// latency from that time: a stalled target delays the requests queued
	// behind it, and their waiting counts (coordinated omission corrected,
	// as wrk2 and Vegeta do).
	ModeOpen = "open"
	// ModeClosed measures latency from the actual send, as a naive
	// closed-loop generator does: a stall hides behind the few requests in
	// flight.
	ModeClosed = "closed"
)

// HDR histogram range: 1 ns to 100 s at 3 significant figures.
const (
	hdrMin     = 1
	hdrMax     = int64(100 * time.Second)
	hdrSigFigs = 3
)

// loadSpec is what the load engine runs: either Rate for Duration (after
// Warmup at the same rate), or Iterations back to back (Rate 0).
type loadSpec struct {
	Rate       float64
	Duration   time.Duration
	Warmup     time.Duration
	Iterations int // used when Rate == 0 and > 0
	Workers    int
	Mode       string
	Samples    int
	Quantile   float64
	// Progress is called with the fraction done, at most ~10 times a second.
	Progress func(float64)
}

// loadResult is what the load engine measured (warm-up excluded).
type loadResult struct {
	Requests int64
	Errors   int64
	Elapsed  time.Duration
	Total    *hdrhistogram.Histogram
	Lag      *hdrhistogram.Histogram
	Windows  []*hdrhistogram.Histogram
}

// latencies records into the total and per-window histograms under a lock:
// HDR histograms are not safe for concurrent use, and one uncontended lock
// per request costs far less than a request.
type latencies struct {
	mu      sync.Mutex
	total   *hdrhistogram.Histogram
	lag     *hdrhistogram.Histogram
	windows []*hdrhistogram.Histogram
	reqs    int64
	errs    int64
}

func newLatencies(windows int) *latencies {
	l := &latencies{total: hdrhistogram.New(hdrMin, hdrMax, hdrSigFigs), lag: hdrhistogram.New(hdrMin, hdrMax, hdrSigFigs)}
	for range windows {
		l.windows = append(l.windows, hdrhistogram.New(hdrMin, hdrMax, hdrSigFigs))
	}
	return l
}

func (l *latencies) record(window int, d, lag time.Duration, failed bool) {
	v := min(max(int64(d), hdrMin), hdrMax)
	lv := min(max(int64(lag), hdrMin), hdrMax)
	l.mu.Lock()
	_ = l.total.RecordValue(v)
	_ = l.lag.RecordValue(lv)
	if window >= 0 && window < len(l.windows) {
		_ = l.windows[window].RecordValue(v)
	}
	l.reqs++
	if failed {
		l.errs++
	}
	l.mu.Unlock()
}

// runLoad drives do with the spec's schedule from Workers goroutines.
//
// Open and rate-limited closed modes hand out tickets: ticket i is intended
// to start at start + i/Rate. A worker takes the next ticket, sleeps until its
// intended time (not at all when it is already late), calls do, and records
// the latency from the intended time (open) or from the actual send (closed).
// No pacer goroutine and no queue: when every worker is stuck on a stalled
// target, the tickets due meanwhile wait, and their latency shows it.
func runLoad(ctx context.Context, spec loadSpec, do func(context.Context) error) loadResult {
	workers := max(spec.Workers, 1)
	samples := max(spec.Samples, 1)
	lat := newLatencies(samples)
	var (
		seq       atomic.Int64
		lastDone  atomic.Int64 // ns since start of the measured phase
		done      atomic.Int64
		interval  time.Duration
		warmupN   int64
		measuredN int64
	)
	if spec.Rate > 0 {
		interval = time.Duration(float64(time.Second) / spec.Rate)
		warmupN = int64(math.Round(spec.Warmup.Seconds() * spec.Rate))
		measuredN = int64(math.Round(spec.Duration.Seconds() * spec.Rate))
	} else {
		measuredN = int64(spec.Iterations)
		if measuredN <= 0 {
			measuredN = math.MaxInt64 // closed, as fast as possible, for Duration
		}
	}
	totalN := warmupN + measuredN
	start := time.Now()
	measureStart := start.Add(time.Duration(warmupN) * interval)
	deadline := time.Time{}
	if spec.Rate == 0 && spec.Duration > 0 {
		deadline = start.Add(spec.Warmup + spec.Duration)
		measureStart = start.Add(spec.Warmup)
	}
	windowOf := func(intended time.Time, i int64) int {
		if spec.Rate == 0 && spec.Iterations > 0 {
			return int((i - warmupN) * int64(samples) / measuredN)
		}
		d := spec.Duration
		if d <= 0 {
			return 0
		}
		return int(intended.Sub(measureStart) * time.Duration(samples) / d)
	}

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if spec.Progress != nil {
		progressWG.Go(func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-progressDone:
					return
				case <-t.C:
					var f float64
					if spec.Rate > 0 || spec.Iterations == 0 {
						f = float64(time.Since(start)) / float64(spec.Warmup+spec.Duration)
					} else {
						f = float64(done.Load()) / float64(totalN)
					}
					spec.Progress(min(f, 1))
				}
			}
		})
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for ctx.Err() == nil {
				i := seq.Add(1) - 1
				if i >= totalN {
					return
				}
				intended := time.Now()
				onTime := false // picked up before it was due: the worker was idle
				if spec.Rate > 0 {
					intended = start.Add(time.Duration(i) * interval)
					if wait := time.Until(intended); wait > 0 {
						onTime = true
						timer.Reset(wait)
						select {
						case <-ctx.Done():
							return
						case <-timer.C:
						}
					}
				} else if !deadline.IsZero() && intended.After(deadline) {
					return
				}
				sent := time.Now()
				err := do(ctx)
				end := time.Now()
				done.Add(1)
				measured := i >= warmupN
				if spec.Rate == 0 && !deadline.IsZero() {
					measured = !sent.Before(measureStart)
				}
				if !measured {
					continue
				}
				// Open loop: a request sent late because every worker was
				// busy (the target is slow) counts from its intended time.
				// One picked up in time and sent late only by the timer's
				// granularity (~1 ms on Linux) counts from the send: the
				// delay came from the generator's clock, not the target,
				// and charging it would put a 1 ms floor under every
				// latency. The send lag is reported apart (SendLag*).
				from := intended
				if spec.Mode == ModeClosed || onTime {
					from = sent
				}
				if ctx.Err() != nil && err != nil {
					return // cancelled mid-request: not a measurement
				}
				w := windowOf(intended, i)
				if spec.Rate == 0 && spec.Iterations == 0 {
					w = int(sent.Sub(measureStart) * time.Duration(samples) / spec.Duration)
				}
				lat.record(w, end.Sub(from), sent.Sub(intended), err != nil)
				for {
					cur := lastDone.Load()
					n := int64(end.Sub(measureStart))
					if n <= cur || lastDone.CompareAndSwap(cur, n) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(progressDone)
	progressWG.Wait()
	if spec.Progress != nil {
		spec.Progress(1)
	}
	return loadResult{
		Requests: lat.reqs,
		Errors:   lat.errs,
		Elapsed:  time.Duration(lastDone.Load()),
		Total:    lat.total,
		Lag:      lat.lag,
		Windows:  lat.windows,
	}
}

// latencyOf turns a histogram of nanoseconds into seconds figures.
func latencyOf(h *hdrhistogram.Histogram, corrected bool) *Latency {
	s := func(v int64) float64 { return float64(v) / 1e9 }
	return &Latency{
		Count:          h.TotalCount(),
		Mean:           h.Mean() / 1e9,
		StdDev:         h.StdDev() / 1e9,
		Min:            s(h.Min()),
		P50:            s(h.ValueAtQuantile(50)),
		P90:            s(h.ValueAtQuantile(90)),
		P99:            s(h.ValueAtQuantile(99)),
		P999:           s(h.ValueAtQuantile(99.9)),
		P9999:          s(h.ValueAtQuantile(99.99)),
		Max:            s(h.Max()),
		CorrectedForCO: corrected,
	}
}

// result turns a load result into a Result with per-window samples.
func (lr loadResult) result(name string, spec loadSpec) Result {
	res := Result{
		Name:            name,
		Unit:            "s",
		Better:          LowerIsBetter,
		Latency:         latencyOf(lr.Total, spec.Mode == ModeOpen && spec.Rate > 0),
		Requests:        lr.Requests,
		Errors:          lr.Errors,
		TargetRate:      spec.Rate,
		DurationSeconds: lr.Elapsed.Seconds(),
		SampleQuantile:  spec.Quantile,
	}
	if lr.Elapsed > 0 {
		res.Throughput = float64(lr.Requests) / lr.Elapsed.Seconds()
	}
	if spec.Rate > 0 {
		res.Latency.SendLagP99 = float64(lr.Lag.ValueAtQuantile(99)) / 1e9
		res.Latency.SendLagMax = float64(lr.Lag.Max()) / 1e9
	}
	for _, w := range lr.Windows {
		if w.TotalCount() > 0 {
			res.Samples = append(res.Samples, float64(w.ValueAtQuantile(spec.Quantile*100))/1e9)
		}
	}
	res.Summary = Summarize(res.Samples)
	return res
}
