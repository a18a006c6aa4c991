package query

import (
	"testing"
	"time"
)

// TestFreeCPUs: the CPUs other processes left free over a window, less
// the query's own; gmc's own CPU time is not the others'.
func TestFreeCPUs(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		name       string
		cpus       int
		window     time.Duration
		busy, self float64 // seconds over the window
		want       int
	}{
		{"idle 2-core machine", 2, time.Second, 0.05, 0, 1},
		{"gmc's last query on both cores", 2, time.Second, 1.95, 1.9, 1},
		{"gmc ingesting on one core", 2, time.Second, 1.1, 1, 1},
		{"another process on one core", 2, time.Second, 1.2, 0.2, 0},
		{"others on 0.6 of a core", 2, 500 * time.Millisecond, 0.3, 0, 0},
		{"others on 0.4 of a core", 2, 500 * time.Millisecond, 0.2, 0, 1},
		{"saturated by others", 2, time.Second, 2, 0.1, 0},
		{"4 cores, others on 0.3", 4, time.Second, 0.3, 0, 3},
		{"ticks counted late: self above busy", 2, time.Second, 0.5, 0.6, 1},
	} {
		prev := cpuSample{at: t0, busy: 5000, self: 30}
		cur := cpuSample{at: t0.Add(c.window), busy: 5000 + c.busy, self: 30 + c.self}
		if got := freeCPUs(prev, cur, c.cpus); got != c.want {
			t.Errorf("%s: %d CPUs free beside the query's, want %d", c.name, got, c.want)
		}
	}
}

// TestCPUMeterWindows: the first reading asks the instant fallback; a
// reading within minCPUWindow of the last window's end gives its answer
// again; a later one measures the window since.
func TestCPUMeterWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var next cpuSample
	instants := 0
	m := &cpuMeter{read: func() (cpuSample, bool) { return next, true }, cpus: 2,
		instant: func() int { instants++; return 0 }}
	next = cpuSample{at: t0, busy: 100, self: 10}
	if got := m.idleCPUs(); got != 0 || instants != 1 {
		t.Fatalf("first reading: %d (instant asked %d times), want the instant's 0", got, instants)
	}
	// Others idle, gmc on both cores for a second: one CPU to borrow.
	next = cpuSample{at: t0.Add(time.Second), busy: 102, self: 12}
	if got := m.idleCPUs(); got != 1 {
		t.Fatalf("after a second of gmc alone: %d, want 1", got)
	}
	// 50 ms later another process took a whole core: too short a window,
	// the last answer stands.
	next = cpuSample{at: t0.Add(time.Second + 50*time.Millisecond), busy: 102.1, self: 12}
	if got := m.idleCPUs(); got != 1 {
		t.Fatalf("50 ms later: %d, want the last answer 1", got)
	}
	// Measured from the last window's end (1 s), not from the reading
	// within it: the other process on a core for 200 ms.
	next = cpuSample{at: t0.Add(time.Second + 200*time.Millisecond), busy: 102.2, self: 12}
	if got := m.idleCPUs(); got != 0 || instants != 1 {
		t.Fatalf("another process on a core: %d (instant asked %d times), want 0 (1)", got, instants)
	}
	// No reading: no bound.
	m.read = func() (cpuSample, bool) { return cpuSample{}, false }
	if got := m.idleCPUs(); got < 1<<30 {
		t.Fatalf("unreadable: %d, want no bound", got)
	}
}
