// Package bench is gmc's benchmark runner: constant-rate HTTP load with
// coordinated-omission-corrected latencies, repeated commands, `go test
// -bench`, SQL query latency and in-process Go functions; the statistics that
// decide whether a run regressed against its baseline; the run archive; and
// the weekly reports.
package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Kinds of benchmark.
const (
	KindHTTP    = "http"
	KindExec    = "exec"
	KindGoBench = "gobench"
	KindSQL     = "sql"
	KindFunc    = "func"
)

// Duration is a duration in bench.yml and gmc.yml ("500us", "15s", "7d").
type Duration = duration.Duration

// Config is the `benchmarks:` section of gmc.yml, and the whole of a
// bench.yml given to `gmc bench run` (there under the same `benchmarks:` key).
type Config struct {
	// RegressionThreshold is the smallest relative change in the worse
	// direction that is flagged, when significant (0.05 = 5%).
	RegressionThreshold float64 `yaml:"regression_threshold"`
	// Alpha is the significance level of the Mann-Whitney U test.
	Alpha float64 `yaml:"alpha"`
	// BaselineWindow is how far back the runs pooled into the baseline go.
	BaselineWindow Duration `yaml:"baseline_window"`
	// Baseline, when set, is a pinned run archive (JSON) used as the
	// baseline instead of the recent runs.
	Baseline string `yaml:"baseline"`
	// MinBaselineRuns is how many earlier runs the baseline must pool
	// before a run gets a verdict (a pinned baseline counts as enough).
	MinBaselineRuns int `yaml:"min_baseline_runs"`
	// MaxHostLoad marks a run taken while the host's 1-minute load average
	// per CPU was at least this (before the run began) as untrustworthy:
	// it gets no verdict and joins no baseline. 0 means the default (1).
	MaxHostLoad float64 `yaml:"max_host_load"`
	// Suite is the list of benchmarks.
	Suite []Benchmark `yaml:"suite"`
}

// Benchmark is one configured benchmark.
type Benchmark struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Labels are added to every series recorded for this benchmark.
	Labels map[string]string `yaml:"labels"`
	// Schedule says when `gmc server` runs it; empty: only on demand.
	Schedule Schedule `yaml:"schedule"`

	HTTP    *HTTPConfig    `yaml:"http"`
	Exec    *ExecConfig    `yaml:"exec"`
	GoBench *GoBenchConfig `yaml:"gobench"`
	SQL     *SQLConfig     `yaml:"sql"`
	Func    *FuncConfig    `yaml:"func"`
}

// Schedule is when a benchmark runs inside `gmc server`: exactly one of Every,
// Daily ("15:04", UTC) or Weekly ("mon 15:04", UTC).
type Schedule struct {
	Every  Duration `yaml:"every"`
	Daily  string   `yaml:"daily"`
	Weekly string   `yaml:"weekly"`
}

