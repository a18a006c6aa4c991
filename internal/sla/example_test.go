package sla

import (
	"bytes"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// examples/sla.yml decodes strictly and validates.
func TestExampleFile(t *testing.T) {
	b, err := os.ReadFile("../../examples/sla.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Alerting yaml.Node `yaml:"alerting"`
		SLAs     []SLA     `yaml:"slas"`
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if len(c.SLAs) != 3 {
		t.Fatalf("slas = %d, want 3", len(c.SLAs))
	}
	for i := range c.SLAs {
		c.SLAs[i].Normalise()
		if err := c.SLAs[i].Validate(); err != nil {
			t.Fatalf("slas[%d].%v", i, err)
		}
	}
	l := c.SLAs[0].Indicator.Latency
	if l == nil || time.Duration(l.Threshold) != 500*time.Microsecond || l.Buckets != "native" {
		t.Fatalf("latency indicator = %+v", l)
	}
	if len(c.SLAs[1].Windows) != 4 || c.SLAs[1].Kind() != "ratio" || c.SLAs[1].Indicator.Ratio.Errors != "" {
		t.Fatalf("order-success = %+v", c.SLAs[1])
	}
}
