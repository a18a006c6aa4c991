package web_test

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserServiceSilenceMarkedAfterTheMinute: the points of a
// service's rates whose window holds its own silence were marked only
// while the tiles' minute saw the return (83c81ad); a minute later, at 1h
// (12 s steps, 48 s windows), they were drawn solid and one was the
// legend's min (the backtester read 1.27k/s for 20k/s). A service
// counting 20,000 bars/s, a sample a second (stale_after 5 s), silent for
// 40 s (under a window: every point has a value) ending two minutes
// before the page opens, at 6 s past a step: the Requests legend's min is
// within 10 % of 20k/s, the points whose window holds the silence (every
// step from its start to a window after its end, 7) are dashed as holding
// a gap in the data, and they hold the dip.
func TestBrowserServiceSilenceMarkedAfterTheMinute(t *testing.T) {
	ctx := browser(t)
	const svc, perSec, step, window = "backtester-steps", 20000.0, 12, 48
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}}
	})
	now := time.Now().Truncate(time.Second)
	back := now.Add(-2 * time.Minute)
	for back.Unix()%step != 6 { // off the steps: no point within a grain of either end
		back = back.Add(-time.Second)
	}
	down := back.Add(-40 * time.Second)
	origin := now.Add(-40 * time.Minute)
	sample := func(ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "bar"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(origin).Seconds()}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(now); ts = ts.Add(time.Second) {
		if ts.After(down) && ts.Before(back) {
			continue
		}
		history = append(history, sample(ts))
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	writeEverySecond(t, st.URL, now.Add(time.Second), func(ts time.Time) []prompb.TimeSeries { return []prompb.TimeSeries{sample(ts)} })
	// The steps whose window (t − 48 s, t] holds part of the silence.
	want := 0
	for ts := down.Unix() + 1; ts < back.Unix()+window; ts++ {
		if ts%step == 0 {
			want++
		}
	}

	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	row := `document.querySelector('[data-stats="requests"] tr[data-series]')`
	if err := poll(ctx, 20*time.Second, `!!`+row+` && `+row+`.querySelector('[data-stat="min"]').textContent !== '–'`); err != nil {
		t.Fatalf("no Requests legend: %v", err)
	}
	minText := eval[string](t, ctx, row+`.querySelector('[data-stat="min"]').textContent`)
	m := regexp.MustCompile(`^([0-9.]+)(k?)`).FindStringSubmatch(strings.TrimSpace(minText))
	if m == nil {
		t.Fatalf("legend min %q: no figure", minText)
	}
	minV, _ := strconv.ParseFloat(m[1], 64)
	if m[2] == "k" {
		minV *= 1000
	}
	if math.Abs(minV-perSec) > 0.1*perSec {
		t.Errorf("Requests legend min %q, want %v/s within 10 %% (a point whose window holds the silence is not in min)", minText, perSec)
	}
	if g := eval[string](t, ctx, row+`.dataset.gap || ''`); g != strconv.Itoa(want) {
		t.Errorf("Requests legend row: %q points holding a gap, want %d (every step whose window holds the silence)", g, want)
	}
	// The dashed points of those steps hold the dip: their lowest is a
	// rate over a few seconds of data spread over the window.
	dip := eval[float64](t, ctx, `(() => { const u = document.querySelector('[data-chart="requests"]').chart.u;
		const i = u.series.findIndex((s) => s.label === `+row+`.dataset.series + ' (partial window)');
		const vs = i < 0 ? [] : u.data[i].filter((v, j) => v != null && u.data[0][j] > `+strconv.FormatInt(down.Unix(), 10)+` && u.data[0][j] < `+strconv.FormatInt(back.Unix()+window, 10)+`);
		return vs.length ? Math.min(...vs) : -1; })()`)
	if dip < 0 || dip > 0.5*perSec {
		t.Errorf("the lowest dashed Requests point whose window holds the silence is %v, want the dip (under %v/s)", dip, 0.5*perSec)
	}
	screenshot(t, ctx, artifacts(t), "service-silence-marked-after-the-minute")
}

