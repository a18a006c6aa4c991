package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
	"golang.org/x/sys/unix"
)

// The exclusions node_exporter 1.5 applies by default, so that gmc agent and
// node_exporter report the same devices and file systems.
const (
	diskDeviceExclude = `^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`
	fsMountExclude    = `^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`
	fsTypeExclude     = `^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$`
)

// hostCollector reports the host's CPU, load, memory, disks, file systems and
// network with gopsutil, and /proc/stat, pressure stall information, file
// descriptors and socket counts with procfs (kernel.go), under
// node_exporter's names and labels, so the usual node_exporter dashboards
// work on gmc data. Each part reports its success in
// gmc_agent_collector_success{collector}, as node_scrape_collector_success
// does; a part whose source the kernel lacks (no PSI) is logged once and
// reports no success series.
type hostCollector struct {
	logger *slog.Logger
	ctx    context.Context

	diskExclude, mountExclude, typeExclude *regexp.Regexp

	cpuSeconds, cpuGuest, cpuUtil, cpuCoreUtil *prometheus.Desc
	load1, load5, load15                       *prometheus.Desc
	memory                                     map[string]*prometheus.Desc
	disk                                       map[string]*prometheus.Desc
	fs                                         map[string]*prometheus.Desc
	network                                    map[string]*prometheus.Desc
	uname, bootTime, success                   *prometheus.Desc
	tcp                                        map[string]*prometheus.Desc
	kernel                                     kernelDescs
	unameLabels                                []string
	bootTimeValue                              float64

	proc       procfs.FS // /proc, for the parts read with procfs (kernel.go)
	pageSize   int
	interrupts bool // report node_interrupts_total (HostConfig.Interrupts)

	now func() time.Time // the clock of read times; time.Now

	mu      sync.Mutex // guards prevCPU, told and readMs: /metrics scrapes and pushes collect concurrently
	prevCPU map[string]cpu.TimesStat
	told    map[string]bool  // parts whose absence was logged
	readMs  map[string]int64 // each source's last read time (readAt)
}

var _ prometheus.Collector = (*hostCollector)(nil)

func newHostCollector(logger *slog.Logger) *hostCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	c := &hostCollector{
		logger:       logger,
		ctx:          context.Background(),
		diskExclude:  regexp.MustCompile(diskDeviceExclude),
		mountExclude: regexp.MustCompile(fsMountExclude),
		typeExclude:  regexp.MustCompile(fsTypeExclude),
		cpuSeconds:   d("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "cpu", "mode"),
		cpuGuest:     d("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.", "cpu", "mode"),
		cpuUtil:      d("gmc_host_cpu_utilisation_ratio", "Share of all CPUs' time spent busy (not idle or iowait) since the previous collection, 0 to 1."),
		cpuCoreUtil:  d("gmc_host_cpu_core_utilisation_ratio", "Share of one CPU's time spent busy since the previous collection, 0 to 1.", "cpu"),
		load1:        d("node_load1", "1m load average."),
		load5:        d("node_load5", "5m load average."),
		load15:       d("node_load15", "15m load average."),
		memory:       map[string]*prometheus.Desc{},
		disk:         map[string]*prometheus.Desc{},
		fs:           map[string]*prometheus.Desc{},
		network:      map[string]*prometheus.Desc{},
		uname:        d("node_uname_info", "Labeled system information as provided by the uname system call.", "sysname", "release", "version", "machine", "nodename", "domainname"),
		bootTime:     d("node_boot_time_seconds", "Node boot time, in unixtime."),
		success:      d("gmc_agent_collector_success", "Whether a part of the host collector succeeded (1) or not (0).", "collector"),
		tcp:          map[string]*prometheus.Desc{},
		kernel:       newKernelDescs(),
		pageSize:     os.Getpagesize(),
		prevCPU:      map[string]cpu.TimesStat{},
		told:         map[string]bool{},
		readMs:       map[string]int64{},
		now:          time.Now,
	}
	// procfs.NewFS only checks that /proc is a directory; without one
	// every procfs part fails (and says so in gmc_agent_collector_success).
	c.proc, _ = newProcFS("")
	for _, f := range memoryFields {
		c.memory[f.node] = d("node_memory_"+f.node, "Memory information field "+f.node+".")
	}
	for _, f := range diskFields {
		c.disk[f.name] = d(f.name, f.help, "device")
	}
	for _, f := range fsFields {
		c.fs[f.name] = d(f.name, f.help, "device", "mountpoint", "fstype")
	}
	for _, f := range netFields {
		c.network[f.name] = d(f.name, f.help, "device")
	}
	for _, f := range tcpFields {
		c.tcp[f] = d("node_netstat_Tcp_"+f, "Statistic Tcp"+f+".")
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		c.unameLabels = []string{unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]),
			unix.ByteSliceToString(u.Version[:]), unix.ByteSliceToString(u.Machine[:]),
			unix.ByteSliceToString(u.Nodename[:]), unix.ByteSliceToString(u.Domainname[:])}
	}
	if bt, err := bootTime(); err == nil {
		c.bootTimeValue = bt
	}
	return c
}

