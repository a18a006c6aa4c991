package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/sla"
)

// countingQueryable counts the queriers asked of it.
type countingQueryable struct {
	storage.Queryable
	n atomic.Int64
}

func (c *countingQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	c.n.Add(1)
	return c.Queryable.Querier(mint, maxt)
}

// TestBurnDrainOneReadPerPoll: the dashboard's drain hint of a firing
// SLAErrorBudgetBurn (burnDrain, sla.Reporter.Drain) read the raw error
// counters at every event stream's poll: three open tabs, three reads a
// second. A server whose burn page fires, three streams open on it: over
// 3 s of its 1 s poll, the reads the SLA reporter makes are at most one
// per poll (on the old code: about 9).
func TestBurnDrainOneReadPerPoll(t *testing.T) {
	cfg, err := config.Load([]byte(`
alerting:
  evaluation_interval: 1h
  default_rules: false
slas:
  - name: orders
    service: me
    objective: 99
    indicator:
      ratio:
        errors: 'app_errors_total{service="me"}'
        total: 'app_requests_total{service="me"}'
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.ListenAddress = "127.0.0.1:0"
	cfg.Server.DataDir = t.TempDir()
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// A clock 10 s past a whole minute, behind the real one by under a
	// minute, as TestSLAStatusAgreesWithBurnAlert's: 4m10s of 20 % errors
	// fire the 1h&5m page on their push.
	real0 := time.Now()
	off := real0.Truncate(time.Minute).Add(10 * time.Second).Sub(real0)
	if off > 0 {
		off -= time.Minute
	}
	now := func() time.Time { return time.Now().Add(off) }
	s, err := New(Options{Config: cfg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	reads := &countingQueryable{Queryable: s.store}
	s.sla = sla.NewReporter(sla.ReporterOptions{SLAs: cfg.SLAs, Queryable: reads, Now: now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gmc server: %v", err)
		}
	})
	base := "http://" + s.Addr()
	deadline := time.Now().Add(20 * time.Second)
	for !s.ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the server is not ready within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	var objs []string
	start := now().Truncate(time.Minute).Add(-4 * time.Minute)
	req, errs := 0, 0
	for ts := start; !ts.After(now().Add(-time.Second)); ts = ts.Add(10 * time.Second) {
		objs = append(objs, fmt.Sprintf(`{"service":"me","instance":"me-1","timestamp":%.3f,"metrics":{"app_requests_total":%d,"app_errors_total":%d}}`,
			float64(ts.UnixMilli())/1000, req, errs))
		req, errs = req+100, errs+20
	}
	resp, err := http.Post(base+"/api/v1/push", "application/json", bytes.NewReader([]byte("["+strings.Join(objs, ",")+"]")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("push: %d %s", resp.StatusCode, body)
	}
	firing := func() bool {
		for _, a := range s.rules.ActiveAlerts() {
			if a.Labels.Get("alertname") == sla.AlertName && a.State == "firing" {
				return true
			}
		}
		return false
	}
	for !firing() {
		if time.Now().After(deadline) {
			t.Fatal("no burn alert firing within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Three streams, each to its first "alerts" event: it lists the burn
	// alert, whose drain was read.
	sctx, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	for i := range 3 {
		req, _ := http.NewRequestWithContext(sctx, http.MethodGet, base+"/api/ui/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			if strings.HasPrefix(line, "data: {") {
				if !strings.Contains(line, sla.AlertName) {
					t.Fatalf("stream %d's first alerts event has no burn alert: %s", i, line)
				}
				break
			}
		}
		go func() { _, _ = io.Copy(io.Discard, r) }()
	}
	// A read is begun at least a poll after the one before, so over W
	// there are at most W/poll + 1 of them, and one begun before.
	before, t0 := reads.n.Load(), time.Now()
	time.Sleep(3 * time.Second)
	got, w := reads.n.Load()-before, time.Since(t0)
	if limit := int64(w/time.Second) + 2; got > limit {
		t.Errorf("three event streams over %v of a 1s poll: %d reads of the error counters, want at most %d (one per poll)", w.Round(time.Millisecond), got, limit)
	}
	if got == 0 {
		t.Errorf("three event streams over %v: no read of the error counters", w.Round(time.Millisecond))
	}
}
