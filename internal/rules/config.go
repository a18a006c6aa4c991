package rules

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Config is the `alerting:` section of gmc.yml: how often rules run and
// which rules there are besides those generated from SLAs.
type Config struct {
	EvaluationInterval duration.Duration `yaml:"evaluation_interval"`
	// DefaultRules loads the product's rules: CPU > 90%, memory > 85%,
	// latency > 1 ms, service down.
	DefaultRules bool `yaml:"default_rules"`
	// RuleFiles are globs of Prometheus rule files; relative ones are
	// resolved against the directory of the configuration file.
	RuleFiles  []string    `yaml:"rule_files"`
	Thresholds []Threshold `yaml:"thresholds"`
}

// DefaultConfig is the configuration gmc runs with unless configured:
// evaluation every 10s, the default rules on.
func DefaultConfig() Config {
	return Config{EvaluationInterval: duration.Duration(10 * time.Second), DefaultRules: true}
}

// SetDirectory resolves relative rule_files globs against dir, the directory
// of the configuration file.
func (c *Config) SetDirectory(dir string) {
	for i, f := range c.RuleFiles {
		c.RuleFiles[i] = commoncfg.JoinDir(dir, f)
	}
}

// Normalise fills the thresholds' defaults.
func (c *Config) Normalise() {
	for i := range c.Thresholds {
		c.Thresholds[i].Normalise()
	}
}

// Validate checks the section; errors name the field under `alerting.`.
func (c Config) Validate() error {
	if c.EvaluationInterval <= 0 {
		return errors.New("alerting.evaluation_interval: must be positive")
	}
	names := map[string]bool{}
	for i := range c.Thresholds {
		t := &c.Thresholds[i]
		if err := t.Validate(); err != nil {
			return fmt.Errorf("alerting.thresholds[%d].%w", i, err)
		}
		if names[t.Name] {
			return fmt.Errorf("alerting.thresholds[%d].name: %q is used twice", i, t.Name)
		}
		names[t.Name] = true
	}
	return nil
}

// CheckRuleFiles parses every rule file the rule_files globs match, as gmc
// server loads them (rulefmt's parser and validation): `gmc check config`
// said SUCCESS for a file whose rule file did not parse, and the reload
// then failed (t-user14b F2). Each file's errors are returned, joined.
func (c Config) CheckRuleFiles() error {
	p := parser.NewParser(parser.Options{})
	var errs []error
	for i, pat := range c.RuleFiles {
		matches, err := filepath.Glob(pat)
		if err != nil {
			errs = append(errs, fmt.Errorf("alerting.rule_files[%d]: %q: %w", i, pat, err))
			continue
		}
		for _, f := range matches {
			_, fe := rulefmt.ParseFile(f, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
			for j, e := range fe {
				// Each error once (rulefmt may give one twice).
				if !slices.ContainsFunc(fe[:j], func(o error) bool { return o.Error() == e.Error() }) {
					errs = append(errs, fmt.Errorf("alerting.rule_files[%d]: %w", i, e))
				}
			}
		}
	}
	return errors.Join(errs...)
}
