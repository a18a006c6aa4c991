package sdk

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// waitFor polls cond every 5 ms for at most limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type runningPusher struct {
	p    *Pusher
	reg  *prometheus.Registry
	stop func() error
}

func startPusher(t *testing.T, url, spoolDir string, flush time.Duration) *runningPusher {
	t.Helper()
	reg := prometheus.NewRegistry()
	p, err := NewPusher(PusherOptions{
		URL: url, Gatherer: reg, Registerer: reg, Interval: 10 * time.Millisecond,
		SpoolDir: spoolDir, MaxRetryBackoff: 20 * time.Millisecond, FlushTimeout: flush,
		// No attempt times out on a loaded machine: a request whose answer
		// never came is the one case delivery repeats.
		Timeout:        time.Minute,
		ExternalLabels: map[string]string{"instance": "test"},
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	rp := &runningPusher{p: p, reg: reg}
	stopped := false
	rp.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-errc
	}
	t.Cleanup(func() { rp.stop() })
	return rp
}

// checkConsecutive asserts the values are first, first+1, … and the timestamps strictly increase.
func checkConsecutive(t *testing.T, values []float64, ts []int64, first float64) {
	t.Helper()
	for i, v := range values {
		if v != first+float64(i) {
			t.Fatalf("value %d is %v, want %v (a gap or reordering): %v", i, v, first+float64(i), values)
		}
		if i > 0 && ts[i] <= ts[i-1] {
			t.Fatalf("timestamp %d (%d) not after %d", i, ts[i], ts[i-1])
		}
	}
}

func TestPusherOutageLosesNothing(t *testing.T) {
	rcv := newFakeReceiver(t)
	dir := t.TempDir()
	rp := startPusher(t, rcv.srv.URL, dir, 2*time.Second)
	waitFor(t, "3 pushes", 5*time.Second, func() bool { return len(rcv.received()) >= 3 })

	rcv.setDown(true)
	before := testutil.ToFloat64(rp.p.gathers)
	waitFor(t, "20 gathers during the outage", 10*time.Second, func() bool { return testutil.ToFloat64(rp.p.gathers) >= before+20 })
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Errorf("spool holds %d files during the outage, want ≥ 10", len(files))
	}
	rcv.setDown(false)
	waitFor(t, "the spool to drain", 10*time.Second, func() bool { return rp.p.q.len() == 0 && len(rcv.received()) > int(before)+20 })
	if err := rp.stop(); err != nil {
		t.Fatal(err)
	}

	values, ts := floatValues(rcv.received(), "gmc_push_gathers_total")
	if len(values) != int(testutil.ToFloat64(rp.p.gathers)) {
		t.Errorf("received %d gathers, pusher made %v", len(values), testutil.ToFloat64(rp.p.gathers))
	}
	checkConsecutive(t, values, ts, 1)
	if got := testutil.ToFloat64(rp.p.requests.WithLabelValues("retry")); got == 0 {
		t.Errorf("no retry counted during the outage")
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("spool not empty after recovery: %d files", len(files))
	}
}

func TestPusherSpoolSurvivesRestart(t *testing.T) {
	rcv := newFakeReceiver(t)
	rcv.setDown(true)
	dir := t.TempDir()
	first := startPusher(t, rcv.srv.URL, dir, 50*time.Millisecond)
	waitFor(t, "10 gathers", 5*time.Second, func() bool { return testutil.ToFloat64(first.p.gathers) >= 10 })
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	made := int(testutil.ToFloat64(first.p.gathers))
	if len(rcv.received()) != 0 {
		t.Fatalf("receiver got requests while down")
	}

	rcv.setDown(false)
	second := startPusher(t, rcv.srv.URL, dir, 2*time.Second)
	waitFor(t, "replay and 5 new gathers", 10*time.Second, func() bool { return len(rcv.received()) >= made+5 })
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	values, ts := floatValues(rcv.received(), "gmc_push_gathers_total")
	// The first process's gathers (its final one included) come first, in
	// order and once each, then the second's. (A clean-clone CI run got
	// [1 1 2 3 …] when the first process cut off its attempt in flight at
	// stop and spooled it, and the receiver took it after all:
	// TestPusherStopWaitsForTheAnswer.)
	checkConsecutive(t, values[:made], ts[:made], 1)
	checkConsecutive(t, values[made:], ts[made:], 1)
	if ts[made] <= ts[made-1] {
		t.Errorf("second process's first sample (%d) not after the spooled ones (%d)", ts[made], ts[made-1])
	}
}

