// Package config is gmc.yml: it aggregates the configuration types each
// component owns (ingest.Limits, ingest.ScrapeConfig, rules.Config,
// notify.Config, sla.SLA, bench.Config) with the server's own sections, and
// loads, normalises and validates the whole. Components never import it.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/auth"
	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/cluster"
	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/forward"
	"github.com/gmc-dev/gmc/internal/ingest"
	"github.com/gmc-dev/gmc/internal/notify"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/rules"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/tier"
)

// Config is the whole gmc.yml.
type Config struct {
	Server      Server             `yaml:"server"`
	Storage     Storage            `yaml:"storage"`
	Limits      ingest.Limits      `yaml:"limits"`
	Pushgateway ingest.Pushgateway `yaml:"pushgateway"`
	// OTLP configures OTLP/HTTP metrics ingest, as Prometheus's otlp: section.
	OTLP          ingest.OTLP           `yaml:"otlp"`
	ScrapeConfigs []ingest.ScrapeConfig `yaml:"scrape_configs"`
	Alerting      rules.Config          `yaml:"alerting"`
	// Notify routes alerts to receivers, in Alertmanager's shape.
	Notify notify.Config `yaml:"notify"`
	// Silences bounds the silences (Alertmanager's --silences.* flags).
	Silences notify.SilencesConfig `yaml:"silences"`
	// SLAs are the service-level agreements gmc tracks.
	SLAs []sla.SLA `yaml:"slas"`
	// Benchmarks are run on their schedules inside gmc server.
	Benchmarks bench.Config `yaml:"benchmarks"`
	// RemoteWrite forwards everything gmc ingests, in Prometheus's
	// remote_write schema.
	RemoteWrite forward.Config `yaml:"remote_write"`
	// Cluster makes this server one of a highly available group
	// (Alertmanager's cluster flags, as YAML).
	Cluster cluster.Config `yaml:"cluster"`
	// Auth sets who may read, write and administer gmc.
	Auth auth.Config `yaml:"auth"`
	// Query bounds what queries may cost.
	Query query.Config `yaml:"query"`
}

// Server is where gmc listens and keeps its data.
type Server struct {
	ListenAddress string `yaml:"listen_address"`
	DataDir       string `yaml:"data_dir"`
	// StaleAfter marks a service stale when it has sent nothing for this long.
	StaleAfter Duration `yaml:"stale_after"`
	// DownAfter marks a service down when it has sent nothing for this long.
	DownAfter Duration `yaml:"down_after"`
	// ServiceLiveness overrides stale_after and down_after per service
	// (by the value of its service label), e.g. for one that pushes every
	// minute.
	ServiceLiveness map[string]Liveness `yaml:"service_liveness,omitempty"`
	// ReadTimeout bounds reading one request, headers and body (a client
	// dripping a body is cut off); 0: no bound.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing one answer (the dashboard's event stream
	// is exempt); 0: no bound.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long; 0: ReadTimeout.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections caps open connections (Prometheus's
	// --web.max-connections); further ones wait to be accepted. Keep it
	// well below the process's open-files limit. 0: no cap.
	MaxConnections int `yaml:"max_connections"`
}

// Liveness is one service's stale_after and down_after; an unset field
// keeps server's.
type Liveness struct {
	StaleAfter Duration `yaml:"stale_after,omitempty"`
	DownAfter  Duration `yaml:"down_after,omitempty"`
}

