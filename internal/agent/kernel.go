package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// errAbsent marks a part whose source the kernel does not have (no PSI
// before 4.20 or with psi=0, no IPv6): the part is skipped, not failed.
var errAbsent = errors.New("not provided by this kernel")

// absent wraps err with errAbsent when the file is missing or the kernel
// refuses to serve it (a PSI file reads EOPNOTSUPP when PSI is disabled).
func absent(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EOPNOTSUPP) {
		return fmt.Errorf("%w: %w", errAbsent, err)
	}
	return err
}

// kernelDescs are the families read with procfs (node_exporter's library)
// under node_exporter 1.5's names and types: the pressure, stat, filefd,
// sockstat and (optional) interrupts collectors.
type kernelDescs struct {
	pressure                                map[string]*prometheus.Desc
	ctxt, forks, procsRunning, procsBlocked *prometheus.Desc
	intr, softirqs, interrupts, irqStalled  *prometheus.Desc
	fdAllocated, fdMaximum, socketsUsed     *prometheus.Desc
}

// pressureFields are the PSI totals node_exporter reports: the share of
// time some task waited ("some") or all non-idle tasks stalled ("full") on
// a resource, in seconds since boot. CPU's "full" line is not reported (it
// is undefined at the system level: always 0).
var pressureFields = []struct {
	resource, line, name, help string
}{
	{"cpu", "some", "node_pressure_cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time."},
	{"io", "some", "node_pressure_io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion."},
	{"io", "full", "node_pressure_io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion."},
	{"memory", "some", "node_pressure_memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory."},
	{"memory", "full", "node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion."},
}

func newKernelDescs() kernelDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	k := kernelDescs{
		pressure:     map[string]*prometheus.Desc{},
		ctxt:         d("node_context_switches_total", "Total number of context switches."),
		forks:        d("node_forks_total", "Total number of forks."),
		procsRunning: d("node_procs_running", "Number of processes in runnable state."),
		procsBlocked: d("node_procs_blocked", "Number of processes blocked waiting for I/O to complete."),
		intr:         d("node_intr_total", "Total number of interrupts serviced."),
		softirqs:     d("node_softirqs_total", "Number of softirq calls.", "vector"),
		fdAllocated:  d("node_filefd_allocated", "File descriptor statistics: allocated."),
		fdMaximum:    d("node_filefd_maximum", "File descriptor statistics: maximum."),
		interrupts:   d("node_interrupts_total", "Interrupts serviced, per IRQ line and CPU (/proc/interrupts).", "cpu", "type", "info", "devices"),
		socketsUsed:  d("node_sockstat_sockets_used", "Number of sockets in use, of every kind (/proc/net/sockstat's \"sockets: used\", unix sockets included)."),
	}
	for _, f := range pressureFields {
		k.pressure[f.name] = d(f.name, f.help)
	}
	k.irqStalled = d("node_pressure_irq_stalled_seconds_total", "Total time in seconds no process could make progress due to IRQ congestion.")
	return k
}

// collectPressure reports /proc/pressure/{cpu,io,memory}; a kernel without
// PSI makes it errAbsent. Each file's totals carry the time it was read.
func (c *hostCollector) collectPressure(ch chan<- prometheus.Metric) error {
	stats := map[string]procfs.PSIStats{}
	outs := map[string]stamped{}
	for _, r := range []string{"cpu", "io", "memory"} {
		var s procfs.PSIStats
		out, err := c.readSource(ch, "pressure "+r, func() (err error) { s, err = c.proc.PSIStatsForResource(r); return err })
		if err != nil {
			return absent(err)
		}
		stats[r], outs[r] = s, out
	}
	// /proc/pressure/irq (Linux 6.1+ with IRQ time accounting) has only a
	// "full" line: node_exporter 1.8+'s node_pressure_irq_stalled_seconds_total.
	// Optional: a PSI kernel without it is not a failure.
	var irq procfs.PSIStats
	if out, err := c.readSource(ch, "pressure irq", func() (err error) { irq, err = c.proc.PSIStatsForResource("irq"); return err }); err == nil && irq.Full != nil {
		out.send(prometheus.MustNewConstMetric(c.kernel.irqStalled, prometheus.CounterValue, float64(irq.Full.Total)/1e6))
	} else if err != nil && !errors.Is(absent(err), errAbsent) {
		return err
	}
	for _, f := range pressureFields {
		line := stats[f.resource].Some
		if f.line == "full" {
			line = stats[f.resource].Full
		}
		if line == nil {
			continue // a kernel before 5.13 has no cpu "full"; io and memory always have both
		}
		outs[f.resource].send(prometheus.MustNewConstMetric(c.kernel.pressure[f.name], prometheus.CounterValue, float64(line.Total)/1e6))
	}
	return nil
}

