package server

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBurnDrainErrorForgotten: a drain read's error is forgotten once its
// alert is no longer read (resolved or suppressed; firingAlerts keeps only
// the reads it made): when the alert fires again over the same error, the
// error is logged again, as news.
func TestBurnDrainErrorForgotten(t *testing.T) {
	var fail atomic.Pointer[error]
	var buf bytes.Buffer
	s := drainLogServer(t, &fail, &buf)
	gone := errors.New("disk gone")
	fail.Store(&gone)
	s.burnDrain(context.Background(), burnPage)
	s.burnDrain(context.Background(), burnPage)
	s.drainErrs.Keep(map[drainKey]bool{drainKeyOf(burnPage): true}) // still firing
	s.burnDrain(context.Background(), burnPage)
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("an error lasting over 3 reads of a firing alert: %d lines logged, want 1:\n%s", n, &buf)
	}
	s.drainErrs.Keep(map[drainKey]bool{}) // resolved
	s.burnDrain(context.Background(), burnPage)
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("the error on the alert firing again: %d lines logged, want 2:\n%s", n, &buf)
	}
}