// Describe sends nothing: the set of series depends on the host (devices,
// mounts), so the collector is unchecked.
func (c *hostCollector) Describe(chan<- *prometheus.Desc) {}

// Collect reads every part; a part that fails is logged at debug level and
// reported as gmc_agent_collector_success 0, the others are still reported.
func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	parts := []struct {
		name string
		fn   func(chan<- prometheus.Metric) error
	}{
		{"cpu", c.collectCPU},
		{"loadavg", c.collectLoad},
		{"meminfo", c.collectMemory},
		{"diskstats", c.collectDisks},
		{"filesystem", c.collectFilesystems},
		{"netdev", c.collectNetwork},
		{"stat", c.collectStat},
		{"netstat", c.collectTCP},
		{"pressure", c.collectPressure},
		{"filefd", c.collectFileFD},
		{"sockstat", c.collectSockstat},
	}
	if c.interrupts {
		parts = append(parts, struct {
			name string
			fn   func(chan<- prometheus.Metric) error
		}{"interrupts", c.collectInterrupts})
	}
	for _, p := range parts {
		v := 1.0
		if err := p.fn(ch); errors.Is(err, errAbsent) {
			c.tellAbsent(p.name, err)
			continue // not a failure: no success series for a source the kernel lacks
		} else if err != nil {
			c.logger.Debug("collect host metrics", "collector", p.name, "err", err)
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, v, p.name)
	}
	if c.unameLabels != nil {
		ch <- prometheus.MustNewConstMetric(c.uname, prometheus.GaugeValue, 1, c.unameLabels...)
	}
	if c.bootTimeValue > 0 {
		ch <- prometheus.MustNewConstMetric(c.bootTime, prometheus.GaugeValue, c.bootTimeValue)
	}
}

// Read times: every sample carries the time its source was read, not the
// push's time. The pusher stamps a gather before its collectors run,
// concurrently, so under load a part read 0-200 ms after that stamp
// jittered against it: a rate over two pushes then was wrong by as much
// (the Host page's pressure stall shares reached 102-118 %). The kernel
// computes /proc's figures at one moment inside the read, so the read is
// bracketed by two clock readings and stamped with their middle; a stamp
// taken after the read (d79930a) was late whenever the collector was
// descheduled as the read returned, which a loaded machine does often: a
// trial still saw 108-120 % over 2-3 s windows (see readSource). A source
// read twice in one millisecond gets the next millisecond, so that its
// samples' timestamps keep rising (a receiver refuses two values at one time).

// maxReadBracket and readTries: see readSource.
const (
	maxReadBracket = 2 * time.Millisecond
	readTries      = 3
)

// stamped sends metrics with the time their source was read.
type stamped struct {
	ch chan<- prometheus.Metric
	at time.Time
}

func (s stamped) send(m prometheus.Metric) { s.ch <- prometheus.NewMetricWithTimestamp(s.at, m) }

// readSource reads source with read and returns what to send its values
// through, stamped with when the kernel computed them: a moment between a
// clock reading before read and one after it, taken as their middle (off by
// at most half the bracket). A read whose bracket is wider than
// maxReadBracket (descheduled inside it) is done again, up to readTries
// reads in all; the last read's values and time are kept, so read must
// leave its results as the last call made them.
func (c *hostCollector) readSource(ch chan<- prometheus.Metric, source string, read func() error) (stamped, error) {
	var at time.Time
	for try := 1; ; try++ {
		before := c.now()
		if err := read(); err != nil {
			return stamped{}, err
		}
		after := c.now()
		at = before.Add(after.Sub(before) / 2)
		if after.Sub(before) <= maxReadBracket || try >= readTries {
			break
		}
	}
	return c.readAt(ch, source, at), nil
}

// readAt returns what to send source's values through: they carry at, or
// the millisecond after source's last read time if at is not past it.
func (c *hostCollector) readAt(ch chan<- prometheus.Metric, source string, at time.Time) stamped {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := max(at.UnixMilli(), c.readMs[source]+1)
	c.readMs[source] = ms
	return stamped{ch: ch, at: time.UnixMilli(ms)}
}

