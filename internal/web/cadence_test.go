package web_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gmc-dev/gmc/internal/web"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// The tests of this file guard what keeps Live's 1 s cadence affordable
// with many tabs open (issue 13): a refresh redraws only what can be seen,
// writes only what changed, and nothing animates between refreshes.

// TestBrowserPatch: util.patch makes a container's children read as newly
// built ones (the same markup as building them afresh) while keeping every
// node that did not change and changing a figure's text in place: a
// legend or tile patched every second must never show what a rebuild
// would not.
func TestBrowserPatch(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	load(t, ctx, st.URL+"/#/alerts?range=1h")
	type result struct {
		Case string `json:"case"`
		Got  string `json:"got"`
		Want string `json:"want"`
		Kept bool   `json:"kept"`
	}
	got := evalAsync[[]result](t, ctx, `(async () => {
		const {h, patch} = await import('/assets/util.js');
		const svg = (pts, w) => {
			const s = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
			s.setAttribute('viewBox', '0 0 ' + w + ' 22');
			const p = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
			p.setAttribute('points', pts);
			s.append(p);
			return s;
		};
		// Each case: the children before, after, and which node (by path from
		// the container) must be the same node after the patch (kept) or not.
		const cases = [
			['text changes in place', () => [h('tr', {'data-series': 'a'}, h('td', {}, 'a'), h('td', {class: 'num'}, '1.2k/s'))],
				() => [h('tr', {'data-series': 'a'}, h('td', {}, 'a'), h('td', {class: 'num'}, '1.3k/s'))], [0, 1], true],
			['attribute added, changed, removed', () => [h('div', {class: 'kpi', 'data-value': '3', title: 'x'}, 'v')],
				() => [h('div', {class: 'kpi kpi-bad', 'data-kpi': 'p99'}, 'v')], [0], true],
			['rows added', () => [h('tr', {}, h('td', {}, 'a'))], () => [h('tr', {}, h('td', {}, 'a')), h('tr', {}, h('td', {}, 'b')), h('tr', {}, h('td', {}, 'c'))], [0], true],
			['rows removed', () => [h('tr', {}, 'a'), h('tr', {}, 'b'), h('tr', {}, 'c')], () => [h('tr', {}, 'a')], [0], true],
			['another tag replaces', () => [h('span', {class: 'muted'}, 'down')], () => [h('strong', {class: 'muted'}, 'down')], [0], false],
			['text becomes an element', () => ['1.2k', h('b', {}, 'x')], () => [h('span', {}, '1.2k'), h('b', {}, 'x')], [1], true],
			['nested figures', () => [h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'last'))), h('tbody', {}, h('tr', {}, h('td', {}, '1'), h('td', {}, '2'))))],
				() => [h('table', {}, h('caption', {}, 'each point over 30s'), h('thead', {}, h('tr', {}, h('th', {}, 'last, over 1m'))), h('tbody', {}, h('tr', {}, h('td', {}, '1'), h('td', {}, '3'))))], [0], true],
			['svg sparkline', () => [svg('0,1 2,3', 96)], () => [svg('0,2 2,4 5,6', 96)], [0, 0], true],
			['emptied', () => [h('p', {}, 'a'), 'b'], () => [], null, false],
			['null and nested arrays', () => [h('i', {}, 'x')], () => [[h('i', {}, 'y')], null, false, 'z'], [0], true],
		];
		const at = (el, path) => path.reduce((n, i) => n && n.childNodes[i], el);
		return cases.map(([name, before, after, path, kept]) => {
			const el = document.createElement('div');
			el.append(...before().flat().filter((x) => x != null && x !== false));
			const node = path && at(el, path);
			patch(el, after());
			const want = document.createElement('div');
			want.append(...after().flat(Infinity).filter((x) => x != null && x !== false));
			return {case: name, got: el.innerHTML, want: want.innerHTML, kept: path ? at(el, path) === node : false};
		});
	})()`)
	if len(got) != 10 {
		t.Fatalf("%d cases ran, want 10: %+v", len(got), got)
	}
	wantKept := []bool{true, true, true, true, false, true, true, true, false, true}
	for i, r := range got {
		if r.Got != r.Want {
			t.Errorf("%s: patched to %s, want %s (as built afresh)", r.Case, r.Got, r.Want)
		}
		if r.Kept != wantKept[i] {
			t.Errorf("%s: node kept %v, want %v", r.Case, r.Kept, wantKept[i])
		}
	}
}

