package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserHostExtremesBetweenSteps: the Host page's legends gave
// max and min at the chart's steps, so on 24h–30d a peak between two
// steps was lost (30d: load1 "max 12" where node_load1 reached 27.89, as
// Risk's legends before e1803b1). A load1 of 1 that spikes to 27 and dips
// to 0.25 for 100 ms, and a memory used of 1 GiB (total 4 GiB) that
// spikes to 3 GiB as briefly: the legends' max and min are the spikes.
func TestBrowserHostExtremesBetweenSteps(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(26 * time.Hour) })
	ser := func(name string) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: name}, {Name: "host", Value: "h-spike"}, {Name: "instance", Value: "h-spike"}}}
	}
	load1, total, avail := ser("node_load1"), ser("node_memory_MemTotal_bytes"), ser("node_memory_MemAvailable_bytes")
	const gib = 1 << 30
	now := time.Now().UnixMilli() / 60000 * 60000
	spike := now - 10*3600*1000 + 30_500 // between two whole seconds: no step reads it
	dip := now - 14*3600*1000 + 30_500
	for ts := now - 24*3600*1000; ts <= now; ts += 60_000 {
		add := func(p *prompb.TimeSeries, t int64, v float64) {
			p.Samples = append(p.Samples, prompb.Sample{Timestamp: t, Value: v})
		}
		add(&load1, ts, 1)
		add(&avail, ts, 3*gib)
		add(&total, ts, 4*gib)
		if ts < spike && spike < ts+60_000 {
			add(&load1, spike, 27)
			add(&load1, spike+100, 1)
			add(&avail, spike, 1*gib)
			add(&avail, spike+100, 3*gib)
		}
		if ts < dip && dip < ts+60_000 {
			add(&load1, dip, 0.25)
			add(&load1, dip+100, 1)
		}
	}
	if err := webtest.Write(context.Background(), st.URL, load1, total, avail); err != nil {
		t.Fatal(err)
	}
	stat := func(chart, series, which string) float64 {
		t.Helper()
		js := `(() => { const r = document.querySelector('[data-chart="` + chart + `"]').closest('.card').querySelector('tr[data-series=` + jsString(series) + `]'); return r ? r.querySelector('[data-stat="` + which + `"]').textContent : ''; })()`
		txt := strings.TrimSpace(eval[string](t, ctx, js))
		f := strings.Fields(strings.NewReplacer("GiB", " ", "−", "-", ",", "").Replace(txt))
		if len(f) == 0 {
			t.Fatalf("%s %s %s: %q", chart, series, which, txt)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("%s %s %s: %q: %v", chart, series, which, txt, err)
		}
		return v
	}
	for _, r := range []string{"24h", "7d"} {
		load(t, ctx, st.URL+"/#/host/h-spike?range="+r)
		if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-chart="host-load"]')?.closest('.card')?.querySelector('tr[data-series="load1"]') && !!document.querySelector('[data-chart="host-memory"]')?.closest('.card')?.querySelector('tr[data-series="used"]')`); err != nil {
			t.Fatalf("%s: the load and memory legends: %v", r, err)
		}
		if v := stat("host-load", "load1", "max"); v != 27 {
			t.Errorf("%s: load1 legend max %v, want the spike's 27", r, v)
		}
		if v := stat("host-load", "load1", "min"); v != 0.25 {
			t.Errorf("%s: load1 legend min %v, want the dip's 0.25", r, v)
		}
		if v := stat("host-memory", "used", "max"); v != 3 {
			t.Errorf("%s: memory used legend max %v GiB, want the spike's 3", r, v)
		}
		if v := stat("host-memory", "used", "min"); v != 1 {
			t.Errorf("%s: memory used legend min %v GiB, want 1", r, v)
		}
	}
}
