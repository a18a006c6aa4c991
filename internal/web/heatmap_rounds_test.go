package web_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// tailFirstBoundary is a time B (Unix s) on the 24h heatmap's 720 s grid,
// at least 40 s ago, with no 300 s step of the 24h charts' grid in
// (B − 80, B + 40]: a page whose clock is held at B + 40 has its
// heatmap's last column on the grid at B and its tail at B + 40, and the
// charts' last step is more than their tail's minute before their bridge
// (else a series begun after it makes the page ask whether it had data
// at its tail's window's start, api.tailHad: a round trip later before
// tailHadEarly, with the first round since; kept out of this test, which
// is of the heatmap's question).
func tailFirstBoundary(now time.Time) int64 {
	b := (now.Unix() - 40) / 720 * 720
	for b%300 < 120 {
		b -= 720
	}
	return b
}

// TestBrowserHeatmapTailFirstOneRound: a heatmap whose first column with
// data is its tail (now: a service begun within its last column, at 24h
// the last 12 minutes) asked whether the service had data before it (a
// gap) or began there a round trip after the heatmap's answer: the
// question asked with the heatmap's queries covered its columns on the
// grid only. Now the page's first refresh is one round trip here too, and
// the caption is as true: a service whose data began 35 s before the
// page's now is said to begin there, one with a sample 14 hours before
// that (alone: no column's rate has it) to have a gap. The page's clock is held 40 s after a column of the
// 24h heatmap's grid (tailFirstBoundary).
func TestBrowserHeatmapTailFirstOneRound(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(24 * time.Hour) })
	now := time.Now().Truncate(time.Second)
	b := time.Unix(tailFirstBoundary(now), 0)
	at := b.Add(40 * time.Second)
	const fresh, gapped = "tail-new", "tail-gap"
	series := heatHistory(fresh, b.Add(5*time.Second), now, nil)
	// One sample 14 hours before (a rate needs two: no column has it),
	// then the data from 35 s before the page's now.
	lone := b.Add(-14 * time.Hour)
	series = append(series, heatHistory(gapped, lone, now, func(ts time.Time) bool {
		return ts.After(lone) && ts.Before(b.Add(5*time.Second))
	})...)
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}
	pageClockStill(t, ctx, at)
	recordEveryDocument(t, ctx)
	for _, c := range []struct{ svc, caption string }{{fresh, "before the data began"}, {gapped, "gap"}} {
		if _, err := run(ctx, 20*time.Second, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		load(t, ctx, st.URL+"/#/service/"+c.svc+"?range=24h")
		late, all := lateInRefresh(fetches(t, ctx), 0)
		if all == 0 {
			t.Fatalf("%s: no request of the first refresh recorded", c.svc)
		}
		if len(late) > 0 {
			t.Errorf("%s: %d of the first refresh's %d requests went out after answers of it came in, want none (one round trip):\n%s", c.svc, len(late), all, strings.Join(late, "\n"))
		}
		// Every column on the grid (24h at 720 s: 121) is before the first
		// with data, the tail.
		if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="heatmap"]').dataset.before || 0)`); n != 121 {
			t.Fatalf("%s: the heatmap marks %d columns before its first with data, want the 121 on its grid (the tail has the data)", c.svc, n)
		}
		txt := eval[string](t, ctx, `(document.querySelector('.hm-before:not([hidden])') || {textContent: ''}).textContent`)
		if !strings.Contains(txt, c.caption) || (c.svc == gapped && strings.Contains(txt, "before the data began")) {
			t.Errorf("%s: the caption under the heatmap %q, want it to say %q", c.svc, txt, c.caption)
		}
	}
}

