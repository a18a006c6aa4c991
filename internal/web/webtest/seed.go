// Package webtest fills a gmc server with demo-like data for the tests of
// the dashboard and of the Grafana dashboards: SDK metrics (native and
// classic latency histograms, orders, PnL, risk exposure), JSON-pushed
// service metrics, agent host and process metrics (node_exporter names),
// benchmark series (gmc_bench_*) and SLA error ratios, over a recent span,
// pushed by remote-write and JSON push. It also serves fixture /sla and
// /benchmark/report answers built from the real sla and bench types, for
// servers where those parts are not wired yet.
package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

// Options shape the data.
type Options struct {
	// Services is how many services report (at least 3: matching-engine
	// with native histograms, risk-engine with classic buckets, gateway by
	// JSON push; more are named svc-04…, of which every fifth from svc-04
	// on is a feed handler: messages, request latency and feed health, no
	// orders). Default 3.
	Services int
	// Span is how far back the data starts (default 15m); Step its interval
	// (default 5s).
	Span, Step time.Duration
	// Now is the end of the data (default time.Now()).
	Now time.Time
}

// Data is what Seed wrote.
type Data struct {
	Services   []string
	Hosts      []string
	Accounts   []string
	Strategies []string
	Benchmarks []string
	SLAs       []string
	Now        time.Time

	// The generator and the options Seed used, for Live.
	g    *gen
	opts Options
}

// Fixed names.
const (
	Native  = "matching-engine"
	Classic = "risk-engine"
	Pushed  = "gateway"
)

// BacktestAccount is the account of the seed's backtest PnL (mode backtest).
const BacktestAccount = "bt-sma"

// Currencies are the accounts' currencies, in the order of Data.Accounts.
var Currencies = []string{"USD", "EUR"}

// RiskLimit is the gross exposure limit of account ai and strategy sj: the
// last pair (acct-b / stat-arb) runs above it (about 120 %), the others below.
func RiskLimit(ai, sj int) float64 {
	if ai == 1 && sj == 1 {
		return 2.5e6
	}
	return 1.5e6 * float64(1+ai+sj)
}

// classic buckets of gmc_order_latency_seconds_bucket (seconds).
var classicLE = []float64{50e-6, 100e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 2.5e-3, 5e-3, 10e-3}

// Seed pushes the data to the gmc at base ("http://127.0.0.1:port").
func Seed(ctx context.Context, base string, o Options) (*Data, error) {
	if o.Services < 3 {
		o.Services = 3
	}
	if o.Span <= 0 {
		o.Span = 15 * time.Minute
	}
	if o.Step <= 0 {
		o.Step = 5 * time.Second
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	d := &Data{
		Services:   []string{Native, Classic, Pushed},
		Hosts:      []string{"host-1", "host-2"},
		Accounts:   []string{"acct-a", "acct-b"},
		Strategies: []string{"momentum", "stat-arb"},
		Now:        o.Now,
	}
	for i := 4; i <= o.Services; i++ {
		d.Services = append(d.Services, fmt.Sprintf("svc-%02d", i))
	}
	g := &gen{rnd: rand.New(rand.NewPCG(1, 2)), d: d, hist: map[string]*latHist{}, counters: map[string]float64{}}
	n := int(o.Span / o.Step)
	start := o.Now.Add(-time.Duration(n) * o.Step)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i <= n; i++ {
		ts := start.Add(time.Duration(i) * o.Step)
		req := g.step(ts, i, n)
		if err := remoteWrite(ctx, client, base, req); err != nil {
			return nil, fmt.Errorf("seed step %d: %w", i, err)
		}
		if err := jsonPush(ctx, client, base, g.pushed(ts, i)); err != nil {
			return nil, fmt.Errorf("seed step %d: %w", i, err)
		}
	}
	// Benchmarks: one run a minute over the span (sparse, as scheduled runs are).
	runs := Runs(o.Now, o.Span)
	var req prompb.WriteRequest
	for _, r := range runs {
		req.Timeseries = append(req.Timeseries, benchSeries(r)...)
	}
	if err := remoteWrite(ctx, client, base, &req); err != nil {
		return nil, fmt.Errorf("seed benchmark series: %w", err)
	}
	seen := map[string]bool{}
	for _, r := range runs {
		for _, res := range r.Results {
			if !seen[res.Name] {
				seen[res.Name] = true
				d.Benchmarks = append(d.Benchmarks, res.Name)
			}
		}
	}
	sort.Strings(d.Benchmarks)
	for _, s := range SLAs() {
		d.SLAs = append(d.SLAs, s.Name)
	}
	d.g, d.opts = g, o
	return d, nil
}

// Live goes on pushing the data Seed began, one step every interval
// stamped with the wall clock (counters continue where Seed left them),
// until ctx ends; it returns nil then, or the first push error. One Live
// per Data at a time.
func (d *Data) Live(ctx context.Context, base string, every time.Duration) error {
	if d.g == nil {
		return fmt.Errorf("live: Data not made by Seed")
	}
	n := int(d.opts.Span / d.opts.Step)
	client := &http.Client{Timeout: 30 * time.Second}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := n + 1; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case ts := <-tick.C:
			if err := remoteWrite(ctx, client, base, d.g.step(ts, i, n)); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("live step %d: %w", i, err)
			}
			if err := jsonPush(ctx, client, base, d.g.pushed(ts, i)); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("live step %d: %w", i, err)
			}
		}
	}
}