// HTTPConfig is an open-loop constant-rate HTTP load, like wrk2 or Vegeta.
type HTTPConfig struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`
	Body    string            `yaml:"body"`
	Headers map[string]string `yaml:"headers"`
	// Rate is the number of requests per second, scheduled at their
	// intended times. 0 is allowed only with mode closed (as fast as
	// possible, like wrk).
	Rate     float64  `yaml:"rate"`
	Duration Duration `yaml:"duration"`
	// Warmup is sent at the same rate before Duration and not recorded.
	Warmup Duration `yaml:"warmup"`
	// Connections bounds the requests in flight (and the connections).
	Connections int      `yaml:"connections"`
	Timeout     Duration `yaml:"timeout"`
	// Mode is open (default: latency from each request's intended start,
	// corrected for coordinated omission) or closed (latency from the
	// actual send, as a naive load generator measures it).
	Mode string `yaml:"mode"`
	// Samples is how many equal windows the run is cut into; each window's
	// Quantile latency is one sample for the regression test.
	Samples  int     `yaml:"samples"`
	Quantile float64 `yaml:"quantile"`
}

// ExecConfig runs a command several times, like hyperfine.
type ExecConfig struct {
	// Command is the argv; Shell is an alternative run with `sh -c`.
	Command []string          `yaml:"command"`
	Shell   string            `yaml:"shell"`
	Dir     string            `yaml:"dir"`
	Env     map[string]string `yaml:"env"`
	Runs    int               `yaml:"runs"`
	Warmup  int               `yaml:"warmup"`
	Timeout Duration          `yaml:"timeout"`
	// IgnoreFailure keeps a run whose command exited non-zero (or timed
	// out) a completed run, its exits counted as errors (hyperfine's
	// --ignore-failure). By default such a run failed: Run.Error says how
	// many exited how, and gmc_bench_run_failed is 1.
	IgnoreFailure bool `yaml:"ignore_failure"`
}

// GoBenchConfig runs `go test -bench` in Dir, or reads File (existing output).
type GoBenchConfig struct {
	Dir       string   `yaml:"dir"`
	Packages  []string `yaml:"packages"`
	Bench     string   `yaml:"bench"`
	Count     int      `yaml:"count"`
	Benchtime string   `yaml:"benchtime"`
	Args      []string `yaml:"args"`
	File      string   `yaml:"file"`
	Timeout   Duration `yaml:"timeout"`
}

// SQLConfig measures query latency against a database/sql DSN.
type SQLConfig struct {
	// Driver is a database/sql driver name; default pgx (PostgreSQL).
	Driver string `yaml:"driver"`
	DSN    string `yaml:"dsn"`
	Query  string `yaml:"query"`
	Args   []any  `yaml:"args"`
	// Iterations runs the query this many times back to back (closed
	// loop); Rate instead schedules it open-loop for Duration.
	Iterations  int      `yaml:"iterations"`
	Rate        float64  `yaml:"rate"`
	Duration    Duration `yaml:"duration"`
	Warmup      int      `yaml:"warmup"`
	Connections int      `yaml:"connections"`
	Timeout     Duration `yaml:"timeout"`
	Samples     int      `yaml:"samples"`
	Quantile    float64  `yaml:"quantile"`
}

// FuncConfig runs an in-process function registered in a Registry.
type FuncConfig struct {
	Name string `yaml:"name"`
	// Benchtime is how long one sample runs (default 1s).
	Benchtime Duration `yaml:"benchtime"`
	// Count is the number of samples (default 10).
	Count int `yaml:"count"`
}

// Defaults.
const (
	DefaultRegressionThreshold = 0.05
	DefaultAlpha               = 0.05
	DefaultBaselineWindow      = Duration(7 * 24 * time.Hour)
	DefaultSamples             = 10
	DefaultMinBaselineRuns     = 3
	DefaultMaxHostLoad         = 1.0
)

// DefaultConfig is the configuration with no benchmarks.
func DefaultConfig() Config {
	return Config{
		RegressionThreshold: DefaultRegressionThreshold,
		Alpha:               DefaultAlpha,
		BaselineWindow:      DefaultBaselineWindow,
		MinBaselineRuns:     DefaultMinBaselineRuns,
		MaxHostLoad:         DefaultMaxHostLoad,
	}
}

type fileConfig struct {
	Benchmarks Config `yaml:"benchmarks"`
}

// Load parses a bench.yml (top-level key `benchmarks:`) over the defaults,
// normalises and validates it.
func Load(data []byte) (Config, error) { return loadIn(data, "") }

func loadIn(data []byte, dir string) (Config, error) {
	cfg, err := decode(data)
	if err != nil {
		return Config{}, err
	}
	if dir != "" {
		cfg.SetDirectory(dir)
	}
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decode parses a bench.yml over the defaults, without normalising or
// validating.
func decode(data []byte) (Config, error) {
	fc := fileConfig{Benchmarks: DefaultConfig()}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse bench config: %w", err)
	}
	return fc.Benchmarks, nil
}

// LoadFile reads and loads the bench.yml at path; relative paths in it
// (baseline, exec and gobench dirs, gobench file) are resolved against its
// directory.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read bench config: %w", err)
	}
	cfg, err := loadIn(data, filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_.:/-]*$`)

// SetDirectory resolves relative paths against dir, the directory of the
// configuration file: the pinned baseline, exec and gobench dirs and the
// gobench file.
func (c *Config) SetDirectory(dir string) {
	c.Baseline = commoncfg.JoinDir(dir, c.Baseline)
	for _, b := range c.Suite {
		if b.Exec != nil {
			b.Exec.Dir = commoncfg.JoinDir(dir, b.Exec.Dir)
		}
		if b.GoBench != nil {
			b.GoBench.Dir = commoncfg.JoinDir(dir, b.GoBench.Dir)
			b.GoBench.File = commoncfg.JoinDir(dir, b.GoBench.File)
		}
	}
}

