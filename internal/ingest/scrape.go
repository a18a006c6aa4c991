package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"gopkg.in/yaml.v3"
)

// ScraperOptions configure a Scraper.
type ScraperOptions struct {
	Appendable storage.AppendableV2
	Jobs       []ScrapeConfig
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// ReloadInterval is how soon target changes take effect (Prometheus's
	// DiscoveryReloadInterval); 0 means 1s.
	ReloadInterval time.Duration
}

// Scraper pulls /metrics endpoints on a schedule with Prometheus's own scrape
// manager, so targets get `up`, `scrape_duration_seconds` and staleness
// handling exactly as in Prometheus. Every target also gets the label
// service=<job_name> unless its static labels set `service`.
type Scraper struct {
	manager *scrape.Manager
	targets map[string][]*targetgroup.Group
}

// NewScraper builds a Scraper for the configured jobs; it scrapes only in Run.
func NewScraper(opts ScraperOptions) (*Scraper, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reload := opts.ReloadInterval
	if reload <= 0 {
		reload = time.Second
	}
	promCfg, err := prometheusConfig(opts.Jobs, logger)
	if err != nil {
		return nil, err
	}
	m, err := scrape.NewManager(&scrape.Options{DiscoveryReloadInterval: model.Duration(reload)},
		logger, nil, nil, limitTolerant{opts.Appendable}, opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("create scrape manager: %w", err)
	}
	if err := m.ApplyConfig(promCfg); err != nil {
		return nil, fmt.Errorf("apply scrape config: %w", err)
	}
	return &Scraper{manager: m, targets: targetGroups(opts.Jobs)}, nil
}

// limitTolerant hands the scrape loop appenders that take a new series
// refused by a cardinality limit (*SeriesLimitError) as a dropped sample: the
// scrape loop fails a whole scrape on an error it does not know, which would
// drop the target's existing series too. The refusal is counted in
// gmc_ingest_series_limited_total and logged by the SeriesLimiter.
type limitTolerant struct{ storage.AppendableV2 }

// AppenderV2 implements storage.AppendableV2.
func (l limitTolerant) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return limitTolerantAppender{l.AppendableV2.AppenderV2(ctx)}
}

type limitTolerantAppender struct{ storage.AppenderV2 }

// Append implements storage.AppenderV2.
func (a limitTolerantAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AOptions) (storage.SeriesRef, error) {
	ref, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	var lerr *SeriesLimitError
	if errors.As(err, &lerr) {
		return 0, nil
	}
	return ref, err
}

// Run scrapes until ctx is done.
func (s *Scraper) Run(ctx context.Context) error {
	tsets := make(chan map[string][]*targetgroup.Group, 1)
	tsets <- s.targets
	done := make(chan error, 1)
	go func() { done <- s.manager.Run(tsets) }()
	<-ctx.Done()
	s.manager.Stop()
	if err := <-done; err != nil {
		return fmt.Errorf("scrape: %w", err)
	}
	return nil
}

// prometheusConfig turns gmc's scrape jobs into a Prometheus config, loaded
// by Prometheus's own loader so every scrape default is Prometheus's.
func prometheusConfig(jobs []ScrapeConfig, logger *slog.Logger) (*promconfig.Config, error) {
	type job struct {
		JobName        string `yaml:"job_name"`
		ScrapeInterval string `yaml:"scrape_interval"`
		ScrapeTimeout  string `yaml:"scrape_timeout"`
		MetricsPath    string `yaml:"metrics_path"`
		Scheme         string `yaml:"scheme"`
	}
	doc := struct {
		ScrapeConfigs []job `yaml:"scrape_configs"`
	}{}
	for _, j := range jobs {
		doc.ScrapeConfigs = append(doc.ScrapeConfigs, job{
			JobName:        j.JobName,
			ScrapeInterval: j.ScrapeInterval.String(),
			ScrapeTimeout:  j.ScrapeTimeout.String(),
			MetricsPath:    j.MetricsPath,
			Scheme:         j.Scheme,
		})
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render scrape config: %w", err)
	}
	cfg, err := promconfig.Load(string(out), logger)
	if err != nil {
		return nil, fmt.Errorf("load scrape config: %w", err)
	}
	return cfg, nil
}

// targetGroups turns the static targets of each job into target groups, as
// Prometheus's static discovery would.
func targetGroups(jobs []ScrapeConfig) map[string][]*targetgroup.Group {
	out := make(map[string][]*targetgroup.Group, len(jobs))
	for _, j := range jobs {
		groups := make([]*targetgroup.Group, 0, len(j.StaticConfigs))
		for i, st := range j.StaticConfigs {
			g := &targetgroup.Group{Source: fmt.Sprintf("%s/%d", j.JobName, i), Labels: model.LabelSet{}}
			for k, v := range st.Labels {
				g.Labels[model.LabelName(k)] = model.LabelValue(v)
			}
			if _, ok := g.Labels["service"]; !ok {
				g.Labels["service"] = model.LabelValue(j.JobName)
			}
			for _, t := range st.Targets {
				g.Targets = append(g.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(t)})
			}
			groups = append(groups, g)
		}
		out[j.JobName] = groups
	}
	return out
}

// TargetsActive are the targets being scraped, by scrape pool (job).
func (s *Scraper) TargetsActive() map[string][]*scrape.Target { return s.manager.TargetsActive() }

// TargetsDropped are the targets relabelling dropped, by scrape pool.
func (s *Scraper) TargetsDropped() map[string][]*scrape.Target { return s.manager.TargetsDropped() }

// TargetsDroppedCounts is how many targets each scrape pool dropped.
func (s *Scraper) TargetsDroppedCounts() map[string]int { return s.manager.TargetsDroppedCounts() }
