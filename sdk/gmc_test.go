package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server/servertest"
	"github.com/gmc-dev/gmc/sdk"
)

// startGMC runs an in-process gmc server on a free loopback port.
func startGMC(t *testing.T) string {
	t.Helper()
	_, base := servertest.Start(t, config.Default())
	return base
}

// scalarQuery runs an instant query expected to give one sample; ok is false
// when the result is empty.
func scalarQuery(t *testing.T, base, q string) (v float64, ok bool) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "success" {
		t.Fatalf("query %s: %s", q, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, false
	}
	if len(body.Data.Result) > 1 {
		t.Fatalf("query %s: %d results, want 1", q, len(body.Data.Result))
	}
	v, err = strconv.ParseFloat(body.Data.Result[0].Value[1].(string), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLatencyQuantilesThroughGMC pushes order latencies of a known
// distribution (normal, mean 300 µs, sd 40 µs) to gmc and checks that PromQL
// histogram_quantile on the native histogram gives the observed quantiles to
// within the histogram's bucket width (2^(1/32)-1 ≈ 2.2% at schema 5), and on
// the classic buckets to within the classic bucket that holds them.
func TestLatencyQuantilesThroughGMC(t *testing.T) {
	base := startGMC(t)
	reg := prometheus.NewRegistry()
	m, err := sdk.NewMetrics(sdk.MetricsOptions{Service: "matching-engine", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sdk.NewPusher(sdk.PusherOptions{URL: base, Gatherer: reg, Interval: 100 * time.Millisecond, ClassicHistograms: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// A first, empty histogram in gmc, so that rate() sees the observations as an increase.
	waitFor(t, "the empty histogram in gmc", 10*time.Second, func() bool {
		_, ok := scalarQuery(t, base, `histogram_count(gmc_order_latency_seconds)`)
		return ok
	})

	const n = 20000
	rng := rand.New(rand.NewPCG(1, 2))
	observed := make([]float64, n)
	for i := range observed {
		us := max(300+40*rng.NormFloat64(), 50)
		d := time.Duration(us * float64(time.Microsecond))
		observed[i] = d.Seconds()
		r := sdk.ResultSuccess
		if i%1000 == 0 {
			r = sdk.ResultReject
		}
		m.ObserveOrder(d, r)
	}
	slices.Sort(observed)
	waitFor(t, "all observations in gmc", 10*time.Second, func() bool {
		v, ok := scalarQuery(t, base, `histogram_count(gmc_order_latency_seconds)`)
		return ok && v == n
	})

	const nativeErr = 0.0219 // 2^(1/32) - 1
	classic := sdk.DefaultLatencyBuckets()
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := observed[int(math.Ceil(q*n))-1]
		for _, expr := range []string{
			fmt.Sprintf(`histogram_quantile(%g, gmc_order_latency_seconds{service="matching-engine"})`, q),
			fmt.Sprintf(`histogram_quantile(%g, sum by (service) (rate(gmc_order_latency_seconds[1m])))`, q),
		} {
			got, ok := scalarQuery(t, base, expr)
			if !ok {
				t.Fatalf("%s: no result", expr)
			}
			if rel := math.Abs(got-exact) / exact; rel > nativeErr {
				t.Errorf("%s = %.1f µs, observed %.1f µs: off by %.2f%%, more than the bucket width", expr, got*1e6, exact*1e6, rel*100)
			} else {
				t.Logf("%s = %.1f µs (observed %.1f µs, %.2f%%)", expr, got*1e6, exact*1e6, rel*100)
			}
		}
		// Classic buckets: the answer lies in the bucket holding the observed quantile.
		got, ok := scalarQuery(t, base, fmt.Sprintf(`histogram_quantile(%g, sum by (le) (gmc_order_latency_seconds_bucket))`, q))
		if !ok {
			t.Fatal("classic histogram_quantile: no result")
		}
		i, _ := slices.BinarySearch(classic, exact)
		lo := 0.0
		if i > 0 {
			lo = classic[i-1]
		}
		if got < lo || got > classic[i] {
			t.Errorf("classic p%g = %.1f µs, outside the bucket (%.0f, %.0f] µs of the observed %.1f µs", q*100, got*1e6, lo*1e6, classic[i]*1e6, exact*1e6)
		}
	}

	// Success ratio from gmc_orders_total.
	ratio, ok := scalarQuery(t, base, `sum(gmc_orders_total{result="success"}) / sum(gmc_orders_total)`)
	if !ok || ratio != float64(n-n/1000)/n {
		t.Errorf("success ratio %v, want %v", ratio, float64(n-n/1000)/n)
	}
}
