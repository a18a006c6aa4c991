package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		files   []string
		wantErr string
		wantOut []string
	}{
		{files: []string{"../../examples/gmc.yml"}, wantOut: []string{"SUCCESS ../../examples/gmc.yml is valid"}},
		{
			files:   []string{"../../examples/gmc.yml", "../../internal/config/testdata/timeout-too-long.bad.yml"},
			wantErr: "1 of 2 config files are invalid",
			wantOut: []string{"FAILED ../../internal/config/testdata/timeout-too-long.bad.yml: line 4: scrape_configs[0].scrape_timeout: 5s is longer than scrape_interval 1s"},
		},
		{files: []string{"no-such-file.yml"}, wantErr: "1 of 1", wantOut: []string{"FAILED read config: open no-such-file.yml"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.files, ","), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"check", "config"}, tt.files...), &out, &out)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v, output:\n%s", err, out.String())
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output %q does not contain %q", out.String(), w)
				}
			}
		})
	}
}

// TestExamplesAreValid keeps every shipped example config loadable.
func TestExamplesAreValid(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../examples/*/*.yml")
	files = append(files, more...)
	if len(files) < 7 {
		t.Fatalf("found only %d example configs: %v", len(files), files)
	}
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"check", "config"}, files...), &out, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}

// TestCheckConfigRuleFiles: a rule file under alerting.rule_files that
// does not parse fails the check, naming the file, the line and the rule,
// as gmc server's reload refuses it; `gmc check config` said SUCCESS
// (t-user14b F2). A good one passes.
func TestCheckConfigRuleFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("good.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(foo[1m]) > 1\n")
	write("bad.yml", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(foo[1m] > 1\n")
	good := write("good-gmc.yml", "alerting:\n  rule_files: [good.yml]\n")
	bad := write("bad-gmc.yml", "alerting:\n  rule_files: [good.yml, '*bad.yml']\n")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"check", "config", good}, &out, &out); err != nil {
		t.Fatalf("good rule file: %v\n%s", err, out.String())
	}
	out.Reset()
	err := run(context.Background(), []string{"check", "config", bad}, &out, &out)
	if err == nil || !strings.Contains(out.String(), "FAILED") || !strings.Contains(out.String(), "bad.yml: 5:11") ||
		!strings.Contains(out.String(), "unclosed left parenthesis") {
		t.Errorf("bad rule file: err %v, output %q", err, out.String())
	}
}
