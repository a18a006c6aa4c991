// Command httprunner measures gmc's open-loop HTTP load generator on this
// machine: the highest constant rate it sustains against a loopback target
// with latencies still corrected for coordinated omission, and its figures
// next to wrk's (Debian package wrk) on the same target.
//
//	go run ./bench/httprunner [-duration 5s] [-connections 16] [-rates 2000,5000,...]
//
// The target is this same program started as a child process (-target), a
// minimal net/http server answering "ok", so generator and target do not
// share a Go runtime. Everything runs on 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gmc-dev/gmc/internal/bench"
)

func main() {
	target := flag.String("target", "", "internal: serve the loopback target on this address")
	duration := flag.Duration("duration", 5*time.Second, "length of each measured step")
	conns := flag.Int("connections", 16, "connections for wrk and for the gmc runner")
	ratesFlag := flag.String("rates", "1000,2000,5000,8000,10000,12000,15000,20000,25000,30000,40000", "constant rates to try, ascending")
	maxP99 := flag.Duration("max-p99", 10*time.Millisecond, "a step is sustained when p99 stays below this and ≥ 99% of the rate is achieved")
	flag.Parse()
	if *target != "" {
		serveTarget(*target)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *duration, *conns, *ratesFlag, *maxP99); err != nil {
		fmt.Fprintln(os.Stderr, "httprunner:", err)
		os.Exit(1)
	}
}

func serveTarget(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	srv := &http.Server{Addr: addr, Handler: mux}
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func run(ctx context.Context, d time.Duration, conns int, ratesFlag string, maxP99 time.Duration) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	url := "http://" + addr + "/"
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-target", addr)
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return fmt.Errorf("start target: %w", err)
	}
	defer func() {
		_ = child.Process.Signal(syscall.SIGTERM) // our child only, by PID
		_ = child.Wait()
	}()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		} else if i == 100 {
			return fmt.Errorf("target not listening: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("target %s, %d connections, %s per step, GOMAXPROCS %s\n\n", url, conns, d, os.Getenv("GOMAXPROCS"))

	// 1. Maximum throughput, closed loop: wrk and gmc (mode closed, rate 0).
	fmt.Println("== maximum throughput, closed loop (latency from the actual send) ==")
	fmt.Printf("%-28s %12s %10s %10s %10s %10s\n", "generator", "req/s", "p50", "p90", "p99", "max")
	if w, err := runWrk(ctx, url, conns, d); err != nil {
		fmt.Printf("%-28s %v\n", "wrk", err)
	} else {
		fmt.Printf("%-28s %12.0f %10s %10s %10s %10s\n", "wrk -t2", w.rps, w.p50, w.p90, w.p99, w.max)
	}
	res, err := bench.RunHTTP(ctx, "max", bench.HTTPConfig{URL: url, Mode: bench.ModeClosed, Duration: bench.Duration(d), Warmup: bench.Duration(time.Second), Connections: conns})
	if err != nil {
		return err
	}
	l := res.Latency
	fmt.Printf("%-28s %12.0f %10s %10s %10s %10s\n", "gmc bench (closed, rate 0)", res.Throughput, fs(l.P50), fs(l.P90), fs(l.P99), fs(l.Max))

	// 2. Constant-rate sweep, open loop, CO-corrected.
	fmt.Println("\n== constant rate, open loop, latency corrected for coordinated omission ==")
	fmt.Printf("%10s %12s %8s %10s %10s %10s %10s %10s %12s %s\n", "target/s", "achieved/s", "errors", "p50", "p90", "p99", "p99.9", "max", "send lag p99", "")
	best := 0.0
	for _, f := range strings.Split(ratesFlag, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("-rates: %q: %w", f, err)
		}
		res, err := bench.RunHTTP(ctx, "rate", bench.HTTPConfig{URL: url, Rate: rate, Duration: bench.Duration(d), Warmup: bench.Duration(time.Second), Connections: conns})
		if err != nil {
			return err
		}
		l := res.Latency
		ok := res.Throughput >= 0.99*rate && l.P99 < maxP99.Seconds() && res.Errors == 0
		mark := "sustained"
		if !ok {
			mark = "NOT sustained"
		} else {
			best = rate
		}
		fmt.Printf("%10.0f %12.0f %8d %10s %10s %10s %10s %10s %12s %s\n", rate, res.Throughput, res.Errors, fs(l.P50), fs(l.P90), fs(l.P99), fs(l.P999), fs(l.Max), fs(l.SendLagP99), mark)
		if !ok && res.Throughput < 0.9*rate {
			break
		}
	}
	fmt.Printf("\nhighest sustained constant rate: %.0f req/s (p99 < %s, ≥ 99%% achieved, no errors)\n", best, maxP99)
	return nil
}

func fs(s float64) string { return bench.FormatValue(s, "s") }

type wrkResult struct {
	rps                float64
	p50, p90, p99, max string
}

var wrkLine = regexp.MustCompile(`^\s*(50|90|99)%\s+(\S+)`)

// runWrk runs wrk with its latency distribution and parses it.
func runWrk(ctx context.Context, url string, conns int, d time.Duration) (wrkResult, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return wrkResult{}, errors.New("wrk not installed (apt package wrk)")
	}
	out, err := exec.CommandContext(ctx, path, "-t2", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency", url).Output()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	var r wrkResult
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		if m := wrkLine.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "50":
				r.p50 = m[2]
			case "90":
				r.p90 = m[2]
			case "99":
				r.p99 = m[2]
			}
		}
		if f := strings.Fields(line); len(f) >= 5 && f[0] == "Latency" {
			r.max = f[3]
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Requests/sec:"); ok {
			r.rps, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return r, nil
}
