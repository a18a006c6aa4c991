package web_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrowserLatestValues: a service known only by a Pushgateway group's
// metric (exposure_gross, a name the page has no chart for) showed an
// empty page: every chart "no data", its one metric nowhere. The Latest
// values card lists each series' newest value, open when no chart has the
// service's data and closed on a service whose charts do.
func TestBrowserLatestValues(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	body := "exposure_gross{account=\"acc-7\"} 1.5e6\nexposure_gross{account=\"acc-8\"} 250000\n"
	resp, err := http.Post(st.URL+"/metrics/job/riskdesk/instance/r-1", "text/plain", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("push: %s", resp.Status)
	}
	// The group's job names the service (service defaults to job).
	load(t, ctx, st.URL+"/#/service/riskdesk?range=15m")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-card="latest"] tr[data-metric="exposure_gross"]')`); err != nil {
		t.Fatalf("no exposure_gross row in Latest values: %v", err)
	}
	txt := eval[string](t, ctx, `document.querySelector('[data-card="latest"]').textContent`)
	for _, want := range []string{`account="acc-7"`, "1500000", `account="acc-8"`, "250000"} {
		if !strings.Contains(txt, want) {
			t.Errorf("Latest values %q: want %s", txt, want)
		}
	}
	if !eval[bool](t, ctx, `document.querySelector('[data-card="latest"] details').open`) {
		t.Error("Latest values closed on a page whose charts have none of the service's data")
	}
	load(t, ctx, st.URL+"/#/service/gateway?range=15m")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-card="latest"] tr[data-metric]')`); err != nil {
		t.Fatalf("gateway: no Latest values: %v", err)
	}
	if eval[bool](t, ctx, `document.querySelector('[data-card="latest"] details').open`) {
		t.Error("Latest values open on a service whose charts show its data")
	}
	if eval[bool](t, ctx, `[...document.querySelectorAll('[data-card="latest"] tr[data-metric]')].some((r) => /_bucket$|^ALERTS|:/.test(r.dataset.metric))`) {
		t.Error("Latest values lists classic buckets or gmc's own series")
	}
}
