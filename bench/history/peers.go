package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/bench/internal/proc"
	"github.com/gmc-dev/gmc/internal/httpapi"
)

// target is one store the harness starts: gmc, Prometheus or VictoriaMetrics.
type target struct {
	name      string
	bin       string
	readyPath string
	// blocks: the store reads Prometheus TSDB blocks copied into its data
	// dir (gmc, Prometheus); otherwise the history is imported over HTTP.
	blocks bool
	// args is the command line; tiers says whether gmc keeps its tiers.
	args func(addr, dataDir, dir string, tiers bool) ([]string, error)
	// extra query parameters (VictoriaMetrics: nocache=1)
	params url.Values
}

// gmcTarget is gmc from bin; decodedCache, unless negative, is its
// query.decoded_cache_max_bytes (0: off, to compare with it on).
func gmcTarget(bin string, decodedCache int) target {
	return target{name: "gmc", bin: bin, readyPath: "/-/ready", blocks: true, params: url.Values{"nocache": {"1"}},
		args: func(addr, dataDir, dir string, tiers bool) ([]string, error) {
			cfg := filepath.Join(dir, "gmc.yml")
			// No default rules: they write at now, which would move the head
			// past the hour's first minutes (too old to append), and their
			// evaluations would run during the timings (Prometheus runs none).
			// Answers compressed as the peers compress theirs (gmc leaves
			// loopback answers plain by default, query.compress_loopback).
			body := "alerting:\n  default_rules: false\nquery:\n  compress_loopback: true\n"
			if decodedCache >= 0 {
				body += fmt.Sprintf("  decoded_cache_max_bytes: %d\n", decodedCache)
			}
			body += "storage:\n  retention: 400d\n"
			if !tiers {
				body += "  downsampling:\n    disabled: true\n"
			}
			if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
				return nil, fmt.Errorf("write gmc config: %w", err)
			}
			return []string{"server", "--config", cfg, "--web.listen-address", addr, "--storage.path", dataDir}, nil
		}}
}

func prometheusTarget(bin string) target {
	return target{name: "prometheus", bin: bin, readyPath: "/-/ready", blocks: true,
		args: func(addr, dataDir, dir string, _ bool) ([]string, error) {
			cfg := filepath.Join(dir, "prometheus.yml")
			if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\n"), 0o644); err != nil {
				return nil, fmt.Errorf("write prometheus config: %w", err)
			}
			return []string{"--config.file=" + cfg, "--storage.tsdb.path=" + dataDir, "--storage.tsdb.retention.time=400d",
				"--web.listen-address=" + addr, "--web.enable-remote-write-receiver"}, nil
		}}
}

func victoriaMetricsTarget(bin string) target {
	return target{name: "victoria-metrics", bin: bin, readyPath: "/health", params: url.Values{"nocache": {"1"}},
		args: func(addr, dataDir, _ string, _ bool) ([]string, error) {
			return []string{"-storageDataPath=" + dataDir, "-httpListenAddr=" + addr, "-retentionPeriod=1y",
				"-search.latencyOffset=0s"}, nil
		}}
}

// process is a running target.
type process struct {
	*proc.Process
	t       target
	addr    string
	dataDir string
}

// start runs t on a free loopback port with dataDir (created if missing).
func (t target) start(ctx context.Context, dir, dataDir string, tiers bool) (*process, error) {
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	args, err := t.args(addr, dataDir, dir, tiers)
	if err != nil {
		return nil, err
	}
	p := &process{t: t, addr: addr, dataDir: dataDir}
	if p.Process, err = proc.Start(ctx, proc.Options{Name: t.name, Bin: t.bin, Args: args,
		LogPath: filepath.Join(dir, t.name+".log"), ReadyURL: "http://" + addr + t.readyPath,
		ReadyTimeout: 5 * time.Minute, StopGrace: 60 * time.Second}); err != nil {
		return nil, err
	}
	return p, nil
}

// hourWorkload is 1 h of per-second samples of n series in the trading
// shape of ../shared/BASELINES.md: 10 metric names (trading_orders_total
// and three more counters, six gauges), 20 services, 10 labels per series.
type hourWorkload struct {
	n     int
	start int64 // ms of round 0
	steps int   // rounds, 1 s apart
}

