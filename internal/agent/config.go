package agent

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	promconfig "github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Defaults of the agent.
const (
	DefaultGMCURL        = "http://127.0.0.1:9900"
	DefaultInterval      = time.Second
	DefaultSpoolDir      = "./agent-spool"
	DefaultSpoolMaxBytes = 256 << 20
	DefaultListenAddress = "127.0.0.1:9901"
	DefaultJob           = "gmc-agent"
)

// Config is the agent's YAML file (all optional; flags override it):
//
//	gmc_url: http://127.0.0.1:9900
//	interval: 1s
//	spool: {dir: /var/lib/gmc-agent/spool, max_bytes: 268435456}
//	web: {listen_address: 127.0.0.1:9901}   # "" serves no /metrics
//	external_labels: {instance: host-1, job: gmc-agent, host: host-1}
//	processes:
//	  - {service: matching-engine, name: matching-engine}
//	  - {service: risk, pidfile: /run/risk.pid}
//	  - {service: gateway, cgroup: system.slice/gateway.service}
//	host: {interrupts: true}   # per-IRQ counts, off by default
type Config struct {
	GMCURL         string            `yaml:"gmc_url"`
	Interval       duration.Duration `yaml:"interval"`
	Spool          SpoolConfig       `yaml:"spool"`
	Web            WebConfig         `yaml:"web"`
	ExternalLabels map[string]string `yaml:"external_labels"`
	Processes      []Process         `yaml:"processes"`
	Host           HostConfig        `yaml:"host"`
	// BearerTokenFile holds a token with gmc's write role, sent with every
	// push (gmc's auth.tokens).
	BearerTokenFile string `yaml:"bearer_token_file"`
	// TLSConfig is for an https gmc_url (Prometheus's tls_config: ca_file,
	// cert_file, key_file, server_name, insecure_skip_verify).
	TLSConfig promconfig.TLSConfig `yaml:"tls_config"`
}

// SpoolConfig is where requests wait while gmc is unreachable.
type SpoolConfig struct {
	Dir      string `yaml:"dir"`
	MaxBytes int64  `yaml:"max_bytes"`
}

// HostConfig selects optional host metrics.
type HostConfig struct {
	// Interrupts reports /proc/interrupts per IRQ line and CPU as
	// node_interrupts_total{cpu,type,info,devices} (node_exporter's
	// interrupts collector, off by default there too: CPUs × IRQ lines
	// series, thousands on a large host with multi-queue NICs). The total,
	// node_intr_total, is always reported.
	Interrupts bool `yaml:"interrupts"`
}

// WebConfig is the agent's own HTTP endpoint (/metrics, /-/healthy).
type WebConfig struct {
	ListenAddress string `yaml:"listen_address"`
}

// DefaultConfig is the configuration without a file: external labels
// instance=<hostname> and job=gmc-agent. The pusher adds host=<hostname>
// too (sdk.PusherOptions.Host), the label services pushing through the SDK
// on the same machine carry: the dashboard joins them on it.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		GMCURL:         DefaultGMCURL,
		Interval:       duration.Duration(DefaultInterval),
		Spool:          SpoolConfig{Dir: DefaultSpoolDir, MaxBytes: DefaultSpoolMaxBytes},
		Web:            WebConfig{ListenAddress: DefaultListenAddress},
		ExternalLabels: map[string]string{"instance": host, "job": DefaultJob},
	}
}

// SetDirectory resolves relative bearer_token_file and tls_config files
// against dir, the directory of the configuration file (spool.dir, like a
// data directory, stays relative to the working directory).
func (c *Config) SetDirectory(dir string) {
	c.BearerTokenFile = promconfig.JoinDir(dir, c.BearerTokenFile)
	c.TLSConfig.SetDirectory(dir)
}

var _ promconfig.DirectorySetter = (*Config)(nil)

// LoadConfigFile reads a YAML file over DefaultConfig; relative file paths
// in it are resolved against its directory.
func LoadConfigFile(path string) (Config, error) {
	cfg := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read agent config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("parse agent config %s: %w", path, err)
	}
	cfg.SetDirectory(filepath.Dir(path))
	return cfg, cfg.Validate()
}

// Validate checks the configuration, naming the bad field.
func (c Config) Validate() error {
	u, err := url.Parse(c.GMCURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("gmc_url %q: want an http(s) URL such as %s", c.GMCURL, DefaultGMCURL)
	}
	if c.Interval <= 0 {
		return fmt.Errorf("interval %v: must be positive", c.Interval)
	}
	if c.Spool.MaxBytes <= 0 {
		return fmt.Errorf("spool.max_bytes %d: must be positive", c.Spool.MaxBytes)
	}
	var errs []error
	seen := map[string]bool{}
	for i, p := range c.Processes {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("processes[%d]: %w", i, err))
		}
		if seen[p.Service] {
			errs = append(errs, fmt.Errorf("processes[%d]: service %q listed twice", i, p.Service))
		}
		seen[p.Service] = true
	}
	return errors.Join(errs...)
}