// Storage configures the embedded Prometheus TSDB.
type Storage struct {
	Retention Duration `yaml:"retention"`
	// OutOfOrderWindow accepts samples this much older than a series' newest one
	// (several senders, backfill after an outage).
	OutOfOrderWindow Duration `yaml:"out_of_order_window"`
	// BlockDuration is how much time the head holds before it is cut into a
	// block (Prometheus's hidden --storage.tsdb.min-block-duration; 0: the
	// TSDB's 2h). Shorter only to watch compaction cycles in a soak or test.
	BlockDuration Duration `yaml:"block_duration,omitempty"`
	// Mode is "local" (the embedded TSDB, the default) or "remote": no TSDB
	// here; writes go to WriteURL by remote write and reads come from
	// ReadURL by remote read (Mimir, Cortex, Prometheus, Thanos).
	Mode     string `yaml:"mode"`
	WriteURL string `yaml:"write_url"`
	ReadURL  string `yaml:"read_url"`
	// Headers go with every remote request (X-Scope-OrgID for Mimir).
	Headers map[string]string `yaml:"headers"`
	// HTTPConfig is auth and TLS for the remote, in Prometheus's schema.
	HTTPConfig commoncfg.HTTPClientConfig `yaml:"http_config"`
	// Downsampling keeps 1m, 10m and 1h tiers beside the raw data (docs/history.md).
	Downsampling tier.Config `yaml:"downsampling"`
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
			// A service pushing every second (the SDK's and the agent's
			// default) is stale after 5 missed pushes, down after 8 (shown
			// down within 10 s, with a margin).
			StaleAfter:     Duration(5 * time.Second),
			DownAfter:      Duration(8 * time.Second),
			ReadTimeout:    Duration(time.Minute),
			WriteTimeout:   Duration(2 * time.Minute),
			IdleTimeout:    Duration(time.Minute),
			MaxConnections: 512,
		},
		Storage: Storage{
			Retention:        Duration(15 * 24 * time.Hour),
			OutOfOrderWindow: Duration(time.Hour),
		},
		Limits:     ingest.DefaultLimits(),
		Alerting:   rules.DefaultConfig(),
		Benchmarks: bench.DefaultConfig(),
		Query:      query.DefaultConfig(),
		Silences:   notify.DefaultSilencesConfig(),
	}
}

// Load parses YAML over the defaults, normalises and validates the result.
// Relative paths in it are left as they are (relative to the working
// directory); LoadFile resolves them against the file's directory.
func Load(data []byte) (Config, error) { return load(data, "") }

func load(data []byte, dir string) (Config, error) {
	cfg, err := decode(data)
	if err != nil {
		return Config{}, err
	}
	if dir != "" {
		cfg.SetDirectory(dir)
	}
	cfg.Normalise()
	if errs := cfg.validate(); len(errs) > 0 {
		for i, err := range errs {
			errs[i] = withLine(data, err)
		}
		return Config{}, errors.Join(errs...)
	}
	return cfg, nil
}

// withLine prefixes err with the line of the field it names ("line 7: …")
// when the YAML data has it.
func withLine(data []byte, err error) error {
	if line := fieldLine(data, err.Error()); line > 0 {
		return fmt.Errorf("line %d: %w", line, err)
	}
	return err
}

// fieldLine is the line in the YAML data of the field a validation error
// names first ("slas[1].objective: …"), or of the nearest of its parents
// written there; 0 when none is (a default, or no path).
func fieldLine(data []byte, msg string) int {
	path, _, ok := strings.Cut(msg, ":")
	if !ok || strings.ContainsAny(path, " ,") {
		return 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n, line := doc.Content[0], 0
	for _, part := range strings.Split(path, ".") {
		key, idx, indexed := part, "", false
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key, idx, indexed = part[:i], part[i+1:len(part)-1], true
		}
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
					line = n.Content[i].Line
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if indexed {
			i, err := strconv.Atoi(idx)
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return line
			}
			n, line = n.Content[i], n.Content[i].Line
		}
	}
	return line
}

// decode parses YAML over the defaults (unknown fields are errors), without
// normalising or validating.
func decode(data []byte) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		if strings.Contains(err.Error(), "field global not found") {
			// A Prometheus config refused without a word on why
			// (t-user12 F5).
			return Config{}, fmt.Errorf("parse config: %w (a prometheus.yml? gmc.yml has no global section: its scrape_configs are at the top level, each job with its own scrape_interval, and alerting, rule files and remote_write have their own sections; see docs/ingest.md)", err)
		}
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	return cfg, nil
}

