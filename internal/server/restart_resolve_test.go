package server_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
)

// TestRestartResolvesPage: a service paged as silent came back while gmc
// was down. gmc's history ended the episode after the restart, but its
// receiver was never told (a user trial: the on-call paged "backtester is
// down" heard nothing more, and the notification log, which still held
// the page, kept the service's next outage from paging within
// repeat_interval). The receiver that heard it fire hears it resolved, as
// from an Alertmanager that outlived the restart, and its next outage
// pages again.
func TestRestartResolvesPage(t *testing.T) {
	hookURL, got := startWebhook(t)
	cfg, err := config.Load([]byte(`
alerting:
  evaluation_interval: 200ms
` + webhookNotify(hookURL)))
	if err != nil {
		t.Fatal(err)
	}
	wait := func(status string) {
		t.Helper()
		waitWebhook(t, got, 15*time.Second, status+" ServiceSilent{service=gone}", func(m webhookMsg) bool {
			return hasAlert(m, status, map[string]string{"alertname": "ServiceSilent", "service": "gone"})
		})
	}
	dir := t.TempDir()
	var c offsetClock
	base, stop := runServerIn(t, cfg, dir, c.now)
	pushAt(t, base, "gone", c.now())
	c.advance(9 * time.Second) // past its down_after (8s) since the start and its sample
	wait("firing")
	// Stopped once the notification log holds the page: two more reads of
	// it (one per flush of the group) after the one that logged it.
	logged := nflogQueries(t, base) + 2
	waitFor(t, 10*time.Second, "the page logged", func() bool { return nflogQueries(t, base) >= logged })
	stop()

	// Back while gmc was down: it pushes every second from the restart on.
	base, _ = runServerIn(t, cfg, dir, c.now)
	for range 12 {
		pushAt(t, base, "gone", c.now())
		c.advance(time.Second)
		time.Sleep(250 * time.Millisecond) // an evaluation between pushes
	}
	wait("resolved")

	// Its next outage pages.
	c.advance(9 * time.Second)
	wait("firing")
}

// nflogQueries is how many times the notification log was read.
func nflogQueries(t *testing.T, base string) float64 {
	t.Helper()
	_, body := do(t, "GET", base+"/metrics", "", nil)
	for l := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(l, "alertmanager_nflog_queries_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}
