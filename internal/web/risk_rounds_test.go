package web_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRiskPeakStepsAtOnce: the steps whose peak Risk reads again
// every second (those whose bound passes the peak sampled) are read at
// once, not one after the other: one round trip where up to four were
// (Risk's last 600 ms of a load at load 13). With each such read held,
// more than one is asked at the same time on an account's page (one peak
// search: the old code asked one at a time). At 6h: up to 3h the range
// is read every second and no step is read again (risk_load_rounds_test.go).
func TestBrowserRiskPeakStepsAtOnce(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	release := make(chan struct{})
	var released atomic.Bool
	defer func() {
		if !released.Swap(true) {
			close(release)
		}
	}()
	var inflight, most atomic.Int32
	hold := func(r *http.Request) bool {
		// A step's read is a query of its own (the tail's may go out in a
		// batch, label_replace(…): not held).
		if r.URL.Path != "/api/v1/query" || !strings.HasPrefix(queryOf(r), "max_over_time(sum by () (gmc_pnl") {
			return false
		}
		n := inflight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
		inflight.Add(-1)
		return false
	}
	st.refuse.Store(&hold)
	if _, err := run(ctx, 20*time.Second, chromedp.Navigate(st.URL+"/#/risk/acct-a?range=6h")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for most.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if m := most.Load(); m < 2 {
		t.Errorf("at most %d of the steps' peak reads asked at once in 15 s, want them at once (2 or more)", m)
	}
	released.Store(true)
	close(release)
	if err := poll(ctx, 30*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 1`); err != nil {
		t.Fatalf("page not drawn: %v", err)
	}
	if e := eval[string](t, ctx, `document.getElementById('page').dataset.error || ''`); e != "" {
		t.Errorf("the page reports: %s", e)
	}
}