// Normalise fills the defaults: zero top-level values take theirs (so a
// config built in Go works) and each benchmark's section gets its kind's.
// It is idempotent; Load and config.Load call it before Validate.
func (c *Config) Normalise() {
	if c.RegressionThreshold == 0 {
		c.RegressionThreshold = DefaultRegressionThreshold
	}
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.BaselineWindow == 0 {
		c.BaselineWindow = DefaultBaselineWindow
	}
	if c.MinBaselineRuns == 0 {
		c.MinBaselineRuns = DefaultMinBaselineRuns
	}
	if c.MaxHostLoad == 0 {
		c.MaxHostLoad = DefaultMaxHostLoad
	}
	for i := range c.Suite {
		c.Suite[i].Normalise()
	}
}

// Normalise fills the defaults of the benchmark's section.
func (b *Benchmark) Normalise() {
	if b.HTTP != nil {
		b.HTTP.Normalise()
	}
	if b.Exec != nil {
		b.Exec.Normalise()
	}
	if b.GoBench != nil {
		b.GoBench.Normalise()
	}
	if b.SQL != nil {
		b.SQL.Normalise()
	}
	if b.Func != nil {
		b.Func.Normalise()
	}
}

// Validate checks every field of a normalised Config, naming the bad one.
// It never changes the config.
func (c *Config) Validate() error {
	if c.MinBaselineRuns < 0 {
		return fmt.Errorf("benchmarks.min_baseline_runs: %d must not be negative", c.MinBaselineRuns)
	}
	if c.MaxHostLoad < 0 {
		return fmt.Errorf("benchmarks.max_host_load: %v must not be negative", c.MaxHostLoad)
	}
	if c.RegressionThreshold < 0 || c.RegressionThreshold >= 10 {
		return fmt.Errorf("benchmarks.regression_threshold: %v is not a ratio in [0, 10) (0.05 = 5%%)", c.RegressionThreshold)
	}
	if c.Alpha <= 0 || c.Alpha >= 1 {
		return fmt.Errorf("benchmarks.alpha: %v is not in (0, 1)", c.Alpha)
	}
	if c.BaselineWindow < 0 {
		return errors.New("benchmarks.baseline_window: must not be negative")
	}
	seen := map[string]bool{}
	for i := range c.Suite {
		b := &c.Suite[i]
		field := fmt.Sprintf("benchmarks.suite[%d]", i)
		if !nameRE.MatchString(b.Name) {
			return fmt.Errorf("%s.name: %q is not a valid benchmark name (letters, digits, _ . : / -)", field, b.Name)
		}
		if seen[b.Name] {
			return fmt.Errorf("%s.name: %q is used twice", field, b.Name)
		}
		seen[b.Name] = true
		if err := b.validate(field); err != nil {
			return err
		}
	}
	return nil
}

func (b *Benchmark) validate(field string) error {
	for k := range b.Labels {
		if !model.LegacyValidation.IsValidLabelName(k) || k == "benchmark" || k == "quantile" || strings.HasPrefix(k, "__") {
			return fmt.Errorf("%s.labels: %q is not a usable label name", field, k)
		}
	}
	if err := b.Schedule.validate(field + ".schedule"); err != nil {
		return err
	}
	set := 0
	for _, p := range []bool{b.HTTP != nil, b.Exec != nil, b.GoBench != nil, b.SQL != nil, b.Func != nil} {
		if p {
			set++
		}
	}
	if set > 1 {
		return fmt.Errorf("%s: only the section of its kind (%s) may be set", field, b.Kind)
	}
	switch b.Kind {
	case KindHTTP:
		if b.HTTP == nil {
			return fmt.Errorf("%s.http: missing for kind http", field)
		}
		return b.HTTP.validate(field + ".http")
	case KindExec:
		if b.Exec == nil {
			return fmt.Errorf("%s.exec: missing for kind exec", field)
		}
		return b.Exec.validate(field + ".exec")
	case KindGoBench:
		if b.GoBench == nil {
			return fmt.Errorf("%s.gobench: missing for kind gobench", field)
		}
		return b.GoBench.validate(field + ".gobench")
	case KindSQL:
		if b.SQL == nil {
			return fmt.Errorf("%s.sql: missing for kind sql", field)
		}
		return b.SQL.validate(field + ".sql")
	case KindFunc:
		if b.Func == nil {
			return fmt.Errorf("%s.func: missing for kind func", field)
		}
		return b.Func.validate(field + ".func")
	default:
		return fmt.Errorf("%s.kind: %q is not one of http, exec, gobench, sql, func", field, b.Kind)
	}
}

