package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// Forwarding workload: fwdSeries series, one sample each every fwdStep,
// stamped with the wall clock, pushed to gmc by remote write.
const (
	fwdMetric = "e2e_fwd_samples"
	fwdSeries = 10
	fwdStep   = 100 * time.Millisecond
	// victoriaMetricsBinary is the Debian package's binary (apt package victoria-metrics).
	victoriaMetricsBinary = "/usr/bin/victoria-metrics"
)

// fwdOutage is how long the receiver is down: 60 s as the issue asks, or
// GMC_E2E_FORWARD_OUTAGE (a Go duration) for a quicker local run.
func fwdOutage(t *testing.T) time.Duration {
	if v := os.Getenv("GMC_E2E_FORWARD_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("GMC_E2E_FORWARD_OUTAGE: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

// fwdReceiver is a remote-write receiver the test can stop and start again
// on the same address and data.
type fwdReceiver struct {
	name     string
	bin      string
	addr     string
	writeURL string
	args     []string
	// samples returns every (series, timestamp) → value the receiver holds
	// for fwdMetric.
	samples func(ctx context.Context) (map[string]map[int64]float64, error)
}

func (r *fwdReceiver) start(t *testing.T) *proc {
	t.Helper()
	p := spawn(t, r.name, r.bin, r.addr, t.TempDir(), r.args)
	if err := p.waitReady(readyTimeout); err != nil {
		p.dumpLog(t)
		t.Fatalf("%s: %v", r.name, err)
	}
	return p
}

// TestForwardPrometheus forwards to a real Prometheus 2.42 receiver
// (--web.enable-remote-write-receiver) through an outage with a gmc restart
// in the middle of it. Prometheus is given an out-of-order window: gmc's
// restart replay reaches it after newer live samples.
func TestForwardPrometheus(t *testing.T) {
	requirePeer(t, prometheusBinary, "prometheus")
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("storage:\n  tsdb:\n    out_of_order_time_window: 1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &fwdReceiver{
		name: "prometheus", bin: prometheusBinary, addr: addr,
		writeURL: "http://" + addr + "/api/v1/write",
		args: []string{
			"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr, "--web.enable-remote-write-receiver", "--log.level=warn",
		},
	}
	r.samples = func(ctx context.Context) (map[string]map[int64]float64, error) {
		return promRangeSamples(ctx, "http://"+addr)
	}
	forwardThroughOutage(t, r)
}

// TestForwardVictoriaMetrics does the same with a real VictoriaMetrics 1.79.
func TestForwardVictoriaMetrics(t *testing.T) {
	requirePeer(t, victoriaMetricsBinary, "victoria-metrics")
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	r := &fwdReceiver{
		name: "victoria-metrics", bin: victoriaMetricsBinary, addr: addr,
		writeURL: "http://" + addr + "/api/v1/write",
		args: []string{
			"-storageDataPath=" + filepath.Join(dir, "data"), "-httpListenAddr=" + addr,
			"-retentionPeriod=100y", "-loggerLevel=WARN",
		},
	}
	r.samples = func(ctx context.Context) (map[string]map[int64]float64, error) {
		return vmExportSamples(ctx, "http://"+addr)
	}
	forwardThroughOutage(t, r)
}

// forwardThroughOutage pushes to gmc continuously; stops the receiver for
// the outage; restarts gmc halfway through it; starts the receiver again;
// then requires every sample gmc acknowledged to be in the receiver, with
// its value.
func forwardThroughOutage(t *testing.T, r *fwdReceiver) {
	outage := fwdOutage(t)
	recv := r.start(t)
	gmcAddr := freeAddr(t)
	gmcData := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "gmc.yml")
	gmcCfg := fmt.Sprintf("remote_write:\n  - url: %s\n    queue_config:\n      min_backoff: 50ms\n      max_backoff: 1s\n", r.writeURL)
	if err := os.WriteFile(cfgPath, []byte(gmcCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startGMCAt := func() *proc {
		p := spawn(t, "gmc", gmcBinary, gmcAddr, t.TempDir(), []string{
			"server", "--web.listen-address", gmcAddr, "--storage.path", gmcData, "--config", cfgPath,
		})
		if err := p.waitReady(readyTimeout); err != nil {
			p.dumpLog(t)
			t.Fatalf("gmc: %v", err)
		}
		return p
	}
	gmc := startGMCAt()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	acked := map[string]map[int64]float64{} // series → ts → value
	var tries, fails int
	pushDone := make(chan struct{})
	go func() {
		defer close(pushDone)
		client := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(fwdStep)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ts := time.Now().UnixMilli()
			req := &prompb.WriteRequest{}
			for i := range fwdSeries {
				req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
					Labels: []prompb.Label{
						{Name: "__name__", Value: fwdMetric},
						{Name: "series", Value: strconv.Itoa(i)},
					},
					Samples: []prompb.Sample{{Timestamp: ts, Value: float64(k*100 + i)}},
				})
			}
			code, _, err := remoteWrite(ctx, client, "http://"+gmcAddr, req)
			mu.Lock()
			tries++
			if err == nil && code/100 == 2 {
				for i := range fwdSeries {
					s := strconv.Itoa(i)
					if acked[s] == nil {
						acked[s] = map[int64]float64{}
					}
					acked[s][ts] = float64(k*100 + i)
				}
			} else {
				fails++ // gmc restarting: the sender would retry; not counted as sent
			}
			mu.Unlock()
		}
	}()

	sleep := func(d time.Duration) { time.Sleep(d) }
	sleep(5 * time.Second)
	t.Logf("stopping %s for %s", r.name, outage)
	recv.stop(t)
	sleep(outage / 2)
	t.Logf("restarting gmc in the middle of the outage")
	gmc.stop(t)
	_ = startGMCAt()
	sleep(outage - outage/2)
	t.Logf("starting %s again", r.name)
	_ = r.start(t)
	sleep(5 * time.Second)
	cancel()
	<-pushDone

	mu.Lock()
	want := 0
	for _, m := range acked {
		want += len(m)
	}
	t.Logf("gmc acknowledged %d samples (%d of %d pushes failed while it restarted)", want, fails, tries)
	mu.Unlock()
	if want < fwdSeries*int((outage+10*time.Second)/fwdStep)/2 {
		t.Fatalf("only %d samples acknowledged: the workload did not run", want)
	}

	start := time.Now()
	eventually(t, 3*time.Minute, time.Second, "every acknowledged sample in "+r.name, func() error {
		got, err := r.samples(context.Background())
		if err != nil {
			return err
		}
		var missing, wrong []string
		for s, m := range acked {
			for ts, v := range m {
				gv, ok := got[s][ts]
				switch {
				case !ok:
					missing = append(missing, fmt.Sprintf("series=%s@%d", s, ts))
				case gv != v:
					wrong = append(wrong, fmt.Sprintf("series=%s@%d: %g, want %g", s, ts, gv, v))
				}
			}
		}
		if len(wrong) > 0 {
			sort.Strings(wrong)
			return fmt.Errorf("%d samples with a wrong value, e.g. %s", len(wrong), wrong[0])
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return fmt.Errorf("%d of %d samples missing, first %s, last %s", len(missing), want, missing[0], missing[len(missing)-1])
		}
		return nil
	})
	t.Logf("all %d samples in %s %s after the workload ended", want, r.name, time.Since(start).Round(time.Second))
}

