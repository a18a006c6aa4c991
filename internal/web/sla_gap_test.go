package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAJudgesCoveredHoursAfterAGap: at 30d each SLA point is
// the worst 1h ratio within its 2.4 h step, and a point whose reach (1 h
// + the step) held any gap was thrown out whole, so for 3.4 h after a
// gmc stop the legends hid the hours after it, wholly covered though
// they were (t-user13 F9: "min 99.998 %" while the last hour was
// 99.62 %). The recorded sla:error_ratio:rate1h: every minute from 10 h
// to 200 minutes ago at 0.0001 (0.1× a 99.9 % budget), none for 70
// minutes, then every 15 s at 0.05 for 5 minutes (hours holding minutes
// of data: not judged), 0.0002 and for the last 30 minutes 0.004 (4×,
// hours wholly covered). The legends' max burn is 4× and min achievement
// 99.6 %, not the history's 0.1× nor the uncovered 50×.
func TestBrowserSLAJudgesCoveredHoursAfterAGap(t *testing.T) {
	ctx := browser(t)
	const name = "t-gap"
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(12 * time.Hour) },
		withSLAs(t, []sla.Status{{Name: name, Service: "t-svc", Indicator: "success", Objective: 99.9, State: "ok"}}))
	now := time.Now().Truncate(15 * time.Second)
	series := prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "sla:error_ratio:rate1h"}, {Name: "service", Value: "t-svc"}, {Name: "sla", Value: name},
	}}
	for ts := now.Add(-10 * time.Hour).Truncate(time.Minute); ts.Before(now.Add(-200 * time.Minute)); ts = ts.Add(time.Minute) {
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: 0.0001})
	}
	back := now.Add(-130 * time.Minute)
	for ts := back; !ts.After(now); ts = ts.Add(15 * time.Second) {
		v := 0.0002
		switch {
		case ts.Before(back.Add(5 * time.Minute)):
			v = 0.05
		case ts.After(now.Add(-30 * time.Minute)):
			v = 0.004
		}
		series.Samples = append(series.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
	}
	if err := webtest.Write(context.Background(), st.URL, series); err != nil {
		t.Fatal(err)
	}

	load(t, ctx, st.URL+"/#/sla?range=30d")
	row := func(chart string) string {
		return `document.querySelector('[data-stats="` + chart + `"] tr[data-series="` + name + `"]')`
	}
	if err := poll(ctx, 30*time.Second, row("burn")+` && `+row("achievement")); err != nil {
		t.Fatalf("the SLA charts' legends have no %s row: %v", name, err)
	}
	want := evalAsync[[]string](t, ctx, `(async () => { const {units} = await import('/assets/util.js'); return [units.x.fmt(4), units.pct9.fmt(99.6)]; })()`)
	if got := eval[string](t, ctx, row("burn")+`.querySelector('[data-stat="max"]').textContent`); got != want[0] {
		t.Errorf("30d Burn rate legend max %q, want %q (the covered hours after the gap)", got, want[0])
	}
	if got := eval[string](t, ctx, row("achievement")+`.querySelector('[data-stat="min"]').textContent`); got != want[1] {
		t.Errorf("30d Achievement legend min %q, want %q (the covered hours after the gap)", got, want[1])
	}
	screenshot(t, ctx, artifacts(t), "sla-gap-30d")
}
