// Command cardinality replays issue 16's cardinality attack against a gmc
// server: senders remote-write -series new series (2,000,000 by default) as
// fast as gmc takes them, while a well-behaved "victim" service pushes its
// 100 known series and one new series every second. It prints what gmc
// accepted and refused, its peak and final RSS, and how the victim fared.
//
//	go run ./bench/cardinality                   # default limits
//	go run ./bench/cardinality -limits off       # every cardinality limit 0
//	go run ./bench/cardinality -attackers 100    # spread over 100 services
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cardinality:", err)
		os.Exit(1)
	}
}

// counts tallies answers by status code.
type counts struct {
	mu sync.Mutex
	m  map[int]int
	// lastRefusal is one 429 message, to print.
	lastRefusal string
}

func (c *counts) add(code int, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[int]int{}
	}
	c.m[code]++
	if code == http.StatusTooManyRequests {
		c.lastRefusal = msg
	}
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, code := range []int{204, 400, 429, 500, 503, 0} {
		if n := c.m[code]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d×%d", n, code))
		}
	}
	return strings.Join(parts, " ")
}

func run(ctx context.Context) error {
	nSeries := flag.Int("series", 2_000_000, "new series the attack sends")
	perReq := flag.Int("per-request", 2000, "series per remote-write request")
	senders := flag.Int("senders", 4, "concurrent attacking senders")
	attackers := flag.Int("attackers", 1, "services the attack's series are spread over")
	limits := flag.String("limits", "default", "cardinality limits: default, or off (all 0)")
	maxTime := flag.Duration("max-time", 3*time.Minute, "stop the attack after this long")
	gmcBin := flag.String("gmc", "", "gmc binary (default: go build ./cmd/gmc into a temp dir)")
	addr := flag.String("addr", "", "address for gmc (default: a free loopback port)")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "gmc-bench-cardinality-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *gmcBin == "" {
		if *gmcBin, err = proc.BuildGMC(ctx, tmp); err != nil {
			return err
		}
	}
	if *addr == "" {
		if *addr, err = proc.FreeAddr(); err != nil {
			return err
		}
	}
	cfg := "server: {data_dir: " + filepath.Join(tmp, "data") + "}\n"
	switch *limits {
	case "default":
	case "off":
		cfg += "limits: {max_head_series: 0, max_series_per_metric: 0, max_series_per_service: 0, max_new_series_per_second: 0}\n"
	default:
		return fmt.Errorf("-limits %q: want default or off", *limits)
	}
	cfgPath := filepath.Join(tmp, "gmc.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	base := "http://" + *addr
	p, err := proc.Start(ctx, proc.Options{Name: "gmc", Bin: *gmcBin, LogPath: filepath.Join(tmp, "gmc.log"),
		Args:     []string{"server", "--config", cfgPath, "--web.listen-address", *addr},
		ReadyURL: base + "/-/ready"})
	if err != nil {
		return err
	}
	defer p.Stop()
	m0, err := p.Memory()
	if err != nil {
		return err
	}

	client := &http.Client{Timeout: 30 * time.Second}
	post := func(ts []prompb.TimeSeries) (int, string) {
		b, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
		if err != nil {
			return 0, err.Error()
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, b)))
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var msg strings.Builder
		sc := bufio.NewScanner(resp.Body)
		if sc.Scan() {
			msg.WriteString(sc.Text())
		}
		return resp.StatusCode, msg.String()
	}

	actx, cancel := context.WithTimeout(ctx, *maxTime)
	defer cancel()
	var peak atomic.Uint64
	var wg sync.WaitGroup
	wg.Go(func() { // RSS sampler
		for actx.Err() == nil {
			if m, err := p.Memory(); err == nil && m.RSS > peak.Load() {
				peak.Store(m.RSS)
			}
			select {
			case <-actx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
	var victim counts
	victimNew := 0
	wg.Go(func() { // the victim: 100 known series and one new one per second
		for i := 0; actx.Err() == nil; i++ {
			now := time.Now().UnixMilli()
			var ts []prompb.TimeSeries
			for j := range 100 {
				ts = append(ts, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "orders_total"},
					{Name: "instance", Value: strconv.Itoa(j)}, {Name: "service", Value: "victim"}},
					Samples: []prompb.Sample{{Value: float64(i), Timestamp: now}}})
			}
			ts = append(ts, prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "fills_total"},
				{Name: "instance", Value: "new-" + strconv.Itoa(i)}, {Name: "service", Value: "victim"}},
				Samples: []prompb.Sample{{Value: 1, Timestamp: now}}})
			code, msg := post(ts)
			victim.add(code, msg)
			if code == http.StatusNoContent {
				victimNew++
			}
			select {
			case <-actx.Done():
			case <-time.After(time.Second):
			}
		}
	})

	var attack counts
	var next atomic.Int64
	start := time.Now()
	var aw sync.WaitGroup
	for range *senders {
		aw.Go(func() {
			for actx.Err() == nil {
				first := int(next.Add(int64(*perReq))) - *perReq
				if first >= *nSeries {
					return
				}
				now := time.Now().UnixMilli()
				ts := make([]prompb.TimeSeries, 0, *perReq)
				for i := first; i < min(first+*perReq, *nSeries); i++ {
					ts = append(ts, prompb.TimeSeries{Labels: []prompb.Label{
						{Name: "__name__", Value: "attack_metric_" + strconv.Itoa(i%10)},
						{Name: "id", Value: strconv.Itoa(i)},
						{Name: "service", Value: "attacker-" + strconv.Itoa(i%*attackers)}},
						Samples: []prompb.Sample{{Value: 1, Timestamp: now}}})
				}
				code, msg := post(ts)
				attack.add(code, msg)
			}
		})
	}
	aw.Wait()
	elapsed := time.Since(start)
	time.Sleep(2 * time.Second) // a last victim push and RSS sample
	cancel()
	wg.Wait()
	m1, err := p.Memory()
	if err != nil {
		return err
	}
	head, err := headSeries(client, base)
	if err != nil {
		return err
	}

	mib := func(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	fmt.Printf("limits %s; attack: %d new series over %d service(s), %d per request, %d senders\n",
		*limits, *nSeries, *attackers, *perReq, *senders)
	fmt.Printf("attack took %.1fs; answers %s\n", elapsed.Seconds(), attack.String())
	if attack.lastRefusal != "" {
		fmt.Printf("a refusal: %.300s\n", attack.lastRefusal)
	}
	fmt.Printf("head series after: %.0f\n", head)
	fmt.Printf("RSS: before %s, peak %s, after %s (%.2f KiB per head series above the start)\n",
		mib(m0.RSS), mib(max(peak.Load(), m1.RSS)), mib(m1.RSS), (float64(m1.RSS)-float64(m0.RSS))/1024/max(head, 1))
	fmt.Printf("victim (100 known series + 1 new per push, every 1s): answers %s; %d new series accepted\n",
		victim.String(), victimNew)
	return nil
}

// headSeries reads prometheus_tsdb_head_series from gmc's /metrics.
func headSeries(client *http.Client, base string) (float64, error) {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "prometheus_tsdb_head_series "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no prometheus_tsdb_head_series in %s/metrics", base)
}
