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
