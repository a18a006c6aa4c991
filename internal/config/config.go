// Package config holds gmc's YAML configuration: its schema, defaults and validation.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/forward"
	"github.com/gmc-dev/gmc/internal/notify"
	"github.com/gmc-dev/gmc/internal/rules"
	"github.com/gmc-dev/gmc/internal/sla"
)

// Config is the whole gmc.yml.
type Config struct {
	Server        Server         `yaml:"server"`
	Storage       Storage        `yaml:"storage"`
	Limits        Limits         `yaml:"limits"`
	ScrapeConfigs []ScrapeConfig `yaml:"scrape_configs"`
	Alerting      Alerting       `yaml:"alerting"`
	// Notify routes alerts to receivers, in Alertmanager's shape.
	Notify notify.Config `yaml:"notify"`
	// SLAs are the service-level agreements gmc tracks.
	SLAs []sla.SLA `yaml:"slas"`
	// Benchmarks are run on their schedules inside gmc server.
	Benchmarks bench.Config `yaml:"benchmarks"`
	// RemoteWrite forwards everything gmc ingests, in Prometheus's
	// remote_write schema.
	RemoteWrite forward.Config `yaml:"remote_write"`
}

// Alerting configures rule evaluation.
type Alerting struct {
	EvaluationInterval Duration `yaml:"evaluation_interval"`
	// DefaultRules loads the product's rules: CPU > 90%, memory > 85%,
	// latency > 1 ms, service down.
	DefaultRules bool              `yaml:"default_rules"`
	RuleFiles    []string          `yaml:"rule_files"`
	Thresholds   []rules.Threshold `yaml:"thresholds"`
}

// Server is where gmc listens and keeps its data.
type Server struct {
	ListenAddress string `yaml:"listen_address"`
	DataDir       string `yaml:"data_dir"`
	// StaleAfter marks a service stale when it has sent nothing for this long.
	StaleAfter Duration `yaml:"stale_after"`
	// DownAfter marks a service down when it has sent nothing for this long.
	DownAfter Duration `yaml:"down_after"`
}

// Storage configures the embedded Prometheus TSDB.
type Storage struct {
	Retention Duration `yaml:"retention"`
	// OutOfOrderWindow accepts samples this much older than a series' newest one
	// (several senders, backfill after an outage).
	OutOfOrderWindow Duration `yaml:"out_of_order_window"`
}

// Limits bound what one write request may carry.
type Limits struct {
	MaxBodyBytes        int64    `yaml:"max_body_bytes"`
	MaxSeriesPerRequest int      `yaml:"max_series_per_request"`
	MaxLabelsPerSeries  int      `yaml:"max_labels_per_series"`
	MaxLabelNameLength  int      `yaml:"max_label_name_length"`
	MaxLabelValueLength int      `yaml:"max_label_value_length"`
	MaxSampleAge        Duration `yaml:"max_sample_age"`
	MaxFutureSkew       Duration `yaml:"max_future_skew"`
}

// ScrapeConfig is one scrape job, as in Prometheus's scrape_configs.
type ScrapeConfig struct {
	JobName        string         `yaml:"job_name"`
	ScrapeInterval Duration       `yaml:"scrape_interval"`
	ScrapeTimeout  Duration       `yaml:"scrape_timeout"`
	MetricsPath    string         `yaml:"metrics_path"`
	Scheme         string         `yaml:"scheme"`
	StaticConfigs  []StaticConfig `yaml:"static_configs"`
}

// StaticConfig is a fixed list of targets sharing labels.
type StaticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// Defaults.
const (
	DefaultListenAddress = "127.0.0.1:9900"
	DefaultDataDir       = "./data"
)

// Default returns the configuration gmc runs with when no file is given.
func Default() Config {
	return Config{
		Server: Server{
			ListenAddress: DefaultListenAddress,
			DataDir:       DefaultDataDir,
			StaleAfter:    Duration(30 * time.Second),
			DownAfter:     Duration(5 * time.Minute),
		},
		Storage: Storage{
			Retention:        Duration(15 * 24 * time.Hour),
			OutOfOrderWindow: Duration(time.Hour),
		},
		Limits: Limits{
			MaxBodyBytes:        32 << 20,
			MaxSeriesPerRequest: 100_000,
			MaxLabelsPerSeries:  40,
			MaxLabelNameLength:  256,
			MaxLabelValueLength: 2048,
			MaxSampleAge:        Duration(0), // 0: the TSDB's own bound (head min time and OOO window) applies
			MaxFutureSkew:       Duration(10 * time.Minute),
		},
		Alerting: Alerting{
			EvaluationInterval: Duration(10 * time.Second),
			DefaultRules:       true,
		},
		Benchmarks: bench.DefaultConfig(),
	}
}

