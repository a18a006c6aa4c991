package ingest

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Limits bound what one write request may carry: the `limits:` section of
// gmc.yml. limits.go enforces them.
type Limits struct {
	MaxBodyBytes        int64             `yaml:"max_body_bytes"`
	MaxSeriesPerRequest int               `yaml:"max_series_per_request"`
	MaxLabelsPerSeries  int               `yaml:"max_labels_per_series"`
	MaxLabelNameLength  int               `yaml:"max_label_name_length"`
	MaxLabelValueLength int               `yaml:"max_label_value_length"`
	MaxSampleAge        duration.Duration `yaml:"max_sample_age"`
	MaxFutureSkew       duration.Duration `yaml:"max_future_skew"`
	// MaxDecodedBytesInFlight bounds the decompressed remote-write bodies
	// held at once over all concurrent requests (a snappy bomb decodes 20×).
	// A request that finds no room within a few seconds gets 429.
	MaxDecodedBytesInFlight int64 `yaml:"max_decoded_bytes_in_flight"`

	// Cardinality limits (serieslimit.go), 0: off. They refuse new series
	// only; samples of series the head holds are always taken. A push with a
	// refused series is answered 429 naming the limit, metric or service.
	//
	// MaxHeadSeries bounds the series in the head (~1.3 KiB of memory each).
	MaxHeadSeries int `yaml:"max_head_series"`
	// MaxSeriesPerMetric bounds the head's series of one metric name.
	MaxSeriesPerMetric int `yaml:"max_series_per_metric"`
	// MaxSeriesPerService bounds the head's series of one service (label
	// `service`), so one service cannot take the others' room.
	MaxSeriesPerService int `yaml:"max_series_per_service"`
	// MaxNewSeriesPerSecond is the rate of new series over all writers, a
	// token bucket holding up to NewSeriesBurst.
	MaxNewSeriesPerSecond int `yaml:"max_new_series_per_second"`
	NewSeriesBurst        int `yaml:"new_series_burst"`
}

// DefaultLimits are the limits gmc runs with unless configured.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:        32 << 20,
		MaxSeriesPerRequest: 100_000,
		MaxLabelsPerSeries:  40,
		MaxLabelNameLength:  256,
		MaxLabelValueLength: 2048,
		MaxSampleAge:        0, // 0: the TSDB's own bound (head min time and OOO window) applies
		MaxFutureSkew:       duration.Duration(10 * time.Minute),
		// Two requests of the largest decoded size (max_body_bytes × 8).
		MaxDecodedBytesInFlight: 512 << 20,
		// ~1.3 GiB of head at 1.26 KiB per series; a service or a metric
		// may take a fifth of it. The bucket lets a fleet restart create
		// 200k series at once, then 10k/s.
		MaxHeadSeries:         1_000_000,
		MaxSeriesPerMetric:    200_000,
		MaxSeriesPerService:   200_000,
		MaxNewSeriesPerSecond: 10_000,
		NewSeriesBurst:        200_000,
	}
}

// Validate checks the limits; errors name the field under `limits.`.
func (l Limits) Validate() error {
	switch {
	case l.MaxBodyBytes <= 0:
		return errors.New("limits.max_body_bytes: must be positive")
	case l.MaxSeriesPerRequest <= 0:
		return errors.New("limits.max_series_per_request: must be positive")
	case l.MaxLabelsPerSeries <= 0:
		return errors.New("limits.max_labels_per_series: must be positive")
	case l.MaxLabelNameLength <= 0:
		return errors.New("limits.max_label_name_length: must be positive")
	case l.MaxLabelValueLength <= 0:
		return errors.New("limits.max_label_value_length: must be positive")
	case l.MaxSampleAge < 0:
		return errors.New("limits.max_sample_age: must not be negative")
	case l.MaxFutureSkew < 0:
		return errors.New("limits.max_future_skew: must not be negative")
	case l.MaxDecodedBytesInFlight <= 0:
		return errors.New("limits.max_decoded_bytes_in_flight: must be positive")
	case l.MaxHeadSeries < 0:
		return errors.New("limits.max_head_series: must not be negative (0: off)")
	case l.MaxSeriesPerMetric < 0:
		return errors.New("limits.max_series_per_metric: must not be negative (0: off)")
	case l.MaxSeriesPerService < 0:
		return errors.New("limits.max_series_per_service: must not be negative (0: off)")
	case l.MaxNewSeriesPerSecond < 0:
		return errors.New("limits.max_new_series_per_second: must not be negative (0: off)")
	case l.NewSeriesBurst < 0:
		return errors.New("limits.new_series_burst: must not be negative")
	case l.MaxNewSeriesPerSecond > 0 && l.NewSeriesBurst == 0:
		return errors.New("limits.new_series_burst: must be positive when limits.max_new_series_per_second is set")
	}
	return nil
}

