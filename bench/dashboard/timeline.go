package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
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
	case <-time.After(30 * time.Second):
		return errors.New("trace not complete within 30s")
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

// mainCPU is a traced load's main-thread CPU time (the renderer thread
// that marked gmc:drawn: the probe marks it when the page is drawn): from
// the navigation start, drawnMs before the mark, up to it, and over the
// rest of the trace (the page's work after its charts were drawn). It sums
// the thread time (tdur) of the thread's top-level tasks, so time the
// scheduler gave to other processes is not counted, as it is in the load
// times.
func (r *recorder) mainCPU(drawnMs float64) (toDrawn, after time.Duration, ok bool) {
	type event struct {
		Name string  `json:"name"`
		Ph   string  `json:"ph"`
		Pid  int64   `json:"pid"`
		Tid  int64   `json:"tid"`
		Ts   float64 `json:"ts"`
		Tdur float64 `json:"tdur"`
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := make([]event, 0, len(r.events))
	var mark *event
	for _, raw := range r.events {
		var e event
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		evs = append(evs, e)
		if e.Name == "gmc:drawn" && mark == nil {
			mark = &evs[len(evs)-1]
		}
	}
	if mark == nil {
		return 0, 0, false
	}
	m := *mark
	start := m.Ts - drawnMs*1000
	var a, b float64
	for _, e := range evs {
		if e.Ph != "X" || e.Name != "RunTask" || e.Pid != m.Pid || e.Tid != m.Tid || e.Ts < start {
			continue
		}
		if e.Ts < m.Ts {
			a += e.Tdur
		} else {
			b += e.Tdur
		}
	}
	return time.Duration(a * float64(time.Microsecond)), time.Duration(b * float64(time.Microsecond)), true
}
