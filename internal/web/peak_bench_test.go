package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// BenchmarkLongRangeLatency is the query cost the 7d and 30d latency
// peaks add per refresh: the Overview's p99 by service and a service
// page's p99, as the dashboard sends them (queries.js), each a range query
// over the window's step grid with the step cache off (nocache=1: a 7d/30d
// page refreshes every 5 minutes, the cache's entries live 5 minutes), the
// mean (a quantile over the step's rate window, read from raw samples or
// the 1m tier as the tiers choose) against the peak (the worst
// p99 over a tenth of the step within each step, from the 1m tier:
// api.peakWindow). The data: GMC_PEAK_SERVICES
// services (50) with a classic latency histogram (10 buckets, count, sum)
// every GMC_PEAK_EVERY (60s) for 7 days, written as blocks before gmc
// starts, the tiers caught up. A 7d/30d page adds its bridge and tail instant queries
// (over minutes: not timed here).
//
//	go test ./internal/web/ -run '^$' -bench BenchmarkLongRangeLatency -benchtime 5x
func BenchmarkLongRangeLatency(b *testing.B) {
	n := 50
	if v, err := strconv.Atoi(os.Getenv("GMC_PEAK_SERVICES")); err == nil && v > 0 {
		n = v
	}
	every := time.Minute
	if v, err := time.ParseDuration(os.Getenv("GMC_PEAK_EVERY")); err == nil && v > 0 {
		every = v
	}
	// The history is written as TSDB blocks into the data dir before gmc
	// starts, as `gmc demo --history` does: the tiers then catch up once,
	// with no late samples to re-aggregate (remote-written, 7 days of 50
	// services left the 1m tier re-aggregating past 10 minutes at load 27).
	dir := b.TempDir()
	now := time.Now()
	to := now.Truncate(every)
	from := to.Add(-7 * 24 * time.Hour)
	services := make([]string, n)
	for i := range services {
		services[i] = fmt.Sprintf("svc-%02d", i)
	}
	began := time.Now()
	var bw *tsdb.BlockWriter
	var app promstorage.AppenderV2
	var day int64 = -1
	flush := func(ctx context.Context) error {
		if bw == nil {
			return nil
		}
		defer bw.Close()
		if err := app.Commit(); err != nil {
			return err
		}
		_, err := bw.Flush(ctx)
		bw = nil
		return err
	}
	write := func(ctx context.Context, ss ...prompb.TimeSeries) error {
		if d := (ss[0].Samples[0].Timestamp - from.UnixMilli()) / (24 * 3600_000); bw == nil || d != day {
			if err := flush(ctx); err != nil {
				return err
			}
			var err error
			// A 3-day chunk range: each service's day is appended after the
			// previous service's, up to a day back from the head's newest.
			if bw, err = tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, (72 * time.Hour).Milliseconds()); err != nil {
				return err
			}
			app, day = bw.AppenderV2(ctx), d
		}
		for _, s := range ss {
			kv := make([]string, 0, 2*len(s.Labels))
			for _, l := range s.Labels {
				kv = append(kv, l.Name, l.Value)
			}
			lset := labels.FromStrings(kv...)
			for _, x := range s.Samples {
				if _, err := app.Append(0, lset, 0, x.Timestamp, x.Value, nil, nil, promstorage.AOptions{}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// Each service also counts its orders by result, 0.5 % of them
	// errors (derived from the histogram's count): the error-rate lines'
	// mean and worst-window queries.
	withOrders := func(ctx context.Context, ss ...prompb.TimeSeries) error {
		for _, x := range ss {
			if !isSeries(x, "gmc_order_latency_seconds_count") {
				continue
			}
			for _, r := range []struct {
				result string
				share  float64
			}{{"success", 0.995}, {"error", 0.005}} {
				o := prompb.TimeSeries{Labels: append([]prompb.Label{{Name: "__name__", Value: "gmc_orders_total"}, {Name: "result", Value: r.result}}, x.Labels[1:]...)}
				for _, p := range x.Samples {
					o.Samples = append(o.Samples, prompb.Sample{Timestamp: p.Timestamp, Value: math.Round(p.Value * r.share)})
				}
				ss = append(ss, o)
			}
		}
		return write(ctx, ss...)
	}
	if err := latencyHistory(context.Background(), withOrders, services, services[0], from, to, now.Add(-3*24*time.Hour).Truncate(time.Minute), every, 100); err != nil {
		b.Fatal(err)
	}
	if err := flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Server.ListenAddress = "127.0.0.1:0"
	cfg.Server.DataDir = dir
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	srv := servertest.Serve(b, server.Options{Config: cfg})
	st := &stack{URL: servertest.Ready(b, srv)}
	wrote := time.Since(began)
	// The tiers caught up: every watermark within two of its buckets of now (the 1m tier's within 10 minutes), no late mark.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var s struct {
			Tiers []struct {
				Name      string   `json:"name"`
				Watermark float64  `json:"watermark"`
				LateFrom  *float64 `json:"late_from"`
			} `json:"storage_tiers"`
		}
		if err := getStatus(st.URL, &s); err != nil {
			b.Fatal(err)
		}
		ok := len(s.Tiers) > 0
		for _, t := range s.Tiers {
			lag := map[string]float64{"1m": 600, "10m": 1200, "1h": 7200}[t.Name]
			if t.Watermark < float64(time.Now().Unix())-lag || t.LateFrom != nil {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the tiers did not catch up within 10 minutes: %+v", s.Tiers)
		}
		time.Sleep(time.Second)
	}
	b.Logf("%d services × 13 series × 7 days every %s written as blocks in %s, tiers caught up %s after gmc started", n, every, wrote.Round(time.Second), (time.Since(began) - wrote).Round(time.Second))
	const lat = "gmc_order_latency_seconds"
	quantile := func(by, sel, rw string) string {
		b1, bl := "", "by (le) "
		if by != "" {
			b1, bl = "by ("+by+") ", "by ("+by+", le) "
		}
		return fmt.Sprintf(`(histogram_quantile(0.99, sum %s(rate(%s%s[%s]))) * 1e6 >= 0) or (histogram_quantile(0.99, sum %s(rate(%s_bucket%s[%s]))) * 1e6 >= 0)`, b1, lat, sel, rw, bl, lat, sel, rw)
	}
	req := func(by, sel, rw string) string {
		return fmt.Sprintf(`(histogram_quantile(0.99, sum by (%s) (rate(gmc_request_latency_seconds%s[%s]))) * 1e6 >= 0) or (histogram_quantile(0.99, sum by (%s, le) (rate(gmc_request_latency_seconds_bucket%s[%s]))) * 1e6 >= 0)`, by, sel, rw, by, sel, rw)
	}
	errRate := func(by, sel, rw string) string {
		b1 := ""
		if by != "" {
			b1 = "by (" + by + ") "
		}
		m, all := `result!="success"`, ""
		if sel != "" {
			m, all = sel+", "+m, "{"+sel+"}"
		}
		return fmt.Sprintf(`100 * sum %s(rate(gmc_orders_total{%s}[%s])) / (sum %s(rate(gmc_orders_total%s[%s])) > 0)`, b1, m, rw, b1, all, rw)
	}
	svc := `{service="svc-00"}`
	svcTier := `{service="svc-00", __tier__="1m"}`
	for _, r := range []struct {
		key   string
		rng   int64
		peaks bool
	}{{"7d", 7 * 86400, true}, {"30d", 30 * 86400, true}} {
		step := int64(math.Round(float64(r.rng) / 300))
		rw := fmt.Sprintf("%ds", max(4*step, 30))
		lb := fmt.Sprintf("%ds", step)
		win := fmt.Sprintf("%dm", max(1, step/10/60)) // api.peakWindow
		for _, q := range []struct {
			name, expr string
			lead       int64
		}{
			{"overview-mean", quantile("service", "", rw) + " or " + req("service", "", rw) + " or max by (service) (latency_us)", 4},
			{"overview-peak", fmt.Sprintf(`max_over_time((%s or %s)[%s:%s]) or max by (service) (max_over_time(latency_us[%s]))`,
				quantile("service", `{__tier__="1m"}`, win), req("service", `{__tier__="1m"}`, win), lb, win, lb), 0},
			{"service-mean", quantile("", svc, rw), 4},
			{"service-peak", fmt.Sprintf(`max_over_time((%s)[%s:%s])`, quantile("", svcTier, win), lb, win), 0},
			// The error rate (queries.js overview.errors, service errors).
			{"overview-err-mean", errRate("service", "", rw), 4},
			{"overview-err-peak", fmt.Sprintf(`max_over_time((%s)[%s:%s])`, errRate("service", `__tier__="1m"`, win), lb, win), 0},
			{"service-err-mean", errRate("", `service="svc-00"`, rw), 4},
			{"service-err-peak", fmt.Sprintf(`max_over_time((%s)[%s:%s])`, errRate("", `service="svc-00", __tier__="1m"`, win), lb, win), 0},
		} {
			b.Run(r.key+"/"+q.name, func(b *testing.B) {
				gend := time.Now().Unix() / step * step
				v := url.Values{"query": {q.expr}, "start": {fmt.Sprint(gend - r.rng - q.lead*step)}, "end": {fmt.Sprint(gend)}, "step": {fmt.Sprint(step)}, "nocache": {"1"}}
				series, points := 0, 0
				for b.Loop() {
					series, points = rangeQuery(b, st.URL, v)
				}
				b.ReportMetric(float64(series), "series")
				b.ReportMetric(float64(points), "points")
			})
		}
	}
}

// isSeries tells whether x is a series of the metric name.
func isSeries(x prompb.TimeSeries, name string) bool {
	for _, l := range x.Labels {
		if l.Name == "__name__" {
			return l.Value == name
		}
	}
	return false
}

// rangeQuery runs one query_range and counts its series and points.
func rangeQuery(b *testing.B, base string, v url.Values) (int, int) {
	b.Helper()
	resp, err := http.Get(base + "/api/v1/query_range?" + v.Encode())
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		b.Fatalf("%s: %v %s", v.Get("query"), err, r.Error)
	}
	points := 0
	for _, s := range r.Data.Result {
		points += len(s.Values)
	}
	return len(r.Data.Result), points
}

// getStatus reads /system/status into v.
func getStatus(base string, v any) error {
	resp, err := http.Get(base + "/system/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
