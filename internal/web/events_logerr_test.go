package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
)

// TestAlertsReadErrorLoggedOnce: a failing read of the alerts was logged
// at every poll while it lasted (once a second). It is logged when it
// begins or its text changes, and its end once.
func TestAlertsReadErrorLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	var err error
	u, e := newUI(Options{
		Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		Alerts: func(context.Context) ([]Alert, error) { return nil, err },
	}, fstest.MapFS{"index.html": {Data: []byte("<html></html>")}})
	if e != nil {
		t.Fatal(e)
	}
	// Three failing polls, two failing otherwise, two fine, three failing.
	for _, f := range []error{errors.New("a"), errors.New("a"), errors.New("a"), errors.New("b"), errors.New("b"), nil, nil, errors.New("a"), errors.New("a"), errors.New("a")} {
		err = f
		u.snapshot(context.Background())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"level=WARN", "level=WARN", "level=INFO", "level=WARN"}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines for 10 polls, want %d (a begun, b, the end, a again):\n%s", len(lines), len(want), buf.String())
	}
	for i, l := range lines {
		if !strings.Contains(l, want[i]) || !strings.Contains(l, "read alerts for the dashboard") {
			t.Errorf("line %d %q, want %s of the alerts' read", i, l, want[i])
		}
	}
}
