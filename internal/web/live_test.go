package web_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// pushLive pushes st's data each second (webtest's Data.Live) until the
// function it returns is called; that gives the pusher's error the first
// time, nil after.
func pushLive(st *stack) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	pushed := make(chan error, 1)
	go func() { pushed <- st.Data.Live(ctx, st.URL, time.Second) }()
	stopped := false
	return func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-pushed
	}
}

// TestBrowserLiveIncremental: after its first refresh a Live service page
// asks only for the newest interval of each query (live.js RangeCache,
// batched into a few requests), and after seconds of pushing what it holds
// — every series and point of every query, float and native histogram —
// is what a full query of the same window answers.
func TestBrowserLiveIncremental(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 4, false)
	stop := pushLive(st)
	defer stop() //nolint:errcheck // the error is checked below when the test gets there

	recordEveryDocument(t, ctx)
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=live")
	// No periodic full refresh: every point was kept through merges of
	// what gmc said changed (a short overlap, had gmc not said).
	eval[bool](t, ctx, `(performance.setResourceTimingBufferSize(100000), performance.clearResourceTimings(),
		window.__reqs.length = 0, window.gmcLive.overlap = 5, window.gmcLive.fullEvery = 1e9, true)`)
	start := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`)
	// Bounded: 12 refreshes take 12 s on an idle machine; a busy one gets 150 s.
	for end := time.Now().Add(150 * time.Second); evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`) < start+12; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("Live did not refresh 12 times in 150 s while pushing")
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("push: %v", err)
	}
	// Let the last pushes land, then one more refresh of the page.
	time.Sleep(1500 * time.Millisecond)
	n := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`)
	if err := poll(ctx, 30*time.Second, `Number(document.getElementById('page').dataset.refreshed) >= `+strconv.Itoa(n+1)); err != nil {
		t.Fatalf("no refresh after the pushes stopped: %v", err)
	}
	stats := eval[map[string]int](t, ctx, `window.gmcLive.stats`)
	if stats["partial"] < 12*5 {
		t.Errorf("cache stats %v: want most fetches partial", stats)
	}
	// The requests since: the steps gmc evaluated (from its Gmc-From, else
	// the request's start), batched (far fewer query_range requests than
	// queries).
	var spans []float64
	for _, r := range fetches(t, ctx) {
		if r.path() != "/api/v1/query_range" || r.Done < 0 {
			continue
		}
		from := r.From
		if from == "" {
			from = r.param("start")
		}
		f, _ := strconv.ParseFloat(from, 64)
		e, _ := strconv.ParseFloat(r.param("end"), 64)
		spans = append(spans, e-f)
	}
	if len(spans) == 0 {
		t.Fatal("no query_range request while Live refreshed")
	}
	// A partial window is the time since the entry's last refresh and
	// the steps a late sample changed (seconds on a busy machine): never
	// the whole 300 s, and mostly a few seconds.
	short := 0
	for _, s := range spans {
		if s >= 300 {
			t.Errorf("a Live refresh asked for the whole window (%v s); want only the new interval", s)
			break
		}
		if s <= 10 {
			short++
		}
	}
	if short < len(spans)/2 {
		t.Errorf("only %d of %d query_range windows were ≤ 10 s: %v", short, len(spans), spans)
	}

	// /system/status: every refresh asks for the states only, which the
	// browser revalidates (304: headers, no body) while no state changes;
	// the whole status only every 10 s.
	type statusReq struct {
		States   bool    `json:"states"`
		Transfer float64 `json:"transfer"`
		Body     float64 `json:"body"`
	}
	reqs := eval[[]statusReq](t, ctx, `performance.getEntriesByType('resource').filter(e => e.name.includes('/system/status'))
		.map(e => ({states: e.name.includes('view=states'), transfer: e.transferSize, body: e.encodedBodySize}))`)
	states, revalidated, full := 0, 0, 0
	for _, r := range reqs {
		switch {
		case !r.States:
			full++
		case r.Body > 0 && r.Transfer < r.Body:
			states++
			revalidated++
		default:
			states++
		}
	}
	refreshes := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`) - start
	if states < refreshes-1 || revalidated < states*3/4 || full > refreshes/4+1 {
		t.Errorf("/system/status over %d refreshes: %d states requests (%d answered 304), %d whole; want one states request a refresh, mostly 304, the whole one every 10 s: %+v",
			refreshes, states, revalidated, full, reqs)
	}

	n, pts := compareLiveCache(t, ctx, 10)
	t.Logf("compared %d cached queries, %d points, with full queries; cache %v, %d query_range requests", n, pts, stats, len(spans))
	got := points(t, ctx)
	for _, c := range []string{"latency", "heatmap", "tps", "proc-cpu", "host-cpu"} {
		if got[c] == 0 {
			t.Errorf("Live chart %q drew no points: %v", c, got)
		}
	}
}

