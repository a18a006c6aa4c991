package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// pushgatewayBinary is the Debian package's binary (apt package prometheus-pushgateway).
const pushgatewayBinary = "/usr/bin/prometheus-pushgateway"

// startPushgateway starts the real Pushgateway, the reference for push semantics.
func startPushgateway(t *testing.T) *proc {
	t.Helper()
	requirePeer(t, pushgatewayBinary, "prometheus-pushgateway")
	dir := t.TempDir()
	return startProc(t, "pushgateway", pushgatewayBinary, dir, func(addr string) []string {
		return []string{"--web.listen-address=" + addr, "--persistence.file=" + filepath.Join(dir, "pgw.data"), "--log.level=warn"}
	})
}

// pgwState is the groups of a /api/v1/metrics answer reduced to what both
// must agree on: group → family → series → value. push_time_seconds and
// push_failure_time_seconds are reduced to "set" or "0"; gmc's service label
// (added to every pushed series) is left out, and so are labels with an
// empty value, which Prometheus treats as absent (the Pushgateway shows
// instance="" and region="", gmc omits them).
type pgwState map[string]map[string]map[string]string

func (s pgwState) String() string {
	var lines []string
	for g, fams := range s {
		for f, series := range fams {
			for k, v := range series {
				lines = append(lines, fmt.Sprintf("%s %s%s %s", g, f, k, v))
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func pushgatewayState(ctx context.Context, t *testing.T, base string) pgwState {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/metrics", nil)
	must(t, err, "build request")
	resp, err := httpClient().Do(req)
	must(t, err, "GET %s/api/v1/metrics", base)
	defer resp.Body.Close()
	var ans struct {
		Status string                       `json:"status"`
		Data   []map[string]json.RawMessage `json:"data"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&ans), "decode /api/v1/metrics of %s", base)
	if resp.StatusCode != http.StatusOK || ans.Status != "success" {
		t.Fatalf("%s/api/v1/metrics: %d %s", base, resp.StatusCode, ans.Status)
	}
	out := pgwState{}
	for _, g := range ans.Data {
		var gl map[string]string
		must(t, json.Unmarshal(g["labels"], &gl), "group labels")
		dropEmpty(gl)
		key := labelsKey(gl)
		out[key] = map[string]map[string]string{}
		for name, raw := range g {
			if name == "labels" || name == "last_push_successful" {
				continue
			}
			var fam struct {
				Type    string `json:"type"`
				Metrics []struct {
					Labels  map[string]string `json:"labels"`
					Value   string            `json:"value"`
					Count   string            `json:"count"`
					Sum     string            `json:"sum"`
					Buckets map[string]string `json:"buckets"`
				} `json:"metrics"`
			}
			must(t, json.Unmarshal(raw, &fam), "family %s", name)
			series := map[string]string{}
			for _, m := range fam.Metrics {
				dropEmpty(m.Labels)
				if m.Labels["service"] == gl["job"] && gl["service"] == "" {
					delete(m.Labels, "service")
				}
				v := m.Value
				switch {
				case strings.HasPrefix(name, "push_") && v != "0":
					v = "set"
				case m.Count != "":
					v = fmt.Sprintf("%s type=%s count=%s sum=%s buckets=%v", v, fam.Type, m.Count, m.Sum, m.Buckets)
				default:
					v = fam.Type + " " + v
				}
				series[labelsKey(m.Labels)] = v
			}
			out[key][name] = series
		}
	}
	return out
}

// dropEmpty deletes the labels with an empty value.
func dropEmpty(m map[string]string) {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
}

// TestCompatPushgateway drives gmc and the real Pushgateway with
// client_golang's push package, call by call, and requires that every call
// succeeds on both and leaves both with the same groups.
func TestCompatPushgateway(t *testing.T) {
	pgw := startPushgateway(t)
	gmc := startGMC(t, t.TempDir(), "pushgateway:\n  refresh_interval: 1s\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	lastSuccess := prometheus.NewGauge(prometheus.GaugeOpts{Name: "backtest_last_success_unixtime", Help: "Last successful backtest."})
	lastSuccess.Set(1.7e9)
	pnl := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backtest_pnl", Help: "PnL of the backtest."}, []string{"strategy"})
	pnl.WithLabelValues("mm").Set(12.5)
	pnl.WithLabelValues("arb").Set(-3)
	trades := prometheus.NewCounter(prometheus.CounterOpts{Name: "backtest_trades_total", Help: "Trades."})
	trades.Add(42)
	dur := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "backtest_duration_seconds", Help: "Duration.", Buckets: []float64{1, 10}})
	dur.Observe(4)

	// both runs one client call against both and requires the same state after.
	both := func(t *testing.T, call func(base string) error) {
		t.Helper()
		for _, base := range []string{pgw.URL(), gmc.URL()} {
			if err := call(base); err != nil {
				t.Fatalf("%s: %v", base, err)
			}
		}
		want, got := pushgatewayState(ctx, t, pgw.URL()), pushgatewayState(ctx, t, gmc.URL())
		if want.String() != got.String() {
			t.Fatalf("groups differ\nPushgateway:\n%s\ngmc:\n%s", want, got)
		}
	}
	pusher := func(base string) *push.Pusher {
		return push.New(base, "backtest").Grouping("instance", "h1")
	}

	compat(t, "client_golang push", "Push (PUT) gauges, counter, histogram", "200; group as on the Pushgateway", func(t *testing.T) {
		both(t, func(base string) error {
			return pusher(base).Collector(lastSuccess).Collector(pnl).Collector(trades).Collector(dur).Push()
		})
	})
	compat(t, "client_golang push", "Add (POST) one family", "200; that family replaced, the others kept", func(t *testing.T) {
		pnl2 := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backtest_pnl", Help: "PnL of the backtest."}, []string{"strategy"})
		pnl2.WithLabelValues("mm").Set(20)
		both(t, func(base string) error { return pusher(base).Collector(pnl2).Add() })
	})
	compat(t, "client_golang push", "Push (PUT) a smaller set", "200; absent families leave the group", func(t *testing.T) {
		both(t, func(base string) error { return pusher(base).Collector(lastSuccess).Push() })
	})
	compat(t, "client_golang push", "Push with a job and a label containing /", "job@base64 and label@base64 paths; same group", func(t *testing.T) {
		both(t, func(base string) error {
			return push.New(base, "eod/recon").Grouping("path", "/var/data").Collector(trades).Push()
		})
	})
	compat(t, "client_golang push", "Push with an empty grouping label value", "label@base64 \"=\"; same group", func(t *testing.T) {
		both(t, func(base string) error {
			return push.New(base, "eod").Grouping("region", "").Collector(trades).Push()
		})
	})
	compat(t, "client_golang push", "Push with no metrics (empty PUT)", "200; the group is emptied but stays", func(t *testing.T) {
		both(t, func(base string) error { return push.New(base, "eod/recon").Grouping("path", "/var/data").Push() })
	})
	compat(t, "client_golang push", "Delete", "202; the group is gone", func(t *testing.T) {
		both(t, func(base string) error { return push.New(base, "eod").Grouping("region", "").Delete() })
	})
	compat(t, "curl (text format)", "PUT with a bad line", "400 naming the line (Pushgateway: 400, nothing kept); gmc keeps the valid lines", func(t *testing.T) {
		body := []byte("backtest_runs 3\nbacktest_pnl{strategy=\"mm\" 1\n")
		for _, base := range []string{pgw.URL(), gmc.URL()} {
			code, msg, err := put(ctx, httpClient(), base+"/metrics/job/badline", "text/plain; version=0.0.4", body)
			must(t, err, "PUT to %s", base)
			if code != http.StatusBadRequest {
				t.Fatalf("%s: %d %q, want 400", base, code, msg)
			}
			if base == gmc.URL() && !strings.Contains(msg, `line 2 "backtest_pnl{strategy=\"mm\" 1"`) {
				t.Fatalf("gmc's answer %q does not name line 2", msg)
			}
		}
		r, err := instantQuery(ctx, gmc.URL(), `backtest_runs{job="badline"}`, time.Now().UnixMilli())
		must(t, err, "query gmc")
		if len(r.Series) != 1 || r.Series[0].Points[0].V != 3 {
			t.Fatalf("gmc did not keep the valid line: %+v", r)
		}
	})
	compat(t, "PromQL", "a pushed group's value without new pushes", "re-written every refresh_interval; stays until deleted or replaced", func(t *testing.T) {
		q := `count_over_time(backtest_last_success_unixtime{job="backtest",instance="h1"}[1m])`
		eventually(t, 20*time.Second, 250*time.Millisecond, "refreshed samples", func() error {
			r, err := instantQuery(ctx, gmc.URL(), q, time.Now().UnixMilli())
			if err != nil {
				return err
			}
			if len(r.Series) != 1 || r.Series[0].Points[0].V < 4 {
				return fmt.Errorf("%s = %+v, want ≥ 4 samples", q, r.Series)
			}
			return nil
		})
		r, err := instantQuery(ctx, gmc.URL(), `time() - push_time_seconds{job="backtest",instance="h1"} < 60`, time.Now().UnixMilli())
		must(t, err, "query push_time_seconds")
		if len(r.Series) != 1 {
			t.Fatalf("push_time_seconds of the group: %+v", r.Series)
		}
	})
	compat(t, "Pushgateway API", "GET /api/v1/status", "200, build_information, flags, start_time", func(t *testing.T) {
		for _, base := range []string{pgw.URL(), gmc.URL()} {
			var ans struct {
				Status string `json:"status"`
				Data   struct {
					Build map[string]string `json:"build_information"`
					Flags map[string]string `json:"flags"`
					Start time.Time         `json:"start_time"`
				} `json:"data"`
			}
			code, body, err := send(ctx, httpClient(), http.MethodGet, base+"/api/v1/status", "", nil, nil)
			must(t, err, "GET status")
			must(t, json.Unmarshal([]byte(body), &ans), "decode %s", body)
			if code != 200 || ans.Status != "success" || ans.Data.Build["version"] == "" || len(ans.Data.Flags) == 0 || ans.Data.Start.IsZero() {
				t.Fatalf("%s/api/v1/status: %d %s", base, code, body)
			}
		}
	})
}
