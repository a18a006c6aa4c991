package proc

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv, when set in the environment, makes the test binary act as the
// child of the Start/Stop tests: "serve ADDR" answers 200 on ADDR/ready,
// "serve-ignore-term ADDR" does the same but ignores SIGTERM, "exit"
// exits with status 3 at once. A child ends by itself after 30 s.
const childEnv = "GMC_BENCH_PROC_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

func child(mode string) int {
	verb, addr, _ := strings.Cut(mode, " ")
	switch verb {
	case "exit":
		return 3
	case "serve-ignore-term":
		signal.Ignore(syscall.SIGTERM)
	case "serve":
	default:
		return 2
	}
	go func() {
		_ = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/ready" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			os.Stdout.WriteString("ready asked\n")
		}))
	}()
	time.Sleep(30 * time.Second)
	return 0
}

// startChild re-executes the test binary as a child in mode, with its log
// in a temp dir.
func startChild(t *testing.T, ctx context.Context, mode string, o Options) (*Process, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(childEnv, mode) // inherited by the child
	o.Name, o.Bin = "child", exe
	o.LogPath = filepath.Join(t.TempDir(), "child.log")
	p, err := Start(ctx, o)
	if p != nil {
		t.Cleanup(p.Stop)
	}
	return p, err
}

func TestStartWaitsForReadyAndStopTerminates(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := startChild(t, context.Background(), "serve "+addr, Options{ReadyURL: "http://" + addr + "/ready"})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	// Ready means the child itself answered.
	log, err := os.ReadFile(p.opts.LogPath)
	if err != nil || !strings.Contains(string(log), "ready asked") {
		t.Fatalf("child log = %q, %v; want it to show the ready request", log, err)
	}
	if err := syscall.Kill(p.PID(), 0); err != nil {
		t.Fatalf("child %d not running after Start: %v", p.PID(), err)
	}
	select {
	case <-p.Done():
		t.Fatal("Done closed while the child runs")
	default:
	}
	p.Stop()
	var ee *exec.ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("child's exit = %v, want killed by SIGTERM", err)
	}
	p.Stop() // a second Stop returns at once
	if _, err := p.CPUSeconds(); err == nil {
		t.Fatal("CPUSeconds of a reaped child: no error")
	}
}

func TestStopKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := startChild(t, context.Background(), "serve-ignore-term "+addr,
		Options{ReadyURL: "http://" + addr + "/ready", StopGrace: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	p.Stop()
	var ee *exec.ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child's exit = %v, want killed by SIGKILL", err)
	}
}

func TestStartFails(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name, mode string
		ctx        context.Context
		o          Options
		want       string
	}{
		{"exits before ready", "exit", context.Background(), Options{ReadyURL: "http://" + addr + "/ready"}, "child exited before ready (exit status 3)"},
		{"never ready", "serve " + addr, context.Background(), Options{ReadyURL: "http://" + addr + "/missing", ReadyTimeout: 500 * time.Millisecond}, "child not ready within 0.5s"},
		{"context ends", "serve " + addr, cancelled, Options{ReadyURL: "http://" + addr + "/ready"}, context.Canceled.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := startChild(t, tc.ctx, tc.mode, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, want an error containing %q", err, tc.want)
			}
			if p != nil {
				t.Fatal("Start returned a process with its error")
			}
		})
	}
	if _, err := Start(context.Background(), Options{Name: "nothing", Bin: filepath.Join(t.TempDir(), "missing")}); err == nil || !strings.HasPrefix(err.Error(), "start nothing: ") {
		t.Fatalf("Start of a missing binary = %v, want start nothing: …", err)
	}
}

func TestCPUSecondsOfSelf(t *testing.T) {
	rusage := func() float64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	x := 0.0
	for i := 0; i < 1e9 && rusage() < 0.3; i++ { // burn CPU, bounded
		x += math.Sqrt(float64(i))
	}
	before := rusage()
	got, err := CPUSeconds(os.Getpid())
	after := rusage()
	if err != nil {
		t.Fatal(err)
	}
	// /proc/PID/stat counts in ticks of 10 ms.
	if got < before-0.05 || got > after+0.05 {
		t.Fatalf("CPUSeconds = %.3f, getrusage says %.3f..%.3f (x=%g)", got, before, after, x)
	}
}

func TestReadMemoryOfSelf(t *testing.T) {
	const size = 64 << 20
	buf := make([]byte, size)
	for i := range buf { // touch every page
		buf[i] = byte(i)
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Anon < size || m.RSS < m.Anon+m.File || m.PeakRSS < m.RSS || m.File == 0 {
		t.Fatalf("memory %+v: want Anon ≥ %d (the buffer), File > 0 (the executable), RSS ≥ Anon+File, PeakRSS ≥ RSS", m, size)
	}
	_ = buf[size-1]
	if _, err := ReadMemory(0); err == nil {
		t.Fatal("ReadMemory(0): no error")
	}
}

func TestMachineBusyCPU(t *testing.T) {
	busy, err := MachineBusyCPU()
	if err != nil {
		t.Fatal(err)
	}
	self, err := CPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if busy < self {
		t.Fatalf("machine busy CPU %.2f s is less than this process's %.2f s", busy, self)
	}
}

func TestFreeAddr(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr = %q, want a 127.0.0.1 address", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}
