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

// TestBrowserRiskExtremesBetweenSteps: Risk's exposure and utilisation
// legends gave their max at the chart's steps, so on 24h–30d a peak
// between two steps was lost (30d: a strategy's utilisation "max 6.94 %"
// where it reached 11.4 %, t-user13 F1). A gross exposure of 1,000 that
// spikes to 5,000 for 100 ms and a net that dips to −3,000 as briefly:
// the legends' max and min are the spikes, on the desk and account pages.
func TestBrowserRiskExtremesBetweenSteps(t *testing.T) {
	ctx := browser(t)
	st := startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(26 * time.Hour) })
	ser := func(name, kind string) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: name}, {Name: "account", Value: "acct-spike"}, {Name: "kind", Value: kind}, {Name: "strategy", Value: "s1"},
		}}
	}
	gross, net, limG := ser("gmc_risk_exposure", "gross"), ser("gmc_risk_exposure", "net"), ser("gmc_risk_limit", "gross")
	now := time.Now().UnixMilli() / 60000 * 60000
	spike := now - 10*3600*1000 + 30_500 // between two whole seconds: no step reads it
	dip := now - 14*3600*1000 + 30_500
	for ts := now - 24*3600*1000; ts <= now; ts += 60_000 {
		for _, s := range []struct {
			p    *prompb.TimeSeries
			v    float64
			at   int64
			to   float64
			back float64
		}{{&gross, 1000, spike, 5000, 1000}, {&net, 0, dip, -3000, 0}} {
			s.p.Samples = append(s.p.Samples, prompb.Sample{Timestamp: ts, Value: s.v})
			if ts < s.at && s.at < ts+60_000 {
				s.p.Samples = append(s.p.Samples, prompb.Sample{Timestamp: s.at, Value: s.to}, prompb.Sample{Timestamp: s.at + 100, Value: s.back})
			}
		}
		limG.Samples = append(limG.Samples, prompb.Sample{Timestamp: ts, Value: 10000})
	}
	if err := webtest.Write(context.Background(), st.URL, gross, net, limG); err != nil {
		t.Fatal(err)
	}
	stat := func(chart, series, which string) float64 {
		t.Helper()
		js := `(() => { const r = [...document.querySelector('[data-chart="` + chart + `"]').closest('.card').querySelectorAll('tr[data-series]')].find((x) => x.dataset.series.startsWith(` + jsString(series) + `)); return r ? r.querySelector('[data-stat="` + which + `"]').textContent : ''; })()`
		txt := strings.TrimSpace(eval[string](t, ctx, js))
		f := strings.Fields(strings.NewReplacer("%", " ", "k", "e3 ", "−", "-", ",", "").Replace(txt))
		if len(f) == 0 {
			t.Fatalf("%s %s %s: %q", chart, series, which, txt)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("%s %s %s: %q: %v", chart, series, which, txt, err)
		}
		return v
	}
	for _, page := range []string{"risk", "risk/acct-spike"} {
		load(t, ctx, st.URL+"/#/"+page+"?range=24h")
		if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-chart="gross"]')?.closest('.card')?.querySelector('tr[data-series]')`); err != nil {
			t.Fatalf("%s: the gross legend: %v", page, err)
		}
		lbl := "acct-spike"
		if page != "risk" {
			lbl = "s1"
		}
		if v := stat("gross", lbl, "max"); v != 5000 {
			t.Errorf("%s: gross exposure legend max %v, want the spike's 5000", page, v)
		}
		if v := stat("net", lbl, "min"); v != -3000 {
			t.Errorf("%s: net exposure legend min %v, want the dip's -3000", page, v)
		}
		if v := stat("limit-use", "acct-spike / s1", "max"); v != 50 {
			t.Errorf("%s: utilisation legend max %v %%, want 50 (5000 of 10000)", page, v)
		}
	}
}
