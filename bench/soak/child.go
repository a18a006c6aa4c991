package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// heavyChildEnv, when set, makes this binary the heavy readers' child
// process (-heavy-proc): "base span start every n", and it prints one line
// per heavy answer ("ok <ns>" or "err <message>") until its stdin closes.
const heavyChildEnv = "GMC_SOAK_HEAVY_CHILD"

// startHeavyChild runs the n heavy readers in a child process at nice 10,
// as a remote user's would be: their reading of the answers (tens of MB
// each) does not take this process's CPUs from the pushers, and the kernel
// runs the pushers first. The answers' latencies are added to lat.
func startHeavyChild(ctx context.Context, base string, span time.Duration, win windows, n int, lat *latencies) (pid int, wait func() error, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.CommandContext(ctx, "nice", "-n", "10", self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %d %d", heavyChildEnv, base, span, win.start.UnixNano(), win.every, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			kind, rest, _ := strings.Cut(sc.Text(), " ")
			switch kind {
			case "ok":
				ns, _ := strconv.ParseInt(rest, 10, 64)
				lat.add(time.Duration(ns), nil)
			case "err":
				lat.add(0, errors.New(rest))
			}
		}
	})
	return cmd.Process.Pid, func() error {
		stdin.Close()
		wg.Wait()
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			return fmt.Errorf("heavy readers' child: %w", err)
		}
		return nil
	}, nil
}

// heavyChild is the child's side of startHeavyChild.
func heavyChild(spec string) error {
	var base string
	var span, startNs, every time.Duration
	var n int
	if _, err := fmt.Sscan(spec, &base, &span, &startNs, &every, &n); err != nil {
		return fmt.Errorf("%s %q: %w", heavyChildEnv, spec, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the parent closes stdin (or ends) when the run is over
		_, _ = bufio.NewReader(os.Stdin).ReadByte()
		cancel()
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	win := windows{start: time.Unix(0, int64(startNs)), every: every}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	lat := &latencies{onAdd: func(d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fmt.Fprintf(w, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Fprintf(w, "ok %d\n", d)
		}
		w.Flush()
	}}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { heavyLoop(ctx, client, base, span, win, lat) })
	}
	wg.Wait()
	return nil
}
