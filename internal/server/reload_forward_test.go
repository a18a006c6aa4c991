package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage/remote"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// probeReceiver is a remote-write receiver keeping the values of the
// reload_probe samples it gets.
type probeReceiver struct {
	url string
	mu  sync.Mutex
	got []float64
}

func startProbeReceiver(t *testing.T) *probeReceiver {
	r := &probeReceiver{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		wr, err := remote.DecodeWriteRequest(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, s := range wr.Timeseries {
			for _, l := range s.Labels {
				if l.Name == "__name__" && l.Value == "reload_probe" {
					for _, smp := range s.Samples {
						r.got = append(r.got, smp.Value)
					}
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	r.url = ts.URL + "/api/v1/write"
	return r
}

// newest is the largest value received (0 if none).
func (r *probeReceiver) newest() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := 0.0
	for _, v := range r.got {
		m = max(m, v)
	}
	return m
}

func (r *probeReceiver) has(v float64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.got, v)
}

// TestReloadRemoteWrite: a reload named remote_write as "in force only
// after a restart". Now, as in Prometheus, the queues follow the new
// entries: a receiver replaced by another gets nothing written after the
// reload, its successor does.
func TestReloadRemoteWrite(t *testing.T) {
	a, b := startProbeReceiver(t), startProbeReceiver(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "gmc.yml")
	write := func(url string) {
		t.Helper()
		yml := fmt.Sprintf("remote_write:\n  - {url: %q, queue_config: {batch_send_deadline: 100ms}}\n", url)
		if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (config.Config, error) {
		cfg, err := config.LoadFile(file)
		cfg.Server.ListenAddress, cfg.Server.DataDir = "127.0.0.1:0", filepath.Join(dir, "data")
		return cfg, err
	}
	write(a.url)
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	base := servertest.Ready(t, servertest.Serve(t, server.Options{Config: cfg, LoadConfig: load}))
	push := func(v float64) {
		t.Helper()
		body := fmt.Sprintf(`{"service":"probe","instance":"probe-1","timestamp":%.3f,"metrics":{"reload_probe":%g}}`,
			float64(time.Now().UnixMilli())/1000, v)
		if code, b := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code/100 != 2 {
			t.Fatalf("push: %d %s", code, b)
		}
	}
	push(1)
	waitFor(t, 20*time.Second, "the first receiver gets the sample", func() bool { return a.has(1) })

	write(b.url)
	if code, body := do(t, "POST", base+"/-/reload", "", nil); code != http.StatusOK || !strings.Contains(body, "applied: remote_write") {
		t.Fatalf("reload: %d %q, want remote_write applied", code, body)
	}
	// The new queue's WAL watcher starts reading a moment after the reload
	// (a sample written before it started is not its, as in Prometheus):
	// push until it sends one, each sample written after the reload.
	v := 1.0
	waitFor(t, 30*time.Second, "the receiver the reload configured gets a sample written after it", func() bool {
		v++
		push(v)
		time.Sleep(200 * time.Millisecond)
		return b.newest() >= 2
	})
	time.Sleep(500 * time.Millisecond) // five of the old queue's batch deadlines
	if n := a.newest(); n >= 2 {
		t.Errorf("the receiver the reload removed got %g, written after it", n)
	}
}

// TestReloadRemoteWriteFromNone: a reload applied remote_write only when
// gmc started with an entry and the file kept one: adding the first
// receiver, or removing the last, waited for a restart (the TSDB had no
// queue to tell of its WAL writes). Now the first entry starts the queues
// (sending what is written from the reload on), removing the last stops
// them and removes the forwarding watermark, and a receiver added again
// gets what is written after that reload.
func TestReloadRemoteWriteFromNone(t *testing.T) {
	a, b := startProbeReceiver(t), startProbeReceiver(t)
	rw := func(url string) string {
		return fmt.Sprintf("remote_write:\n  - {url: %q, queue_config: {batch_send_deadline: 100ms}}\n", url)
	}
	base, write, reload, dir := reloadServer(t, "")
	v := 0.0
	push := func() {
		t.Helper()
		v++
		body := fmt.Sprintf(`{"service":"probe","instance":"probe-1","timestamp":%.3f,"metrics":{"reload_probe":%g}}`,
			float64(time.Now().UnixMilli())/1000, v)
		if code, b := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code/100 != 2 {
			t.Fatalf("push: %d %s", code, b)
		}
	}
	push()
	write(rw(a.url))
	if body := reload(); !strings.Contains(body, "applied: remote_write\n") || strings.Contains(body, "NOT applied") {
		t.Fatalf("reload adding the first remote_write entry: %q, want it applied", body)
	}
	waitFor(t, 30*time.Second, "the receiver the reload added gets a sample written after it", func() bool {
		push()
		time.Sleep(200 * time.Millisecond)
		return a.newest() >= 2
	})
	if a.has(1) {
		t.Errorf("the receiver the reload added got the sample written before it (nothing before the reload is owed)")
	}
	watermark := filepath.Join(dir, "data", "forward", "watermark.json")
	waitFor(t, 10*time.Second, "the forwarding watermark saved", func() bool { _, err := os.Stat(watermark); return err == nil })

	write("")
	if body := reload(); !strings.Contains(body, "applied: remote_write\n") || strings.Contains(body, "NOT applied") {
		t.Fatalf("reload removing the last remote_write entry: %q, want it applied", body)
	}
	last := v
	push()
	time.Sleep(500 * time.Millisecond) // five of the queue's batch deadlines
	if n := a.newest(); n > last {
		t.Errorf("the receiver the reload removed got %g, written after it", n)
	}
	waitFor(t, 10*time.Second, "the forwarding watermark removed", func() bool {
		_, err := os.Stat(watermark)
		return os.IsNotExist(err)
	})

	write(rw(b.url))
	if body := reload(); !strings.Contains(body, "applied: remote_write\n") {
		t.Fatalf("reload adding a receiver again: %q, want it applied", body)
	}
	from := v
	waitFor(t, 30*time.Second, "the receiver added again gets a sample written after the reload", func() bool {
		push()
		time.Sleep(200 * time.Millisecond)
		return b.newest() > from
	})
	if n := a.newest(); n > last {
		t.Errorf("the removed receiver got %g after the queues started again", n)
	}
}
