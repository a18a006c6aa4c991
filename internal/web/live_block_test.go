package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserLiveOverviewBlockLoaded: a block written into gmc's data
// directory (as the SLA backfill writes its recordings) holding samples
// inside the Live Overview's window is no commit, but once gmc's store
// loads it (within a minute) the page's next answers re-read its steps,
// and every query the page holds is what a full query of the window
// answers, point for point — with the page's whole re-read of its window
// off, as it is now against a gmc that gives its write state. The old gmc
// counted commits only: the page kept the block's steps as they were
// until it read the window whole again.
func TestBrowserLiveOverviewBlockLoaded(t *testing.T) {
	ctx := browser(t)
	cfg := config.Default()
	// As startStack: the seeded services stay up for the test's length.
	cfg.Server.StaleAfter = config.Duration(30 * time.Minute)
	cfg.Server.DownAfter = config.Duration(time.Hour)
	cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := servertest.Serve(t, server.Options{Config: cfg})
	base := servertest.Ready(t, srv)
	st := stackOn(t, srv, 4, false)
	stop := pushLive(st)
	defer stop() //nolint:errcheck // the error is checked below when the test gets there
	recordEveryDocument(t, ctx)
	load(t, ctx, st.URL+"/#/overview?range=live")
	eval[bool](t, ctx, `(window.gmcLive.fullEvery = 1e9, true)`)
	refreshed := func() int { return evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`) }
	waitRefreshes := func(n int, why string) {
		t.Helper()
		if err := poll(ctx, 60*time.Second, `Number(document.getElementById('page').dataset.refreshed) >= `+strconv.Itoa(n)); err != nil {
			t.Fatalf("%s: the page did not refresh %d times: %v", why, n, err)
		}
	}
	waitRefreshes(refreshed()+4, "before the block")

	// The page's Orders point of svc at the last step at or before at.
	const svc = webtest.Native
	ordersAt := func(at int64) float64 {
		t.Helper()
		return eval[float64](t, ctx, `(() => {
			const e = [...window.gmcLive.entries.values()].find((e) => e.expr.startsWith('sum by (service) (rate(gmc_orders_total['));
			const s = e && e.result.find((s) => s.metric.service === `+jsString(svc)+`);
			const ps = s ? s.values.filter((p) => Number(p[0]) <= `+strconv.FormatInt(at, 10)+`) : [];
			return ps.length ? Number(ps[ps.length - 1][1]) : -1;
		})()`)
	}
	now := time.Now().Truncate(time.Second)
	at := now.Add(-40 * time.Second).Unix()
	before := ordersAt(at)
	if before < 0 {
		t.Fatalf("no Orders point of %s at or before %d on the page", svc, at)
	}
	// Another instance of svc, 1,000 orders/s from 50 s to 40 s ago, in
	// a block written into the data directory.
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), cfg.Server.DataDir, (2 * time.Hour).Milliseconds())
	if err != nil {
		t.Fatal(err)
	}
	app := w.AppenderV2(context.Background())
	ls := labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", "block", "result", "success")
	for k := range 11 {
		if _, err := app.Append(0, ls, 0, now.Add(-50*time.Second+time.Duration(k)*time.Second).UnixMilli(), float64(1000*k), nil, nil, promstorage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// gmc's store loads it within a minute.
	loaded := func() bool {
		q := url.Values{"query": {`count(last_over_time(gmc_orders_total{instance="block"}[10m]))`}, "nocache": {"1"}}
		resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return len(body.Data.Result) > 0
	}
	for deadline := time.Now().Add(90 * time.Second); !loaded(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the block written into the data directory was not loaded within 90 s")
		}
	}
	waitRefreshes(refreshed()+3, "after the block was loaded")
	if err := stop(); err != nil {
		t.Fatalf("push: %v", err)
	}
	// Let the last pushes land, then one more refresh of the page.
	time.Sleep(1500 * time.Millisecond)
	waitRefreshes(refreshed()+1, "after the pushes stopped")
	// 10 s of 1,000/s inside the step's rate window.
	if after := ordersAt(at); after < before+100 {
		t.Errorf("%s's orders at %d read %.0f/s before the block and %.0f/s after, want a few hundred/s more (10 s at 1,000/s)", svc, at, before, after)
	}
	compareLiveCache(t, ctx, 4)
}