func (s *Schedule) validate(field string) error {
	n := 0
	if s.Every != 0 {
		n++
		if s.Every < Duration(time.Second) {
			return fmt.Errorf("%s.every: %s is shorter than 1s", field, s.Every)
		}
	}
	if s.Daily != "" {
		n++
		if _, _, err := parseClock(s.Daily); err != nil {
			return fmt.Errorf("%s.daily: %w", field, err)
		}
	}
	if s.Weekly != "" {
		n++
		if _, _, _, err := parseWeekly(s.Weekly); err != nil {
			return fmt.Errorf("%s.weekly: %w", field, err)
		}
	}
	if n > 1 {
		return fmt.Errorf("%s: set only one of every, daily, weekly", field)
	}
	return nil
}

// IsZero reports whether no schedule is set.
func (s Schedule) IsZero() bool { return s.Every == 0 && s.Daily == "" && s.Weekly == "" }

func parseClock(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a time of day like 03:00", s)
	}
	return t.Hour(), t.Minute(), nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseWeekly(s string) (time.Weekday, int, int, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, 0, fmt.Errorf("%q is not like \"mon 03:00\"", s)
	}
	wd, ok := weekdays[strings.ToLower(f[0])[:min(3, len(f[0]))]]
	if !ok {
		return 0, 0, 0, fmt.Errorf("%q: %q is not a weekday (mon … sun)", s, f[0])
	}
	h, m, err := parseClock(f[1])
	if err != nil {
		return 0, 0, 0, err
	}
	return wd, h, m, nil
}

// Normalise fills the defaults: GET (method upper-cased), open mode, 16
// connections, a 10 s timeout, DefaultSamples samples of the 0.99 quantile.
func (h *HTTPConfig) Normalise() {
	if h.Method == "" {
		h.Method = "GET"
	}
	h.Method = strings.ToUpper(h.Method)
	if h.Mode == "" {
		h.Mode = ModeOpen
	}
	if h.Connections == 0 {
		h.Connections = 16
	}
	if h.Timeout == 0 {
		h.Timeout = Duration(10 * time.Second)
	}
	normaliseSamples(&h.Samples, &h.Quantile, 0.99)
}

func (h *HTTPConfig) validate(field string) error {
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s.url: %q is not an http(s) URL", field, h.URL)
	}
	if h.Mode != ModeOpen && h.Mode != ModeClosed {
		return fmt.Errorf("%s.mode: %q is neither open nor closed", field, h.Mode)
	}
	if h.Rate < 0 || (h.Rate == 0 && h.Mode == ModeOpen) {
		return fmt.Errorf("%s.rate: %v must be positive (0 only with mode closed)", field, h.Rate)
	}
	if h.Duration <= 0 {
		return fmt.Errorf("%s.duration: must be positive", field)
	}
	if h.Warmup < 0 {
		return fmt.Errorf("%s.warmup: must not be negative", field)
	}
	if h.Connections < 1 || h.Connections > 10000 {
		return fmt.Errorf("%s.connections: %d is not in 1..10000", field, h.Connections)
	}
	if h.Timeout <= 0 {
		return fmt.Errorf("%s.timeout: must be positive", field)
	}
	return validateSamples(field, h.Samples, h.Quantile)
}

func normaliseSamples(samples *int, q *float64, defaultQuantile float64) {
	if *samples == 0 {
		*samples = DefaultSamples
	}
	if *q == 0 {
		*q = defaultQuantile
	}
}

func validateSamples(field string, samples int, q float64) error {
	if samples < 1 || samples > 1000 {
		return fmt.Errorf("%s.samples: %d is not in 1..1000", field, samples)
	}
	if q <= 0 || q > 1 {
		return fmt.Errorf("%s.quantile: %v is not in (0, 1]", field, q)
	}
	return nil
}

// Normalise fills the defaults: DefaultSamples runs.
func (e *ExecConfig) Normalise() {
	if e.Runs == 0 {
		e.Runs = DefaultSamples
	}
}

