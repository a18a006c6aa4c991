package notify

import (
	"testing"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

func mustMatchers(t testing.TB, s string) labels.Matchers {
	t.Helper()
	ms, err := labels.ParseMatchers(s)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestSilenceMatchersAsAlertmanager025: the matcher sets a real
// Alertmanager 0.25 accepts (amtool silence add, tried on 127.0.0.1) are
// accepted, and those it refuses are refused.
func TestSilenceMatchersAsAlertmanager025(t *testing.T) {
	for _, tc := range []struct {
		matchers string
		ok       bool
	}{
		{`service!="x"`, true},
		{`service!~"x|y", env!="prod"`, true},
		{`foo!~".*"`, true},
		{`foo="", bar!="x"`, true},
		{`foo!=""`, true},
		{`foo=~".*", bar!~".+"`, true},
		{`service="x"`, true},
		{`foo=""`, false},
		{`foo=~".*"`, false},
	} {
		s := Silence{Matchers: mustMatchers(t, "{"+tc.matchers+"}"), EndsAt: time.Now().Add(time.Hour), CreatedBy: "me", Comment: "c"}
		if err := s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.matchers, err, tc.ok)
		}
	}
}