var hourMetrics = [10]struct {
	name    string
	counter bool
}{
	{"trading_orders_total", true}, {"trading_fills_total", true}, {"trading_order_rejects_total", true},
	{"marketdata_messages_received_total", true}, {"order_latency_us", false}, {"marketdata_feed_lag_us", false},
	{"strategy_pnl_usd", false}, {"position_notional_usd", false}, {"order_queue_depth", false}, {"risk_exposure_usd", false},
}

var hourServices = [20]string{
	"matching-engine", "order-gateway", "risk-engine", "position-keeper", "md-feed-handler",
	"md-normalizer", "smart-order-router", "fix-gateway", "drop-copy", "pnl-calculator",
	"margin-service", "pricing-engine", "hedger", "market-maker", "stat-arb",
	"execution-algo", "reference-data", "settlement", "audit-log", "clearing-bridge",
}

var (
	hourVenues     = [8]string{"XNAS", "XNYS", "BATS", "ARCX", "IEXG", "XCME", "BINANCE", "COINBASE"}
	hourStrategies = [12]string{"mm-tight", "mm-wide", "momentum-1m", "momentum-5m", "mean-rev", "pairs", "basis", "funding-arb", "twap", "vwap", "pov", "iceberg"}
	hourRegions    = [3]string{"us-east-1", "eu-west-1", "ap-northeast-1"}
)

// labels returns series s's labels, sorted by name.
func (w hourWorkload) labels(s int) []prompb.Label {
	k := s / 10
	svc := hourServices[k%len(hourServices)]
	return []prompb.Label{
		{Name: "__name__", Value: hourMetrics[s%10].name},
		{Name: "account", Value: "acct-" + strconv.Itoa(k)},
		{Name: "env", Value: "prod"},
		{Name: "instance", Value: svc + "-" + strconv.Itoa(k/len(hourServices)%4) + ":9100"},
		{Name: "job", Value: svc},
		{Name: "region", Value: hourRegions[k%len(hourRegions)]},
		{Name: "service", Value: svc},
		{Name: "strategy", Value: hourStrategies[k%len(hourStrategies)]},
		{Name: "symbol", Value: "SYM" + strconv.Itoa(k%500)},
		{Name: "venue", Value: hourVenues[k%len(hourVenues)]},
	}
}

// value is series s's value at round r, given its value at round r-1.
func (w hourWorkload) value(s, r int, prev float64) float64 {
	h := uint64(s)*0x9E3779B97F4A7C15 ^ uint64(r)*0xC2B2AE3D27D4EB4F
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 32
	u := float64(h%10000) / 10000
	if hourMetrics[s%10].counter {
		return prev + math.Round(float64(5+s%40)*(0.5+u))
	}
	return math.Round(1000+float64(s%97)*10+200*(u-0.5)) / 10
}

// remoteWrite sends the workload to the store's remote-write endpoint with
// 8 senders, each owning 1/8 of the series, so per-series order holds;
// each request carries 30 s of ~66 series (~2000 samples).
func remoteWrite(ctx context.Context, addr string, w hourWorkload) (sent, failed int, firstErr error) {
	const senders, perReq, secs = 8, 66, 30
	client := &http.Client{Timeout: 2 * time.Minute}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			var own []int
			for s := g; s < w.n; s += senders {
				own = append(own, s)
			}
			vals := make([]float64, len(own))
			lbls := make([][]prompb.Label, len(own))
			for i, s := range own {
				lbls[i] = w.labels(s)
			}
			for r0 := 0; r0 < w.steps; r0 += secs {
				for i0 := 0; i0 < len(own); i0 += perReq {
					req := &prompb.WriteRequest{}
					n := 0
					for i := i0; i < min(i0+perReq, len(own)); i++ {
						ts := prompb.TimeSeries{Labels: lbls[i]}
						for r := r0; r < min(r0+secs, w.steps); r++ {
							vals[i] = w.value(own[i], r, vals[i])
							ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: w.start + int64(r)*1000, Value: vals[i]})
						}
						n += len(ts.Samples)
						req.Timeseries = append(req.Timeseries, ts)
					}
					err := post(ctx, client, "http://"+addr+"/api/v1/write", req)
					mu.Lock()
					if err != nil {
						failed += n
						if firstErr == nil {
							firstErr = err
						}
					} else {
						sent += n
					}
					mu.Unlock()
					if ctx.Err() != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return sent, failed, firstErr
}