type gen struct {
	rnd      *rand.Rand
	d        *Data
	hist     map[string]*latHist
	counters map[string]float64
}

// latHist is a cumulative native histogram at schema 2 plus classic buckets.
type latHist struct {
	counts  map[int32]uint64
	classic []uint64
	count   uint64
	sum     float64
}

const schema = 2

func (h *latHist) observe(v float64) {
	idx := int32(math.Ceil(math.Log2(v) * (1 << schema)))
	h.counts[idx]++
	h.count++
	h.sum += v
	for i, le := range classicLE {
		if v <= le {
			h.classic[i]++
		}
	}
}

// native is the histogram as one contiguous span, delta-encoded.
func (h *latHist) native() *histogram.Histogram {
	if len(h.counts) == 0 {
		return &histogram.Histogram{Schema: schema, ZeroThreshold: 1e-128}
	}
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for i := range h.counts {
		lo, hi = min(lo, i), max(hi, i)
	}
	out := &histogram.Histogram{
		Schema: schema, ZeroThreshold: 1e-128, Count: h.count, Sum: h.sum,
		PositiveSpans: []histogram.Span{{Offset: lo, Length: uint32(hi - lo + 1)}},
	}
	var prev int64
	for i := lo; i <= hi; i++ {
		c := int64(h.counts[i])
		out.PositiveBuckets = append(out.PositiveBuckets, c-prev)
		prev = c
	}
	return out
}

func lbls(kv ...string) []prompb.Label {
	ls := labels.FromStrings(kv...)
	return prompb.FromLabels(ls, nil)
}

func sample(t int64, v float64, kv ...string) prompb.TimeSeries {
	return prompb.TimeSeries{Labels: lbls(kv...), Samples: []prompb.Sample{{Timestamp: t, Value: v}}}
}

// counter adds inc to the named counter and returns its value.
func (g *gen) counter(key string, inc float64) float64 {
	g.counters[key] += inc
	return g.counters[key]
}

// latency draws an order latency around base seconds with a long tail.
func (g *gen) latency(base float64) float64 {
	v := base * math.Exp(g.rnd.NormFloat64()*0.25)
	if g.rnd.Float64() < 0.02 {
		v *= 3 + 4*g.rnd.Float64()
	}
	return v
}