// tellAbsent logs once per part that the kernel lacks its source.
func (c *hostCollector) tellAbsent(part string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.told[part] {
		return
	}
	c.told[part] = true
	c.logger.Info("host metrics part skipped: the kernel does not provide it", "collector", part, "err", err)
}

func (c *hostCollector) collectCPU(ch chan<- prometheus.Metric) error {
	var times []cpu.TimesStat
	out, err := c.readSource(ch, "cpu", func() (err error) { times, err = cpu.TimesWithContext(c.ctx, true); return err })
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var busyAll, totalAll float64
	for _, t := range times {
		core := strings.TrimPrefix(t.CPU, "cpu")
		for _, m := range []struct {
			mode string
			v    float64
		}{
			{"user", t.User}, {"nice", t.Nice}, {"system", t.System}, {"idle", t.Idle},
			{"iowait", t.Iowait}, {"irq", t.Irq}, {"softirq", t.Softirq}, {"steal", t.Steal},
		} {
			out.send(prometheus.MustNewConstMetric(c.cpuSeconds, prometheus.CounterValue, m.v, core, m.mode))
		}
		out.send(prometheus.MustNewConstMetric(c.cpuGuest, prometheus.CounterValue, t.Guest, core, "user"))
		out.send(prometheus.MustNewConstMetric(c.cpuGuest, prometheus.CounterValue, t.GuestNice, core, "nice"))

		prev := c.prevCPU[t.CPU] // zero at the first collection: utilisation since boot
		busy, total := busyTime(t)-busyTime(prev), totalTime(t)-totalTime(prev)
		if total > 0 && busy >= 0 {
			out.send(prometheus.MustNewConstMetric(c.cpuCoreUtil, prometheus.GaugeValue, clamp01(busy/total), core))
			busyAll += busy
			totalAll += total
		}
		c.prevCPU[t.CPU] = t
	}
	if totalAll > 0 {
		out.send(prometheus.MustNewConstMetric(c.cpuUtil, prometheus.GaugeValue, clamp01(busyAll/totalAll)))
	}
	return nil
}

// totalTime is all of a CPU's time; guest time is already inside user and nice.
func totalTime(t cpu.TimesStat) float64 {
	return t.User + t.Nice + t.System + t.Idle + t.Iowait + t.Irq + t.Softirq + t.Steal
}

func busyTime(t cpu.TimesStat) float64 { return totalTime(t) - t.Idle - t.Iowait }

func clamp01(v float64) float64 { return min(max(v, 0), 1) }

func (c *hostCollector) collectLoad(ch chan<- prometheus.Metric) error {
	var a *load.AvgStat
	out, err := c.readSource(ch, "loadavg", func() (err error) { a, err = load.AvgWithContext(c.ctx); return err })
	if err != nil {
		return err
	}
	out.send(prometheus.MustNewConstMetric(c.load1, prometheus.GaugeValue, a.Load1))
	out.send(prometheus.MustNewConstMetric(c.load5, prometheus.GaugeValue, a.Load5))
	out.send(prometheus.MustNewConstMetric(c.load15, prometheus.GaugeValue, a.Load15))
	return nil
}

// tcpFields are the Tcp counters of /proc/net/snmp the agent reports, under
// node_exporter's netstat names (node_netstat_Tcp_<field>). CurrEstab is a
// gauge, the others count since boot.
var tcpFields = []string{"CurrEstab", "ActiveOpens", "PassiveOpens", "RetransSegs", "InErrs", "OutSegs", "InSegs"}

func (c *hostCollector) collectTCP(ch chan<- prometheus.Metric) error {
	var ps []net.ProtoCountersStat
	out, err := c.readSource(ch, "netstat", func() (err error) {
		ps, err = net.ProtoCountersWithContext(c.ctx, []string{"tcp"})
		return err
	})
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Protocol != "tcp" {
			continue
		}
		for _, f := range tcpFields {
			v, ok := p.Stats[f]
			if !ok {
				continue
			}
			kind := prometheus.CounterValue
			if f == "CurrEstab" {
				kind = prometheus.GaugeValue
			}
			out.send(prometheus.MustNewConstMetric(c.tcp[f], kind, float64(v)))
		}
		return nil
	}
	return errors.New("no tcp counters in /proc/net/snmp")
}

