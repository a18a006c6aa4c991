package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/demo"
)

// TestDemoDurationNotInBackfill: --history's backfill runs without
// --duration's deadline (it counted from the demo's start, so a
// `--history 3d --duration D` demo served for D less the backfill).
func TestDemoDurationNotInBackfill(t *testing.T) {
	errStop := errors.New("stop after the backfill")
	var deadline, done bool
	cmd := &demoCommand{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" },
		backfill: func(ctx context.Context, _ io.Writer, _ *slog.Logger, _ config.Config, _ time.Duration, _ int64) (demo.HistoryResult, error) {
			_, deadline = ctx.Deadline()
			done = ctx.Err() != nil
			return demo.HistoryResult{}, errStop
		}}
	args := []string{"--duration", "90s", "--history", "3d", "--web.listen-address", "127.0.0.1:0", "--gateway.listen-address", "127.0.0.1:0",
		"--market-data.listen-address", "127.0.0.1:0", "--receiver.listen-address", "127.0.0.1:0", "--storage.path", t.TempDir()}
	if err := cmd.Run(context.Background(), args); !errors.Is(err, errStop) {
		t.Fatalf("gmc demo: %v, want the backfill's error", err)
	}
	if deadline || done {
		t.Errorf("the backfill ran under a deadline (%v) or an ended context (%v): --duration counted it", deadline, done)
	}
}

// TestRunPartsDuration: runParts runs its parts for d from when it starts
// them, whatever came before (an hour's backfill here), and stops them in
// reverse order, saying why; a part that exits stops the others. Each
// stop is checked against the moment before it: a millisecond short of
// the duration (of the failure) the parts have started and none stopped.
func TestRunPartsDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Hour) // the backfill
		var (
			mu     sync.Mutex
			events []string
		)
		note := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
		began := time.Now()
		ran := map[string]time.Duration{}
		part := func(name string) partSpec {
			return partSpec{name, func(ctx context.Context) error {
				note("start " + name)
				<-ctx.Done()
				mu.Lock()
				ran[name] = time.Since(began)
				mu.Unlock()
				note("stop " + name)
				return nil
			}}
		}
		// runs starts runParts, and returns what it returns once it has.
		runs := func(out io.Writer, specs []partSpec) (wait func() error) {
			errc := make(chan error, 1)
			go func() { errc <- runParts(context.Background(), out, 90*time.Second, specs) }()
			return func() error { return <-errc }
		}
		// stopped says which parts were stopped so far.
		stopped := func() []string {
			mu.Lock()
			defer mu.Unlock()
			var out []string
			for _, e := range events {
				if name, ok := strings.CutPrefix(e, "stop "); ok {
					out = append(out, name)
				}
			}
			return out
		}
		var out bytes.Buffer
		wait := runs(&out, []partSpec{part("gmc"), part("sim")})
		// Before: a millisecond short of 90s, both run, none stopped.
		time.Sleep(90*time.Second - time.Millisecond)
		synctest.Wait()
		mu.Lock()
		started := slices.Sorted(slices.Values(events))
		mu.Unlock()
		if want := []string{"start gmc", "start sim"}; !slices.Equal(started, want) {
			t.Errorf("events 1ms before --duration passed %v, want %v", started, want)
		}
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		if want := map[string]time.Duration{"gmc": 90 * time.Second, "sim": 90 * time.Second}; !maps.Equal(ran, want) {
			t.Errorf("the parts ran %v, want %v", ran, want)
		}
		// Each starts before it is stopped; sim stops before gmc.
		if i, j := slices.Index(events, "stop sim"), slices.Index(events, "stop gmc"); i < 0 || j < i {
			t.Errorf("events %v: sim is not stopped before gmc", events)
		}
		if got := out.String(); !strings.HasPrefix(got, "Stopping: --duration 1m30s passed…\n") || !strings.HasSuffix(got, "gmc demo stopped.\n") {
			t.Errorf("printed %q", got)
		}

		// A part that fails stops the others at once, and its error is returned.
		began = time.Now()
		clear(ran)
		mu.Lock()
		events = nil
		mu.Unlock()
		failed := errors.New("address in use")
		wait = runs(io.Discard, []partSpec{part("gmc"), {"agent", func(context.Context) error {
			time.Sleep(5 * time.Second)
			return failed
		}}})
		// Before: a millisecond short of the agent's failure, gmc runs.
		time.Sleep(5*time.Second - time.Millisecond)
		synctest.Wait()
		if s := stopped(); len(s) != 0 {
			t.Errorf("1ms before the agent failed, stopped %v, want none", s)
		}
		err := wait()
		if !errors.Is(err, failed) || !strings.Contains(err.Error(), "agent: ") {
			t.Errorf("a part failing: %v", err)
		}
		if ran["gmc"] != 5*time.Second {
			t.Errorf("gmc ran %v after the agent failed at 5s", ran["gmc"])
		}
	})
}
