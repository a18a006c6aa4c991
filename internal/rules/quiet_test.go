package rules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql"
)

// TestQuietCanceled: an evaluation cut short by shutdown is not logged as
// a failed rule; other failures still are.
func TestQuietCanceled(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(quietCanceled{slog.NewTextHandler(&buf, nil)}).With("component", "rules")
	l.Warn("Evaluating rule failed", "rule", "x", "err", fmt.Errorf("query: %w", context.Canceled))
	l.Warn("Evaluating rule failed", "rule", "z", "err", promql.ErrQueryCanceled("eval"))
	l.Warn("Evaluating rule failed", "rule", "y", "err", errors.New("vector cannot contain metrics with the same labelset"))
	out := buf.String()
	if strings.Contains(out, "rule=x") || strings.Contains(out, "rule=z") || !strings.Contains(out, "rule=y") || !strings.Contains(out, "component=rules") {
		t.Errorf("log:\n%s\nwant only rule y's failure", out)
	}
}
