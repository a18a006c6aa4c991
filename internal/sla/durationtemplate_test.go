package sla

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/prometheus/template"
)

// TestDurationTemplateAsFormatDataSpan: the alert texts' durations
// (DurationTemplate, expanded by Prometheus's template engine as gmc's
// rules are) read as the pages' (FormatDataSpan), "under 1s" included
// (the template wrote "0s" for 0.2 s: "sent a sample 0s ago").
func TestDurationTemplateAsFormatDataSpan(t *testing.T) {
	for _, sec := range []float64{0, 0.2, 0.49, 0.6, 1.4, 59.6, 79.773, 125.6, 512.6, 3600, 7230, 90061, 170100} {
		e := template.NewTemplateExpander(context.Background(), `{{ $value := .Value }}`+DurationTemplate("$value"), "t",
			struct{ Value float64 }{sec}, 0, nil, &url.URL{}, nil)
		got, err := e.Expand()
		if err != nil {
			t.Fatalf("%v s: %v", sec, err)
		}
		if want := FormatDataSpan(time.Duration(sec * float64(time.Second))); got != want {
			t.Errorf("%v s: template %q, FormatDataSpan %q", sec, got, want)
		}
	}
}