// Load parses YAML over the defaults and validates the result.
func Load(data []byte) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadFile reads and loads the YAML file at path.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Load(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

var jobNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]*$`)

// Validate checks every field and fills the per-job scrape defaults.
func (c *Config) Validate() error {
	if c.Server.ListenAddress == "" {
		return errors.New("server.listen_address: must not be empty")
	}
	if c.Server.DataDir == "" {
		return errors.New("server.data_dir: must not be empty")
	}
	if c.Storage.Retention <= 0 {
		return errors.New("storage.retention: must be positive")
	}
	if c.Storage.OutOfOrderWindow < 0 {
		return errors.New("storage.out_of_order_window: must not be negative")
	}
	l := c.Limits
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
	}
	if err := c.validateAlerting(); err != nil {
		return err
	}
	if err := c.RemoteWrite.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range c.ScrapeConfigs {
		sc := &c.ScrapeConfigs[i]
		field := fmt.Sprintf("scrape_configs[%d]", i)
		if !jobNameRE.MatchString(sc.JobName) {
			return fmt.Errorf("%s.job_name: %q is not a valid job name", field, sc.JobName)
		}
		if seen[sc.JobName] {
			return fmt.Errorf("%s.job_name: %q is used twice", field, sc.JobName)
		}
		seen[sc.JobName] = true
		if sc.ScrapeInterval == 0 {
			sc.ScrapeInterval = Duration(15 * time.Second)
		}
		if sc.ScrapeTimeout == 0 {
			sc.ScrapeTimeout = min(sc.ScrapeInterval, Duration(10*time.Second))
		}
		if sc.ScrapeInterval < 0 || sc.ScrapeTimeout < 0 {
			return fmt.Errorf("%s: scrape_interval and scrape_timeout must be positive", field)
		}
		if sc.ScrapeTimeout > sc.ScrapeInterval {
			return fmt.Errorf("%s.scrape_timeout: %s is longer than scrape_interval %s", field, sc.ScrapeTimeout, sc.ScrapeInterval)
		}
		if sc.MetricsPath == "" {
			sc.MetricsPath = "/metrics"
		}
		if sc.Scheme == "" {
			sc.Scheme = "http"
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

// Duration is a Prometheus-style duration ("500ms", "15s", "1h", "15d") in YAML.
type Duration model.Duration

// String formats d as Prometheus does ("15d", "1h30m").
func (d Duration) String() string { return model.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler; errors name the line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ParseDuration parses a Prometheus-style duration such as "15d".
func ParseDuration(s string) (Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 500ms, 15s, 1h, 15d)", s)
	}
	return Duration(d), nil
}

func (c *Config) validateAlerting() error {
	if c.Alerting.EvaluationInterval <= 0 {
		return errors.New("alerting.evaluation_interval: must be positive")
	}
	for i := range c.Alerting.Thresholds {
		if err := c.Alerting.Thresholds[i].Validate(); err != nil {
			return fmt.Errorf("alerting.thresholds[%d].%w", i, err)
		}
	}
	names := map[string]bool{}
	for i := range c.SLAs {
		if err := c.SLAs[i].Validate(); err != nil {
			return fmt.Errorf("slas[%d].%w", i, err)
		}
		if names[c.SLAs[i].Name] {
			return fmt.Errorf("slas[%d].name: %q is used twice", i, c.SLAs[i].Name)
		}
		names[c.SLAs[i].Name] = true
	}
	if err := c.Notify.Validate(); err != nil {
		return fmt.Errorf("notify.%w", err)
	}
	if err := c.Benchmarks.Validate(); err != nil {
		return err // its messages name benchmarks.<field> already
	}
	return nil
}