// LoadFile reads and loads the YAML file at path. Relative file paths in
// it (rule_files, *_file, tls_config files, benchmark baselines and dirs)
// are resolved against the file's directory, as Prometheus and Alertmanager
// do; server.data_dir stays relative to the working directory, as
// Prometheus's --storage.tsdb.path.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := load(data, filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// SetDirectory joins every relative file path of the configuration with
// dir (commoncfg.DirectorySetter): each component resolves its own.
func (c *Config) SetDirectory(dir string) {
	c.Storage.HTTPConfig.SetDirectory(dir)
	c.Alerting.SetDirectory(dir)
	c.Notify.SetDirectory(dir)
	c.Benchmarks.SetDirectory(dir)
	c.RemoteWrite.SetDirectory(dir)
	c.Auth.SetDirectory(dir)
}

var _ commoncfg.DirectorySetter = (*Config)(nil)

// Normalise fills the defaults that depend on what was configured, through
// each component's own Normalise (scrape jobs, thresholds, notify routes and
// channels, SLAs, benchmarks, remote_write relabelling, downsampling tiers, cluster timings). Load calls it; a Config
// built in code calls it before Validate. It is idempotent.
func (c *Config) Normalise() {
	for i := range c.ScrapeConfigs {
		c.ScrapeConfigs[i].Normalise()
	}
	c.Alerting.Normalise()
	for i := range c.SLAs {
		c.SLAs[i].Normalise()
	}
	if c.Notify.InhibitRules == nil {
		c.Notify.InhibitRules = c.DerivedInhibitRules()
	}
	c.Notify.Normalise()
	c.Benchmarks.Normalise()
	c.RemoteWrite.Normalise()
	c.Storage.Downsampling.Normalise()
	c.Cluster.Normalise()
}

// DerivedInhibitRules are the inhibit rules Normalise fills in when
// notify.inhibit_rules is absent: the defaults, and the burn-alert
// collapse of every SLA whose burn windows are not the default ones (its
// period is not 30d, or it sets windows). They change with the SLAs.
func (c *Config) DerivedInhibitRules() []notify.InhibitRule {
	rules := notify.DefaultInhibitRules()
	for _, s := range c.SLAs {
		for _, p := range s.BurnCollapses() {
			if p != [2]string{"1h", "6h"} && p != [2]string{"1d", "3d"} {
				rules = append(rules, notify.BurnCollapseRule(s.Name, p[0], p[1]))
			}
		}
	}
	return rules
}

// Validate checks every field of a normalised Config; errors name the field.
// It reports every section that is invalid (errors.Join), each by its
// first error; it never changes the Config (nor do the components'
// Validate it calls).
func (c *Config) Validate() error { return errors.Join(c.validate()...) }

// validate is Validate's errors, one per invalid check, in file order.
func (c *Config) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(c.validateServer())
	add(c.validateStorage())
	// Each component validates its own section; its errors name the field.
	for _, validate := range []func() error{
		c.Limits.Validate, c.Pushgateway.Validate, c.Alerting.Validate,
	} {
		add(validate())
	}
	errs = append(errs, c.validateAlerting()...)
	for _, validate := range []func() error{
		c.RemoteWrite.Validate, c.Cluster.Validate, c.Auth.Validate, c.Query.Validate,
		c.OTLP.Validate,
		c.Silences.Validate,
	} {
		add(validate())
	}
	add(ingest.ValidateScrapeConfigs(c.ScrapeConfigs))
	return errs
}

