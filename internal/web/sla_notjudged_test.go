package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAFirstHourLegends: in the first hour after a start every
// point of the SLA page's charts is over an hour reaching before the data
// began (dashed, not judged), and their legends read "–" for last, min and
// max while the table below gave the same 1h figures (t-user12 F10). The
// 1h ratio of the data seen is known, only not judged: the legends give
// it, marked "not judged". The recorded sla:error_ratio:rate1h is written
// from 20 minutes ago, every 15 s: 0.01 (10× a 99.9 % objective's budget)
// for its first 5 minutes, then 0.002 (2×). On 1h and Live the legends
// read last 2× / 99.8 %, min 2× / 99 %, max 10× / 99.8 % on 1h, and 2× /
// 99.8 % throughout on Live (its 5 minutes are after the 10×), each "not
// judged".
func TestBrowserSLAFirstHourLegends(t *testing.T) {
	ctx := browser(t)
	const name = "t-first-hour"
	st := slaStack(t, sla.Status{Name: name, State: "not_judged", Reason: "coverage"}, 6*time.Hour)
	now := time.Now().Truncate(15 * time.Second)
	first := now.Add(-20 * time.Minute)
	series := slaRatio(name)
	for ts := first; !ts.After(now); ts = ts.Add(15 * time.Second) {
		v := 0.002
		if ts.Before(first.Add(5 * time.Minute)) {
			v = 0.01
		}
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}
	row := func(chart string) string { return legendRow(chart, name) }
	for _, rng := range []string{"1h", "live"} {
		load(t, ctx, st.URL+"/#/sla?range="+rng)
		if err := poll(ctx, 20*time.Second, row("burn")+` && `+row("achievement")+` && Number(document.querySelector('[data-chart="burn"]').dataset.partial) > 0`); err != nil {
			t.Fatalf("%s: the SLA charts' legends have no %s row: %v", rng, name, err)
		}
		want := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js'); return [units.x.fmt(2), units.x.fmt(10), units.pct9.fmt(99.8), units.pct9.fmt(99)]; })()`)
		if rng == "live" {
			want[1], want[3] = want[0], want[2]
		}
		for _, c := range []struct{ chart, stat, want string }{
			{"burn", "last", want[0]}, {"burn", "min", want[0]}, {"burn", "max", want[1]},
			{"achievement", "last", want[2]}, {"achievement", "min", want[3]}, {"achievement", "max", want[2]},
		} {
			got := eval[string](t, ctx, row(c.chart)+`.querySelector('[data-stat="`+c.stat+`"]').textContent`)
			if got != c.want+" not judged" {
				t.Errorf("%s: the %s legend's %s reads %q, want %q (the 1h figure of the data seen, not judged)", rng, c.chart, c.stat, got, c.want+" not judged")
			}
		}
		foot := eval[string](t, ctx, `(document.querySelector('[data-stats="burn"] tfoot [data-partial]') || {textContent: ''}).textContent`)
		if !strings.Contains(foot, "not judged") || strings.Contains(foot, "left out of min and max") {
			t.Errorf("%s: the Burn rate legend's note %q should say the dashed points' figures are given, not judged", rng, foot)
		}
		screenshot(t, ctx, artifacts(t), "sla-first-hour-"+rng)
	}
}
