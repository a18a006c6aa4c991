package duration

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"15s", 15 * time.Second, "15s"},
		{"1w", 7 * 24 * time.Hour, "1w"},
		{"500us", 500 * time.Microsecond, "500µs"},
		{"500µs", 500 * time.Microsecond, "500µs"},
		{"1.5ms", 1500 * time.Microsecond, "1.5ms"},
		{"0", 0, "0s"},
	} {
		got, err := Parse(tc.in)
		if err != nil || got.Std() != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got.Std(), err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.str)
		}
	}
	for _, in := range []string{"", "fast", "1.5d", "5", "1e3s"} {
		if d, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, d)
		}
	}
}

func TestYAML(t *testing.T) {
	var v struct {
		A Duration `yaml:"a"`
	}
	if err := yaml.Unmarshal([]byte("a: 250us\n"), &v); err != nil || v.A.Std() != 250*time.Microsecond {
		t.Fatalf("got %v, %v", v.A, err)
	}
	err := yaml.Unmarshal([]byte("\n\na: soon\n"), &v)
	if err == nil || err.Error() != `line 3: "soon" is not a duration (e.g. 500us, 15s, 1h30m, 30d)` {
		t.Fatalf("error %v", err)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "a: 250µs\n" {
		t.Fatalf("marshal %q, %v", out, err)
	}
}