// softirqVectors are /proc/stat's softirq columns by node_exporter's vector label.
var softirqVectors = []struct {
	vector string
	get    func(procfs.SoftIRQStat) uint64
}{
	{"hi", func(s procfs.SoftIRQStat) uint64 { return s.Hi }},
	{"timer", func(s procfs.SoftIRQStat) uint64 { return s.Timer }},
	{"net_tx", func(s procfs.SoftIRQStat) uint64 { return s.NetTx }},
	{"net_rx", func(s procfs.SoftIRQStat) uint64 { return s.NetRx }},
	{"block", func(s procfs.SoftIRQStat) uint64 { return s.Block }},
	{"block_iopoll", func(s procfs.SoftIRQStat) uint64 { return s.BlockIoPoll }},
	{"tasklet", func(s procfs.SoftIRQStat) uint64 { return s.Tasklet }},
	{"sched", func(s procfs.SoftIRQStat) uint64 { return s.Sched }},
	{"hrtimer", func(s procfs.SoftIRQStat) uint64 { return s.Hrtimer }},
	{"rcu", func(s procfs.SoftIRQStat) uint64 { return s.Rcu }},
}

// collectStat reports /proc/stat's context switches, forks, running and
// blocked processes, interrupts and softirqs by vector, as node_exporter's
// stat collector does (softirqs with its --collector.stat.softirq).
func (c *hostCollector) collectStat(ch chan<- prometheus.Metric) error {
	var s procfs.Stat
	out, err := c.readSource(ch, "stat", func() (err error) { s, err = c.proc.Stat(); return err })
	if err != nil {
		return err
	}
	k := c.kernel
	out.send(prometheus.MustNewConstMetric(k.ctxt, prometheus.CounterValue, float64(s.ContextSwitches)))
	out.send(prometheus.MustNewConstMetric(k.forks, prometheus.CounterValue, float64(s.ProcessCreated)))
	out.send(prometheus.MustNewConstMetric(k.procsRunning, prometheus.GaugeValue, float64(s.ProcessesRunning)))
	out.send(prometheus.MustNewConstMetric(k.procsBlocked, prometheus.GaugeValue, float64(s.ProcessesBlocked)))
	out.send(prometheus.MustNewConstMetric(k.intr, prometheus.CounterValue, float64(s.IRQTotal)))
	for _, v := range softirqVectors {
		out.send(prometheus.MustNewConstMetric(k.softirqs, prometheus.CounterValue, float64(v.get(s.SoftIRQ)), v.vector))
	}
	return nil
}

// collectInterrupts reports /proc/interrupts as node_exporter's interrupts
// collector does: one counter per IRQ line (type: its number or name such as
// LOC) and CPU, with the line's chip and trigger (info) and devices. The
// lines without a per-CPU count (ERR, MIS) are left out, as there.
func (c *hostCollector) collectInterrupts(ch chan<- prometheus.Metric) error {
	self, err := c.proc.Self()
	if err != nil {
		return err
	}
	var irqs procfs.Interrupts
	out, err := c.readSource(ch, "interrupts", func() (err error) { irqs, err = self.Interrupts(); return err }) // /proc/interrupts, whatever the process
	if err != nil {
		return absent(err)
	}
	for name, irq := range irqs {
		if irq.Info == "" && irq.Devices == "" {
			continue // ERR and MIS: one system-wide count and no description; node_exporter skips them too
		}
		for cpu, s := range irq.Values {
			var v float64
			if _, err := fmt.Sscan(s, &v); err != nil {
				return fmt.Errorf("/proc/interrupts %s cpu %d %q: %w", name, cpu, s, err)
			}
			out.send(prometheus.MustNewConstMetric(c.kernel.interrupts, prometheus.CounterValue, v, strconv.Itoa(cpu), name, irq.Info, irq.Devices))
		}
	}
	return nil
}

