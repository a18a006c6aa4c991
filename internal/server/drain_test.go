package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/rules"
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
// 5 polls (UIInterval 200 ms), the reads the SLA reporter makes are at
// most one per poll (on the old code: about 15).
func TestBurnDrainOneReadPerPoll(t *testing.T) {
	const poll = 200 * time.Millisecond
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
	s, err := New(Options{Config: cfg, Now: now, UIInterval: poll})
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
	time.Sleep(5 * poll)
	got, w := reads.n.Load()-before, time.Since(t0)
	if limit := int64(w/poll) + 2; got > limit {
		t.Errorf("three event streams over %v of a %v poll: %d reads of the error counters, want at most %d (one per poll)", w.Round(time.Millisecond), poll, got, limit)
	}
	if got == 0 {
		t.Errorf("three event streams over %v: no read of the error counters", w.Round(time.Millisecond))
	}
}

// queryableFunc is a storage.Queryable of one function.
type queryableFunc func(mint, maxt int64) (storage.Querier, error)

func (f queryableFunc) Querier(mint, maxt int64) (storage.Querier, error) { return f(mint, maxt) }

// drainLogServer is a server with just what burnDrain uses: an SLA
// reporter whose error counters are read through fail (nil: a read of
// no series), and its log in buf.
func drainLogServer(t *testing.T, fail *atomic.Pointer[error], buf *bytes.Buffer) *Server {
	t.Helper()
	s := sla.SLA{Name: "orders", Service: "me", Objective: 99, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) }
	q := queryableFunc(func(int64, int64) (storage.Querier, error) {
		if err := fail.Load(); err != nil {
			return nil, *err
		}
		return storage.NoopQuerier(), nil
	})
	return &Server{
		opts:   Options{Now: now},
		logger: slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: dropTime})),
		sla:    sla.NewReporter(sla.ReporterOptions{SLAs: []sla.SLA{s}, Queryable: q, Now: now}),
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// burnPage is orders' firing 1h&5m burn page.
var burnPage = &rules.APIAlert{
	Labels: labels.FromStrings("alertname", sla.AlertName, "sla", "orders", "short_window", "5m", "long_window", "1h", "severity", "page"),
	State:  "firing",
}

// TestBurnDrainErrorLoggedOnce: a failing read of a burn alert's error
// counters for the dashboard's drain hint was logged at every poll while
// it lasted (every second, per open tab). It is logged when it begins and
// when its text changes, and its end once. Ten polls: 3 failing one way,
// 2 another, 2 fine, 3 failing the first way again: 4 lines; then one
// whose stream ended as it ran: none (on the old code, 9 warnings, the
// ended stream's too, and none for the end).
func TestBurnDrainErrorLoggedOnce(t *testing.T) {
	var fail atomic.Pointer[error]
	var buf bytes.Buffer
	s := drainLogServer(t, &fail, &buf)
	gone, burning := errors.New("disk gone"), errors.New("disk burning")
	for _, err := range []error{gone, gone, gone, burning, burning, nil, nil, gone, gone, gone} {
		if err == nil {
			fail.Store(nil)
		} else {
			fail.Store(&err)
		}
		if d := s.burnDrain(context.Background(), burnPage); d != nil {
			t.Fatalf("burnDrain = %+v, want none (no errors counted)", d)
		}
	}
	// A read whose stream ended as it ran (its tab closed) says nothing
	// of the read: not logged.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	canceled := context.Canceled
	fail.Store(&canceled)
	s.burnDrain(ended, burnPage)
	want := `level=WARN msg="read sla errors for the dashboard" sla=orders short_window=5m err="read errors of sla orders: disk gone"
level=WARN msg="read sla errors for the dashboard" sla=orders short_window=5m err="read errors of sla orders: disk burning"
level=INFO msg="read sla errors for the dashboard again" sla=orders short_window=5m
level=WARN msg="read sla errors for the dashboard" sla=orders short_window=5m err="read errors of sla orders: disk gone"
`
	if got := buf.String(); got != want {
		t.Errorf("logged:\n%s\nwant:\n%s", got, want)
	}
}
