package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserHostCPUPartialReadsHigh: CPU busy is one less the idle
// rate, and over a window reaching before the data began the idle rate
// reads low, so busy reads high. The legend read such a point as a rate's,
// "max ≥ x*" (at least that: a trial's host CPU "≥ 100%*" where the raw
// busy was 99.98 %). A host busy 50 % whose data began 10 minutes ago:
// at 1h the CPU per core legend's max is 50 %, unmarked; a dashed point
// above it is not the max.
func TestBrowserHostCPUPartialReadsHigh(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 1, false)
	idle := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "node_cpu_seconds_total"}, {Name: "cpu", Value: "0"},
		{Name: "host", Value: "h-half"}, {Name: "instance", Value: "h-half"}, {Name: "mode", Value: "idle"}}}
	now := time.Now().UnixMilli() / 1000 * 1000
	for ts := now - 10*60_000; ts <= now; ts += 5000 {
		idle.Samples = append(idle.Samples, prompb.Sample{Timestamp: ts, Value: 1000 + 0.5*float64(ts-(now-10*60_000))/1000})
	}
	if err := webtest.Write(context.Background(), st.URL, idle); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/host/h-half?range=1h")
	row := `document.querySelector('[data-chart="host-cpu-cores"]')?.closest('.card')?.querySelector('tr[data-series="cpu 0"]')`
	if err := poll(ctx, 20*time.Second, `!!`+row+` && Number(document.querySelector('[data-chart="host-cpu-cores"]').dataset.partial) > 0`); err != nil {
		t.Fatalf("no CPU per core legend row for cpu 0, or no dashed point: %v", err)
	}
	cell := func(stat string) string {
		return strings.TrimSpace(eval[string](t, ctx, row+`.querySelector('[data-stat="`+stat+`"]').textContent`))
	}
	if mx := cell("max"); strings.ContainsAny(mx, "≥*") || !strings.HasPrefix(mx, "50") {
		t.Errorf("CPU per core max %q, want 50 %% unmarked (a dashed point over a window before the data began reads high, not low)", mx)
	}
	if mn := cell("min"); !strings.HasPrefix(mn, "50") {
		t.Errorf("CPU per core min %q, want 50 %%", mn)
	}
}