// TestBrowserSlowServerConnected: a server whose queries take 2.5 s (busy,
// but alive) is not called disconnected — the heartbeat is the event
// stream's ping, which slow queries do not hold up (a /-/healthy poll
// queued behind them timed out) — while a stopped one still is within 3 s
// and a hung one (stream open, silent) after 4 s without a ping.
func TestBrowserSlowServerConnected(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 4, false)
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=live")
	st.slow.Store(int64(2500 * time.Millisecond))
	n := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := eval[string](t, ctx, `document.getElementById('conn').dataset.state`); s == "down" {
			t.Fatalf("a slow server was shown as disconnected: %q", eval[string](t, ctx, `document.getElementById('conn').textContent`))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m := evalInt(t, ctx, `Number(document.getElementById('page').dataset.refreshed)`); m <= n {
		t.Errorf("no refresh completed in 10 s of 2.5 s queries (%d → %d)", n, m)
	}
	st.slow.Store(0)
	st.mute.Store(true)
	// 4 s without a ping; checks delayed by a starved tab are skipped, so allow more on a busy machine.
	if err := poll(ctx, 10*time.Second, `document.getElementById('conn').dataset.state === 'down'`); err != nil {
		t.Fatalf("a hung server was not shown as disconnected within 10 s: %v", err)
	}
	st.mute.Store(false)
	if err := poll(ctx, 10*time.Second, `document.getElementById('conn').dataset.state === 'ok'`); err != nil {
		t.Fatalf("did not recover from the hang: %v", err)
	}
	st.setDown(true)
	defer st.setDown(false)
	if err := poll(ctx, 3*time.Second, `document.getElementById('conn').dataset.state === 'down'`); err != nil {
		t.Fatalf("a stopped server was not shown as disconnected within 3 s: %v", err)
	}
}

