package main

import (
	"bytes"
	"context"
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