// TestPusherStopWaitsForTheAnswer: a request in flight when the Pusher
// stops is waited for, not cut off. Here gmc holds the first request's
// answer past the stop's FlushTimeout and then takes it (204). Cut off, the
// request was spooled as unsent and the next process sent it again (gather 1
// twice, as a clean-clone CI run saw); waited for, it is removed.
func TestPusherStopWaitsForTheAnswer(t *testing.T) {
	rcv := newFakeReceiver(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	released := sync.OnceFunc(func() { close(release) })
	t.Cleanup(released)
	rcv.hold = func() {
		held := false
		once.Do(func() { held = true })
		if held {
			close(arrived)
			<-release
		}
	}
	dir := t.TempDir()
	first := startPusher(t, rcv.srv.URL, dir, 50*time.Millisecond)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no request reached the receiver in 30 s")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- first.stop() }()
	// Past the FlushTimeout (the old Pusher had stopped by then and spooled
	// the request in flight), the receiver takes the request and answers.
	select {
	case err := <-stopped:
		stopped <- err
	case <-time.After(time.Second):
	}
	released()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the Pusher did not stop within 2 minutes of its answer")
	}
	made := int(testutil.ToFloat64(first.p.gathers))
	waitFor(t, "the held request to be taken", 30*time.Second, func() bool { return len(rcv.received()) >= 1 })
	if got := len(rcv.received()); got != 1 {
		t.Fatalf("receiver took %d requests from the first process, want 1 (the one held)", got)
	}

	second := startPusher(t, rcv.srv.URL, dir, 2*time.Second)
	waitFor(t, "the spool to drain and 3 new gathers", 30*time.Second, func() bool {
		return second.p.q.len() == 0 && len(rcv.received()) >= made+3
	})
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	values, ts := floatValues(rcv.received(), "gmc_push_gathers_total")
	checkConsecutive(t, values[:made], ts[:made], 1)
	checkConsecutive(t, values[made:], ts[made:], 1)
}

func TestPusherDropsRejectedRequests(t *testing.T) {
	rcv := newFakeReceiver(t)
	rcv.status = http.StatusBadRequest
	dir := t.TempDir()
	rp := startPusher(t, rcv.srv.URL, dir, 50*time.Millisecond)
	waitFor(t, "5 rejections", 5*time.Second, func() bool {
		return testutil.ToFloat64(rp.p.requests.WithLabelValues("rejected")) >= 5
	})
	if err := rp.stop(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(rp.p.requests.WithLabelValues("retry")); got != 0 {
		t.Errorf("a 400 was retried %v times; it cannot succeed", got)
	}
	// At most the final gather, still queued at the end, may be spooled.
	if files, _ := os.ReadDir(dir); len(files) > 1 {
		t.Errorf("rejected requests were spooled: %d files", len(files))
	}
}

func TestNewPusherValidates(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, o := range []PusherOptions{
		{URL: "http://127.0.0.1:9900"},
		{URL: "127.0.0.1:9900", Gatherer: reg},
		{URL: "ftp://x", Gatherer: reg},
	} {
		if _, err := NewPusher(o); err == nil {
			t.Errorf("NewPusher(%+v) accepted", o)
		}
	}
	p, err := NewPusher(PusherOptions{URL: "http://127.0.0.1:9900", Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if p.url != "http://127.0.0.1:9900/api/v1/write" {
		t.Errorf("url %q", p.url)
	}
}

// TestPusherHostLabel: every series gets the host label the agent sets too
// (the dashboard's join of a service to its machine), unless told otherwise.
func TestPusherHostLabel(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil || hostname == "" {
		t.Fatalf("os.Hostname: %q, %v", hostname, err)
	}
	for _, tc := range []struct {
		name     string
		host     string
		external map[string]string
		want     []label
	}{
		{"default is the hostname", "", map[string]string{"instance": "a"}, []label{{"host", hostname}, {"instance", "a"}}},
		{"given", "box-7", nil, []label{{"host", "box-7"}}},
		{"external label wins", "box-7", map[string]string{"host": "h1", "job": "j"}, []label{{"host", "h1"}, {"job", "j"}}},
		{"none", HostNone, map[string]string{"instance": "a"}, []label{{"instance", "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p, err := NewPusher(PusherOptions{URL: "http://127.0.0.1:1", Gatherer: reg, Host: tc.host, ExternalLabels: tc.external})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.enc.external, tc.want) {
				t.Errorf("external labels %v, want %v", p.enc.external, tc.want)
			}
		})
	}
}

// Gathers within one millisecond still get strictly rising timestamps: a
// receiver refuses two values of one series at one timestamp.
func TestPusherTimestampsStrictlyRise(t *testing.T) {
	reg := prometheus.NewRegistry()
	fixed := time.UnixMilli(1_700_000_000_000)
	p, err := NewPusher(PusherOptions{URL: "http://127.0.0.1:9/api/v1/write", Gatherer: reg, Registerer: reg, Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := p.Gather(); err != nil {
			t.Fatal(err)
		}
		if want := fixed.UnixMilli() + int64(i); p.lastMs != want {
			t.Fatalf("gather %d at %d, want %d", i, p.lastMs, want)
		}
	}
}
