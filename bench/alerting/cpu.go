package main

import (
	"syscall"
	"time"

	"github.com/gmc-dev/gmc/bench/internal/proc"
)

// cpuSnapshot is the CPU time used so far by the whole machine (busy, not
// idle or iowait), by the target's processes and by this harness, in
// seconds.
type cpuSnapshot struct {
	at                    time.Time
	machine, target, self float64
}

func snapshot(sys *system) cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	if busy, err := proc.MachineBusyCPU(); err == nil {
		s.machine = busy
	}
	for _, p := range sys.procs {
		if cpu, err := p.CPUSeconds(); err == nil {
			s.target += cpu
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	return s
}

// usage returns the target's CPU and every other process's CPU (neither
// the target nor this harness) between a and b, in cores (1 = one core
// busy all the time).
func usage(a, b cpuSnapshot) (target, other float64) {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return 0, 0
	}
	target = (b.target - a.target) / secs
	other = (b.machine - a.machine - (b.target - a.target) - (b.self - a.self)) / secs
	return target, max(other, 0)
}