// post sends one remote-write 1.0 request, retrying 5xx answers 5 times.
func post(ctx context.Context, client *http.Client, u string, req *prompb.WriteRequest) error {
	raw, err := req.Marshal()
	if err != nil {
		return err
	}
	body := snappy.Encode(nil, raw)
	var last error
	for try := range 5 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		hr.Header.Set("Content-Encoding", "snappy")
		hr.Header.Set("Content-Type", "application/x-protobuf")
		hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := client.Do(hr)
		if err != nil {
			last = err
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("remote write: %s: %s", resp.Status, bytes.TrimSpace(msg))
		if resp.StatusCode/100 == 4 {
			return last
		}
	}
	return last
}

// copyBlocks copies the TSDB blocks under src into dst.
func copyBlocks(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// importBlocks sends every sample of the blocks under dir to
// VictoriaMetrics' /api/v1/import (JSON lines, one per series and block).
func importBlocks(ctx context.Context, addr, dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	total := 0
	client := &http.Client{Timeout: 10 * time.Minute}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		b, err := tsdb.OpenBlock(slog.New(slog.DiscardHandler), filepath.Join(dir, e.Name()), nil, nil)
		if err != nil {
			continue // not a block
		}
		q, err := tsdb.NewBlockQuerier(b, math.MinInt64, math.MaxInt64)
		if err != nil {
			b.Close()
			return total, err
		}
		pr, pw := io.Pipe()
		go func() {
			bw := bufio.NewWriterSize(pw, 1<<20)
			enc := json.NewEncoder(bw)
			ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
			for ss.Next() {
				var line struct {
					Metric     map[string]string `json:"metric"`
					Values     []float64         `json:"values"`
					Timestamps []int64           `json:"timestamps"`
				}
				line.Metric = ss.At().Labels().Map()
				it := ss.At().Iterator(nil)
				for it.Next() == chunkenc.ValFloat {
					t, v := it.At()
					line.Values = append(line.Values, v)
					line.Timestamps = append(line.Timestamps, t)
				}
				total += len(line.Values)
				if err := enc.Encode(&line); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			if err := ss.Err(); err != nil {
				pw.CloseWithError(err)
				return
			}
			pw.CloseWithError(bw.Flush())
		}()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/import", pr)
		if err != nil {
			return total, err
		}
		resp, err := client.Do(req)
		pr.Close()
		q.Close()
		b.Close()
		if err != nil {
			return total, fmt.Errorf("import: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return total, fmt.Errorf("import: %s: %s", resp.Status, msg)
		}
	}
	return total, nil
}

// rangeResult is a query_range answer, by series labels.
type rangeResult map[string][][2]float64

// queryRange runs one query_range and returns its answer and how long the
// store took: from sending the request to the answer's last byte (gzip
// undone by the client, as for any Go client). Decoding the JSON comes
// after: with encoding/json it took longer than the store's answer
// (~120 ms for 72k points on a busy machine), and it is the harness's cost,
// not the store's.
func queryRange(ctx context.Context, client *http.Client, addr string, extra url.Values, expr string, start, end time.Time, step time.Duration) (rangeResult, time.Duration, error) {
	v := url.Values{"query": {expr}, "start": {unix(start)}, "end": {unix(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	for k, vs := range extra {
		v[k] = vs
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/query_range?"+v.Encode(), nil)
	if err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	raw, err := io.ReadAll(resp.Body)
	took := time.Since(t0)
	resp.Body.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: read answer: %w", expr, err)
	}
	result, err := httpapi.DecodeMatrix(raw)
	if err != nil {
		return nil, 0, fmt.Errorf("%s (%s): %w", expr, resp.Status, err)
	}
	out := rangeResult{}
	for _, s := range result {
		delete(s.Metric, "__name__")
		key := labels.FromMap(s.Metric).String()
		pts := make([][2]float64, 0, len(s.Values))
		for _, p := range s.Values {
			f, _ := p.Float()
			pts = append(pts, [2]float64{p.T, f})
		}
		out[key] = pts
	}
	return out, took, nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

// timeHTTP runs a query once to warm up, then runs times; it returns the
// median time, the store process's CPU time per timed run (all its threads,
// whatever the machine's load: the work a query costs) and the last answer.
func timeHTTP(ctx context.Context, p *process, expr string, start, end time.Time, step time.Duration, runs int) (time.Duration, time.Duration, rangeResult, error) {
	client := &http.Client{Timeout: 5 * time.Minute}
	var durs []time.Duration
	var res rangeResult
	var cpu0 float64
	for i := range runs + 1 {
		if i == 1 {
			cpu0, _ = p.CPUSeconds()
		}
		r, took, err := queryRange(ctx, client, p.addr, p.t.params, expr, start, end, step)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("%s: %w", p.t.name, err)
		}
		if i > 0 {
			durs = append(durs, took)
		}
		res = r
	}
	cpu := cpuPerRun(p, cpu0, runs)
	slices.Sort(durs)
	return durs[len(durs)/2], cpu, res, nil
}

// cpuPerRun is the CPU time p used since cpu0 (seconds) per run; 0 if it
// cannot be read.
func cpuPerRun(p *process, cpu0 float64, runs int) time.Duration {
	cpu1, err := p.CPUSeconds()
	if err != nil || runs <= 0 {
		return 0
	}
	return time.Duration((cpu1 - cpu0) / float64(runs) * float64(time.Second))
}

// timeRefresh times a dashboard refreshing every second: the window slides
// by 1 s per call, with the store's cache on (no nocache); one warm-up call,
// then the median of runs, and the store's CPU time per run.
func timeRefresh(ctx context.Context, p *process, expr string, span time.Duration, end time.Time, step time.Duration, runs int) (time.Duration, time.Duration, error) {
	client := &http.Client{Timeout: 5 * time.Minute}
	var durs []time.Duration
	var cpu0 float64
	for i := range runs + 1 {
		if i == 1 {
			cpu0, _ = p.CPUSeconds()
		}
		e := end.Add(time.Duration(i) * time.Second)
		_, took, err := queryRange(ctx, client, p.addr, nil, expr, e.Add(-span), e, step)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", p.t.name, err)
		}
		if i > 0 {
			durs = append(durs, took)
		}
	}
	cpu := cpuPerRun(p, cpu0, runs)
	slices.Sort(durs)
	return durs[len(durs)/2], cpu, nil
}

// compareResults is the largest relative difference between two answers'
// matching points, and how many points of a have no match in b, leaving
// out the points within skip (s) of the first: at the data's start the
// stores extrapolate a counter's first samples differently.
func compareResults(a, b rangeResult, skip float64) (worst float64, missing int, at string) {
	first := math.Inf(1)
	for _, pa := range a {
		if len(pa) > 0 {
			first = math.Min(first, pa[0][0])
		}
	}
	for k, pa := range a {
		pb := map[float64]float64{}
		for _, p := range b[k] {
			pb[p[0]] = p[1]
		}
		for _, p := range pa {
			if p[0] < first+skip {
				continue
			}
			v, ok := pb[p[0]]
			if !ok {
				missing++
				continue
			}
			d := math.Abs(p[1]-v) / math.Max(math.Abs(p[1]), 1e-9)
			if d > worst {
				worst, at = d, fmt.Sprintf("%s @%.0f: %g vs %g", k, p[0], p[1], v)
			}
		}
	}
	return worst, missing, at
}

// points counts an answer's points.
func (r rangeResult) points() int {
	n := 0
	for _, p := range r {
		n += len(p)
	}
	return n
}

// waitTiers waits until every gmc tier has aggregated up to end (from
// /system/status), for at most limit.
func waitTiers(ctx context.Context, addr string, end time.Time, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get("http://" + addr + "/system/status")
		if err != nil {
			return err
		}
		var st struct {
			StorageTiers []struct {
				Name      string  `json:"name"`
				Watermark float64 `json:"watermark"`
			} `json:"storage_tiers"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read /system/status: %w", err)
		}
		done := len(st.StorageTiers) > 0
		for _, t := range st.StorageTiers {
			if t.Watermark < float64(end.Unix()) {
				done = false
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gmc's tiers not caught up within %s: %+v", limit, st.StorageTiers)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// waitPoints waits until expr over [start, end] at step answers at least
// series series and the same points twice 3 s apart (VictoriaMetrics makes
// fresh rows searchable after a second or so).
func waitPoints(ctx context.Context, p *process, expr string, start, end time.Time, step time.Duration, series int, limit time.Duration) (int, error) {
	client := &http.Client{Timeout: 5 * time.Minute}
	deadline := time.Now().Add(limit)
	last := -1
	for {
		r, _, err := queryRange(ctx, client, p.addr, p.t.params, expr, start, end, step)
		if err != nil {
			return 0, err
		}
		n := r.points()
		if (n == last && len(r) >= series) || time.Now().After(deadline) {
			return n, nil
		}
		last = n
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}

// diskUsage returns the allocated bytes of the files under dir.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}
