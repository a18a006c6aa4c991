package proc

import (
	"fmt"

	"github.com/prometheus/procfs"
)

// CPUSeconds returns the user+system CPU time process pid has used, from
// /proc/PID/stat.
func CPUSeconds(pid int) (float64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, fmt.Errorf("open /proc of pid %d: %w", pid, err)
	}
	st, err := p.Stat()
	if err != nil {
		return 0, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
	}
	return st.CPUTime(), nil
}

// Memory is a process's resident memory from /proc/PID/status, in bytes.
type Memory struct {
	RSS     uint64 // VmRSS: resident now (RssAnon + RssFile + RssShmem)
	PeakRSS uint64 // VmHWM: the most it has been resident
	Anon    uint64 // RssAnon: the process's own memory
	File    uint64 // RssFile: pages of mapped files (executable, libraries), shared and reclaimable
}

// ReadMemory returns the resident memory of process pid.
func ReadMemory(pid int) (Memory, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Memory{}, fmt.Errorf("open /proc of pid %d: %w", pid, err)
	}
	st, err := p.NewStatus()
	if err != nil {
		return Memory{}, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	if st.VmRSS == 0 {
		return Memory{}, fmt.Errorf("read /proc/%d/status: no VmRSS (a kernel thread or a zombie)", pid)
	}
	return Memory{RSS: st.VmRSS, PeakRSS: st.VmHWM, Anon: st.RssAnon, File: st.RssFile}, nil
}

// MachineBusyCPU returns the CPU seconds all processes of the machine have
// used (everything but idle and iowait), from /proc/stat.
func MachineBusyCPU() (float64, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, fmt.Errorf("open /proc: %w", err)
	}
	st, err := fs.Stat()
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	c := st.CPUTotal
	return c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal, nil
}
