package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
)

// timelineCategories are those of DevTools' Performance panel.
var timelineCategories = []string{"devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink.user_timing", "loading", "latencyInfo", "v8"}

// recorder collects a Chrome trace of a tab.
type recorder struct {
	mu     sync.Mutex
	events []jsonv2.Value
	done   chan struct{}
}

// startTimeline starts tracing in tctx; stop writes the trace to file
// (JSON that DevTools' Performance panel and Perfetto open), unless file
// is "".
func startTimeline(tctx context.Context) (*recorder, error) {
	r := &recorder{done: make(chan struct{})}
	lctx, cancel := context.WithCancel(tctx)
	if err := chromedp.Listen(lctx, func(ev any) {
		switch e := ev.(type) {
		case *tracing.EventDataCollected:
			r.mu.Lock()
			r.events = append(r.events, e.Value...)
			r.mu.Unlock()
		case *tracing.EventTracingComplete:
			close(r.done)
			cancel()
		}
	}); err != nil {
		cancel()
		return nil, err
	}
	_, err := chromedp.Call(tctx, tracing.Start, tracing.StartParams{TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig: &tracing.TraceConfig{IncludedCategories: timelineCategories}})
	return r, err
}

func (r *recorder) stop(tctx context.Context, file string) error {
	if _, err := chromedp.Call(tctx, tracing.End, cdp.Empty{}); err != nil {
		return err
	}
	select {
	case <-r.done:
	case <-time.After(3 * time.Minute):
		// (Ten tabs traced for 20 s on a busy machine take a while.)
		return errors.New("trace not complete within 3 minutes")
	}
	if file == "" {
		return nil
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString(`{"traceEvents":[`)
	r.mu.Lock()
	for i, e := range r.events {
		if i > 0 {
			w.WriteString(",\n")
		}
		w.Write(e)
	}
	r.mu.Unlock()
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// traceEvent is one event of a Chrome trace, the fields mainCPU and
// cadence read.
type traceEvent struct {
	Name string  `json:"name"`
	Ph   string  `json:"ph"`
	Pid  int64   `json:"pid"`
	Tid  int64   `json:"tid"`
	Ts   float64 `json:"ts"`
	Dur  float64 `json:"dur"`
	Tdur float64 `json:"tdur"`
	Tts  float64 `json:"tts"`
	Args struct {
		Name string `json:"name"`
	} `json:"args"`
}

// mainCPU is a traced load's main-thread CPU time (the renderer thread
// that marked gmc:drawn: the probe marks it when the page is drawn): from
// the navigation start, drawnMs before the mark, up to it, and over the
// rest of the trace (the page's work after its charts were drawn). It sums
// the thread time (tdur) of the thread's top-level tasks, so time the
// scheduler gave to other processes is not counted, as it is in the load
// times. drawing is the thread time of the task that drew the page, from
// its start to the mark (the page's code and uPlot's after its last
// answer: what the page itself spends drawing).
func (r *recorder) mainCPU(drawnMs float64) (toDrawn, after, drawing time.Duration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := make([]traceEvent, 0, len(r.events))
	var mark *traceEvent
	for _, raw := range r.events {
		var e traceEvent
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		evs = append(evs, e)
		if e.Name == "gmc:drawn" && mark == nil {
			mark = &evs[len(evs)-1]
		}
	}
	if mark == nil {
		return 0, 0, 0, false
	}
	m := *mark
	start := m.Ts - drawnMs*1000
	var a, b, d float64
	for _, e := range evs {
		if e.Ph != "X" || e.Name != "RunTask" || e.Pid != m.Pid || e.Tid != m.Tid || e.Ts < start {
			continue
		}
		if e.Ts < m.Ts {
			a += e.Tdur
		} else {
			b += e.Tdur
		}
		if e.Ts <= m.Ts && m.Ts <= e.Ts+e.Dur && m.Tts >= e.Tts {
			d = m.Tts - e.Tts
		}
	}
	us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
	return us(a), us(b), us(d), true
}

// cadenceTrace is where the CPU of a traced cadence window went: every
// thread's (by process and thread name) and, for the traced tab's main
// thread, the self time of its events by name.
type cadenceTrace struct {
	window  time.Duration
	threads []threadCPU
	// main: the traced tab's renderer main thread, self time by event.
	main      []threadCPU
	mainTotal time.Duration
}

type threadCPU struct {
	name string
	cpu  time.Duration
}

// cadence sums the trace's thread time over the window that starts at
// the mark (the first tab's; the trace holds every process of Chromium).
func (r *recorder) cadence(mark string, d time.Duration) *cadenceTrace {
	type thread struct{ pid, tid int64 }
	r.mu.Lock()
	defer r.mu.Unlock()
	procName := map[int64]string{}
	threadName := map[thread]string{}
	by := map[thread][]traceEvent{}
	var m *traceEvent
	for _, raw := range r.events {
		var e traceEvent
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		switch {
		case e.Ph == "M" && e.Name == "process_name":
			procName[e.Pid] = e.Args.Name
		case e.Ph == "M" && e.Name == "thread_name":
			threadName[thread{e.Pid, e.Tid}] = e.Args.Name
		case e.Ph == "X":
			by[thread{e.Pid, e.Tid}] = append(by[thread{e.Pid, e.Tid}], e)
		case e.Name == mark && m == nil:
			m = &e
		}
	}
	if m == nil {
		return nil
	}
	from, to := m.Ts, m.Ts+float64(d.Microseconds())
	out := &cadenceTrace{window: d}
	total := map[string]float64{}
	self := map[string]float64{}
	for th, evs := range by {
		sort.Slice(evs, func(i, j int) bool {
			if evs[i].Ts != evs[j].Ts {
				return evs[i].Ts < evs[j].Ts
			}
			return evs[i].Dur > evs[j].Dur
		})
		main := th.pid == m.Pid && th.tid == m.Tid
		label := procName[th.pid] + " / " + threadName[th]
		if th.pid == m.Pid {
			label = "traced tab's renderer / " + threadName[th]
		}
		// stack: the open events (top-level first); each event's own time
		// is its thread time less its children's.
		type open struct {
			e        traceEvent
			end      float64
			children float64
		}
		var stack []open
		pop := func() {
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].children += o.e.Tdur
			} else {
				total[label] += o.e.Tdur
			}
			if main {
				self[o.e.Name] += max(0, o.e.Tdur-o.children)
			}
		}
		for _, e := range evs {
			if e.Ts < from || e.Ts > to {
				continue
			}
			for len(stack) > 0 && stack[len(stack)-1].end <= e.Ts {
				pop()
			}
			stack = append(stack, open{e: e, end: e.Ts + e.Dur})
		}
		for len(stack) > 0 {
			pop()
		}
	}
	us := func(v float64) time.Duration { return time.Duration(v * float64(time.Microsecond)) }
	for k, v := range total {
		out.threads = append(out.threads, threadCPU{k, us(v)})
	}
	for k, v := range self {
		out.main = append(out.main, threadCPU{k, us(v)})
		out.mainTotal += us(v)
	}
	byCPU := func(s []threadCPU) {
		sort.Slice(s, func(i, j int) bool { return s[i].cpu > s[j].cpu })
	}
	byCPU(out.threads)
	byCPU(out.main)
	return out
}
