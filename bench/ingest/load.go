package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// workload is the pre-built request stream for one series count, shared by
// every target of a run (each target receives exactly the same bytes).
type workload struct {
	series int
	batch  int
	proto  int      // remote-write 1 (1.0) or 2 (2.0)
	shards []*shard // one per sender
}

func newWorkload(series, senders, batch, proto int) (*workload, error) {
	if series < senders {
		return nil, fmt.Errorf("build workload: %d series for %d senders", series, senders)
	}
	w := &workload{series: series, batch: batch, proto: proto, shards: make([]*shard, senders)}
	var wg sync.WaitGroup
	errs := make([]error, senders)
	for i := range senders {
		first, last := i*series/senders, (i+1)*series/senders
		wg.Go(func() { w.shards[i], errs[i] = newShard(first, last-first, batch, proto) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return w, nil
}

// loadResult is what the senders observed against one target.
type loadResult struct {
	WarmupSamples int64   // samples acknowledged in the warm-up
	WarmupSeconds float64 // wall time of the warm-up
	Samples       int64   // samples acknowledged (2xx) in the measured window
	Requests      int64   // requests acknowledged in the measured window
	ErrorRequests int64   // non-2xx answers or transport errors, whole run
	ErrorSamples  int64   // samples in those requests
	FirstError    string  // the first error seen, for the reader
	Seconds       float64 // length of the measured window
	Rounds        int     // highest round sent + 1 (sample time advanced 1 s per round)
	GenCPUSeconds float64 // the harness's own CPU time in the window
	PeerCPU       float64 // the target's CPU seconds in the window
	OtherCPU      float64 // CPU seconds of every other process of the machine in the window
	LatencyP50ms  float64 // request latency, measured window
	LatencyP99ms  float64
}

// sender state and counters.
type sender struct {
	sh     *shard
	next   int // index of the next request in the stream
	ok     atomic.Int64
	okReq  atomic.Int64
	errReq atomic.Int64
	errSmp atomic.Int64
	lat    []time.Duration
}

// drive sends the workload to url: a warm-up that writes round 0 of every
// series (creating them), then the measured window of the given duration in
// which every sender sends as fast as the target acknowledges. onWindow is
// called when the window opens and closes, to sample the target's CPU.
func (w *workload) drive(ctx context.Context, url string, startMs int64, duration time.Duration, onWindow func(open bool) error) (*loadResult, error) {
	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: len(w.shards) * 2,
			DisableCompression:  true,
		},
	}
	defer client.CloseIdleConnections()
	senders := make([]*sender, len(w.shards))
	for i, sh := range w.shards {
		senders[i] = &sender{sh: sh}
	}
	var firstErr atomic.Pointer[string]
	send := func(s *sender) bool {
		tmpl := s.sh.templates[s.next%len(s.sh.templates)]
		body := tmpl.patch(s.next/len(s.sh.templates), s.sh.roundsPerCycle, startMs)
		s.next++
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			panic(err) // a constant, valid URL
		}
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("User-Agent", "gmc-bench-ingest")
		if w.proto == 2 {
			req.Header.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
			req.Header.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
		} else {
			req.Header.Set("Content-Type", "application/x-protobuf")
			req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		var msg string
		if err != nil {
			msg = err.Error()
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				msg = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
			}
		}
		s.lat = append(s.lat, time.Since(t0))
		if msg != "" {
			s.errReq.Add(1)
			s.errSmp.Add(int64(len(tmpl.series)))
			firstErr.CompareAndSwap(nil, &msg)
			return false
		}
		s.ok.Add(int64(len(tmpl.series)))
		s.okReq.Add(1)
		return true
	}

	res := &loadResult{}
	// Warm-up: every sender sends until round 0 of all its series is out.
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() {
			for s.next*w.batch < s.sh.series && ctx.Err() == nil {
				send(s)
			}
		})
	}
	wg.Wait()
	res.WarmupSeconds = time.Since(t0).Seconds()
	for _, s := range senders {
		res.WarmupSamples += s.ok.Swap(0)
		s.okReq.Store(0)
		s.lat = s.lat[:0]
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if res.WarmupSamples == 0 {
		msg := "no answer"
		if p := firstErr.Load(); p != nil {
			msg = *p
		}
		return nil, fmt.Errorf("warm-up: no sample acknowledged: %s", msg)
	}

	// Measured window.
	if err := onWindow(true); err != nil {
		return nil, err
	}
	gen0 := selfCPU()
	start := time.Now()
	deadline := start.Add(duration)
	for _, s := range senders {
		wg.Go(func() {
			for errs := 0; time.Now().Before(deadline) && ctx.Err() == nil; {
				if !send(s) {
					if errs++; errs > 1000 {
						return // the target rejects everything; stop hammering
					}
				}
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.GenCPUSeconds = selfCPU() - gen0
	if err := onWindow(false); err != nil {
		return nil, err
	}

	var lat []time.Duration
	for _, s := range senders {
		res.Samples += s.ok.Load()
		res.Requests += s.okReq.Load()
		res.ErrorRequests += s.errReq.Load()
		res.ErrorSamples += s.errSmp.Load()
		lat = append(lat, s.lat...)
		// Rounds reached: the last request's cycle and in-cycle round.
		last := s.next - 1
		tmpl := s.sh.templates[last%len(s.sh.templates)]
		r := last/len(s.sh.templates)*s.sh.roundsPerCycle + int(tmpl.round[len(tmpl.round)-1]) + 1
		res.Rounds = max(res.Rounds, r)
	}
	if p := firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	res.LatencyP50ms, res.LatencyP99ms = quantileMs(lat, 0.5), quantileMs(lat, 0.99)
	return res, ctx.Err()
}

// selfCPU returns the user+system CPU seconds this process has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
