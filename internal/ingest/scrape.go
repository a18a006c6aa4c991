package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
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
	// Committed is told the samples each scrape committed (the target's
	// and its up and scrape_* series), as the push paths count theirs
	// (Ingester.CountScraped); nil: nobody.
	Committed func(samples int)
}

// Scraper pulls /metrics endpoints on a schedule with Prometheus's own scrape
// manager, so targets get `up`, `scrape_duration_seconds` and staleness
// handling exactly as in Prometheus. Every target also gets the label
// service=<job_name> unless its static labels set `service`.
type Scraper struct {
	manager *scrape.Manager
	logger  *slog.Logger
	reload  time.Duration

	mu      sync.Mutex
	jobs    []ScrapeConfig // the manager's
	gen     int            // counts applies: a removal timer of an older one does nothing
	stopped bool
	// tsets carries the target groups to the manager's Run: the newest
	// set waits in it (a set not yet taken is replaced).
	tsets chan map[string][]*targetgroup.Group
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
		logger, nil, nil, limitTolerant{AppendableV2: opts.Appendable, committed: opts.Committed}, opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("create scrape manager: %w", err)
	}
	if err := m.ApplyConfig(promCfg); err != nil {
		return nil, fmt.Errorf("apply scrape config: %w", err)
	}
	s := &Scraper{manager: m, logger: logger, reload: reload, jobs: opts.Jobs, tsets: make(chan map[string][]*targetgroup.Group, 1)}
	s.tsets <- targetGroups(opts.Jobs)
	return s, nil
}

// Prepare checks jobs as Prometheus loads a scrape configuration and
// returns what puts them in force, as Prometheus's reload does: the
// scrape manager's ApplyConfig (pools of changed jobs restarted, added
// ones started, unchanged ones scraping on), then the jobs' targets.
// Nothing changes until apply is called.
//
// A removed job is not stopped at once: Prometheus's manager stops a
// removed job's pool without the stale markers a vanished target gets, so
// its series (its `up`) would read as scraped for the query lookback (5
// minutes). Its targets are removed first, which writes the markers just
// over two intervals later, and its pool after that.
func (s *Scraper) Prepare(jobs []ScrapeConfig) (apply func() error, err error) {
	promCfg, err := prometheusConfig(jobs, s.logger)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	inForce := slices.Clone(s.jobs)
	s.mu.Unlock()
	keep := slices.Clone(jobs) // the new jobs and those leaving
	var wait time.Duration
	for _, j := range inForce {
		if !slices.ContainsFunc(jobs, func(n ScrapeConfig) bool { return n.JobName == j.JobName }) {
			keep = append(keep, j)
			wait = max(wait, 2*time.Duration(j.ScrapeInterval)+time.Duration(j.ScrapeInterval)/10)
		}
	}
	keepCfg, err := prometheusConfig(keep, s.logger)
	if err != nil {
		return nil, err
	}
	targets := targetGroups(jobs)
	for _, j := range keep[len(jobs):] {
		targets[j.JobName] = []*targetgroup.Group{} // no targets: their loops end with stale markers
	}
	return func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.gen++
		s.jobs = keep
		err := s.manager.ApplyConfig(keepCfg)
		select { // a set Run has not taken yet is out of date
		case <-s.tsets:
		default:
		}
		s.tsets <- targets
		if wait > 0 {
			gen := s.gen
			time.AfterFunc(wait+s.reload+time.Second, func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				if s.gen != gen || s.stopped {
					return // a later reload or the end took over
				}
				s.jobs = jobs
				if err := s.manager.ApplyConfig(promCfg); err != nil {
					s.logger.Error("remove scrape jobs", "err", err)
				}
			})
		}
		if err != nil {
			return fmt.Errorf("apply scrape config: %w", err)
		}
		return nil
	}, nil
}

// limitTolerant hands the scrape loop appenders that take a new series
// refused by a cardinality limit (*SeriesLimitError) as a dropped sample: the
// scrape loop fails a whole scrape on an error it does not know, which would
// drop the target's existing series too. The refusal is counted in
// gmc_ingest_series_limited_total and logged by the SeriesLimiter. Its
// appenders also count the samples a scrape commits (committed).
type limitTolerant struct {
	storage.AppendableV2
	committed func(samples int) // nil: not counted
}

// AppenderV2 implements storage.AppendableV2.
func (l limitTolerant) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &limitTolerantAppender{AppenderV2: l.AppendableV2.AppenderV2(ctx), committed: l.committed}
}

type limitTolerantAppender struct {
	storage.AppenderV2
	committed func(samples int)
	n         int // samples appended since the last commit or rollback
}

// Append implements storage.AppenderV2.
func (a *limitTolerantAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AOptions) (storage.SeriesRef, error) {
	ref, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	var lerr *SeriesLimitError
	if errors.As(err, &lerr) {
		return 0, nil
	}
	if err == nil {
		a.n++
	}
	return ref, err
}

// Commit implements storage.AppenderV2.
func (a *limitTolerantAppender) Commit() error {
	n := a.n
	a.n = 0
	err := a.AppenderV2.Commit()
	if err == nil && n > 0 && a.committed != nil {
		a.committed(n)
	}
	return err
}

// Rollback implements storage.AppenderV2.
func (a *limitTolerantAppender) Rollback() error {
	a.n = 0
	return a.AppenderV2.Rollback()
}

// Run scrapes until ctx is done.
func (s *Scraper) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.manager.Run(s.tsets) }()
	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
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