func (g *gen) step(ts time.Time, i, n int) *prompb.WriteRequest {
	t := ts.UnixMilli()
	phase := float64(i) / float64(max(n, 1))
	req := &prompb.WriteRequest{}
	add := func(s prompb.TimeSeries) { req.Timeseries = append(req.Timeseries, s) }
	for si, svc := range g.d.Services {
		if svc == Pushed {
			continue
		}
		inst := fmt.Sprintf("%s-1", svc)
		// The host label the SDK and the agent both set: the join.
		host := g.d.Hosts[si%len(g.d.Hosts)]
		if IsFeed(svc) {
			g.feed(add, t, svc, inst, host, i)
			continue
		}
		h := g.hist[svc]
		if h == nil {
			h = &latHist{counts: map[int32]uint64{}, classic: make([]uint64, len(classicLE))}
			g.hist[svc] = h
		}
		base := 200e-6 + 20e-6*float64(si) + 80e-6*math.Sin(phase*2*math.Pi)
		orders := 200 + 40*si
		for range orders {
			h.observe(g.latency(base))
		}
		if svc == Classic {
			for bi, le := range classicLE {
				add(sample(t, float64(h.classic[bi]), "__name__", "gmc_order_latency_seconds_bucket", "service", svc, "instance", inst, "host", host, "le", fmt.Sprint(le)))
			}
			add(sample(t, float64(h.count), "__name__", "gmc_order_latency_seconds_bucket", "service", svc, "instance", inst, "host", host, "le", "+Inf"))
			add(sample(t, float64(h.count), "__name__", "gmc_order_latency_seconds_count", "service", svc, "instance", inst, "host", host))
			add(sample(t, h.sum, "__name__", "gmc_order_latency_seconds_sum", "service", svc, "instance", inst, "host", host))
		} else {
			add(prompb.TimeSeries{
				Labels:     lbls("__name__", "gmc_order_latency_seconds", "service", svc, "instance", inst, "host", host),
				Histograms: []prompb.Histogram{prompb.FromIntHistogram(t, h.native())},
			})
		}
		rej := float64(orders) * 0.01 * (1 + math.Sin(phase*6))
		errs := float64(orders) * 0.002
		for _, r := range []struct {
			result string
			inc    float64
		}{{"success", float64(orders) - rej - errs}, {"reject", rej}, {"error", errs}} {
			add(sample(t, g.counter(svc+"/"+r.result, r.inc), "__name__", "gmc_orders_total", "service", svc, "instance", inst, "host", host, "result", r.result))
		}
		// The agent's process metrics for the service, on its host.
		for _, mode := range []string{"user", "system"} {
			add(sample(t, g.counter(svc+"/cpu/"+mode, (0.2+0.1*g.rnd.Float64())*5), "__name__", "gmc_process_cpu_seconds_total",
				"service", svc, "instance", host, "host", host, "job", "gmc-agent", "mode", mode))
		}
		add(sample(t, 300e6+50e6*math.Sin(phase*3), "__name__", "gmc_process_resident_memory_bytes", "service", svc, "instance", host, "host", host, "job", "gmc-agent"))
		add(sample(t, 24, "__name__", "gmc_process_threads", "service", svc, "instance", host, "job", "gmc-agent"))
		add(sample(t, 180+float64(i%7), "__name__", "gmc_process_open_fds", "service", svc, "instance", host, "job", "gmc-agent"))
		for _, ep := range []string{"quote", "cancel"} {
			add(sample(t, g.counter(svc+"/req/"+ep, float64(orders)*0.5), "__name__", "gmc_requests_total", "service", svc, "instance", inst, "endpoint", ep))
		}
	}
	for hi, host := range g.d.Hosts {
		hl := []string{"instance", host, "host", host, "job", "gmc-agent"}
		with := func(kv ...string) []string { return append(append([]string{}, hl...), kv...) }
		for cpu := range 2 {
			busy := 0.3 + 0.2*math.Sin(phase*4+float64(hi)) + 0.05*g.rnd.Float64()
			for mode, frac := range map[string]float64{"idle": 1 - busy, "user": busy * 0.7, "system": busy * 0.3} {
				add(sample(t, g.counter(fmt.Sprintf("%s/cpu%d/%s", host, cpu, mode), frac*5), with("__name__", "node_cpu_seconds_total", "cpu", fmt.Sprint(cpu), "mode", mode)...))
			}
		}
		total := 16e9
		add(sample(t, total, with("__name__", "node_memory_MemTotal_bytes")...))
		add(sample(t, total*(0.55-0.1*math.Sin(phase*2)), with("__name__", "node_memory_MemAvailable_bytes")...))
		add(sample(t, 1.2+math.Sin(phase*3), with("__name__", "node_load1")...))
		add(sample(t, g.counter(host+"/rd", 5e6*5*(1+g.rnd.Float64())), with("__name__", "node_disk_read_bytes_total", "device", "sda")...))
		add(sample(t, g.counter(host+"/wr", 8e6*5*(1+g.rnd.Float64())), with("__name__", "node_disk_written_bytes_total", "device", "sda")...))
		add(sample(t, g.counter(host+"/io", 5*0.2), with("__name__", "node_disk_io_time_seconds_total", "device", "sda")...))
		for _, dir := range []string{"receive", "transmit"} {
			add(sample(t, g.counter(host+"/"+dir, 2e6*5*(1+g.rnd.Float64())), with("__name__", "node_network_"+dir+"_bytes_total", "device", "eth0")...))
			add(sample(t, g.counter(host+"/"+dir+"p", 2e3*5), with("__name__", "node_network_"+dir+"_packets_total", "device", "eth0")...))
			add(sample(t, g.counter(host+"/"+dir+"e", 0.01*5), with("__name__", "node_network_"+dir+"_errs_total", "device", "eth0")...))
		}
		fs := []string{"device", "/dev/sda1", "fstype", "ext4", "mountpoint", "/"}
		add(sample(t, 500e9, with(append([]string{"__name__", "node_filesystem_size_bytes"}, fs...)...)...))
		add(sample(t, 200e9-1e9*phase, with(append([]string{"__name__", "node_filesystem_avail_bytes"}, fs...)...)...))
		add(sample(t, 32e6, with(append([]string{"__name__", "node_filesystem_files"}, fs...)...)...))
		add(sample(t, 24e6, with(append([]string{"__name__", "node_filesystem_files_free"}, fs...)...)...))
		// IOPS and time per I/O (0.5 ms a read, 2 ms a write), drops, the
		// stat and netstat collectors, boot time.
		add(sample(t, g.counter(host+"/rio", 300*5), with("__name__", "node_disk_reads_completed_total", "device", "sda")...))
		add(sample(t, g.counter(host+"/wio", 500*5), with("__name__", "node_disk_writes_completed_total", "device", "sda")...))
		add(sample(t, g.counter(host+"/rt", 300*5*0.0005), with("__name__", "node_disk_read_time_seconds_total", "device", "sda")...))
		add(sample(t, g.counter(host+"/wt", 500*5*0.002), with("__name__", "node_disk_write_time_seconds_total", "device", "sda")...))
		add(sample(t, g.counter(host+"/rdrop", 0.02*5), with("__name__", "node_network_receive_drop_total", "device", "eth0")...))
		add(sample(t, g.counter(host+"/ctxt", 20e3*5), with("__name__", "node_context_switches_total")...))
		add(sample(t, g.counter(host+"/forks", 3*5), with("__name__", "node_forks_total")...))
		add(sample(t, 2+math.Round(2*g.rnd.Float64()), with("__name__", "node_procs_running")...))
		add(sample(t, 0, with("__name__", "node_procs_blocked")...))
		add(sample(t, 40+float64(hi), with("__name__", "node_netstat_Tcp_CurrEstab")...))
		add(sample(t, g.counter(host+"/retrans", 0.5*5), with("__name__", "node_netstat_Tcp_RetransSegs")...))
		add(sample(t, g.counter(host+"/inerr", 0), with("__name__", "node_netstat_Tcp_InErrs")...))
		add(sample(t, 1.7e9, with("__name__", "node_boot_time_seconds")...))
	}
	// Trading: PnL and exposure of each account and strategy (from the
	// risk engine, as the SDK labels them).
	for ai, acct := range g.d.Accounts {
		for sj, strat := range g.d.Strategies {
			drift := float64(1-2*((ai+sj)%2)) * 20000 * phase
			pnl := drift + 5000*math.Sin(phase*5+float64(ai+sj))
			base := []string{"service", Classic, "instance", Classic + "-1", "account", acct, "strategy", strat}
			add(sample(t, pnl, append([]string{"__name__", "gmc_pnl"}, base...)...))
			gross := 1e6 * float64(1+ai+sj) * (1 + 0.1*math.Sin(phase*3))
			add(sample(t, gross, append([]string{"__name__", "gmc_risk_exposure", "kind", "gross"}, base...)...))
			add(sample(t, gross*0.3*math.Cos(phase*2+float64(sj)), append([]string{"__name__", "gmc_risk_exposure", "kind", "net"}, base...)...))
			add(sample(t, RiskLimit(ai, sj), append([]string{"__name__", "gmc_risk_limit", "kind", "gross"}, base...)...))
		}
		add(sample(t, 1, "__name__", "gmc_account_info", "service", Classic, "instance", Classic+"-1", "account", acct, "currency", Currencies[ai%len(Currencies)], "mode", "live"))
	}
	// A backtest's PnL, as the demo's backtester reports it: large, and
	// never part of the desk's total.
	add(sample(t, 1e6*(1+phase), "__name__", "gmc_pnl", "service", Classic, "instance", Classic+"-1", "account", BacktestAccount, "strategy", "sma-crossover"))
	add(sample(t, 1, "__name__", "gmc_account_info", "service", Classic, "instance", Classic+"-1", "account", BacktestAccount, "currency", "USD", "mode", "backtest"))
	// SLA recordings (as the SLA rules would record them).
	for _, s := range SLAs() {
		for _, w := range []string{"5m", "30m", "1h", "6h", "1d", "3d", "7d", "30d"} {
			ratio := 0.0004 * (1 + 0.5*math.Sin(phase*4)) * (1 - 0.3*float64(len(w))/4)
			if s.Service == Classic {
				ratio *= 4
			}
			add(sample(t, ratio, "__name__", "sla:error_ratio:rate"+w, "sla", s.Name, "service", s.Service))
		}
	}
	return req
}