func (c *Config) validateServer() error {
	if c.Server.ListenAddress == "" {
		return errors.New("server.listen_address: must not be empty")
	}
	if c.Server.DataDir == "" {
		return errors.New("server.data_dir: must not be empty")
	}
	switch {
	case c.Server.ReadTimeout < 0:
		return errors.New("server.read_timeout: must not be negative")
	case c.Server.WriteTimeout < 0:
		return errors.New("server.write_timeout: must not be negative")
	case c.Server.IdleTimeout < 0:
		return errors.New("server.idle_timeout: must not be negative")
	case c.Server.MaxConnections < 0:
		return errors.New("server.max_connections: must not be negative")
	}
	if c.Server.StaleAfter <= 0 || c.Server.DownAfter <= 0 {
		return errors.New("server.stale_after, server.down_after: must be positive")
	}
	if c.Server.StaleAfter > c.Server.DownAfter {
		return fmt.Errorf("server.stale_after: %s is longer than down_after %s", c.Server.StaleAfter, c.Server.DownAfter)
	}
	for _, svc := range slices.Sorted(maps.Keys(c.Server.ServiceLiveness)) {
		lv := c.Server.ServiceLiveness[svc]
		stale, down := cmp.Or(lv.StaleAfter, c.Server.StaleAfter), cmp.Or(lv.DownAfter, c.Server.DownAfter)
		if lv.StaleAfter < 0 || lv.DownAfter < 0 || stale > down {
			return fmt.Errorf("server.service_liveness[%q]: stale_after %s and down_after %s must be positive, stale_after not longer", svc, stale, down)
		}
	}
	return nil
}

func (c *Config) validateStorage() error {
	if c.Storage.Retention <= 0 {
		return errors.New("storage.retention: must be positive")
	}
	switch c.Storage.Mode {
	case "", "local":
		if c.Storage.WriteURL != "" || c.Storage.ReadURL != "" {
			return errors.New("storage.write_url, storage.read_url: only with storage.mode: remote")
		}
	case "remote":
		for field, u := range map[string]string{"write_url": c.Storage.WriteURL, "read_url": c.Storage.ReadURL} {
			if pu, err := url.Parse(u); err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
				return fmt.Errorf("storage.%s: %q is not an http(s) URL", field, u)
			}
		}
		if len(c.RemoteWrite) > 0 {
			return errors.New("remote_write: not with storage.mode: remote (the writes already go to storage.write_url)")
		}
		if err := c.Storage.HTTPConfig.Validate(); err != nil {
			return fmt.Errorf("storage.http_config: %w", err)
		}
	default:
		return fmt.Errorf("storage.mode: %q is neither local nor remote", c.Storage.Mode)
	}
	if c.Storage.OutOfOrderWindow < 0 {
		return errors.New("storage.out_of_order_window: must not be negative")
	}
	if b := time.Duration(c.Storage.BlockDuration); b != 0 && (b < 5*time.Minute || b%time.Minute != 0) {
		return fmt.Errorf("storage.block_duration: %s must be 0 (2h) or whole minutes of at least 5m", b)
	}
	if err := c.Storage.Downsampling.Validate(); err != nil {
		return fmt.Errorf("storage.downsampling.%w", err)
	}
	return nil
}

// Duration is a duration in gmc.yml.
type Duration = duration.Duration

// ParseDuration parses a duration in gmc.yml's syntax (duration.Parse).
func ParseDuration(s string) (Duration, error) { return duration.Parse(s) }

// validateAlerting checks each SLA, notify and the benchmarks.
func (c *Config) validateAlerting() []error {
	var errs []error
	names := map[string]bool{}
	for i := range c.SLAs {
		if err := c.SLAs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("slas[%d].%w", i, err))
		} else if names[c.SLAs[i].Name] {
			errs = append(errs, fmt.Errorf("slas[%d].name: %q is used twice", i, c.SLAs[i].Name))
		}
		names[c.SLAs[i].Name] = true
	}
	if err := c.Notify.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("notify.%w", err))
	}
	if err := c.Benchmarks.Validate(); err != nil {
		errs = append(errs, err) // its messages name benchmarks.<field> already
	}
	return errs
}