// collectFileFD reports /proc/sys/fs/file-nr: file handles allocated and the
// system-wide maximum (fs.file-max).
func (c *hostCollector) collectFileFD(ch chan<- prometheus.Metric) error {
	var v []string
	out, err := c.readSource(ch, "filefd", func() (err error) { v, err = c.proc.SysctlStrings("fs.file-nr"); return err })
	if err != nil {
		return absent(err)
	}
	if len(v) != 3 {
		return fmt.Errorf("/proc/sys/fs/file-nr: %d fields, want 3", len(v))
	}
	var nums [3]float64
	for i, s := range v {
		if _, err := fmt.Sscan(s, &nums[i]); err != nil {
			return fmt.Errorf("/proc/sys/fs/file-nr field %d %q: %w", i, s, err)
		}
	}
	out.send(prometheus.MustNewConstMetric(c.kernel.fdAllocated, prometheus.GaugeValue, nums[0]))
	out.send(prometheus.MustNewConstMetric(c.kernel.fdMaximum, prometheus.GaugeValue, nums[2]))
	return nil
}

// collectSockstat reports /proc/net/sockstat and sockstat6 as
// node_sockstat_<PROTOCOL>_<field> gauges (TCP6_inuse, UDP_mem, ...), with
// <PROTOCOL>_mem_bytes for the pages in "mem"; the IPv4 file's "sockets:
// used" is node_sockstat_sockets_used. One file missing (IPv6 disabled)
// skips it; both missing is errAbsent.
func (c *hostCollector) collectSockstat(ch chan<- prometheus.Metric) error {
	missing := 0
	for i, read := range []func() (*procfs.NetSockstat, error){c.proc.NetSockstat, c.proc.NetSockstat6} {
		var s *procfs.NetSockstat
		out, err := c.readSource(ch, "sockstat"+strconv.Itoa(i), func() (err error) { s, err = read(); return err })
		if err != nil {
			if err := absent(err); errors.Is(err, errAbsent) {
				missing++
				continue
			}
			return err
		}
		if s.Used != nil {
			out.send(prometheus.MustNewConstMetric(c.kernel.socketsUsed, prometheus.GaugeValue, float64(*s.Used)))
		}
		for _, p := range s.Protocols {
			c.sockstatProtocol(out, p)
		}
	}
	if missing == 2 {
		return fmt.Errorf("%w: no /proc/net/sockstat or sockstat6", errAbsent)
	}
	return nil
}

func (c *hostCollector) sockstatProtocol(out stamped, p procfs.NetSockstatProtocol) {
	inuse := p.InUse
	for _, f := range []struct {
		name string
		v    *int
	}{{"inuse", &inuse}, {"orphan", p.Orphan}, {"tw", p.TW}, {"alloc", p.Alloc}, {"mem", p.Mem}, {"memory", p.Memory}} {
		if f.v == nil {
			continue
		}
		out.send(c.sockGauge(p.Protocol, f.name, float64(*f.v)))
	}
	if p.Mem != nil {
		out.send(c.sockGauge(p.Protocol, "mem_bytes", float64(*p.Mem)*float64(c.pageSize)))
	}
}

// sockGauge is one sockstat gauge; its family depends on the protocols the
// kernel lists, so the descriptor is made per sample.
func (c *hostCollector) sockGauge(protocol, field string, v float64) prometheus.Metric {
	name := "node_sockstat_" + protocol + "_" + field
	help := fmt.Sprintf("Number of %s sockets in state %s.", protocol, field)
	if field == "mem_bytes" {
		help = fmt.Sprintf("Memory of %s sockets in bytes (mem pages × page size).", protocol)
	}
	return prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, v)
}

// newProcFS is procfs on root ("" for /proc).
func newProcFS(root string) (procfs.FS, error) {
	if root == "" {
		root = procfs.DefaultMountPoint
	}
	return procfs.NewFS(root)
}
