package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserEndpointPathUnit: a service whose endpoints are HTTP paths
// (the SDK example's /v1/orders) had its request rate written as the path
// made plural: "/v1/orderss/s" in the Requests legend, tile and Overview
// row. A path's rate is in requests/s; a word endpoint keeps its own unit.
func TestBrowserEndpointPathUnit(t *testing.T) {
	ctx := browser(t)
	st := startStack(t, 2, false)
	const svc = "api-gw"
	series := func(ep string) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{
			{Name: "__name__", Value: "gmc_requests_total"}, {Name: "endpoint", Value: ep}, {Name: "instance", Value: "gw-1"}, {Name: "service", Value: svc},
		}}
	}
	path, word := series("/v1/orders"), series("fill")
	now := time.Now().Unix()
	for i, ts := 0, now-300; ts <= now; i, ts = i+1, ts+5 {
		path.Samples = append(path.Samples, prompb.Sample{Timestamp: ts * 1000, Value: float64(i) * 5 * 800})
		word.Samples = append(word.Samples, prompb.Sample{Timestamp: ts * 1000, Value: float64(i) * 5 * 20})
	}
	if err := webtest.Write(context.Background(), st.URL, path, word); err != nil {
		t.Fatal(err)
	}
	load(t, ctx, st.URL+"/#/service/"+svc+"?range=15m")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('[data-chart="requests"]')?.closest('.card')?.textContent.includes('/v1/orders')`); err != nil {
		t.Fatalf("the requests legend: %v", err)
	}
	legend := eval[string](t, ctx, `document.querySelector('[data-chart="requests"]').closest('.card').textContent`)
	tile := eval[string](t, ctx, `document.querySelector('[data-kpi="Requests"]')?.textContent || ''`)
	load(t, ctx, st.URL+"/#/overview?range=15m")
	if err := poll(ctx, 20*time.Second, `!!document.querySelector('tr[data-service="api-gw"] [data-col="rate"]')?.textContent.match(/\d/)`); err != nil {
		t.Fatalf("the service's row: %v", err)
	}
	row := eval[string](t, ctx, `document.querySelector('tr[data-service="api-gw"] [data-col="rate"]').textContent`)
	for what, txt := range map[string]string{"legend": legend, "tile": tile, "overview row": row} {
		if strings.Contains(txt, "orderss") || !strings.Contains(txt, "requests/s") {
			t.Errorf("%s %q: want the path's rate in requests/s", what, txt)
		}
	}
	if !strings.Contains(legend, "fills/s") {
		t.Errorf("legend %q: want the word endpoint's fills/s", legend)
	}
}