// TestBrowserLiveFirstAnswerNotCopied: a Live page's first answer of each
// query (and the whole one every fullEvery) is kept as gmc sent it, not
// copied point by point through the cache's merge (live.js: Live
// Overview's first answer holds ~42k points, each copied twice on the way
// to the charts); an answer out of order, with points before the window or
// a label set twice is still put as a full query would give it.
func TestBrowserLiveFirstAnswerNotCopied(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	load(t, ctx, st.URL+"/#/alerts?range=1h")
	type result struct {
		Same      bool   `json:"same"`
		CacheSame bool   `json:"cacheSame"`
		Fixed     string `json:"fixed"`
		Dup       string `json:"dup"`
	}
	got := evalAsync[result](t, ctx, `(async () => {
		const {merge, RangeCache} = await import('/assets/live.js');
		const h = {count: '2', sum: '3', buckets: [[0, '0.5', '1', '2']]};
		const fresh = () => [
			{metric: {service: 'a', le: '1'}, values: [[101, '5']]},
			{metric: {service: 'a'}, values: [[100, '1'], [101, '2']]},
			{metric: {service: 'b'}, histograms: [[100, h], [102, h]]},
		];
		const f = fresh();
		const same = merge([], f, 100, 200, 100) === f;
		const c = new RangeCache({now: () => 200});
		const g = fresh();
		const cacheSame = (await c.get('x', {start: 100, end: 200, step: 1}, null, async () => g)) === g;
		const show = (r) => JSON.stringify(r.map((s) => [s.metric, s.values || null, s.histograms ? s.histograms.length : null]));
		const fixed = show(merge([], [
			{metric: {service: 'b'}, values: [[101, '2'], [100, '1']]},
			{metric: {service: 'a'}, values: [[99, '0'], [100, '1']]},
			{metric: {service: 'c'}, values: [[98, '0']]},
		], 100, 200, 100));
		const dup = show(merge([], [
			{metric: {service: 'a'}, values: [[100, '1']]},
			{metric: {service: 'a'}, values: [[101, '2']]},
		], 100, 200, 100));
		return {same, cacheSame, fixed, dup};
	})()`)
	if !got.Same || !got.CacheSame {
		t.Errorf("a first answer in order was copied (merge returned it: %v; the cache's first get: %v)", got.Same, got.CacheSame)
	}
	if want := `[[{"service":"a"},[[100,"1"]],null],[{"service":"b"},[[100,"1"],[101,"2"]],null]]`; got.Fixed != want {
		t.Errorf("an answer out of order merged to\n%s\nwant\n%s", got.Fixed, want)
	}
	if want := `[[{"service":"a"},[[100,"1"],[101,"2"]],null]]`; got.Dup != want {
		t.Errorf("a label set twice merged to\n%s\nwant\n%s", got.Dup, want)
	}
}

// compareLiveCache compares every answer the Live page's cache holds
// (window.gmcLive: what its charts, tables and tiles are drawn from) with a
// full query of its window as it stands now, series by series and point by
// point; it wants at least queries of them and 1,000 points, and returns
// how many of each it compared.
func compareLiveCache(t *testing.T, ctx context.Context, queries int) (n, pts int) {
	t.Helper()
	type diff struct {
		Expr string `json:"expr"`
		Why  string `json:"why"`
	}
	diffs, err := run(ctx, 2*time.Minute, chromedp.Evaluate[[]diff](`(async () => {
		const entries = [...window.gmcLive.entries.values()].map((e) => ({...e}));
		const key = (s) => JSON.stringify(Object.keys(s.metric).sort().map((k) => [k, s.metric[k]]));
		const out = [];
		for (const e of entries) {
			const p = new URLSearchParams({query: e.expr, start: e.from, end: e.to, step: e.step});
			const full = (await (await fetch('/api/v1/query_range?' + p)).json()).data.result;
			const a = e.result.map((s) => key(s) + JSON.stringify(s.values || []) + JSON.stringify(s.histograms || []));
			const b = full.map((s) => key(s) + JSON.stringify(s.values || []) + JSON.stringify(s.histograms || []));
			if (a.length !== b.length) { out.push({expr: e.expr, why: a.length + ' series cached, ' + b.length + ' in a full query'}); continue; }
			for (let i = 0; i < a.length; i++) {
				if (a[i] !== b[i]) { out.push({expr: e.expr, why: 'series ' + i + ' cached ' + a[i].slice(0, 300) + ' … full ' + b[i].slice(0, 300)}); break; }
			}
		}
		return [out, entries.length, entries.reduce((n, e) => n + e.result.reduce((m, s) => m + (s.values || []).length + (s.histograms || []).length, 0), 0)];
	})().then(([out, n, pts]) => (window.__liveCompared = {n, pts}, out))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("compare with full queries: %v", err)
	}
	for _, d := range diffs {
		t.Errorf("%s: %s", d.Expr, d.Why)
	}
	cmp := eval[map[string]int](t, ctx, `window.__liveCompared`)
	if cmp["n"] < queries || cmp["pts"] < 1000 {
		t.Errorf("compared %d queries, %d points: too few to mean anything", cmp["n"], cmp["pts"])
	}
	return cmp["n"], cmp["pts"]
}
