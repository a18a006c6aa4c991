package main

import (
	"bufio"
	"context"
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
// (JSON that DevTools' Performance panel and Perfetto open).
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
