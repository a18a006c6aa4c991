package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Validate checks and never changes the config: not the whole, nor any
// component's section (each component's Validate is called through it);
// the defaults come from Normalise alone. Every good config of testdata and
// examples is validated raw (as decoded) and normalised, and must compare
// equal to an untouched copy afterwards.
func TestValidateDoesNotMutate(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yml")
	examples, _ := filepath.Glob("../../examples/*.yml")
	files = append(files, examples...)
	if len(files) < 5 {
		t.Fatalf("only %d configs found", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fresh := func() Config {
				c, err := decode(data)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			sections := func(c *Config) map[string]func() error {
				return map[string]func() error{
					"whole": c.Validate, "limits": c.Limits.Validate, "pushgateway": c.Pushgateway.Validate,
					"alerting": c.Alerting.Validate, "notify": c.Notify.Validate, "benchmarks": c.Benchmarks.Validate,
					"slas": func() error { return errors.Join(c.validateAlerting()...) }, "remote_write": c.RemoteWrite.Validate, "cluster": c.Cluster.Validate,
					"auth": c.Auth.Validate, "query": c.Query.Validate, "downsampling": c.Storage.Downsampling.Validate,
				}
			}
			for name := range sections(&Config{}) {
				raw, want := fresh(), fresh()
				_ = sections(&raw)[name]() // a raw config may be invalid; it must stay as it was
				if !reflect.DeepEqual(raw, want) {
					t.Errorf("%s: Validate changed a raw config", name)
				}
				norm, want := fresh(), fresh()
				norm.Normalise()
				want.Normalise()
				if err := sections(&norm)[name](); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if !reflect.DeepEqual(norm, want) {
					t.Errorf("%s: Validate changed a normalised config", name)
				}
			}
		})
	}
}
