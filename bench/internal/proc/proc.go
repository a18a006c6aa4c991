// Package proc starts, measures and stops the child processes of gmc's
// side-by-side benchmark harnesses (bench/ingest, bench/alerting,
// bench/agent): a free loopback address to give a child, a gmc binary built
// from this module, a child with its output in a log file that is ready
// when an HTTP URL answers 200, stopped by its PID (SIGTERM, then SIGKILL
// after a grace period), and its CPU time and memory read from /proc.
package proc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options say which child to start and how to wait for it and stop it.
type Options struct {
	// Name names the child in errors.
	Name string
	Bin  string
	Args []string
	// LogPath receives the child's stdout and stderr; empty discards them.
	LogPath string
	// ReadyURL, when set, is polled every 50 ms until it answers 200, for at
	// most ReadyTimeout (default 60 s); empty means ready once started.
	ReadyURL     string
	ReadyTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL
	// (default 20 s).
	StopGrace time.Duration
}

// Process is a running child. Its methods may be called from several
// goroutines; Stop may be called more than once.
type Process struct {
	opts    Options
	cmd     *exec.Cmd
	done    chan struct{} // closed when the child has exited
	waitErr error         // set before done is closed
}

// Start runs the child and, if o.ReadyURL is set, waits until it is ready.
// When the child exits before it is ready, does not become ready in time or
// ctx ends first, Start stops it and returns an error.
func Start(ctx context.Context, o Options) (*Process, error) {
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 20 * time.Second
	}
	p := &Process{opts: o, done: make(chan struct{})}
	p.cmd = exec.Command(o.Bin, o.Args...)
	var logf *os.File
	if o.LogPath != "" {
		var err error
		if logf, err = os.Create(o.LogPath); err != nil {
			return nil, fmt.Errorf("create log of %s: %w", o.Name, err)
		}
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
	}
	if err := p.cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return nil, fmt.Errorf("start %s: %w", o.Name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		if logf != nil {
			logf.Close()
		}
		close(p.done)
	}()
	if o.ReadyURL == "" {
		return p, nil
	}
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls the ready URL until it answers 200.
func (p *Process) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(p.opts.ReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before ready (%v); see %s", p.opts.Name, p.waitErr, p.opts.LogPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := client.Get(p.opts.ReadyURL)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("%s not ready within %gs; see %s", p.opts.Name, p.opts.ReadyTimeout.Seconds(), p.opts.LogPath)
}

// PID is the child's process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the child to exit and returns what exec.Cmd.Wait said.
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// Stop sends SIGTERM to the child by its PID, SIGKILL if it has not exited
// after the grace period, and returns once it has exited.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(p.opts.StopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// CPUSeconds returns the user+system CPU time the child has used.
func (p *Process) CPUSeconds() (float64, error) { return CPUSeconds(p.PID()) }

// Memory returns the child's resident memory.
func (p *Process) Memory() (Memory, error) { return ReadMemory(p.PID()) }

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// BuildGMC builds ./cmd/gmc of the module the harness runs in into dir/gmc
// and returns its path.
func BuildGMC(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "gmc")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/gmc")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gmc: %w\n%s", err, b)
	}
	return bin, nil
}
