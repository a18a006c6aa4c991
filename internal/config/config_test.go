package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/gmc-dev/gmc/internal/notify"
)

func TestLoadFileGood(t *testing.T) {
	cfg, err := LoadFile("testdata/full.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := time.Duration(cfg.Storage.Retention), 30*24*time.Hour; got != want {
		t.Errorf("retention = %v, want %v", got, want)
	}
	if got, want := cfg.Limits.MaxSeriesPerRequest, 50000; got != want {
		t.Errorf("max_series_per_request = %d, want %d", got, want)
	}
	sc := cfg.ScrapeConfigs[0]
	if sc.JobName != "order-gateway" || sc.ScrapeInterval != Duration(time.Second) ||
		sc.ScrapeTimeout != Duration(500*time.Millisecond) || sc.MetricsPath != "/metrics" || sc.Scheme != "http" {
		t.Errorf("scrape config = %+v", sc)
	}
	if got := sc.StaticConfigs[0].Labels["venue"]; got != "xnas" {
		t.Errorf("static label venue = %q", got)
	}
	if got := strings.Join(cfg.OTLP.PromoteResourceAttributes, " "); got != "deployment.environment cloud.region" {
		t.Errorf("otlp.promote_resource_attributes = %q", got)
	}
}

func TestLoadEmptyIsDefault(t *testing.T) {
	cfg, err := LoadFile("testdata/empty.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.ListenAddress != DefaultListenAddress || cfg.Server.DataDir != DefaultDataDir {
		t.Errorf("server = %+v, want the defaults", cfg.Server)
	}
	if got, want := time.Duration(cfg.Storage.Retention), 15*24*time.Hour; got != want {
		t.Errorf("default retention = %v, want %v", got, want)
	}
}

func TestLoadFileBad(t *testing.T) {
	want := map[string]string{
		"unknown-field.bad.yml":               "field listen_adress not found",
		"bad-duration.bad.yml":                `line 2: "fifteen days" is not a duration`,
		"timeout-too-long.bad.yml":            "scrape_configs[0].scrape_timeout: 5s is longer than scrape_interval 1s",
		"duplicate-job.bad.yml":               `line 3: scrape_configs[1].job_name: "risk" is used twice`,
		"bench-alpha.bad.yml":                 `bench-alpha.bad.yml: line 2: benchmarks.alpha: 2 is not in (0, 1)`,
		"remote-write-two-auths.bad.yml":      "at most one of basic_auth, oauth2 & authorization must be configured",
		"remote-write-bad-relabel.bad.yml":    "error parsing regexp",
		"cluster-no-listen.bad.yml":           "cluster.listen_address: must be set when cluster.peers are",
		"storage-remote-no-read.bad.yml":      `storage.read_url: "" is not an http(s) URL`,
		"storage-bad-mode.bad.yml":            `storage.mode: "cluster" is neither local nor remote`,
		"downsampling-bad-tier.bad.yml":       "line 5: storage.downsampling.retention[0].keep.5m: no such tier (raw, 1m, 10m, 1h)",
		"downsampling-bad-resolution.bad.yml": "storage.downsampling.tiers[1].resolution 1m: must be coarser than tiers[0]'s 1h",
		"otlp-twice.bad.yml":                  `otlp.promote_resource_attributes[1]: "cloud.region" is listed twice`,
		"silences-zero.bad.yml":               "silences.max_silences: must be positive",
		"series-limit-negative.bad.yml":       "limits.max_series_per_service: must not be negative (0: off)",
		"storage-block-short.bad.yml":         "storage.block_duration: 1m30s must be 0 (2h) or whole minutes of at least 5m",
	}
	files, _ := filepath.Glob("testdata/*.bad.yml")
	if len(files) != len(want) {
		t.Fatalf("%d bad files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadFile(f)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.Contains(err.Error(), want[filepath.Base(f)]) {
				t.Errorf("error %q does not contain %q", err, want[filepath.Base(f)])
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	cfg := Default()
	cfg.Limits.MaxBodyBytes = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "limits.max_body_bytes") {
		t.Errorf("err = %v, want it to name limits.max_body_bytes", err)
	}
}

// TestBurnCollapseForShortPeriod: the default inhibit rules collapse a 7d
// SLA's burn alerts over its own (scaled) windows; a 30d SLA needs no rule
// of its own.
func TestBurnCollapseForShortPeriod(t *testing.T) {
	cfg, err := Load([]byte(`
slas:
  - {name: week, service: svc, objective: 99.9, windows: [1h, 7d], indicator: {ratio: {}}}
  - {name: month, service: svc, objective: 99.9, indicator: {ratio: {}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cfg.Notify.InhibitRules {
		got = append(got, fmt.Sprintf("%v -> %v equal %v", labels.Matchers(r.SourceMatchers), labels.Matchers(r.TargetMatchers), r.Equal))
	}
	want := []string{
		`{alertname="SLAErrorBudgetBurn",sla="week",long_window="14m"} -> {alertname="SLAErrorBudgetBurn",sla="week",long_window="84m"} equal [sla]`,
		`{alertname="SLAErrorBudgetBurn",sla="week",long_window="336m"} -> {alertname="SLAErrorBudgetBurn",sla="week",long_window="1008m"} equal [sla]`,
	}
	if n := len(notify.DefaultInhibitRules()); len(got) != n+2 || strings.Join(got[n:], "\n") != strings.Join(want, "\n") {
		t.Errorf("inhibit rules =\n%s\nwant the defaults and\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoadPrometheusConfigHint: a plain prometheus.yml (global: and
// scrape_configs:) was refused with "field global not found in type
// config.Config" and no word on what gmc takes instead (t-user12 F5).
func TestLoadPrometheusConfigHint(t *testing.T) {
	_, err := Load([]byte("global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: x\n    static_configs: [{targets: ['127.0.0.1:9']}]\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1: field global not found") || !strings.Contains(err.Error(), "its scrape_configs are at the top level, each job with its own scrape_interval") {
		t.Errorf("a prometheus.yml: %v, want the line and a hint on gmc.yml's scrape_configs", err)
	}
}
