package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserSLAReturnNotBegan: the SLA page said an SLA's first points
// after a silence of its recorded ratio longer than its matrix reaches (an
// hour and a step before the range) were over "a window reaching before
// the data began" (markPartial saw no earlier value), where gmc had the
// ratio recorded before (its service silent for hours, or gmc down: no
// backfill fills such a gap), as the host page did before a33112e. Two
// SLAs' sla:error_ratio:rate1h, every 15 s: one from 4 h ago, silent from
// 150 minutes until 20 minutes ago; one whose recording began 20 minutes
// ago. On the 1h and Live ranges the Burn rate and Achievement legends'
// dashed points of the first hold a gap in the data and none reaches
// before the data began; the second's the other way round.
func TestBrowserSLAReturnNotBegan(t *testing.T) {
	ctx := browser(t)
	const back, began = "t-back-after-130m", "t-began-20m"
	var sts []sla.Status
	for _, name := range []string{back, began} {
		sts = append(sts, sla.Status{Name: name, State: "not_judged", Reason: "coverage", Service: "t-svc", Indicator: "success", Objective: 99.9})
	}
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(6 * time.Hour) }, withSLAs(t, sts))
	now := time.Now().Truncate(15 * time.Second)
	returned := now.Add(-20 * time.Minute)
	silent := now.Add(-150 * time.Minute)
	b, g := slaRatio(back), slaRatio(began)
	for ts := now.Add(-4 * time.Hour); !ts.After(now); ts = ts.Add(15 * time.Second) {
		if ts.Before(silent) || !ts.Before(returned) {
			b.Samples = append(b.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: 0.002})
		}
		if !ts.Before(returned) {
			g.Samples = append(g.Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: 0.003})
		}
	}
	if err := webtest.Write(context.Background(), st.URL, b, g); err != nil {
		t.Fatal(err)
	}

	type dashed struct {
		Gap   string `json:"gap"`
		Began string `json:"began"`
		Why   string `json:"why"`
		Foot  string `json:"foot"`
	}
	for _, r := range []string{"1h", "live"} {
		load(t, ctx, st.URL+"/#/sla?range="+r)
		for _, c := range []string{"burn", "achievement"} {
			rows := legendRow(c, back) + ` && ` + legendRow(c, began)
			if err := poll(ctx, 30*time.Second, rows+` && Number(`+legendRow(c, back)+`.dataset.partial || 0) > 0 && Number(`+legendRow(c, began)+`.dataset.partial || 0) > 0`); err != nil {
				t.Fatalf("%s: the %s legend has no dashed points of %s and %s: %v", r, c, back, began, err)
			}
			of := func(name string) dashed {
				return eval[dashed](t, ctx, `(() => { const r = `+legendRow(c, name)+`; const f = document.querySelector('[data-stats="`+c+`"] tfoot td');
					return {gap: r.dataset.gap || '', began: r.dataset.began || '', why: r.querySelector('[data-stat="max"]').title || '', foot: (f && f.textContent) || ''}; })()`)
			}
			d := of(back)
			if n, _ := strconv.Atoi(d.Gap); n == 0 || d.Began != "0" || !strings.Contains(d.Why, "holding a gap in the data") ||
				!strings.Contains(d.Foot, "holding a gap in the data") {
				t.Errorf("%s %s: %s's points after its return: %s holding a gap, %s before the data began, max %q, foot %q; want all holding a gap (its ratio was recorded from 4 h ago)",
					r, c, back, d.Gap, d.Began, d.Why, d.Foot)
			}
			d = of(began)
			if n, _ := strconv.Atoi(d.Began); n == 0 || d.Gap != "0" || !strings.Contains(d.Why, "before the data began") || !strings.Contains(d.Foot, "before the data began") {
				t.Errorf("%s %s: %s's points: %s before the data began, %s holding a gap, max %q, foot %q; want all before the data began (its ratio began 20 minutes ago)",
					r, c, began, d.Began, d.Gap, d.Why, d.Foot)
			}
		}
		screenshot(t, ctx, artifacts(t), "sla-return-not-began-"+r)
	}
}