// Pushgateway configures the groups of Pushgateway-style text pushes: the
// `pushgateway:` section of gmc.yml (pushgroups.go).
type Pushgateway struct {
	// GroupTTL drops a group this long after its last push (0: never, as the
	// Pushgateway); a push's Gmc-Group-Ttl header overrides it for its group.
	GroupTTL duration.Duration `yaml:"group_ttl"`
	// RefreshInterval is how often the groups' latest values are written
	// again so PromQL sees them; under the 5m lookback. 0: 30s.
	RefreshInterval duration.Duration `yaml:"refresh_interval"`
}

// Validate checks the section; errors name the field under `pushgateway.`.
func (p Pushgateway) Validate() error {
	if p.GroupTTL < 0 {
		return errors.New("pushgateway.group_ttl: must not be negative")
	}
	if r := p.RefreshInterval; r < 0 || r >= duration.Duration(5*time.Minute) {
		return errors.New("pushgateway.refresh_interval: must be under 5m (PromQL's lookback), or 0 for 30s")
	}
	return nil
}

// ScrapeConfig is one scrape job, as in Prometheus's scrape_configs.
type ScrapeConfig struct {
	JobName        string            `yaml:"job_name"`
	ScrapeInterval duration.Duration `yaml:"scrape_interval"`
	ScrapeTimeout  duration.Duration `yaml:"scrape_timeout"`
	MetricsPath    string            `yaml:"metrics_path"`
	Scheme         string            `yaml:"scheme"`
	StaticConfigs  []StaticConfig    `yaml:"static_configs"`
}

// StaticConfig is a fixed list of targets sharing labels.
type StaticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// Normalise fills the job's defaults as Prometheus does: scrape every 15s,
// time out after min(interval, 10s), path /metrics, scheme http.
func (sc *ScrapeConfig) Normalise() {
	if sc.ScrapeInterval == 0 {
		sc.ScrapeInterval = duration.Duration(15 * time.Second)
	}
	if sc.ScrapeTimeout == 0 {
		sc.ScrapeTimeout = min(sc.ScrapeInterval, duration.Duration(10*time.Second))
	}
	if sc.MetricsPath == "" {
		sc.MetricsPath = "/metrics"
	}
	if sc.Scheme == "" {
		sc.Scheme = "http"
	}
}

var jobNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]*$`)

// ValidateScrapeConfigs checks normalised scrape jobs; errors name the field
// under `scrape_configs[i]`.
func ValidateScrapeConfigs(jobs []ScrapeConfig) error {
	seen := map[string]bool{}
	for i, sc := range jobs {
		field := fmt.Sprintf("scrape_configs[%d]", i)
		if !jobNameRE.MatchString(sc.JobName) {
			return fmt.Errorf("%s.job_name: %q is not a valid job name", field, sc.JobName)
		}
		if seen[sc.JobName] {
			return fmt.Errorf("%s.job_name: %q is used twice", field, sc.JobName)
		}
		seen[sc.JobName] = true
		if sc.ScrapeInterval <= 0 || sc.ScrapeTimeout <= 0 {
			return fmt.Errorf("%s: scrape_interval and scrape_timeout must be positive", field)
		}
		if sc.ScrapeTimeout > sc.ScrapeInterval {
			return fmt.Errorf("%s.scrape_timeout: %s is longer than scrape_interval %s", field, sc.ScrapeTimeout, sc.ScrapeInterval)
		}
		if sc.Scheme != "http" && sc.Scheme != "https" {
			return fmt.Errorf("%s.scheme: %q is neither http nor https", field, sc.Scheme)
		}
		for j, st := range sc.StaticConfigs {
			for k, t := range st.Targets {
				if _, err := url.Parse(sc.Scheme + "://" + t); err != nil || t == "" {
					return fmt.Errorf("%s.static_configs[%d].targets[%d]: %q is not host:port", field, j, k, t)
				}
			}
		}
	}
	return nil
}
