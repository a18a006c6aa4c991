package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"time"
)

// floorPage needs nothing and draws nothing: it marks itself drawn as the
// parser reaches its one script, as a dashboard page marks its first
// refresh. Its load time is the browser's own share of every page's:
// navigation, a renderer for a new tab, leaving the old document and
// committing the new one.
const floorPage = `<!doctype html><html><head><meta charset="utf-8"><title>floor</title></head>` +
	`<body><div id="page"></div><script>document.getElementById('page').dataset.refreshed = '1'</script></body></html>`

// floorLoads times floorPage, served from loopback, as the pages are
// timed: n loads in new tabs and n in the same tab.
func (b *browser) floorLoads(ctx context.Context, n int) (tab, same *loads, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = io.WriteString(w, floorPage)
	})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		if e := <-done; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}()
	base := "http://" + ln.Addr().String()
	if tab, err = b.loadTimes(ctx, newTab, base+"/#/floor", "", n, nil, ""); err != nil {
		return nil, nil, fmt.Errorf("empty page in a new tab: %w", err)
	}
	if same, err = b.loadTimes(ctx, sameTab, base+"/#/floor", base+"/#/from", n, nil, ""); err != nil {
		return nil, nil, fmt.Errorf("empty page in the same tab: %w", err)
	}
	return tab, same, nil
}

// printFloor prints the empty page's loads beside the budget.
func (r *report) printFloor(w io.Writer) {
	if r.floorTab == nil || r.floorSame == nil {
		return
	}
	t, s := median(r.floorTab.times), median(r.floorSame.times)
	fmt.Fprintf(w, "\nAn empty page (no script file, no request, nothing drawn; served from loopback) timed the same way, the browser's own share of every load above: "+
		"new tab median %s (max %s, %d renderers started in %d loads), same tab median %s (max %s): %.0f%% and %.0f%% of the %s budget\n",
		ms(t), ms(slices.Max(r.floorTab.times)), r.floorTab.rendererStarts, len(r.floorTab.times),
		ms(s), ms(slices.Max(r.floorSame.times)), 100*t.Seconds()/loadBudget.Seconds(), 100*s.Seconds()/loadBudget.Seconds(), ms(loadBudget))
}
