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

// TestBrowserServiceSilenceNotInMin: after a service's own 1-minute
// outage its 24h Requests legend read min 4.12k/s, the newest point (a
// minute's rate over the 12 s since it came back) where whole windows
// held 19.8k/s or more; the legend says partial points are never in min.
// A service counting 20,000 bars/s for 40 minutes, silent from 70 s to
// 10 s before the page opens, then running again: the legend's min is
// within 10 % of 20k/s, and the points whose window holds the silence
// are dashed as holding a gap in the data.
func TestBrowserServiceSilenceNotInMin(t *testing.T) {
	ctx := browser(t)
	const svc, perSec = "backtester-gap", 20000.0
	st := startStackWith(t, 1, false, func(c *config.Config) {
		c.Server.ServiceLiveness = map[string]config.Liveness{svc: {StaleAfter: config.Duration(5 * time.Second), DownAfter: config.Duration(8 * time.Second)}}
	})
	now := time.Now().Truncate(time.Second)
	origin := now.Add(-40 * time.Minute)
	down, back := now.Add(-70*time.Second), now.Add(-10*time.Second)
	sample := func(ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: "bar"}, {Name: "job", Value: "test"}, {Name: "service", Value: svc},
		}, Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: perSec * ts.Sub(origin).Seconds()}}}
	}
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(down); ts = ts.Add(time.Second) {
		history = append(history, sample(ts))
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	writeEverySecond(t, st.URL, back, func(ts time.Time) []prompb.TimeSeries { return []prompb.TimeSeries{sample(ts)} })

	load(t, ctx, st.URL+"/#/service/"+svc+"?range=24h")
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
	if g := eval[string](t, ctx, row+`.dataset.gap || ''`); g == "" || g == "0" {
		t.Errorf("Requests legend row: %q points holding a gap, want the newest point's (its window holds the silence)", g)
	}
	if foot := eval[string](t, ctx, `(document.querySelector('[data-stats="requests"] tfoot') || {}).textContent || ''`); !strings.Contains(foot, "gap in the data") {
		t.Errorf("Requests legend foot %q, want the points holding a gap in the data said", foot)
	}
	screenshot(t, ctx, artifacts(t), "service-silence-not-in-min")
}
