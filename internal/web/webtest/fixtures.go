package webtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/sla"
)

// SLAs are the SLAs of the data: a latency SLA of the matching engine and a
// success-rate SLA of the risk engine.
func SLAs() []sla.SLA {
	return []sla.SLA{
		{
			Name: "matching-latency", Service: Native, Objective: 99.9, Windows: sla.DefaultWindows(),
			Description: "99.9% of orders under 500µs",
			Indicator:   sla.Indicator{Latency: &sla.Latency{Metric: "gmc_order_latency_seconds", Threshold: sla.Duration(500 * time.Microsecond)}},
		},
		{
			Name: "risk-success", Service: Classic, Objective: 99.99, Windows: sla.DefaultWindows(),
			Indicator: sla.Indicator{Ratio: &sla.Ratio{Errors: `gmc_orders_total{result="error"}`, Total: "gmc_orders_total"}},
		},
	}
}

// slaStatuses evaluates SLAs on fixed error ratios, as the reporter would.
func slaStatuses() []sla.Status {
	var out []sla.Status
	for i, s := range SLAs() {
		f := float64(1 + 3*i)
		out = append(out, s.Evaluate(map[string]float64{
			"5m": 0.0004 * f, "30m": 0.0003 * f, "1h": 0.0003 * f, "6h": 0.0002 * f, "1d": 0.0002 * f,
			"3d": 0.0002 * f, "7d": 0.00025 * f, "30d": 0.0003 * f,
		}))
	}
	return out
}

// Runs are benchmark runs: one a minute over span before now, of the
// matching-engine TPS and DB query latency benchmarks; the last DB runs
// regressed.
func Runs(now time.Time, span time.Duration) []*bench.Run {
	var runs []*bench.Run
	n := int(span / time.Minute)
	for i := 0; i < n; i++ {
		end := now.Add(-time.Duration(n-1-i)*time.Minute - 30*time.Second)
		tps := 41000 + 1500*math.Sin(float64(i)/3)
		lat := 180e-6 + 5e-6*math.Cos(float64(i)/2)
		reg := i >= n-3
		if reg {
			lat *= 1.25
		}
		runs = append(runs,
			&bench.Run{
				ID: fmt.Sprintf("%s-me-tps", end.UTC().Format("20060102T150405.000Z")), Benchmark: "matching-engine-tps", Kind: "func",
				Start: end.Add(-20 * time.Second), End: end,
				Results: []bench.Result{{
					Name: "matching-engine-tps", Unit: "ops/s", Better: bench.HigherIsBetter,
					Summary: bench.Summary{N: 10, Median: tps, Lo: tps * 0.98, Hi: tps * 1.02}, Throughput: tps,
					Requests: int64(tps * 20), DurationSeconds: 20,
					Comparison: &bench.Comparison{Change: tps/41000 - 1, P: 0.4},
				}},
			},
			&bench.Run{
				ID: fmt.Sprintf("%s-db", end.UTC().Format("20060102T150405.000Z")), Benchmark: "db-query-latency", Kind: "sql",
				Start: end.Add(-10 * time.Second), End: end,
				Results: []bench.Result{{
					Name: "db-query-latency", Unit: "seconds", Better: bench.LowerIsBetter,
					Summary:  bench.Summary{N: 500, Median: lat, Lo: lat * 0.97, Hi: lat * 1.03},
					Latency:  &bench.Latency{Count: 500, Mean: lat, P50: lat, P90: lat * 1.4, P99: lat * 2, P999: lat * 3, P9999: lat * 4, Max: lat * 5},
					Requests: 500, DurationSeconds: 10,
					Comparison: &bench.Comparison{Change: lat/180e-6 - 1, P: map[bool]float64{true: 0.001, false: 0.5}[reg], Significant: reg, Regression: reg},
				}},
			})
	}
	return runs
}

// benchSeries is a run as the benchmark recorder stores it.
func benchSeries(r *bench.Run) []prompb.TimeSeries {
	var out []prompb.TimeSeries
	for _, s := range bench.Series(r) {
		out = append(out, prompb.TimeSeries{Labels: prompb.FromLabels(s.Labels, nil), Samples: []prompb.Sample{{Timestamp: s.T, Value: s.V}}})
	}
	return out
}

// Fixtures serves GET /sla, /sla/{name}, /benchmark/report and
// /benchmark/reports with answers built from the sla and bench types over
// the data of Seed (for a server where those parts are not wired yet).
func Fixtures(now time.Time, span time.Duration) http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /sla", func(w http.ResponseWriter, _ *http.Request) {
		write(w, map[string]any{"status": "success", "data": slaStatuses()})
	})
	mux.HandleFunc("GET /benchmark/report", func(w http.ResponseWriter, _ *http.Request) {
		from, _ := bench.WeekBounds(now)
		write(w, bench.NewReport(Runs(now, span), from, now))
	})
	mux.HandleFunc("GET /benchmark/reports", func(w http.ResponseWriter, _ *http.Request) {
		write(w, []bench.ReportLink{{ID: bench.WeekID(now)}})
	})
	return mux
}