// TestBrowserLiveDrawsWhatIsSeen: on a Live service page (1440x900) the
// charts on the screen show every refresh's data as it comes; a chart far
// below keeps its plot until it comes near (its legend is current at
// once), then draws the newest data; and reading a chart's plot (chart.u:
// tests, the console) gives the newest data whatever its place.
func TestBrowserLiveDrawsWhatIsSeen(t *testing.T) {
	ctx := browser(t)
	if _, err := run(ctx, 10*time.Second, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatal(err)
	}
	st := startStack(t, 3, false)
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=live")
	refreshed := `Number(document.getElementById('page').dataset.refreshed)`
	waitRefreshes := func(n int) {
		t.Helper()
		from := evalInt(t, ctx, refreshed)
		if err := poll(ctx, 60*time.Second, refreshed+` >= `+strconv.Itoa(from+n)); err != nil {
			t.Fatalf("Live did not refresh %d times in 60 s: %v", n, err)
		}
	}
	chart := func(id string) string { return `document.querySelector('[data-chart="` + id + `"]').chart` }
	// The far chart is made (at the browser's next idle moment), then
	// kept through refreshes.
	far := chart("host-net")
	if err := poll(ctx, 30*time.Second, `!!`+far+`._u`); err != nil {
		t.Fatalf("the host network chart was never made: %v", err)
	}
	waitRefreshes(3)
	type state struct {
		Near  *bool   `json:"near"`
		Drawn float64 `json:"drawn"`
		End   float64 `json:"end"`
		Top   float64 `json:"top"`
	}
	read := func(c string) state {
		return eval[state](t, ctx, `(() => { const c = `+c+`; return {near: c.near, drawn: c._u.data[0].at(-1), end: c.end, top: c.el.getBoundingClientRect().top}; })()`)
	}
	for _, id := range []string{"latency", "heatmap"} {
		s := read(chart(id))
		if s.Top > 900 {
			t.Fatalf("%s chart at y=%v, want it on the screen", id, s.Top)
		}
		if s.Drawn != s.End {
			t.Errorf("%s chart on the screen draws data ending %v, want its newest (%v)", id, s.Drawn, s.End)
		}
	}
	f := read(far)
	if f.Top < 1200 {
		t.Fatalf("the host network chart at y=%v, want it far below the screen", f.Top)
	}
	if f.Near == nil || *f.Near || f.Drawn >= f.End {
		t.Errorf("the host network chart far below the screen drew data ending %v (near %v), newest %v: want its plot kept until it comes near", f.Drawn, f.Near, f.End)
	}
	// Its legend is the newest data's, plot or not.
	legend := eval[[]string](t, ctx, `[...document.querySelectorAll('[data-stats="host-net"] tr[data-series]')].map(r => r.dataset.series)`)
	if len(legend) == 0 {
		t.Error("the host network chart has no legend rows")
	}
	// Read, it is the newest data.
	if got := eval[[]float64](t, ctx, `(() => { const c = `+chart("host-disk")+`; return [c.u.data[0].at(-1), c.end]; })()`); got[0] != got[1] {
		t.Errorf("the host disk chart read through chart.u ends at %v, want its newest data's %v", got[0], got[1])
	}
	// Brought near, it draws the newest data.
	eval[bool](t, ctx, `(document.querySelector('[data-chart="host-net"]').scrollIntoView(), true)`)
	if err := poll(ctx, 20*time.Second, `(() => { const c = `+far+`; return c.near && c._u.data[0].at(-1) === c.end; })()`); err != nil {
		s := read(far)
		t.Errorf("the host network chart scrolled into view draws data ending %v, want its newest %v: %v", s.Drawn, s.End, err)
	}
}