// TestBrowserHeatmapEarlierAgainInBatch: the answer to whether a heatmap's
// service has data before its first column with data holds a minute; a
// refresh after that asked it again a round trip after the heatmap's
// answer (on Live once a minute for five minutes after a service began,
// at 24h on every refresh). Now the refresh asks where the series begin
// (/api/v1/series_start) with the heatmap's queries: one round trip. The page's clock runs 61 s ahead after its
// first refresh (the data runs on 5 minutes past now), so its next
// refresh finds the answer over a minute old; the caption stays true.
func TestBrowserHeatmapEarlierAgainInBatch(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	const svc = "again-svc"
	now := time.Now().Truncate(time.Second)
	if err := webtest.Write(context.Background(), st.URL, heatHistory(svc, now.Add(-10*time.Minute), now.Add(5*time.Minute), nil)...); err != nil {
		t.Fatal(err)
	}
	setPageClock(t, ctx, `D.now() + (globalThis.__skew || 0)`)
	recordEveryDocument(t, ctx)
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="heatmap"]')?.dataset.before || 0)`); n == 0 {
		t.Fatal("the heatmap marks no columns before the data began (written from 10 minutes ago)")
	}
	eval[int](t, ctx, `(globalThis.__skew = 61000, 0)`)
	if err := poll(ctx, 40*time.Second, `Number(document.getElementById('page').dataset.refreshed || 0) >= 2`); err != nil {
		t.Fatalf("the page did not refresh again: %v", err)
	}
	reqs := fetches(t, ctx)
	asked := 0
	for _, r := range reqs {
		if r.Refreshed == 1 && strings.Contains(r.URL, "/api/v1/series_start?") {
			asked++
		}
	}
	if asked == 0 {
		var urls []string
		for _, r := range reqs {
			if r.Refreshed == 1 {
				urls = append(urls, r.URL)
			}
		}
		sort.Strings(urls)
		t.Fatalf("the second refresh did not ask again whether the service has data before the heatmap's first column with data (its answer a minute old); its requests:\n%s", strings.Join(urls, "\n"))
	}
	for n := 0; n <= 1; n++ {
		late, all := lateInRefresh(reqs, n)
		if len(late) > 0 {
			t.Errorf("refresh %d: %d of its %d requests went out after answers of it came in, want none (one round trip):\n%s", n+1, len(late), all, strings.Join(late, "\n"))
		}
	}
	if txt := eval[string](t, ctx, `(document.querySelector('.hm-before:not([hidden])') || {textContent: ''}).textContent`); !strings.Contains(txt, "before the data began") {
		t.Errorf("the caption under the heatmap after the second refresh %q, want the columns said to be before the data began", txt)
	}
}

// TestBrowserServiceWithoutHostsOneRound: a service whose series carry
// neither a host nor an instance label (pushed JSON, a Pushgateway
// group, here a histogram written with its service and job only) has no
// host to draw; its page asked the host panels' queries for a selector
// of none (instance=~"$^") a round trip after the look-up said so. Now
// its first refresh is one round trip and asks nothing of no host.
func TestBrowserServiceWithoutHostsOneRound(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	const svc = "hostless"
	now := time.Now().Truncate(time.Second)
	if err := webtest.Write(context.Background(), st.URL, heatHistory(svc, now.Add(-20*time.Minute), now.Add(5*time.Minute), nil)...); err != nil {
		t.Fatal(err)
	}
	recordEveryDocument(t, ctx)
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	reqs := fetches(t, ctx)
	late, all := lateInRefresh(reqs, 0)
	if all == 0 {
		t.Fatal("no request of the first refresh recorded")
	}
	if len(late) > 0 {
		t.Errorf("%d of the first refresh's %d requests went out after answers of it came in, want none (one round trip):\n%s", len(late), all, strings.Join(late, "\n"))
	}
	for _, r := range reqs {
		if strings.Contains(r.URL, `"$^"`) {
			t.Errorf("asked for no host: %.200s", r.URL)
			break
		}
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="heatmap"]')?.dataset.points || 0)`); n == 0 {
		t.Error("the service page drew no heatmap")
	}
	if txt := eval[string](t, ctx, `document.querySelector('[data-chart="host-cpu"]').closest('.card').textContent`); !strings.Contains(txt, "No host known for this service") {
		t.Errorf("the Host CPU panel of a service without hosts reads %q, want it to say no host is known", txt)
	}
}
