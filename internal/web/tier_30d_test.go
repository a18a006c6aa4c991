package web_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// TestBrowserThirtyDaysReadsTheHourTier: the 30d range steps at 7200 s
// with 8 h rate windows, on the 1h tier's grid, so the 1h tier answers its
// rates (docs/history.md); a fresh test stack has no 1h watermark, so that
// was checked only by hand on a demo (t-trend19). Over three days of the
// demo's backfilled history (a sample a minute, as `gmc demo --history`),
// once the tiers have caught up: the Overview's range queries at 30d step
// at 7200 s, the 1h tier answers every rate selector (raw data only the
// partial-window counts, count_over_time; the plain selectors read the 1m
// tier), and its charts are
// drawn with what raw data hold: every whole point of the Orders chart is
// the exact increase of each service's orders counter over its window,
// (sum(x) - sum(x offset 8h)) / 28800 read with __tier__="raw", the error
// chart the same ratio of increases, and the p99 the quantile of the
// histograms' increases, to float rounding (a tier's rate is the exact
// increase between its window's edges; raw data's rate extrapolates over
// its minute samples and is up to 0.4 % off it).
func TestBrowserThirtyDaysReadsTheHourTier(t *testing.T) {
	ctx := browser(t)
	base := historyStackEvery(t, 3*24*time.Hour, time.Minute)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var s struct {
			Tiers []struct {
				Name      string  `json:"name"`
				Watermark float64 `json:"watermark"`
			} `json:"storage_tiers"`
		}
		if err := getStatus(base, &s); err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, tr := range s.Tiers {
			if tr.Watermark > float64(time.Now().Add(-2*time.Hour).Unix()) {
				ok++
			}
		}
		if ok == len(s.Tiers) && ok > 0 {
			t.Logf("tiers caught up: %+v", s.Tiers)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tiers have not caught up with 3 days of history after 3 minutes: %+v", s.Tiers)
		}
		time.Sleep(time.Second)
	}
	recordEveryDocument(t, ctx)
	load(t, ctx, base+"/#/overview?range=30d")
	if err := poll(ctx, 30*time.Second, `(() => { const u = document.querySelector('[data-chart="tps"]')?.chart?.u; return !!u && u.series.length > 1 && u.data[1].some((v) => v != null); })()`); err != nil {
		t.Fatalf("30d: the Orders chart is not drawn: %v", err)
	}
	type query struct {
		URL   string `json:"url"`
		Step  string `json:"step"`
		Query string `json:"query"`
	}
	queries := eval[[]query](t, ctx, `performance.getEntriesByType('resource')
		.filter(e => e.name.includes('/api/v1/query_range')).map(e => {
			const u = new URL(e.name); return {url: e.name, step: u.searchParams.get('step'), query: u.searchParams.get('query')}; })`)
	if len(queries) == 0 {
		t.Fatal("30d: the page sent no query_range")
	}
	// Each range query again, wrapped so gmc's step cache does not answer
	// it: what answered its selectors.
	for _, q := range queries {
		if q.Step != "7200" {
			t.Errorf("30d: a query_range at step %s, want 7200 (the 1h tier's grid): %s", q.Step, q.Query)
		}
		pu, _ := url.Parse(q.URL)
		v := pu.Query()
		v.Set("query", "("+q.Query+") * 1")
		pu.RawQuery = v.Encode()
		before := tierSelects(t, base)
		resp, err := http.Get(pu.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		after := tierSelects(t, base)
		d := map[string]float64{}
		for k := range after {
			d[k] = after[k] - before[k]
		}
		t.Logf("30d: %s: selectors answered %v", q.Query, d)
		// Every rate from the 1h tier; raw data for the partial-window
		// counts only (count_over_time reads raw data, docs/history.md).
		rates, counts := strings.Count(q.Query, "rate("), strings.Count(q.Query, "count_over_time(")
		if d["1h"] != float64(rates) || d["raw"] != float64(counts) {
			t.Errorf("30d: %s: selectors answered %v, want its %d rates from the 1h tier and only its %d count_over_time from raw data", q.Query, d, rates, counts)
		}
	}

	// The charts' whole points (on the step grid, solid) against the raw
	// data's exact increases over the same windows, up to the history's
	// last sample (a window past it holds a counter that stopped).
	var last struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, base+"/api/v1/query?query="+url.QueryEscape(`max(timestamp(gmc_orders_total{__tier__="raw"}))`), &last)
	if len(last.Data.Result) != 1 {
		t.Fatal("no raw orders")
	}
	lastSample, _ := strconv.ParseFloat(last.Data.Result[0].Value[1].(string), 64)
	const rw = `28800s`
	inc := func(sel string) string {
		return fmt.Sprintf(`(sum by (service) (%[1]s) - sum by (service) (%[1]s offset %[2]s))`, sel, rw)
	}
	const raw = `gmc_orders_total{__tier__="raw"}`
	const bad = `gmc_orders_total{__tier__="raw", result!="success"}`
	for _, c := range []struct{ chart, exact string }{
		{"tps", inc(raw) + " / 28800"},
		{"errors", "100 * " + inc(bad) + " / (" + inc(raw) + " > 0)"},
		{"p99", `histogram_quantile(0.99, ` + inc(`gmc_order_latency_seconds{__tier__="raw"}`) + `) * 1e6`},
	} {
		type series struct {
			Label string     `json:"label"`
			Xs    []float64  `json:"xs"`
			Ys    []*float64 `json:"ys"`
		}
		drawn := eval[[]series](t, ctx, `(() => { const u = document.querySelector('[data-chart="`+c.chart+`"]').chart.u;
			return u.series.slice(1).map((s, i) => ({label: s.label, xs: u.data[0], ys: u.data[i + 1]})); })()`)
		var xs []float64
		for _, x := range drawn[0].Xs {
			if math.Mod(x, 7200) == 0 && x <= lastSample {
				xs = append(xs, x)
			}
		}
		if len(drawn) == 0 || len(xs) == 0 {
			t.Fatalf("30d: the %s chart has no series or no whole points", c.chart)
		}
		want := rangeOf(t, base, c.exact, xs[0], xs[len(xs)-1], 7200)
		compared, worst := 0, 0.0
		for _, s := range drawn {
			w, ok := want[s.Label]
			if !ok {
				continue // a partial window's series, or one raw data have no increase for
			}
			for i, x := range s.Xs {
				y := s.Ys[i]
				e, ok := w[x]
				if y == nil || !ok || math.Mod(x, 7200) != 0 || x > lastSample {
					continue
				}
				d := math.Abs(*y-e) / math.Max(math.Abs(e), 1e-12)
				worst = max(worst, d)
				compared++
				if d > 1e-9 {
					t.Errorf("30d %s %s at %s: drawn %v, the raw data's exact %v (%.3g relative)", c.chart, s.Label, time.Unix(int64(x), 0).UTC().Format(time.DateTime), *y, e, d)
				}
			}
		}
		t.Logf("30d %s: %d whole points of %d series, worst relative difference from the raw data's exact increase %.3g", c.chart, compared, len(drawn), worst)
		if compared < 20 {
			t.Errorf("30d %s: %d points compared, want the history's (3 days at 2 h: about 30 per series)", c.chart, compared)
		}
	}
	screenshot(t, ctx, artifacts(t), "thirty-days-hour-tier")
	serviceReadsTiers(t, ctx, base, "matching-engine", "30d", "7200")
}

// rangeOf runs a range query and returns its values by service and time.
func rangeOf(t *testing.T, base, expr string, start, end, step float64) map[string]map[float64]float64 {
	t.Helper()
	var answer json.RawMessage
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	u := fmt.Sprintf("%s/api/v1/query_range?query=%s&start=%s&end=%s&step=%s", base, url.QueryEscape(expr), f(start), f(end), f(step))
	if code := getJSON(t, u, &answer); code != http.StatusOK {
		t.Fatalf("%s: status %d", expr, code)
	}
	result, err := httpapi.DecodeMatrix(answer)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	out := map[string]map[float64]float64{}
	for _, s := range result {
		m := map[float64]float64{}
		for _, p := range s.Values {
			v, err := p.Float()
			if err != nil {
				t.Fatal(err)
			}
			m[p.T] = v
		}
		out[s.Metric["service"]] = m
	}
	return out
}
