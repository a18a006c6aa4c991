package notify

import (
	"testing"

	"github.com/prometheus/alertmanager/pkg/labels"
)

func mustMatchers(t *testing.T, s string) labels.Matchers {
	t.Helper()
	ms, err := labels.ParseMatchers(s)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
