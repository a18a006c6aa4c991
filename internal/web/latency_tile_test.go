package web_test

import (
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserLatencyTilesNameEndpoint: the backtester's page showed
// "Requests 19.2k bars/s" beside "p50 62.1 ms / p99 501 ms", which were
// the latency of its day replays, another request kind (t-user8 #10).
// A feed handler of the seed counts messages and times batches: its p50
// and p99 tiles say they are the batch latency; an order service's say
// order latency.
func TestBrowserLatencyTilesNameEndpoint(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 5, false)
	for svc, want := range map[string]string{"svc-04": "batch latency, now, over 1m", webtest.Native: "order latency, now, over 1m"} {
		load(t, ctx, st.URL+"/#/service/"+svc+"?range=15m")
		for _, tile := range []string{"p50", "p99"} {
			sub := `(document.querySelector('[data-kpi="` + tile + `"] .kpi-sub') || {textContent: ''}).textContent`
			if err := poll(ctx, 20*time.Second, sub+` === `+jsString(want)); err != nil {
				t.Errorf("%s's %s tile says %q, want %q", svc, tile, eval[string](t, ctx, sub), want)
			}
		}
	}
}
