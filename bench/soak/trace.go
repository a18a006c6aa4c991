package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// traceFigures are what one runtime trace of gmc (/debug/pprof/trace) says
// about where a request waits before gmc's handler runs: the time from a
// connection's goroutine being woken (its bytes arrived) to its running,
// which no handler's histogram sees, and what held gmc's scheduler slots
// (Go's Ps) then.
type traceFigures struct {
	span time.Duration
	// wakes are the HTTP connections' goroutines' waits from woken to
	// running; full those woken while no P was idle.
	wakes, full []time.Duration
	// fullBy counts the full wakes by what ran on the Ps then: "H" a
	// heavy query's goroutine on its niced thread, "G" a GC mark
	// worker, "c" another connection, "o" anything else.
	fullBy map[string]int
	// gcMark is the time in GC mark phases; stw the stop-the-world
	// pauses, stwMax the longest.
	gcMark, stwMax time.Duration
	gcs, stws      int
	// conns is how many goroutines were taken for HTTP connections'.
	conns int
}

// traceGMC records gmc's runtime for d and reads it.
func traceGMC(ctx context.Context, client *http.Client, base string, d time.Duration) (traceFigures, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	u := base + "/debug/pprof/trace?seconds=" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return traceFigures{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return traceFigures{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return traceFigures{}, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return readTrace(resp.Body)
}

// readTrace reads a Go execution trace (see traceFigures).
func readTrace(r io.Reader) (traceFigures, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return traceFigures{}, err
	}
	f := traceFigures{fullBy: map[string]int{}}
	const (
		other = iota
		conn
		heavy
		gcWorker
	)
	kind := map[trace.GoID]int{}
	wokenAt := map[trace.GoID]trace.Time{}
	wokenFull := map[trace.GoID]string{} // the Ps' holders when woken with none idle
	onP := map[trace.ProcID]trace.GoID{}
	running := map[trace.ProcID]bool{}
	var first, last, markFrom, stwFrom trace.Time
	marking, stopped := false, false
	for {
		ev, err := tr.ReadEvent()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f, err
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		switch ev.Kind() {
		case trace.EventRangeBegin, trace.EventRangeEnd:
			name, begin := ev.Range().Name, ev.Kind() == trace.EventRangeBegin
			switch {
			case name == "GC concurrent mark phase" && begin:
				marking, markFrom = true, ev.Time()
			case name == "GC concurrent mark phase" && marking:
				marking = false
				f.gcMark += ev.Time().Sub(markFrom)
				f.gcs++
			case strings.HasPrefix(name, "stop-the-world") && begin:
				stopped, stwFrom = true, ev.Time()
			case strings.HasPrefix(name, "stop-the-world") && stopped:
				stopped = false
				d := ev.Time().Sub(stwFrom)
				f.stws++
				f.stwMax = max(f.stwMax, d)
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			switch st.Resource.Kind {
			case trace.ResourceProc:
				_, to := st.Proc()
				running[st.Resource.Proc()] = to == trace.ProcRunning
				continue
			case trace.ResourceGoroutine:
			default:
				continue
			}
			g := st.Resource.Goroutine()
			// g's own stacks only: an event's stack is its emitter's,
			// another goroutine's when it creates or wakes g.
			stacks := []trace.Stack{st.Stack}
			if ev.Goroutine() == g {
				stacks = append(stacks, ev.Stack())
			}
			for _, s := range stacks {
				for fr := range s.Frames() {
					switch {
					case strings.Contains(fr.Func, "net/http.(*conn).serve"):
						kind[g] = max(kind[g], conn)
					case strings.Contains(fr.Func, "query.onNicedThread"):
						kind[g] = heavy
					case strings.Contains(fr.Func, "runtime.gcBgMarkWorker"):
						kind[g] = gcWorker
					}
				}
			}
			from, to := st.Goroutine()
			switch {
			case to == trace.GoRunnable && from == trace.GoWaiting:
				wokenAt[g] = ev.Time()
				holders, idle := "", false
				for p, run := range running {
					if !run {
						idle = true
						break
					}
					holders += [...]string{"o", "c", "H", "G"}[kind[onP[p]]]
				}
				if !idle {
					b := []byte(holders)
					slices.Sort(b)
					wokenFull[g] = string(b)
				} else {
					delete(wokenFull, g)
				}
			case to == trace.GoRunning:
				onP[ev.Proc()] = g
				if at, ok := wokenAt[g]; ok && kind[g] == conn {
					d := ev.Time().Sub(at)
					f.wakes = append(f.wakes, d)
					if by, ok := wokenFull[g]; ok {
						f.full = append(f.full, d)
						f.fullBy[by]++
					}
				}
				delete(wokenAt, g)
				delete(wokenFull, g)
			}
		}
	}
	f.span = last.Sub(first)
	for _, k := range kind {
		if k == conn {
			f.conns++
		}
	}
	return f, nil
}

// String is one report line's part.
func (f traceFigures) String() string {
	q := func(ds []time.Duration, p float64) string {
		if len(ds) == 0 {
			return "-"
		}
		s := slices.Sorted(slices.Values(ds))
		return strconv.FormatFloat(float64(s[min(len(s)-1, int(float64(len(s))*p))])/1e6, 'f', 2, 64)
	}
	var by []string
	for k, n := range f.fullBy {
		by = append(by, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(by)
	return fmt.Sprintf("trace %.0fs: connection woken→running p50/p99/max %s/%s/%s ms (%d), with no P idle %d (p99 %s ms; Ps held by %s); GC mark %.0f%% of the time (%d cycles), %d stops ≤ %.1f ms",
		f.span.Seconds(), q(f.wakes, 0.5), q(f.wakes, 0.99), q(f.wakes, 1), len(f.wakes), len(f.full), q(f.full, 0.99),
		strings.Join(by, ", "), 100*f.gcMark.Seconds()/max(f.span.Seconds(), 1e-9), f.gcs, f.stws, float64(f.stwMax)/1e6)
}

// summarise is the windows' traces together: the connections' waits from
// woken to running (p99 and how many over 2 ms), those woken with no P
// idle, and GC's share of the time.
func summarise(fs []traceFigures) string {
	var wakes, full []time.Duration
	var span, mark time.Duration
	for _, f := range fs {
		wakes, full = append(wakes, f.wakes...), append(full, f.full...)
		span, mark = span+f.span, mark+f.gcMark
	}
	slices.Sort(wakes)
	slices.Sort(full)
	over := func(ds []time.Duration) int {
		return len(ds) - sort.Search(len(ds), func(i int) bool { return ds[i] > 2*time.Millisecond })
	}
	p99 := func(ds []time.Duration) float64 {
		if len(ds) == 0 {
			return 0
		}
		return float64(ds[min(len(ds)-1, len(ds)*99/100)]) / 1e6
	}
	return fmt.Sprintf("connection woken→running p99 %.2f ms, %d of %d over 2 ms; woken with no P idle %d (p99 %.2f ms, %d over 2 ms); GC mark %.0f%% of %.0f s",
		p99(wakes), over(wakes), len(wakes), len(full), p99(full), over(full), 100*mark.Seconds()/max(span.Seconds(), 1e-9), span.Seconds())
}

// schedLatency reads this process's own scheduler latencies
// (/sched/latencies:seconds) between two takes.
type schedLatency struct{ prev []uint64 }

func (l *schedLatency) take() string {
	ss := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(ss)
	if ss[0].Value.Kind() != metrics.KindFloat64Histogram {
		return "?"
	}
	h := ss[0].Value.Float64Histogram()
	d := slices.Clone(h.Counts)
	if len(l.prev) == len(d) {
		for i := range d {
			d[i] -= l.prev[i]
		}
	}
	l.prev = slices.Clone(h.Counts)
	var n uint64
	for _, c := range d {
		n += c
	}
	q := func(p float64) string {
		var acc uint64
		for i, c := range d {
			if acc += c; float64(acc) >= p*float64(n) {
				return strconv.FormatFloat(h.Buckets[i+1]*1e3, 'g', 2, 64)
			}
		}
		return "?"
	}
	return fmt.Sprintf("p99 ≤ %s ms, p99.9 ≤ %s ms", q(0.99), q(0.999))
}
