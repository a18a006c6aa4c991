package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// compatTargetBody is what the scrape target both gmc and Prometheus scrape serves.
const compatTargetBody = `# HELP compat_target_jobs_total Jobs run.
# TYPE compat_target_jobs_total counter
compat_target_jobs_total 7
# HELP compat_target_temp_celsius Temperature of the rack.
# TYPE compat_target_temp_celsius gauge
compat_target_temp_celsius 21.5
`

// TestCompatPrometheusStatusAPI reads gmc's status and discovery endpoints
// with client_golang's api/prometheus/v1 client (what Grafana's and other
// Go tools' code paths use) and compares the answers with a real
// Prometheus 2.42 given the same scrape jobs and Alertmanager.
func TestCompatPrometheusStatusAPI(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, compatTargetBody)
	}))
	defer target.Close()
	tu, _ := url.Parse(target.URL)
	scrape := fmt.Sprintf(`scrape_configs:
  - job_name: compat_target
    scrape_interval: 1s
    static_configs:
      - targets: ['%s']
  - job_name: compat_down
    scrape_interval: 1s
    static_configs:
      - targets: ['127.0.0.1:1']
`, tu.Host)
	const botToken = "s3cr3t-bot-token-4711"
	gmc := startGMC(t, t.TempDir(), scrape+`notify:
  route:
    receiver: core
  receivers:
    - name: core
      alertmanager_configs:
        - url: http://127.0.0.1:9093
      telegram_configs:
        - bot_token: `+botToken+`
          chat_id: 1
`)
	prom := startPrometheus(t, "global:\n  scrape_interval: 1s\n"+scrape+`alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:9093']
`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := func(base string) v1.API {
		c, err := api.NewClient(api.Config{Address: base, Client: httpClient()})
		must(t, err, "client for %s", base)
		return v1.NewAPI(c)
	}
	g, p := client(gmc.URL()), client(prom.URL())

	compat(t, "client_golang api/prometheus/v1", "Targets (GET /api/v1/targets)", "the same targets, health, scrape URLs and labels as Prometheus (gmc adds service)", func(t *testing.T) {
		eventually(t, 30*time.Second, 250*time.Millisecond, "both scraped every target", func() error {
			gt, err := g.Targets(ctx)
			if err != nil {
				return fmt.Errorf("gmc: %w", err)
			}
			pt, err := p.Targets(ctx)
			if err != nil {
				return fmt.Errorf("prometheus: %w", err)
			}
			gs, ps := targetSummary(gt.Active, true), targetSummary(pt.Active, false)
			if len(gs) != 2 || slices.Contains(gs, "unknown") {
				return fmt.Errorf("gmc targets not scraped yet: %v", gs)
			}
			if !slices.Equal(gs, ps) {
				return fmt.Errorf("gmc targets\n%s\nprometheus targets\n%s", strings.Join(gs, "\n"), strings.Join(ps, "\n"))
			}
			return nil
		})
	})
	compat(t, "client_golang api/prometheus/v1", "TargetsMetadata (GET /api/v1/targets/metadata)", "the same metric, type and help per target as Prometheus", func(t *testing.T) {
		eventually(t, 20*time.Second, 250*time.Millisecond, "metadata of the target", func() error {
			var sums [2][]string
			for i, c := range []v1.API{g, p} {
				md, err := c.TargetsMetadata(ctx, `{job="compat_target"}`, "", "")
				if err != nil {
					return err
				}
				for _, m := range md {
					sums[i] = append(sums[i], fmt.Sprintf("%s %s %s %q %q", m.Target["instance"], m.Metric, m.Type, m.Help, m.Unit))
				}
				slices.Sort(sums[i])
			}
			if len(sums[0]) == 0 || !slices.Contains(sums[0], fmt.Sprintf("%s compat_target_jobs_total counter %q \"\"", tu.Host, "Jobs run.")) {
				return fmt.Errorf("gmc: %q", sums[0])
			}
			if !slices.Equal(sums[0], sums[1]) {
				return fmt.Errorf("gmc %q, prometheus %q", sums[0], sums[1])
			}
			return nil
		})
	})
	compat(t, "client_golang api/prometheus/v1", "Metadata (GET /api/v1/metadata) of scraped metrics", "the same type, help and unit as Prometheus", func(t *testing.T) {
		for _, metric := range []string{"compat_target_jobs_total", "compat_target_temp_celsius"} {
			gm, err := g.Metadata(ctx, metric, "")
			must(t, err, "gmc metadata")
			pm, err := p.Metadata(ctx, metric, "")
			must(t, err, "prometheus metadata")
			if len(gm[metric]) != 1 || fmt.Sprint(gm) != fmt.Sprint(pm) {
				t.Fatalf("%s: gmc %+v, prometheus %+v", metric, gm, pm)
			}
		}
	})
	compat(t, "client_golang api/prometheus/v1", "AlertManagers (GET /api/v1/alertmanagers)", "the Alertmanager alerts go to, in Prometheus's URL form", func(t *testing.T) {
		eventually(t, 20*time.Second, 250*time.Millisecond, "alertmanagers", func() error {
			ga, err := g.AlertManagers(ctx)
			if err != nil {
				return err
			}
			pa, err := p.AlertManagers(ctx)
			if err != nil {
				return err
			}
			if len(ga.Active) != 1 || fmt.Sprint(ga) != fmt.Sprint(pa) {
				return fmt.Errorf("gmc %+v, prometheus %+v", ga, pa)
			}
			return nil
		})
	})
	compat(t, "client_golang api/prometheus/v1", "Config (GET /api/v1/status/config)", "the running config as YAML, secrets as `<secret>`", func(t *testing.T) {
		cfg, err := g.Config(ctx)
		must(t, err, "config")
		var doc struct {
			ScrapeConfigs []struct {
				JobName string `yaml:"job_name"`
			} `yaml:"scrape_configs"`
			Notify struct {
				Receivers []struct {
					TelegramConfigs []struct {
						BotToken string `yaml:"bot_token"`
					} `yaml:"telegram_configs"`
				} `yaml:"receivers"`
			} `yaml:"notify"`
		}
		must(t, yaml.Unmarshal([]byte(cfg.YAML), &doc), "parse the YAML")
		if len(doc.ScrapeConfigs) != 2 || doc.ScrapeConfigs[0].JobName != "compat_target" {
			t.Fatalf("scrape_configs: %+v\n%s", doc.ScrapeConfigs, cfg.YAML)
		}
		if strings.Contains(cfg.YAML, botToken) || len(doc.Notify.Receivers) != 1 || doc.Notify.Receivers[0].TelegramConfigs[0].BotToken != "<secret>" {
			t.Fatalf("bot_token not shown as <secret>:\n%s", cfg.YAML)
		}
	})
	compat(t, "client_golang api/prometheus/v1", "Flags (GET /api/v1/status/flags)", "every flag with its value", func(t *testing.T) {
		flags, err := g.Flags(ctx)
		must(t, err, "flags")
		if flags["web.listen-address"] != gmc.addr || flags["storage.path"] == "" || len(flags) < 5 {
			t.Fatalf("flags %v", flags)
		}
	})
	compat(t, "client_golang api/prometheus/v1", "TSDB (GET /api/v1/status/tsdb)", "head statistics that agree with PromQL counts", func(t *testing.T) {
		st, err := g.TSDB(ctx, v1.WithLimit(100))
		must(t, err, "tsdb")
		byName := map[string]uint64{}
		for _, s := range st.SeriesCountByMetricName {
			byName[s.Name] = s.Value
		}
		for _, name := range []string{"up", "compat_target_jobs_total"} {
			r, err := instantQuery(ctx, gmc.URL(), fmt.Sprintf("count(%s)", name), time.Now().UnixMilli())
			must(t, err, "count %s", name)
			if len(r.Series) != 1 || uint64(r.Series[0].Points[0].V) != byName[name] {
				t.Fatalf("%s: status/tsdb says %d series, count() says %+v", name, byName[name], r.Series)
			}
		}
		if uint64(st.HeadStats.NumSeries) < byName["up"]+byName["compat_target_jobs_total"] || st.HeadStats.NumLabelPairs == 0 ||
			st.HeadStats.ChunkCount <= 0 || st.HeadStats.MaxTime < st.HeadStats.MinTime || len(st.LabelValueCountByLabelName) == 0 {
			t.Fatalf("head stats %+v", st.HeadStats)
		}
	})
	compat(t, "client_golang api/prometheus/v1", "Buildinfo, Runtimeinfo", "decoded; version 3.16.0 and the server's start time", func(t *testing.T) {
		bi, err := g.Buildinfo(ctx)
		must(t, err, "buildinfo")
		ri, err := g.Runtimeinfo(ctx)
		must(t, err, "runtimeinfo")
		if bi.Version != "3.16.0" || ri.StartTime.IsZero() || time.Since(ri.StartTime) > 10*time.Minute {
			t.Fatalf("buildinfo %+v runtimeinfo %+v", bi, ri)
		}
	})
}