// TestBrowserServiceSparseHistoryNotASilence: a service's history kept a
// sample a minute (the demo's, or data from before a shorter scrape
// interval) while its stale_after is 5 s now. Each minute between two
// samples was read as a silence (longer than stale_after and twice the
// grain), so at 6h and 24h every point of the history was dashed as
// holding a gap and left out of min and max (trial 29 F1: order-gateway's
// 24h legend "min 2.91k/s, max ≥ 3.12k/s*" with its history's 646/s
// drawn dashed). A gap is a silence only where it is longer than twice
// the samples' spacing before it too (queries.sampleGaps): the history's
// points are whole, its lowest rate the legend's min, while a 40 s
// silence in the second-by-second data after it is still marked.
func TestBrowserServiceSparseHistoryNotASilence(t *testing.T) {
	ctx := browser(t)
	const svc, step = "gateway-sparse", 72
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Storage.OutOfOrderWindow = config.Duration(6 * time.Hour)
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}}
	})
	now := time.Now().Truncate(time.Second)
	origin := now.Add(-5 * time.Hour).Truncate(time.Minute)
	dense := now.Add(-30 * time.Minute).Truncate(time.Minute)
	back := now.Add(-10 * time.Minute)
	for back.Unix()%step != 30 {
		back = back.Add(-time.Second)
	}
	down := back.Add(-40 * time.Second)
	// 1,000 requests/s in the history's first hour, 3,000/s after it.
	count := func(ts time.Time) float64 {
		s := ts.Sub(origin).Seconds()
		if s <= 3600 {
			return 1000 * s
		}
		return 1000*3600 + 3000*(s-3600)
	}
	sample := func(ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "order"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: count(ts)}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; ts.Before(dense); ts = ts.Add(time.Minute) {
		history = append(history, sample(ts))
	}
	for ts := dense; !ts.After(now); ts = ts.Add(time.Second) {
		if ts.After(down) && ts.Before(back) {
			continue
		}
		history = append(history, sample(ts))
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	writeEverySecond(t, st.URL, now.Add(time.Second), func(ts time.Time) []prompb.TimeSeries { return []prompb.TimeSeries{sample(ts)} })

	load(t, ctx, st.URL+"/#/service/"+svc+"?range=6h")
	row := `document.querySelector('[data-stats="requests"] tr[data-series]')`
	if err := poll(ctx, 20*time.Second, `!!`+row+` && `+row+`.querySelector('[data-stat="min"]').textContent !== '–'`); err != nil {
		t.Fatalf("no Requests legend: %v", err)
	}
	minText := eval[string](t, ctx, row+`.querySelector('[data-stat="min"]').textContent`)
	m := regexp.MustCompile(`^([0-9.]+)(k?)/s$`).FindStringSubmatch(strings.TrimSpace(minText))
	minV := -1.0
	if m != nil {
		minV, _ = strconv.ParseFloat(m[1], 64)
		if m[2] == "k" {
			minV *= 1000
		}
	}
	if math.Abs(minV-1000) > 50 {
		t.Errorf("Requests legend min %q, want the history's first hour, 1k/s, unmarked", minText)
	}
	// No point of the history is dashed past its first window (whose
	// windows reach before the data began); the 40 s silence's are. (The
	// windows holding the change from a minute's spacing to a second's
	// are left out of the check, and the dashed line also takes in the
	// solid point before a dashed one.)
	marked := func(from, to int64) int {
		return eval[int](t, ctx, `(() => { const u = document.querySelector('[data-chart="requests"]').chart.u;
			const i = u.series.findIndex((s) => s.label === `+row+`.dataset.series + ' (partial window)');
			return i < 0 ? 0 : u.data[i].filter((v, j) => v != null && u.data[0][j] > `+strconv.FormatInt(from, 10)+` && u.data[0][j] < `+strconv.FormatInt(to, 10)+`).length; })()`)
	}
	if n := marked(origin.Unix()+2*288, dense.Unix()-3*step); n != 0 {
		t.Errorf("%d Requests points of the minute-spaced history are dashed, want none", n)
	}
	if n := marked(down.Unix(), back.Unix()+288); n == 0 {
		t.Error("no Requests point whose window holds the 40 s silence is dashed")
	}
	screenshot(t, ctx, artifacts(t), "service-sparse-history")
}
