package web_test

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserLiveOverviewLateWrites: the Live Overview asks gmc each
// second only for the steps a sample committed since its last answer can
// change (query/changed.go), and a late sample is on the page as a fresh
// full query of the window has it: one 20 s old (inside the 30 s the page
// used to re-read every second) and one 50 s old (older than that: the
// old page kept its steps stale until the whole window was read again, a
// minute later; here that re-read is off). The old page evaluated 31
// steps of every query each second (175 KB/s of the Overview's 209 KB/s
// with 50 services).
func TestBrowserLiveOverviewLateWrites(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 4, false)
	stop := pushLive(st)
	defer stop() //nolint:errcheck // the error is checked below when the test gets there
	recordEveryDocument(t, ctx)
	load(t, ctx, st.URL+"/#/overview?range=live")
	// No whole re-read: what the page holds after its first answer came
	// through the refreshes' answers only.
	eval[bool](t, ctx, `(window.gmcLive.fullEvery = 1e9, true)`)
	refreshed := func() int { return evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`) }
	waitRefreshes := func(n int, why string) {
		t.Helper()
		if err := poll(ctx, 60*time.Second, `Number(document.getElementById('page').dataset.refreshed) >= `+strconv.Itoa(n)); err != nil {
			t.Fatalf("%s: the page did not refresh %d times: %v", why, n, err)
		}
	}
	waitRefreshes(refreshed()+4, "before the late writes")

	// The orders of svc on the page's Orders query at a step 15 s ago.
	const svc = webtest.Native
	ordersAt := func(at int64) float64 {
		t.Helper()
		return eval[float64](t, ctx, `(() => {
			const e = [...window.gmcLive.entries.values()].find((e) => e.expr.startsWith('sum by (service) (rate(gmc_orders_total['));
			const s = e && e.result.find((s) => s.metric.service === `+jsString(svc)+`);
			const p = s && s.values.find((p) => Number(p[0]) === `+strconv.FormatInt(at, 10)+`);
			return p ? Number(p[1]) : -1;
		})()`)
	}
	now := time.Now().Truncate(time.Second)
	at := now.Add(-15 * time.Second).Unix()
	before := ordersAt(at)
	if before < 0 {
		t.Fatalf("no Orders point of %s at %d on the page", svc, at)
	}
	// Two instances of svc catching up: 1,000 orders/s over 10 s, one
	// from 20 s ago, one from 50 s ago.
	var late []prompb.TimeSeries
	for _, c := range []struct {
		inst string
		ago  time.Duration
	}{{"late-20s", 20 * time.Second}, {"late-50s", 50 * time.Second}} {
		s := prompb.TimeSeries{Labels: prompb.FromLabels(labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", c.inst, "result", "success"), nil)}
		for k := range 11 {
			s.Samples = append(s.Samples, prompb.Sample{Timestamp: now.Add(-c.ago + time.Duration(k)*time.Second).UnixMilli(), Value: float64(1000 * k)})
		}
		late = append(late, s)
	}
	if err := webtest.Write(context.Background(), st.URL, late...); err != nil {
		t.Fatal(err)
	}
	n := refreshed()
	waitRefreshes(n+3, "after the late writes")
	if err := stop(); err != nil {
		t.Fatalf("push: %v", err)
	}
	// Let the last pushes land, then one more refresh of the page.
	time.Sleep(1500 * time.Millisecond)
	waitRefreshes(refreshed()+1, "after the pushes stopped")
	// Each instance's 5 s of 1,000/s in the step's 30 s window: ~330/s more.
	if after := ordersAt(at); after < before+250 {
		t.Errorf("%s's orders at %d read %.0f/s before the late writes and %.0f/s after, want ~330/s more (two late instances' 5 s each at 1,000/s)", svc, at, before, after)
	}
	reqs := fetches(t, ctx) // the page's (compareLiveCache's own come after)
	compareLiveCache(t, ctx, 4)

	// The steps gmc evaluated for each refresh's range query once the
	// page held an answer: the steps since its last answer, and those a
	// late sample changed.
	var steps []int
	for _, r := range reqs {
		if r.path() != "/api/v1/query_range" || r.Refreshed < 2 || r.Done < 0 {
			continue
		}
		from := r.From
		if from == "" {
			from = r.param("start")
		}
		f, err1 := strconv.ParseFloat(from, 64)
		e, err2 := strconv.ParseFloat(r.param("end"), 64)
		s, err3 := strconv.ParseFloat(r.param("step"), 64)
		if err1 != nil || err2 != nil || err3 != nil || s <= 0 {
			t.Fatalf("query_range %s: from %q end %q step %q", r.URL, from, r.param("end"), r.param("step"))
		}
		steps = append(steps, max(0, int((e-f)/s)+1))
	}
	if len(steps) < 5 {
		t.Fatalf("only %d range queries recorded after the first answers", len(steps))
	}
	sort.Ints(steps)
	if med := steps[len(steps)/2]; med > 5 {
		t.Errorf("the refreshes' range queries evaluated a median of %d steps (%v), want the few since the last answer (≤ 5)", med, steps)
	}
	t.Logf("steps evaluated per range query after the first answers: %v", steps)
}
