package query

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// onNicedThread runs fn on a goroutine locked to a fresh OS thread whose nice
// value is nice, and waits for it. The goroutine never unlocks, so the thread
// ends with it and no other goroutine inherits its priority (lowering the
// value back would need CAP_SYS_NICE). If the priority cannot be set, fn runs
// at the thread's own. A panic of fn is raised again on the caller's
// goroutine, where net/http recovers a handler's panics.
func onNicedThread(nice int, fn func()) {
	done := make(chan any, 1)
	go func() {
		var panicked any
		defer func() { done <- panicked }()
		defer func() { panicked = recover() }()
		runtime.LockOSThread()
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
		fn()
	}()
	if p := <-done; p != nil {
		panic(p)
	}
}

// idleCPUs is how many CPUs no thread runs on at this instant: the CPUs less
// the machine's running threads (/proc/loadavg's fourth field, the caller's
// own included); 0 if it cannot be read.
func idleCPUs() int {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 4 {
		return 0
	}
	running, _, ok := bytes.Cut(f[3], []byte("/"))
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(string(running))
	if err != nil {
		return 0
	}
	return max(runtime.NumCPU()-n, 0)
}

// userHZ is the unit of /proc/stat's CPU times: USER_HZ, 100 on every
// Linux architecture.
const userHZ = 100

// readCPU reads the machine's busy CPU time (/proc/stat's first line: all
// but idle and iowait; guest time is already in user) and this process's
// (getrusage); false if either cannot be read.
func readCPU() (cpuSample, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return cpuSample{}, false
	}
	var busy uint64
	// user nice system idle iowait irq softirq steal [guest guest_nice]
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return cpuSample{}, false
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return cpuSample{}, false
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpuSample{at: time.Now(), busy: float64(busy) / userHZ, self: self.Seconds()}, true
}

// newCPUMeter measures this machine's CPUs (cpuMeter).
func newCPUMeter() *cpuMeter {
	return &cpuMeter{read: readCPU, cpus: runtime.NumCPU(), instant: idleCPUs}
}
