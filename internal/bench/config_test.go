package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestLoadValid(t *testing.T) {
	cfg, err := Load([]byte(`
benchmarks:
  regression_threshold: 0.1
  suite:
    - name: orders
      kind: http
      schedule: {every: 1h}
      labels: {team: core}
      http: {url: "http://127.0.0.1:9901/orders", method: post, rate: 500, duration: 10s}
    - name: db
      kind: sql
      schedule: {daily: "03:00"}
      sql: {dsn: "postgres://x@127.0.0.1/db", query: "select 1"}
    - name: tps
      kind: func
      schedule: {weekly: "mon 04:30"}
      func: {name: matching-engine/place-order}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RegressionThreshold != 0.1 || cfg.Alpha != 0.05 || cfg.BaselineWindow != Duration(7*24*time.Hour) {
		t.Errorf("top-level defaults: %+v", cfg)
	}
	h := cfg.Suite[0].HTTP
	if h.Method != "POST" || h.Mode != ModeOpen || h.Connections != 16 || h.Samples != 10 || h.Quantile != 0.99 || h.Timeout != Duration(10*time.Second) {
		t.Errorf("http defaults: %+v", h)
	}
	s := cfg.Suite[1].SQL
	if s.Driver != "pgx" || s.Iterations != 1000 || s.Connections != 1 || s.Quantile != 0.5 {
		t.Errorf("sql defaults: %+v", s)
	}
	if f := cfg.Suite[2].Func; f.Count != 10 || f.Benchtime != Duration(time.Second) {
		t.Errorf("func defaults: %+v", f)
	}
}

func TestLoadInvalidNamesField(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{`benchmarks: {alpha: 2}`, "benchmarks.alpha"},
		{`benchmarks: {suite: [{name: "a b", kind: exec, exec: {command: [true]}}]}`, "benchmarks.suite[0].name"},
		{`benchmarks: {suite: [{name: a, kind: exec, exec: {command: [true]}}, {name: a, kind: exec, exec: {command: [true]}}]}`, "benchmarks.suite[1].name"},
		{`benchmarks: {suite: [{name: a, kind: nope}]}`, "benchmarks.suite[0].kind"},
		{`benchmarks: {suite: [{name: a, kind: http}]}`, "benchmarks.suite[0].http: missing"},
		{`benchmarks: {suite: [{name: a, kind: http, http: {url: "ftp://x", rate: 1, duration: 1s}}]}`, "benchmarks.suite[0].http.url"},
		{`benchmarks: {suite: [{name: a, kind: http, http: {url: "http://x", duration: 1s}}]}`, "benchmarks.suite[0].http.rate"},
		{`benchmarks: {suite: [{name: a, kind: http, http: {url: "http://x", rate: 1}}]}`, "benchmarks.suite[0].http.duration"},
		{`benchmarks: {suite: [{name: a, kind: http, http: {url: "http://x", rate: 1, duration: 1s, mode: half}}]}`, "benchmarks.suite[0].http.mode"},
		{`benchmarks: {suite: [{name: a, kind: http, http: {url: "http://x", rate: 1, duration: 1s, quantile: 2}}]}`, "benchmarks.suite[0].http.quantile"},
		{`benchmarks: {suite: [{name: a, kind: exec, exec: {}}]}`, "benchmarks.suite[0].exec.command"},
		{`benchmarks: {suite: [{name: a, kind: gobench, gobench: {}}]}`, "benchmarks.suite[0].gobench"},
		{`benchmarks: {suite: [{name: a, kind: sql, sql: {query: x}}]}`, "benchmarks.suite[0].sql.dsn"},
		{`benchmarks: {suite: [{name: a, kind: sql, sql: {dsn: x, query: x, rate: 10, iterations: 5, duration: 1s}}]}`, "benchmarks.suite[0].sql.iterations"},
		{`benchmarks: {suite: [{name: a, kind: func, func: {}}]}`, "benchmarks.suite[0].func.name"},
		{`benchmarks: {suite: [{name: a, kind: func, func: {name: x}, schedule: {daily: "25:00"}}]}`, "benchmarks.suite[0].schedule.daily"},
		{`benchmarks: {suite: [{name: a, kind: func, func: {name: x}, schedule: {weekly: "someday 03:00"}}]}`, "benchmarks.suite[0].schedule.weekly"},
		{`benchmarks: {suite: [{name: a, kind: func, func: {name: x}, schedule: {every: 1h, daily: "03:00"}}]}`, "benchmarks.suite[0].schedule"},
		{`benchmarks: {suite: [{name: a, kind: func, func: {name: x}, labels: {benchmark: y}}]}`, "benchmarks.suite[0].labels"},
		{`benchmarks: {suite: [{name: a, kind: func, func: {name: x}, exec: {command: [x]}}]}`, "only the section of its kind"},
		{`benchmarks: {unknown: 1}`, "field unknown not found"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Load([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// The shipped example configs are valid.
func TestExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../examples/bench/*.yml")
	if len(files) == 0 {
		t.Fatal("no examples/bench/*.yml")
	}
	for _, f := range files {
		if _, err := LoadFile(f); err != nil {
			t.Errorf("%v", err)
		}
	}
	if _, err := os.Stat("../../examples/bench/README.md"); err != nil {
		t.Error(err)
	}
}

func TestScheduleNext(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC) // a Wednesday
	tests := []struct {
		s    Schedule
		want time.Time
	}{
		{Schedule{Every: Duration(time.Hour)}, at.Add(time.Hour)},
		{Schedule{Daily: "03:00"}, time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)},
		{Schedule{Daily: "11:00"}, time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)},
		{Schedule{Daily: "10:30"}, time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)},
		{Schedule{Weekly: "mon 04:00"}, time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)},
		{Schedule{Weekly: "wed 12:00"}, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		{Schedule{Weekly: "wed 09:00"}, time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)},
		{Schedule{}, time.Time{}},
	}
	for _, tt := range tests {
		if got := tt.s.Next(at); !got.Equal(tt.want) {
			t.Errorf("%+v.Next = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// normalised is c after Normalise, for tests that build a Config in Go and
// hand it to NewRunner (which trusts its input).
func normalised(c Config) Config {
	c.Normalise()
	return c
}

// Validate checks and never changes the config, normalised or not.
func TestValidateDoesNotMutate(t *testing.T) {
	const src = `
benchmarks:
  suite:
    - {name: orders, kind: http, http: {url: "http://127.0.0.1:9901/orders", method: post, rate: 500, duration: 10s}}
    - {name: db, kind: sql, sql: {dsn: "postgres://x@127.0.0.1/db", query: "select 1"}}
    - {name: tps, kind: func, func: {name: me/place-order}}
    - {name: build, kind: exec, exec: {command: [make]}}
    - {name: go, kind: gobench, gobench: {dir: .}}
`
	decode := func() Config {
		var fc fileConfig
		if err := yaml.Unmarshal([]byte(src), &fc); err != nil {
			t.Fatal(err)
		}
		return fc.Benchmarks
	}
	raw, want := decode(), decode()
	_ = raw.Validate() // zero connections, samples…: invalid until normalised
	if !reflect.DeepEqual(raw, want) {
		t.Errorf("Validate changed a raw config:\n%+v\nwant\n%+v", raw, want)
	}
	norm, want := normalised(decode()), normalised(decode())
	if err := norm.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(norm, want) {
		t.Errorf("Validate changed a normalised config:\n%+v\nwant\n%+v", norm, want)
	}
	if want.Suite[0].HTTP.Method != "POST" || want.Suite[1].SQL.Driver != "pgx" || want.Suite[2].Func.Count != DefaultSamples ||
		want.Suite[3].Exec.Runs != DefaultSamples || want.Suite[4].GoBench.Bench != "." || want.Alpha != DefaultAlpha {
		t.Errorf("Normalise left defaults unset: %+v", want)
	}
}

// A bench.yml's relative baseline and dirs resolve against its directory.
func TestLoadFileRelativePaths(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	yml := "benchmarks:\n  baseline: runs/base.json\n  suite:\n    - {name: x, kind: exec, exec: {shell: 'true', dir: work}}\n    - {name: g, kind: gobench, gobench: {dir: /abs/mod}}\n"
	if err := os.WriteFile(filepath.Join(dir, "bench.yml"), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	cfg, err := LoadFile(filepath.Join("b", "bench.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Baseline != filepath.Join("b", "runs", "base.json") || cfg.Suite[0].Exec.Dir != filepath.Join("b", "work") || cfg.Suite[1].GoBench.Dir != "/abs/mod" {
		t.Errorf("baseline %q, exec.dir %q, gobench.dir %q", cfg.Baseline, cfg.Suite[0].Exec.Dir, cfg.Suite[1].GoBench.Dir)
	}
}
