package web_test

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/demo"
)

// TestTrendsNativeHistogram: the Trends picker offered the demo engine's
// native histogram gmc_order_latency_seconds (data all week), and choosing
// it said "no data" (its samples are no floats, t-user12 F7). A native
// histogram is read as its p99, as a classic one's _bucket metric: each
// hour's worst one-minute p99.
func TestTrendsNativeHistogram(t *testing.T) {
	// Samples every 15 s: a one-minute p99 needs two in its minute.
	base := historyStackEvery(t, 2*24*time.Hour, 15*time.Second)
	var tr struct {
		Kind   string       `json:"kind"`
		Expr   string       `json:"expr"`
		Series [][2]float64 `json:"series"`
	}
	u := base + "/trends/" + demo.ServiceEngine + "?metric=gmc_order_latency_seconds&window=7d"
	if code := getJSON(t, u, &tr); code != http.StatusOK {
		t.Fatalf("GET %s: %d", u, code)
	}
	if tr.Kind != "p99" || len(tr.Series) < 24 {
		t.Fatalf("kind %q, %d hourly values (%s); want p99 over the week's hours", tr.Kind, len(tr.Series), tr.Expr)
	}
	// The classic histogram beside it (its _bucket metric) gives the same
	// hours' p99 within its coarser buckets' reach.
	var cl struct {
		Series      [][2]float64              `json:"series"`
		FirstBucket *float64                  `json:"first_bucket"`
		Note        string                    `json:"note"`
		Peaks       []struct{ Value float64 } `json:"peaks"`
	}
	if code := getJSON(t, base+"/trends/"+demo.ServiceEngine+"?metric=gmc_order_latency_seconds_bucket&window=7d", &cl); code != http.StatusOK {
		t.Fatalf("no classic histogram beside the native one: %d", code)
	}
	// t-user12 F8: the classic p99 read 9.91 µs every hour, histogram_quantile's
	// interpolation inside the first bucket (le 10 µs) where the orders took
	// 2-4 µs. The answer names the first bucket's bound, says how many hours
	// are in it, and the page shows them as "≤ 10 µs".
	if cl.FirstBucket == nil || *cl.FirstBucket != 1e-5 {
		t.Fatalf("first_bucket %v, want the demo's lowest le 1e-05", cl.FirstBucket)
	}
	in := 0
	for _, p := range cl.Series {
		if p[1] <= *cl.FirstBucket {
			in++
		}
	}
	if in == 0 || !strings.Contains(cl.Note, strconv.Itoa(in)+" of the hourly p99s are in the histogram's first bucket") {
		t.Errorf("%d hours at or under the first bucket; note %q", in, cl.Note)
	}
	t.Logf("classic: %d of %d hours in the first bucket, top peak %+v", in, len(cl.Series), cl.Peaks[:min(1, len(cl.Peaks))])
	if len(cl.Peaks) > 0 && cl.Peaks[0].Value <= *cl.FirstBucket {
		ctx := browser(t)
		load(t, ctx, base+"/#/trends/"+demo.ServiceEngine+"?metric=gmc_order_latency_seconds_bucket&window=7d")
		peak := `(document.querySelector('[data-kpi="Peak"] .kpi-value') || {}).textContent || ''`
		if err := poll(ctx, 30*time.Second, peak+` !== '' && `+peak+` !== '–'`); err != nil {
			t.Fatal(err)
		}
		if got := eval[string](t, ctx, peak); got != "≤ 10 µs" {
			t.Errorf("Peak reads %q, want ≤ 10 µs (the p99 is in the first bucket)", got)
		}
		// t-user13 F3: the trend, week over week and the legend measured
		// the interpolation ("−0.00111 ns / day", last 9.94 µs).
		if 2*in > len(cl.Series) {
			tile := func(k string) string {
				return eval[string](t, ctx, `(document.querySelector('[data-kpi="`+k+`"] .kpi-value') || {}).textContent || ''`)
			}
			if got := tile("Trend"); got != "not measurable" {
				t.Errorf("Trend reads %q, want not measurable", got)
			}
			if got := tile("Week over week"); got != "unknown" {
				t.Errorf("Week over week reads %q, want unknown", got)
			}
			if got := eval[string](t, ctx, `document.querySelector('[data-chart="trend"]').closest('.card').querySelector('[data-stat="max"]').textContent`); got != "≤ 10 µs" {
				t.Errorf("legend max %q, want ≤ 10 µs", got)
			}
		}
	}
	for _, p := range tr.Series {
		if math.IsNaN(p[1]) || p[1] <= 0 || p[1] > 1 {
			t.Fatalf("hour ending %v: p99 %v s, not a latency", p[0], p[1])
		}
	}
	// An hour's value is the raw samples' worst one-minute p99 in it.
	p := tr.Series[len(tr.Series)/2]
	raw := `max_over_time(histogram_quantile(0.99, sum(rate(gmc_order_latency_seconds{service="` + demo.ServiceEngine + `",__tier__="raw"}[1m])))[1h:1m])`
	var res struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	q := url.Values{"query": {raw}, "time": {strconv.FormatFloat(p[0], 'f', 0, 64)}, "nocache": {"1"}}
	if code := getJSON(t, base+"/api/v1/query?"+q.Encode(), &res); code != http.StatusOK || len(res.Data.Result) != 1 {
		t.Fatalf("raw %s: %d %+v", raw, code, res)
	}
	want, err := strconv.ParseFloat(res.Data.Result[0].Value[1].(string), 64)
	if err != nil {
		t.Fatal(err)
	}
	// Within 5 %: the tier's minutes are whole buckets, a raw [1m] window at
	// the minute's end holds 4 samples at 15 s and extrapolates (1.07 % apart
	// seen at one hour).
	if !near(p[1], want, 0.05) {
		t.Errorf("hour ending %v: trend p99 %v s, raw worst one-minute p99 %v s", time.Unix(int64(p[0]), 0).UTC(), p[1], want)
	}
}