// TestBrowserLiveBeats: nothing animates between refreshes (an endless CSS
// animation drew every open tab 60 times a second, and the sticky header
// blurred what lay under it, in software without a GPU): Live's dot
// changes once per completed refresh, and the banner's icon once per ping
// of the event stream, so a stalled page or stream stops beating.
func TestBrowserLiveBeats(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=live")
	type beat struct {
		Refreshed int  `json:"refreshed"`
		Dim       bool `json:"dim"`
	}
	read := func() beat {
		return eval[beat](t, ctx, `({refreshed: Number(document.getElementById('page').dataset.refreshed), dim: document.querySelector('.range a.active .live-dot').classList.contains('beat')})`)
	}
	seen := map[bool]bool{}
	for end := time.Now().Add(60 * time.Second); len(seen) < 2 && time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		b := read()
		// (Read in one task: the count and the dot change together.)
		if b.Dim != (b.Refreshed%2 == 1) {
			t.Fatalf("after %d refreshes the Live dot is dim=%v, want it to change with each refresh", b.Refreshed, b.Dim)
		}
		seen[b.Dim] = true
	}
	if len(seen) < 2 {
		t.Errorf("the Live dot did not change in 60 s of refreshes (%v)", seen)
	}
	// The banner: an alert fires; its icon changes with the pings.
	active := time.Now()
	st.alerts.Store(&[]web.Alert{{Name: "OrderLatencyHigh", Severity: "critical", Service: webtest.Native, State: "firing", ActiveAt: &active,
		Summary: "p99 order latency above 1ms", Labels: map[string]string{"alertname": "OrderLatencyHigh"}}})
	if err := poll(ctx, 60*time.Second, `document.getElementById('banner').dataset.state === 'firing'`); err != nil {
		t.Fatalf("no alert banner: %v", err)
	}
	pings := map[bool]bool{}
	for end := time.Now().Add(30 * time.Second); len(pings) < 2 && time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		pings[eval[bool](t, ctx, `document.getElementById('banner').classList.contains('beat')`)] = true
	}
	if len(pings) < 2 {
		t.Errorf("the banner's icon did not change with the stream's pings in 30 s (%v)", pings)
	}
	endless := eval[[]string](t, ctx, `document.getAnimations().filter(a => a.effect && a.effect.getComputedTiming().iterations === Infinity).map(a => (a.effect.target && a.effect.target.className) + ': ' + a.animationName)`)
	if len(endless) > 0 {
		t.Errorf("endless animations on a Live page: %v", endless)
	}
	if bf := eval[string](t, ctx, `getComputedStyle(document.querySelector('.top')).backdropFilter`); bf != "none" {
		t.Errorf("the sticky header has backdrop-filter %q, want none", bf)
	}
}

// TestBrowserLiveOneBatch: once a Live service page knows its hosts, their
// queries go out with the others (one query_range request for the
// charts, one for the heatmap's coarser step), not a round trip later;
// and its instant queries are one request a refresh (the histograms'
// bucket edges, read once a minute, were asked for every second: Live's
// window end moved).
func TestBrowserLiveOneBatch(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 3, false)
	load(t, ctx, st.URL+"/#/service/"+webtest.Native+"?range=live")
	refreshed := `Number(document.getElementById('page').dataset.refreshed)`
	// After the first refreshes (the host look-up), count from here.
	if err := poll(ctx, 60*time.Second, refreshed+` >= 3`); err != nil {
		t.Fatalf("Live did not refresh 3 times: %v", err)
	}
	start := evalInt(t, ctx, `(performance.setResourceTimingBufferSize(100000), performance.clearResourceTimings(), Number(document.getElementById('page').dataset.refreshed))`)
	if err := poll(ctx, 120*time.Second, refreshed+` >= `+strconv.Itoa(start+10)); err != nil {
		t.Fatalf("Live did not refresh 10 times in 120 s: %v", err)
	}
	// (Long batches are POSTed: the URL has no query to tell them apart.)
	ranges := evalInt(t, ctx, `performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/query_range')).length`)
	n := evalInt(t, ctx, refreshed) - start
	instants := evalInt(t, ctx, `performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/query?')).length`)
	// One request for the charts and one for the heatmap a refresh, with
	// room for the refreshes in flight at either end (three before).
	if ranges > 2*n+4 {
		t.Errorf("%d query_range requests over %d refreshes: want the host queries in the refresh's batch (2 a refresh)", ranges, n)
	}
	// One a refresh, and the edges and the hosts' jobs now and then.
	if instants > n+4 {
		t.Errorf("%d instant query requests over %d refreshes: want one a refresh", instants, n)
	}
	t.Logf("%d refreshes: %d query_range and %d query requests", n, ranges, instants)
}

// disconnectedWithin checks the page's own time from an outage (at, Unix
// ms) to its disconnected state (data-down-at, on the page's clock, the
// same machine's): the harness's polling under load does not count.
func disconnectedWithin(t *testing.T, at int64, d time.Duration, downAt string) {
	t.Helper()
	ms, err := strconv.ParseInt(downAt, 10, 64)
	if err != nil {
		t.Fatalf("data-down-at %q: %v", downAt, err)
	}
	if took := time.Duration(ms-at) * time.Millisecond; took > d || took < -time.Second {
		t.Errorf("disconnected state %v after the outage, want within %v", took, d)
	} else {
		t.Logf("disconnected shown %v after the outage (page clock)", took)
	}
}
