package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestInteropPrometheusRemoteWrite runs a real Prometheus 2.42 that scrapes
// itself every second and remote-writes to gmc, and checks that gmc holds its
// series with exactly the samples Prometheus itself stored.
func TestInteropPrometheusRemoteWrite(t *testing.T) {
	requirePeer(t, prometheusBinary, "prometheus")
	interop(t, startGMC(t, t.TempDir(), ""))
}

// interop starts a Prometheus that scrapes itself and remote-writes to gmc,
// and compares what gmc then holds with what Prometheus stored.
func interop(t *testing.T, gmc *proc) {
	t.Helper()
	prom := startPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['{{ADDR}}']
remote_write:
  - url: %s/api/v1/write
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send_interval: 1s
`, gmc.URL()))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// First delivery: gmc has up{job="prometheus"}.
	var firstSeen int64
	eventually(t, 60*time.Second, 250*time.Millisecond, `gmc holds up{job="prometheus"}`, func() error {
		r, err := instantQuery(ctx, gmc.URL(), `up{job="prometheus"}`, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if len(r.Series) == 0 {
			return fmt.Errorf("no series yet")
		}
		firstSeen = time.Now().UnixMilli()
		return nil
	})

	// Every sample Prometheus stored up to a cut-off reaches gmc unchanged.
	// The cut-off is a few scrapes after the first delivery, so both sides
	// hold several samples of each series by then.
	cut := firstSeen + 3000
	time.Sleep(time.Until(time.UnixMilli(cut)))
	for _, q := range []string{
		`up{job="prometheus"}[2m]`,
		`prometheus_build_info[2m]`,
		`prometheus_tsdb_head_series[2m]`,
		`scrape_samples_scraped{job="prometheus"}[2m]`,
	} {
		var want, got result
		eventually(t, 30*time.Second, 250*time.Millisecond, "gmc and prometheus agree on "+q, func() error {
			var err error
			if want, err = instantQuery(ctx, prom.URL(), q, cut); err != nil {
				return fmt.Errorf("prometheus: %w", err)
			}
			if len(want.Series) == 0 {
				return fmt.Errorf("prometheus has no samples for %s", q)
			}
			if got, err = instantQuery(ctx, gmc.URL(), q, cut); err != nil {
				return fmt.Errorf("gmc: %w", err)
			}
			return sameResult(want, got, 0)
		})
		n := 0
		for _, s := range got.Series {
			n += len(s.Points)
		}
		t.Logf("%s: %d series, %d samples identical in gmc and prometheus", q, len(got.Series), n)
	}

	// Prometheus's own account of the remote-write: metadata was sent too,
	// and gmc refused nothing (failed: 4xx, retried: 5xx or 429).
	eventually(t, 30*time.Second, 250*time.Millisecond, "prometheus has sent metadata to gmc", func() error {
		r, err := instantQuery(ctx, prom.URL(), `prometheus_remote_storage_metadata_total`, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if len(r.Series) == 0 || r.Series[0].Points[0].V == 0 {
			return fmt.Errorf("prometheus_remote_storage_metadata_total = %v", r.Series)
		}
		return nil
	})
	for _, m := range []string{
		"prometheus_remote_storage_samples_failed_total",
		"prometheus_remote_storage_samples_retried_total",
		"prometheus_remote_storage_samples_dropped_total",
		"prometheus_remote_storage_metadata_failed_total",
		"prometheus_remote_storage_metadata_retried_total",
	} {
		r, err := instantQuery(ctx, prom.URL(), m, time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Series) == 0 {
			t.Errorf("prometheus has no %s", m)
		}
		for _, s := range r.Series {
			if v := s.Points[0].V; v != 0 {
				t.Errorf("prometheus reports %s%s = %v: gmc refused part of its remote-write", m, s.key(), v)
			}
		}
	}

	// The build info carries Prometheus's labels through remote-write intact.
	r, err := instantQuery(ctx, gmc.URL(), `prometheus_build_info`, cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Series) != 1 {
		t.Fatalf("prometheus_build_info: %d series in gmc, want 1", len(r.Series))
	}
	ls := r.Series[0].Labels
	if ls["job"] != "prometheus" || ls["instance"] != prom.addr || ls["version"] == "" || r.Series[0].Points[0].V != 1 {
		t.Errorf("prometheus_build_info in gmc = %s %v, want job=prometheus instance=%s, a version, value 1", r.Series[0].key(), r.Series[0].Points, prom.addr)
	}
}