// IsFeed says whether a service of the seed is a feed handler (svc-04,
// svc-09, …): it counts messages (gmc_requests_total{endpoint="message"}),
// times batches (gmc_request_latency_seconds) and reports feed health
// (gmc_feed_latency_seconds, gmc_feed_gaps_total); it handles no orders.
func IsFeed(svc string) bool {
	var n int
	if _, err := fmt.Sscanf(svc, "svc-%d", &n); err != nil {
		return false
	}
	return n%5 == 4
}

// feedLE are the classic buckets of the feed's latencies (seconds).
var feedLE = []float64{10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3}

// feed writes one step of a feed handler: 5000 messages/s, batch and feed
// latency histograms, a sequence gap every 20 steps.
func (g *gen) feed(add func(prompb.TimeSeries), t int64, svc, inst, host string, i int) {
	base := []string{"service", svc, "instance", inst, "host", host}
	with := func(kv ...string) []string { return append(append([]string{}, kv...), base...) }
	add(sample(t, g.counter(svc+"/msg", 5000*5), with("__name__", "gmc_requests_total", "endpoint", "message")...))
	gaps := g.counter(svc+"/gaps", 0)
	if i%20 == 19 {
		gaps = g.counter(svc+"/gaps", 1)
	}
	add(sample(t, gaps, with("__name__", "gmc_feed_gaps_total")...))
	for _, m := range []struct {
		name, ep string
		base     float64
	}{{"gmc_request_latency_seconds", "batch", 30e-6}, {"gmc_feed_latency_seconds", "", 120e-6}} {
		key := svc + "/" + m.name
		h := g.hist[key]
		if h == nil {
			h = &latHist{counts: map[int32]uint64{}, classic: make([]uint64, len(feedLE))}
			g.hist[key] = h
		}
		for range 100 {
			v := g.latency(m.base)
			h.count++
			h.sum += v
			for bi, le := range feedLE {
				if v <= le {
					h.classic[bi]++
				}
			}
		}
		ls := with("__name__", m.name+"_bucket")
		if m.ep != "" {
			ls = append(ls, "endpoint", m.ep)
		}
		for bi, le := range feedLE {
			add(sample(t, float64(h.classic[bi]), append(append([]string{}, ls...), "le", fmt.Sprint(le))...))
		}
		add(sample(t, float64(h.count), append(append([]string{}, ls...), "le", "+Inf")...))
	}
}

