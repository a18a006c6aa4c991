package web_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// queryOf is the PromQL of a request to /api/v1/query or query_range, GET
// or POST (the body is read and put back for the server).
func queryOf(r *http.Request) string { return paramOf(r, "query") }

// paramOf is a request parameter of /api/v1/query or query_range, from a
// POST's form body (read and put back for the server) or the URL.
func paramOf(r *http.Request, name string) string {
	if r.Method == http.MethodPost && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		if v, err := url.ParseQuery(string(b)); err == nil && v.Get(name) != "" {
			return v.Get(name)
		}
	}
	return r.URL.Query().Get(name)
}

// TestBrowserServiceHostsNotBehindJobs: a service page's host panels wait
// for the service's hosts (its instance and host label values), not for
// the look-up of its jobs' process metrics, which is a round trip later
// (job values, then a count of the processes): the host panels' queries
// went out a third round trip after the page's first (305-352 ms after
// navigation at load 13, the first answers in at 250). With the job
// look-up held, the host CPU query is sent all the same; released, the
// page draws.
func TestBrowserServiceHostsNotBehindJobs(t *testing.T) {
	ctx := browser(t)
	release := make(chan struct{})
	var released atomic.Bool
	st := startStack(t, 3, false, withHandler("GET /api/v1/label/job/values", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":[]}`))
	})))
	defer func() {
		if !released.Swap(true) {
			close(release)
		}
	}()
	var hostQuery atomic.Bool
	see := func(r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/api/v1/query") && strings.Contains(queryOf(r), `node_cpu_seconds_total{mode="idle"`) {
			hostQuery.Store(true)
		}
		return false
	}
	st.refuse.Store(&see)
	if _, err := run(ctx, 20*time.Second, chromedp.Navigate(st.URL+"/#/service/"+webtest.Native+"?range=15m")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !hostQuery.Load() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !hostQuery.Load() {
		t.Error("the host panels' queries were not sent while the jobs' look-up was unanswered (15 s)")
	}
	released.Store(true)
	close(release)
	if err := poll(ctx, 20*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 1`); err != nil {
		t.Fatalf("page not drawn after the jobs' look-up answered: %v", err)
	}
	if n := eval[int](t, ctx, `Number(document.querySelector('[data-chart="host-cpu"]').dataset.points || 0)`); n == 0 {
		t.Error("the host CPU chart has no points")
	}
}