// memoryFields maps /proc/meminfo fields, as gopsutil reads them, to
// node_exporter's node_memory_* names.
var memoryFields = []struct {
	node string
	get  func(*mem.VirtualMemoryStat) uint64
}{
	{"MemTotal_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Total }},
	{"MemFree_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Free }},
	{"MemAvailable_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Available }},
	{"Buffers_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Buffers }},
	// gopsutil adds SReclaimable to Cached; /proc/meminfo's (and node_exporter's) Cached does not.
	{"Cached_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Cached - m.Sreclaimable }},
	{"SwapCached_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.SwapCached }},
	{"SwapTotal_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.SwapTotal }},
	{"SwapFree_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.SwapFree }},
	{"Active_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Active }},
	{"Inactive_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Inactive }},
	{"Dirty_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Dirty }},
	{"Writeback_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.WriteBack }},
	{"Shmem_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Shared }},
	{"Slab_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Slab }},
	{"SReclaimable_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Sreclaimable }},
	{"SUnreclaim_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Sunreclaim }},
	{"PageTables_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.PageTables }},
	{"Mapped_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.Mapped }},
	{"CommitLimit_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.CommitLimit }},
	{"Committed_AS_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.CommittedAS }},
	{"AnonHugePages_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.AnonHugePages }},
	{"HugePages_Total", func(m *mem.VirtualMemoryStat) uint64 { return m.HugePagesTotal }},
	{"HugePages_Free", func(m *mem.VirtualMemoryStat) uint64 { return m.HugePagesFree }},
	{"Hugepagesize_bytes", func(m *mem.VirtualMemoryStat) uint64 { return m.HugePageSize }},
}

func (c *hostCollector) collectMemory(ch chan<- prometheus.Metric) error {
	var m *mem.VirtualMemoryStat
	out, err := c.readSource(ch, "meminfo", func() (err error) { m, err = mem.VirtualMemoryWithContext(c.ctx); return err })
	if err != nil {
		return err
	}
	for _, f := range memoryFields {
		out.send(prometheus.MustNewConstMetric(c.memory[f.node], prometheus.GaugeValue, float64(f.get(m))))
	}
	return nil
}

type field[T any] struct {
	name, help string
	counter    bool
	get        func(T) float64
}

var diskFields = []field[disk.IOCountersStat]{
	{"node_disk_reads_completed_total", "The total number of reads completed successfully.", true, func(d disk.IOCountersStat) float64 { return float64(d.ReadCount) }},
	{"node_disk_reads_merged_total", "The total number of reads merged.", true, func(d disk.IOCountersStat) float64 { return float64(d.MergedReadCount) }},
	{"node_disk_read_bytes_total", "The total number of bytes read successfully.", true, func(d disk.IOCountersStat) float64 { return float64(d.ReadBytes) }},
	{"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", true, func(d disk.IOCountersStat) float64 { return float64(d.ReadTime) / 1000 }},
	{"node_disk_writes_completed_total", "The total number of writes completed successfully.", true, func(d disk.IOCountersStat) float64 { return float64(d.WriteCount) }},
	{"node_disk_writes_merged_total", "The number of writes merged.", true, func(d disk.IOCountersStat) float64 { return float64(d.MergedWriteCount) }},
	{"node_disk_written_bytes_total", "The total number of bytes written successfully.", true, func(d disk.IOCountersStat) float64 { return float64(d.WriteBytes) }},
	{"node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", true, func(d disk.IOCountersStat) float64 { return float64(d.WriteTime) / 1000 }},
	{"node_disk_io_now", "The number of I/Os currently in progress.", false, func(d disk.IOCountersStat) float64 { return float64(d.IopsInProgress) }},
	{"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", true, func(d disk.IOCountersStat) float64 { return float64(d.IoTime) / 1000 }},
	{"node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", true, func(d disk.IOCountersStat) float64 { return float64(d.WeightedIO) / 1000 }},
}

func (c *hostCollector) collectDisks(ch chan<- prometheus.Metric) error {
	var stats map[string]disk.IOCountersStat
	out, err := c.readSource(ch, "diskstats", func() (err error) { stats, err = disk.IOCountersWithContext(c.ctx); return err })
	if err != nil {
		return err
	}
	for name, s := range stats {
		if c.diskExclude.MatchString(name) {
			continue
		}
		for _, f := range diskFields {
			out.send(prometheus.MustNewConstMetric(c.disk[f.name], valueType(f.counter), f.get(s), name))
		}
	}
	return nil
}

var fsFields = []field[*disk.UsageStat]{
	{"node_filesystem_size_bytes", "Filesystem size in bytes.", false, func(u *disk.UsageStat) float64 { return float64(u.Total) }},
	{"node_filesystem_free_bytes", "Filesystem free space in bytes.", false, func(u *disk.UsageStat) float64 { return float64(u.Total - u.Used) }},
	{"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", false, func(u *disk.UsageStat) float64 { return float64(u.Free) }},
	{"node_filesystem_files", "Filesystem total file nodes.", false, func(u *disk.UsageStat) float64 { return float64(u.InodesTotal) }},
	{"node_filesystem_files_free", "Filesystem total free file nodes.", false, func(u *disk.UsageStat) float64 { return float64(u.InodesFree) }},
}

func (c *hostCollector) collectFilesystems(ch chan<- prometheus.Metric) error {
	parts, err := disk.PartitionsWithContext(c.ctx, true)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range parts {
		if c.mountExclude.MatchString(p.Mountpoint) || c.typeExclude.MatchString(p.Fstype) || seen[p.Mountpoint] {
			continue
		}
		seen[p.Mountpoint] = true
		var u *disk.UsageStat
		out, err := c.readSource(ch, "filesystem "+p.Mountpoint, func() (err error) {
			u, err = disk.UsageWithContext(c.ctx, p.Mountpoint)
			return err
		})
		if err != nil {
			continue // unreachable mounts are skipped, as node_exporter does
		}
		for _, f := range fsFields {
			out.send(prometheus.MustNewConstMetric(c.fs[f.name], prometheus.GaugeValue, f.get(u), p.Device, p.Mountpoint, p.Fstype))
		}
	}
	return nil
}

var netFields = []field[net.IOCountersStat]{
	{"node_network_receive_bytes_total", "Network device statistic receive_bytes.", true, func(n net.IOCountersStat) float64 { return float64(n.BytesRecv) }},
	{"node_network_transmit_bytes_total", "Network device statistic transmit_bytes.", true, func(n net.IOCountersStat) float64 { return float64(n.BytesSent) }},
	{"node_network_receive_packets_total", "Network device statistic receive_packets.", true, func(n net.IOCountersStat) float64 { return float64(n.PacketsRecv) }},
	{"node_network_transmit_packets_total", "Network device statistic transmit_packets.", true, func(n net.IOCountersStat) float64 { return float64(n.PacketsSent) }},
	{"node_network_receive_errs_total", "Network device statistic receive_errs.", true, func(n net.IOCountersStat) float64 { return float64(n.Errin) }},
	{"node_network_transmit_errs_total", "Network device statistic transmit_errs.", true, func(n net.IOCountersStat) float64 { return float64(n.Errout) }},
	{"node_network_receive_drop_total", "Network device statistic receive_drop.", true, func(n net.IOCountersStat) float64 { return float64(n.Dropin) }},
	{"node_network_transmit_drop_total", "Network device statistic transmit_drop.", true, func(n net.IOCountersStat) float64 { return float64(n.Dropout) }},
	{"node_network_receive_fifo_total", "Network device statistic receive_fifo.", true, func(n net.IOCountersStat) float64 { return float64(n.Fifoin) }},
	{"node_network_transmit_fifo_total", "Network device statistic transmit_fifo.", true, func(n net.IOCountersStat) float64 { return float64(n.Fifoout) }},
}

func (c *hostCollector) collectNetwork(ch chan<- prometheus.Metric) error {
	var stats []net.IOCountersStat
	out, err := c.readSource(ch, "netdev", func() (err error) { stats, err = net.IOCountersWithContext(c.ctx, true); return err })
	if err != nil {
		return err
	}
	for _, s := range stats {
		for _, f := range netFields {
			out.send(prometheus.MustNewConstMetric(c.network[f.name], valueType(f.counter), f.get(s), s.Name))
		}
	}
	return nil
}

func valueType(counter bool) prometheus.ValueType {
	if counter {
		return prometheus.CounterValue
	}
	return prometheus.GaugeValue
}

// bootTime reads the boot time once (it does not change).
func bootTime() (float64, error) {
	var info unix.Sysinfo_t
	if err := unix.Sysinfo(&info); err != nil {
		return 0, err
	}
	return float64(time.Now().Unix() - info.Uptime), nil
}

// HostGatherer gathers the host's metrics (node_*) exactly as the agent
// collects and pushes them, for a caller that needs the host's figures in
// the agent's names and labels (gmc demo's history ends at them).
func HostGatherer(logger *slog.Logger) prometheus.Gatherer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newHostCollector(logger))
	return reg
}