func (e *ExecConfig) validate(field string) error {
	if len(e.Command) == 0 && e.Shell == "" {
		return fmt.Errorf("%s.command: set command (argv) or shell", field)
	}
	if len(e.Command) > 0 && e.Shell != "" {
		return fmt.Errorf("%s.shell: set either command or shell, not both", field)
	}
	if e.Runs < 1 || e.Runs > 100000 {
		return fmt.Errorf("%s.runs: %d is not in 1..100000", field, e.Runs)
	}
	if e.Warmup < 0 {
		return fmt.Errorf("%s.warmup: must not be negative", field)
	}
	if e.Timeout < 0 {
		return fmt.Errorf("%s.timeout: must not be negative", field)
	}
	return nil
}

// Normalise fills the defaults: packages ./..., every benchmark,
// DefaultSamples counts, a 30 min timeout.
func (g *GoBenchConfig) Normalise() {
	if len(g.Packages) == 0 {
		g.Packages = []string{"./..."}
	}
	if g.Bench == "" {
		g.Bench = "."
	}
	if g.Count == 0 {
		g.Count = DefaultSamples
	}
	if g.Timeout == 0 {
		g.Timeout = Duration(30 * time.Minute)
	}
}

func (g *GoBenchConfig) validate(field string) error {
	if (g.Dir == "") == (g.File == "") {
		return fmt.Errorf("%s: set exactly one of dir (run go test) or file (read its output)", field)
	}
	if _, err := regexp.Compile(g.Bench); err != nil {
		return fmt.Errorf("%s.bench: %q is not a regular expression: %w", field, g.Bench, err)
	}
	if g.Count < 1 {
		return fmt.Errorf("%s.count: must be positive", field)
	}
	if g.Timeout < 0 {
		return fmt.Errorf("%s.timeout: must not be negative", field)
	}
	return nil
}

// Normalise fills the defaults: driver pgx, 1000 iterations unless a rate
// is set, 1 connection, a 10 s timeout, DefaultSamples samples of the
// median.
func (s *SQLConfig) Normalise() {
	if s.Driver == "" {
		s.Driver = "pgx"
	}
	if s.Rate == 0 && s.Iterations == 0 {
		s.Iterations = 1000
	}
	if s.Connections == 0 {
		s.Connections = 1
	}
	if s.Timeout == 0 {
		s.Timeout = Duration(10 * time.Second)
	}
	normaliseSamples(&s.Samples, &s.Quantile, 0.5)
}

func (s *SQLConfig) validate(field string) error {
	if s.DSN == "" {
		return fmt.Errorf("%s.dsn: must not be empty", field)
	}
	if strings.TrimSpace(s.Query) == "" {
		return fmt.Errorf("%s.query: must not be empty", field)
	}
	if s.Rate < 0 {
		return fmt.Errorf("%s.rate: must not be negative", field)
	}
	if s.Rate > 0 {
		if s.Iterations != 0 {
			return fmt.Errorf("%s.iterations: set either iterations or rate, not both", field)
		}
		if s.Duration <= 0 {
			return fmt.Errorf("%s.duration: must be positive with rate", field)
		}
	} else if s.Iterations < 1 {
		return fmt.Errorf("%s.iterations: must be positive", field)
	}
	if s.Warmup < 0 {
		return fmt.Errorf("%s.warmup: must not be negative", field)
	}
	if s.Connections < 1 || s.Connections > 1000 {
		return fmt.Errorf("%s.connections: %d is not in 1..1000", field, s.Connections)
	}
	if s.Timeout < 0 {
		return fmt.Errorf("%s.timeout: must not be negative", field)
	}
	return validateSamples(field, s.Samples, s.Quantile)
}

// Normalise fills the defaults: 1 s per sample, DefaultSamples samples.
func (f *FuncConfig) Normalise() {
	if f.Benchtime == 0 {
		f.Benchtime = Duration(time.Second)
	}
	if f.Count == 0 {
		f.Count = DefaultSamples
	}
}

func (f *FuncConfig) validate(field string) error {
	if f.Name == "" {
		return fmt.Errorf("%s.name: must name a registered function", field)
	}
	if f.Benchtime <= 0 {
		return fmt.Errorf("%s.benchtime: must be positive", field)
	}
	if f.Count < 1 || f.Count > 10000 {
		return fmt.Errorf("%s.count: %d is not in 1..10000", field, f.Count)
	}
	return nil
}

// formatFloat prints v compactly for labels and tables.