// pushed is the JSON push of the gateway (tps, latency_us, cpu_percent).
func (g *gen) pushed(ts time.Time, i int) []byte {
	p := map[string]any{
		"service": Pushed, "instance": "gw-1", "timestamp": float64(ts.UnixMilli()) / 1000,
		"metrics": map[string]float64{
			"tps":         900 + 100*math.Sin(float64(i)/10),
			"latency_us":  150 + 30*g.rnd.Float64(),
			"cpu_percent": 20 + 5*g.rnd.Float64(),
		},
	}
	b, _ := json.Marshal(p) // plain maps: cannot fail
	return b
}

// Write remote-writes series, their samples stamped as given, to the gmc
// server at base: a fixture placed exactly in time, where a push would be
// stamped on arrival.
func Write(ctx context.Context, base string, series ...prompb.TimeSeries) error {
	return remoteWrite(ctx, &http.Client{Timeout: 30 * time.Second}, base, &prompb.WriteRequest{Timeseries: series})
}

func remoteWrite(ctx context.Context, c *http.Client, base string, req *prompb.WriteRequest) error {
	raw, err := req.Marshal()
	if err != nil {
		return fmt.Errorf("encode remote-write request: %w", err)
	}
	return post(ctx, c, base+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, raw), map[string]string{
		"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0",
	})
}

func jsonPush(ctx context.Context, c *http.Client, base string, body []byte) error {
	return post(ctx, c, base+"/api/v1/push", "application/json", body, nil)
}

func post(ctx context.Context, c *http.Client, url, ct string, body []byte, hdr map[string]string) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	r.Header.Set("Content-Type", ct)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := c.Do(r)
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post %s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}