// promRangeSamples reads every raw sample of fwdMetric from a Prometheus
// through a range-vector instant query.
func promRangeSamples(ctx context.Context, base string) (map[string]map[int64]float64, error) {
	r, err := instantQuery(ctx, base, fwdMetric+"[30m]", (time.Now().Unix()+1)*1000)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int64]float64{}
	for _, s := range r.Series {
		m := map[int64]float64{}
		for _, p := range s.Points {
			m[p.T] = p.V
		}
		out[s.Labels["series"]] = m
	}
	return out, nil
}

// vmExportSamples reads every raw sample of fwdMetric from VictoriaMetrics's
// /api/v1/export.
func vmExportSamples(ctx context.Context, base string) (map[string]map[int64]float64, error) {
	u := base + "/api/v1/export?" + url.Values{"match[]": {fwdMetric}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("export: %s", resp.Status)
	}
	out := map[string]map[int64]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var row struct {
			Metric     map[string]string `json:"metric"`
			Values     []float64         `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			return nil, fmt.Errorf("decode export line: %w", err)
		}
		m := out[row.Metric["series"]]
		if m == nil {
			m = map[int64]float64{}
			out[row.Metric["series"]] = m
		}
		for i, ts := range row.Timestamps {
			m[ts] = row.Values[i]
		}
	}
	return out, sc.Err()
}
