package rules

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDefaultAlertsHaveUnits: the dashboard formats an alert's value by its
// unit annotation and says "unit unknown" without one, so every shipped
// alert names its unit.
func TestDefaultAlertsHaveUnits(t *testing.T) {
	var groups struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(DefaultRules(), &groups); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if r.Annotations["unit"] == "" {
				t.Errorf("default alert %s has no unit annotation", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no default alerts parsed")
	}
}
