package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/process"
)

// Process is a service whose processes the agent reports, found by exactly
// one of Name, PIDFile or Cgroup.
type Process struct {
	// Service is the value of the service label.
	Service string `yaml:"service"`
	// Name matches the process name (/proc/PID/comm; names longer than the
	// kernel's 15 characters match on their first 15).
	Name string `yaml:"name,omitempty"`
	// PIDFile holds the PID of the service's main process.
	PIDFile string `yaml:"pidfile,omitempty"`
	// Cgroup is a cgroup directory (absolute, or relative to /sys/fs/cgroup):
	// every process listed in its cgroup.procs counts.
	Cgroup string `yaml:"cgroup,omitempty"`
}

// ParseProcess parses the --process flag form service=name:NAME,
// service=pidfile:PATH or service=cgroup:PATH.
func ParseProcess(s string) (Process, error) {
	service, how, ok := strings.Cut(s, "=")
	kind, arg, ok2 := strings.Cut(how, ":")
	if !ok || !ok2 || service == "" || arg == "" {
		return Process{}, fmt.Errorf("process %q: want service=name:NAME, service=pidfile:PATH or service=cgroup:PATH", s)
	}
	p := Process{Service: service}
	switch kind {
	case "name":
		p.Name = arg
	case "pidfile":
		p.PIDFile = arg
	case "cgroup":
		p.Cgroup = arg
	default:
		return Process{}, fmt.Errorf("process %q: unknown match %q, want name, pidfile or cgroup", s, kind)
	}
	return p, nil
}

// Validate checks that exactly one way of finding the processes is given.
func (p Process) Validate() error {
	if p.Service == "" {
		return errors.New("process: service is required")
	}
	n := 0
	for _, s := range []string{p.Name, p.PIDFile, p.Cgroup} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("process %s: set exactly one of name, pidfile, cgroup", p.Service)
	}
	return nil
}

// nameRescan is how often processes matched by name are looked up again
// while all the known ones live (a full scan of /proc costs more than reading
// a few processes).
const nameRescan = 10 * time.Second

// processCollector reports, per service, the sum over its processes of CPU
// time, memory, threads, open fds and context switches, read with gopsutil.
type processCollector struct {
	targets []Process
	logger  *slog.Logger
	ctx     context.Context

	cpu, rss, vms, threads, fds, ctxSwitches, count *prometheus.Desc

	// now is the clock of read times (time.Now); times reads a process's
	// CPU times (gopsutil's).
	now   func() time.Time
	times func(*process.Process) (*cpu.TimesStat, error)

	mu        sync.Mutex // guards byName, scannedAt and readMs
	byName    map[string][]int32
	scannedAt map[string]time.Time
	readMs    map[string]int64 // each service's last read time, rising as host.go's readAt
}

var _ prometheus.Collector = (*processCollector)(nil)

func newProcessCollector(targets []Process, logger *slog.Logger) *processCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"service"}, labels...), nil)
	}
	ctx := context.Background()
	return &processCollector{
		targets:     targets,
		logger:      logger,
		ctx:         ctx,
		now:         time.Now,
		times:       func(p *process.Process) (*cpu.TimesStat, error) { return p.TimesWithContext(ctx) },
		cpu:         d("gmc_process_cpu_seconds_total", "CPU time of the service's processes, by mode: user, system.", "mode"),
		rss:         d("gmc_process_resident_memory_bytes", "Resident memory of the service's processes."),
		vms:         d("gmc_process_virtual_memory_bytes", "Virtual memory of the service's processes."),
		threads:     d("gmc_process_threads", "Threads of the service's processes."),
		fds:         d("gmc_process_open_fds", "Open file descriptors of the service's processes."),
		ctxSwitches: d("gmc_process_context_switches_total", "Context switches of the service's processes, by kind: voluntary, involuntary.", "kind"),
		count:       d("gmc_process_count", "Processes found for the service (0: the service is not running)."),
		byName:      map[string][]int32{},
		scannedAt:   map[string]time.Time{},
		readMs:      map[string]int64{},
	}
}

// Describe sends nothing: the collector is unchecked.
func (c *processCollector) Describe(chan<- *prometheus.Desc) {}