// targetSummary is one line per active target: pool, URL, health, whether it
// has an error, and its labels (gmc's service label dropped when noService).
func targetSummary(ts []v1.ActiveTarget, noService bool) []string {
	var out []string
	for _, t := range ts {
		ls := t.Labels.Clone()
		if noService {
			if ls["service"] != model.LabelValue(t.ScrapePool) {
				ls["service_missing"] = "true"
			}
			delete(ls, "service")
		}
		out = append(out, fmt.Sprintf("%s %s %s err=%t %s", t.ScrapePool, t.ScrapeURL, t.Health, t.LastError != "", ls))
	}
	slices.Sort(out)
	return out
}

// TestCompatRemoteWriteMetadata has a real Prometheus 2.42 scrape a target
// and remote-write it to gmc with metadata sending on; gmc's
// /api/v1/metadata, read with client_golang's v1 client, must then say what
// Prometheus's own says of those metrics.
func TestCompatRemoteWriteMetadata(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, compatTargetBody)
	}))
	defer target.Close()
	tu, _ := url.Parse(target.URL)
	gmc := startGMC(t, t.TempDir(), "")
	prom := startPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: compat_target
    static_configs:
      - targets: ['%s']
remote_write:
  - url: %s/api/v1/write
    queue_config:
      batch_send_deadline: 1s
    metadata_config:
      send: true
      send_interval: 1s
`, tu.Host, gmc.URL()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	newAPI := func(base string) v1.API {
		c, err := api.NewClient(api.Config{Address: base, Client: httpClient()})
		must(t, err, "client for %s", base)
		return v1.NewAPI(c)
	}
	g, p := newAPI(gmc.URL()), newAPI(prom.URL())
	compat(t, "Prometheus 2.42", "remote_write with metadata_config.send to gmc, then Metadata (GET /api/v1/metadata)", "the same type and help as Prometheus's own /api/v1/metadata", func(t *testing.T) {
		eventually(t, 60*time.Second, 250*time.Millisecond, "metadata in gmc", func() error {
			for _, metric := range []string{"compat_target_jobs_total", "compat_target_temp_celsius"} {
				gm, err := g.Metadata(ctx, metric, "")
				if err != nil {
					return fmt.Errorf("gmc: %w", err)
				}
				pm, err := p.Metadata(ctx, metric, "")
				if err != nil {
					return fmt.Errorf("prometheus: %w", err)
				}
				if len(pm[metric]) != 1 || fmt.Sprint(gm) != fmt.Sprint(pm) {
					return fmt.Errorf("%s: gmc %+v, prometheus %+v", metric, gm, pm)
				}
			}
			return nil
		})
	})
}
