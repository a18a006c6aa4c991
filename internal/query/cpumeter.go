package query

import (
	"math"
	"sync"
	"time"
)

// cpuSample is a reading of the machine's CPU time: at, when it was read;
// busy, the seconds every CPU spent not idle since boot; self, the seconds
// this process spent (user and system).
type cpuSample struct {
	at         time.Time
	busy, self float64
}

// cpuMeter says how many CPUs the rest of the machine leaves free, from the
// CPU time other processes took since its last reading: how many goroutines
// a heavy query may borrow (shardWorkers). gmc's own CPU is left out: a
// query that just ran on two cores, or gmc's ingest, would otherwise keep
// the next query on one (Go's scheduler and the heavy lane's nice share
// gmc's own threads). An instant's running threads (/proc/loadavg), read
// before, were nearly never fewer than two on an idle 2-core machine (the
// previous answer's garbage collection, the query's own thread), so the
// 1 h at 1 s query ran on one core where VictoriaMetrics uses two.
type cpuMeter struct {
	read    func() (cpuSample, bool)
	cpus    int
	instant func() int // the fallback before a first window: idle CPUs now

	mu   sync.Mutex
	last cpuSample
	has  bool
	idle int // the answer over the last window, reused within minCPUWindow
}

// minCPUWindow is the shortest window a new answer is measured over:
// /proc/stat counts in 10 ms ticks per CPU.
const minCPUWindow = 100 * time.Millisecond

// idleCPUs is how many CPUs beyond the caller's own the rest of the
// machine left idle over the time since the last reading (at least
// minCPUWindow; a reading within it gives the last answer; one after a
// long pause averages over the pause, so a load begun just before it is
// seen only by the next query). The first
// reading, with no window yet, asks instant. Unknown (no reading): no bound.
func (m *cpuMeter) idleCPUs() int {
	cur, ok := m.read()
	if !ok {
		return math.MaxInt
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.has {
		m.last, m.has = cur, true
		m.idle = m.instant()
		return m.idle
	}
	if cur.at.Sub(m.last.at) < minCPUWindow {
		return m.idle
	}
	m.idle = freeCPUs(m.last, cur, m.cpus)
	m.last = cur
	return m.idle
}

// freeCPUs is how many CPUs, less the one a query runs on, other processes
// left free between two readings: the CPUs less the others' busy share of
// the window, rounded to the nearest whole CPU.
func freeCPUs(prev, cur cpuSample, cpus int) int {
	window := cur.at.Sub(prev.at).Seconds()
	if window <= 0 {
		return 0
	}
	others := max((cur.busy-prev.busy)-(cur.self-prev.self), 0) / window
	return max(int(math.Round(float64(cpus)-others))-1, 0)
}
