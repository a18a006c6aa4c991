//go:build !linux

package query

import (
	"math"
	"runtime"
)

func onNicedThread(_ int, fn func()) { fn() }

// newCPUMeter: the machine's idle CPUs are unknown here, so no bound on
// borrowing (see shardWorkers).
func newCPUMeter() *cpuMeter {
	return &cpuMeter{read: func() (cpuSample, bool) { return cpuSample{}, false }, cpus: runtime.NumCPU(),
		instant: func() int { return math.MaxInt }}
}