// Collect reports every configured service; a service with no process
// reports gmc_process_count 0 and nothing else.
func (c *processCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.targets {
		pids, err := c.pids(t)
		if err != nil {
			c.logger.Debug("find service processes", "service", t.Service, "err", err)
		}
		var procs []*process.Process
		for _, pid := range pids {
			if p, err := process.NewProcessWithContext(c.ctx, pid); err == nil {
				procs = append(procs, p)
			} // else gone since it was found
		}
		// The CPU times first, back to back, each read stamped as host.go's
		// sources are (readSource): the middle of two clock readings around
		// it, read again when they are more than maxReadBracket apart. A
		// stamp taken after the read was late whenever the collector was
		// descheduled as the read returned (PSI over 100 %, 1d1e2dc); the
		// other figures are gauges and counters read after, not timed.
		var user, system, rss, vms, threads, fds, vol, invol float64
		var first, last time.Time // when the first and last process's CPU times were read
		n := 0
		for _, p := range procs {
			times, at, err := c.readCPU(p)
			if err != nil {
				continue
			}
			if last = at; n == 0 {
				first = at
			}
			procs[n] = p
			n++
			user += times.User
			system += times.System
		}
		for _, p := range procs[:n] {
			if m, err := p.MemoryInfoWithContext(c.ctx); err == nil {
				rss += float64(m.RSS)
				vms += float64(m.VMS)
			}
			if v, err := p.NumThreadsWithContext(c.ctx); err == nil {
				threads += float64(v)
			}
			if v, err := p.NumFDsWithContext(c.ctx); err == nil {
				fds += float64(v)
			}
			if v, err := p.NumCtxSwitchesWithContext(c.ctx); err == nil {
				vol += float64(v.Voluntary)
				invol += float64(v.Involuntary)
			}
		}
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n), t.Service)
		if n == 0 {
			continue
		}
		// The service's figures carry the time they were read (host.go's
		// read times): between its first and last process's.
		out := stamped{ch: ch, at: c.readAt(t.Service, first.Add(last.Sub(first)/2))}
		out.send(prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, user, t.Service, "user"))
		out.send(prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, system, t.Service, "system"))
		out.send(prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, rss, t.Service))
		out.send(prometheus.MustNewConstMetric(c.vms, prometheus.GaugeValue, vms, t.Service))
		out.send(prometheus.MustNewConstMetric(c.threads, prometheus.GaugeValue, threads, t.Service))
		out.send(prometheus.MustNewConstMetric(c.fds, prometheus.GaugeValue, fds, t.Service))
		out.send(prometheus.MustNewConstMetric(c.ctxSwitches, prometheus.CounterValue, vol, t.Service, "voluntary"))
		out.send(prometheus.MustNewConstMetric(c.ctxSwitches, prometheus.CounterValue, invol, t.Service, "involuntary"))
	}
}

// readCPU reads p's CPU times and when the kernel computed them: the
// middle of a clock reading before the read and one after it, reading
// again (up to readTries reads) while they are more than maxReadBracket
// apart; the last read's times and time are kept.
func (c *processCollector) readCPU(p *process.Process) (*cpu.TimesStat, time.Time, error) {
	for try := 1; ; try++ {
		before := c.now()
		times, err := c.times(p)
		if err != nil {
			return nil, time.Time{}, err
		}
		after := c.now()
		if after.Sub(before) <= maxReadBracket || try >= readTries {
			return times, before.Add(after.Sub(before) / 2), nil
		}
	}
}

// readAt is at, or the millisecond after service's last read time if at
// is not past it.
func (c *processCollector) readAt(service string, at time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := max(at.UnixMilli(), c.readMs[service]+1)
	c.readMs[service] = ms
	return time.UnixMilli(ms)
}

// pids finds the processes of a service.
func (c *processCollector) pids(t Process) ([]int32, error) {
	switch {
	case t.PIDFile != "":
		b, err := os.ReadFile(t.PIDFile)
		if err != nil {
			return nil, fmt.Errorf("read pid file: %w", err)
		}
		pid, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("pid file %s: %w", t.PIDFile, err)
		}
		return []int32{int32(pid)}, nil
	case t.Cgroup != "":
		dir := t.Cgroup
		if !filepath.IsAbs(dir) {
			dir = filepath.Join("/sys/fs/cgroup", dir)
		}
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return nil, fmt.Errorf("read cgroup processes: %w", err)
		}
		var pids []int32
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.ParseInt(f, 10, 32); err == nil {
				pids = append(pids, int32(pid))
			}
		}
		return pids, nil
	default:
		return c.pidsByName(t.Name)
	}
}

// pidsByName returns the processes named name, scanning /proc again when one
// of the known ones has gone or nameRescan has passed.
func (c *processCollector) pidsByName(name string) ([]int32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pids, known := c.byName[name]
	fresh := known && time.Since(c.scannedAt[name]) < nameRescan
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			fresh = false
		}
	}
	if fresh {
		return pids, nil
	}
	all, err := process.PidsWithContext(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	want := name
	if len(want) > 15 {
		want = want[:15]
	}
	pids = nil
	for _, pid := range all {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == want {
			pids = append(pids, pid)
		}
	}
	c.byName[name] = pids
	c.scannedAt[name] = time.Now()
	return pids, nil
}
