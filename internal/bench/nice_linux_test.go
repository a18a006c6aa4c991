package bench

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSetNiceRunsOnALowPriorityThread: a registry's benchmarks run on a
// thread at its nice value, and the caller's thread keeps its own.
func TestSetNiceRunsOnALowPriorityThread(t *testing.T) {
	reg := NewRegistry()
	var mu sync.Mutex
	seen := map[int]bool{} // nice values the benchmark ran at
	if err := reg.Register("probe", func(b *B) {
		p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		seen[20-p] = true // the raw getpriority(2) answers 20 - nice
		mu.Unlock()
		for range b.N {
		}
	}); err != nil {
		t.Fatal(err)
	}
	reg.SetNice(19)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	res, err := runFunc(context.Background(), time.Now, "probe", &FuncConfig{Name: "probe", Benchtime: Duration(time.Millisecond), Count: 3}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) == 0 {
		t.Fatalf("no samples: %+v", res)
	}
	if len(seen) != 1 || !seen[19] {
		t.Errorf("the benchmark ran at nice %v, want only 19", seen)
	}
	if after, _ := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid()); after != before {
		t.Errorf("the caller's thread priority changed from %d to %d", before, after)
	}
}
