// Package duration is the one duration syntax of gmc.yml, bench.yml and
// agent.yml: Prometheus's ("30d", "1h30m", "500ms") plus microseconds and
// fractions as Go writes them ("500us", "500µs", "1.5ms").
package duration

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration is a duration in configuration. It converts to and from
// time.Duration and model.Duration (all three count nanoseconds).
type Duration time.Duration

// Parse parses a duration: Prometheus's syntax first (y, w, d, h, m, s, ms),
// then Go's (which adds us, µs, ns and fractions such as 1.5ms).
func Parse(s string) (Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return Duration(d), nil
	}
	if s != "" && !strings.ContainsAny(s, "dwy") {
		if d, err := time.ParseDuration(s); err == nil {
			return Duration(d), nil
		}
	}
	return 0, fmt.Errorf("%q is not a duration (e.g. 500us, 15s, 1h30m, 30d)", s)
}

// String formats d as Prometheus does ("15d", "1h30m") when it is a whole
// number of milliseconds, else as Go does ("500µs", "1.5ms").
func (d Duration) String() string {
	if time.Duration(d)%time.Millisecond == 0 {
		return model.Duration(d).String()
	}
	return time.Duration(d).String()
}

// Std is d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// UnmarshalYAML implements yaml.Unmarshaler; errors name the line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := Parse(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Set implements flag.Value, so a flag takes the same syntax as gmc.yml.
func (d *Duration) Set(s string) error { return d.UnmarshalText([]byte(s)) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
