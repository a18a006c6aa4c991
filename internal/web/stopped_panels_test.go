package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserHeatmapAndHostAfterStop: since 7e85fdb a rate line is dashed
// after its service stops, but the latency heatmap drew its columns after
// the stop as any other (their windows hold the events from before it and
// the silence after: a stopped service's heatmap looked live), and the host
// panels marked nothing while their host's agent had just stopped. A
// service on a host writes a classic latency histogram, and the host's
// agent its CPU and load, every second from 20 minutes to 20 s ago
// (down_after 10 s: both down when the page opens). On the 1h range the
// service page's heatmap marks its columns after the last sample (faded,
// said under it), its Host CPU chart and the host page's CPU per core its
// points after the host's last sample (dashed, "past the last sample"),
// and the host page's Load 1m tile says the agent is not up.
func TestBrowserHeatmapAndHostAfterStop(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 3, false, func(c *config.Config) {
		c.Server.StaleAfter = config.Duration(5 * time.Second)
		c.Server.DownAfter = config.Duration(10 * time.Second)
	})
	const svc, host = "halt-svc", "halt-host"
	now := time.Now().Truncate(time.Second)
	lbl := func(name string, kv ...string) []prompb.Label {
		l := []prompb.Label{{Name: "__name__", Value: name}, {Name: "job", Value: "test"}, {Name: "host", Value: host}}
		for i := 0; i+1 < len(kv); i += 2 {
			l = append(l, prompb.Label{Name: kv[i], Value: kv[i+1]})
		}
		return l
	}
	series := []prompb.TimeSeries{
		{Labels: lbl("gmc_order_latency_seconds_bucket", "service", svc, "le", "0.0001")},
		{Labels: lbl("gmc_order_latency_seconds_bucket", "service", svc, "le", "0.001")},
		{Labels: lbl("gmc_order_latency_seconds_bucket", "service", svc, "le", "+Inf")},
		{Labels: lbl("gmc_orders_total", "service", svc, "result", "success")},
		{Labels: lbl("node_cpu_seconds_total", "cpu", "0", "mode", "idle")},
		{Labels: lbl("node_cpu_seconds_total", "cpu", "0", "mode", "user")},
		{Labels: lbl("node_load1")},
	}
	// Per second: 100 orders, 90 of them under 100 µs, all under 1 ms; the
	// CPU half idle.
	per := []float64{90, 100, 100, 100, 0.5, 0.5, 0}
	i := 0.0
	for ts := now.Add(-20 * time.Minute); !ts.After(now.Add(-20 * time.Second)); ts = ts.Add(time.Second) {
		i++
		for k := range series {
			v := per[k] * i
			if k == len(series)-1 {
				v = 1.5
			}
			series[k].Samples = append(series[k].Samples, prompb.Sample{Timestamp: ts.UnixMilli(), Value: v})
		}
	}
	if err := webtest.Write(context.Background(), st.URL, series...); err != nil {
		t.Fatal(err)
	}

	load(t, ctx, st.URL+"/#/service/"+svc+"?range=1h")
	if err := poll(ctx, 20*time.Second, `Number(document.querySelector('[data-chart="heatmap"]')?.dataset.points || 0) > 0 && !!document.querySelector('[data-stats="host-cpu"] tbody tr')`); err != nil {
		t.Fatalf("the service page drew no heatmap or Host CPU legend: %v", err)
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-chart="heatmap"]').dataset.ended || 0)`); n < 1 {
		t.Errorf("the heatmap marks %d columns after the service's last sample, want >= 1 (the tail at least)", n)
	}
	if txt := eval[string](t, ctx, `(document.querySelector('.hm-ended') || {textContent: ''}).textContent`); txt == "" {
		t.Error("nothing under the heatmap says which columns are after the last sample")
	}
	if n := evalInt(t, ctx, `Number(document.querySelector('[data-stats="host-cpu"] tfoot [data-ended]')?.dataset.ended || 0)`); n < 1 {
		t.Errorf("the service page's Host CPU chart marks %d points after the host's last sample, want >= 1", n)
	}
	screenshot(t, ctx, artifacts(t), "service-after-stop")

	load(t, ctx, st.URL+"/#/host/"+host+"?range=1h")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-stats="host-cpu-cores"] tbody tr')`); err != nil {
		t.Fatalf("the host page drew no CPU per core legend: %v", err)
	}
	for _, id := range []string{"host-cpu-cores", "host-cpu-modes"} {
		if n := evalInt(t, ctx, `Number(document.querySelector('[data-stats="`+id+`"] tfoot [data-ended]')?.dataset.ended || 0)`); n < 1 {
			t.Errorf("the host page's %s chart marks %d points after the host's last sample, want >= 1", id, n)
		}
	}
	// Its gauges' tiles say their value is from before the agent stopped.
	if sub := eval[string](t, ctx, `(document.querySelector('[data-kpi="Load 1m"] .kpi-sub') || {textContent: ''}).textContent`); !strings.Contains(sub, "the agent is not up") {
		t.Errorf("the host page's Load 1m tile's note %q does not say the agent is not up", sub)
	}
	screenshot(t, ctx, artifacts(t), "host-after-stop")
}
