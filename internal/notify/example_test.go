package notify

import (
	"bytes"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestShippedExample keeps examples/alerting.yml valid.
func TestShippedExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/alerting.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Notify Config `yaml:"notify"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("parse: %v", err)
	}
	file.Notify.Normalise()
	if err := file.Notify.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	root := newRoute(&file.Notify.Route, nil, 0)
	page := root.children[0]
	if page.receiver != "pager" || page.groupWait != 0 || !page.groupByAll {
		t.Errorf("page route: %+v", page)
	}
}
