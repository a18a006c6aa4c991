package agent

import (
	"bufio"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// hostFamilies are the families the host collector must report on any Linux
// host (node_exporter's names), with the labels each series must carry.
var hostFamilies = map[string][]string{
	"node_cpu_seconds_total":              {"cpu", "mode"},
	"node_cpu_guest_seconds_total":        {"cpu", "mode"},
	"gmc_host_cpu_utilisation_ratio":      nil,
	"gmc_host_cpu_core_utilisation_ratio": {"cpu"},
	"node_load1":                          nil,
	"node_load5":                          nil,
	"node_load15":                         nil,
	"node_context_switches_total":         nil,
	"node_forks_total":                    nil,
	"node_procs_running":                  nil,
	"node_procs_blocked":                  nil,
	"node_intr_total":                     nil,
	"node_softirqs_total":                 {"vector"},
	"node_filefd_allocated":               nil,
	"node_filefd_maximum":                 nil,
	"node_sockstat_sockets_used":          nil,
	"node_sockstat_TCP_inuse":             nil,
	"node_netstat_Tcp_CurrEstab":          nil,
	"node_netstat_Tcp_RetransSegs":        nil,
	"node_memory_MemTotal_bytes":          nil,
	"node_memory_MemAvailable_bytes":      nil,
	"node_memory_MemFree_bytes":           nil,
	"node_memory_Buffers_bytes":           nil,
	"node_memory_Cached_bytes":            nil,
	"node_memory_SwapTotal_bytes":         nil,
	"node_memory_SwapFree_bytes":          nil,
	"node_disk_read_bytes_total":          {"device"},
	"node_disk_written_bytes_total":       {"device"},
	"node_disk_reads_completed_total":     {"device"},
	"node_disk_writes_completed_total":    {"device"},
	"node_disk_io_time_seconds_total":     {"device"},
	"node_filesystem_size_bytes":          {"device", "mountpoint", "fstype"},
	"node_filesystem_avail_bytes":         {"device", "mountpoint", "fstype"},
	"node_filesystem_free_bytes":          {"device", "mountpoint", "fstype"},
	"node_network_receive_bytes_total":    {"device"},
	"node_network_transmit_bytes_total":   {"device"},
	"node_network_receive_packets_total":  {"device"},
	"node_network_transmit_packets_total": {"device"},
	"node_network_receive_errs_total":     {"device"},
	"node_network_transmit_errs_total":    {"device"},
	"node_uname_info":                     {"sysname", "release", "version", "machine", "nodename", "domainname"},
	"node_boot_time_seconds":              nil,
	"gmc_agent_collector_success":         {"collector"},
}

// procStat reads the per-CPU lines of /proc/stat as seconds per mode (USER_HZ 100).
func procStat(t *testing.T) map[string]map[string]float64 {
	t.Helper()
	f, err := os.Open("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	modes := []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || !strings.HasPrefix(fields[0], "cpu") || fields[0] == "cpu" {
			continue
		}
		cpu := strings.TrimPrefix(fields[0], "cpu")
		out[cpu] = map[string]float64{}
		for i, m := range modes {
			v, err := strconv.ParseFloat(fields[i+1], 64)
			if err != nil {
				t.Fatal(err)
			}
			out[cpu][m] = v / 100
		}
	}
	return out
}

// procMeminfo reads /proc/meminfo in bytes.
func procMeminfo(t *testing.T) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		if len(fields) > 1 && fields[1] == "kB" {
			v *= 1024
		}
		out[k] = v
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func value(mf *dto.MetricFamily, m *dto.Metric) float64 {
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	default:
		return m.GetGauge().GetValue()
	}
}

func TestHostCollectorAgreesWithProc(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newHostCollector(slog.New(slog.DiscardHandler)))

	ctxtBefore := procCtxt(t)
	statBefore, memBefore := procStat(t), procMeminfo(t)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	statAfter, memAfter := procStat(t), procMeminfo(t)
	ctxtAfter := procCtxt(t)

	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	for name, labels := range hostFamilies {
		mf, ok := got[name]
		if !ok || len(mf.GetMetric()) == 0 {
			t.Errorf("family %s missing", name)
			continue
		}
		for _, m := range mf.GetMetric() {
			lm := labelsOf(m)
			for _, l := range labels {
				if _, ok := lm[l]; !ok {
					t.Errorf("%s%v lacks label %s", name, lm, l)
				}
			}
		}
	}
	for _, m := range got["gmc_agent_collector_success"].GetMetric() {
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("collector %v failed", labelsOf(m))
		}
	}

	// Context switches: a counter read between two reads of /proc/stat.
	if v := got["node_context_switches_total"].GetMetric()[0].GetCounter().GetValue(); v < ctxtBefore || v > ctxtAfter {
		t.Errorf("node_context_switches_total = %v, /proc/stat gave %v then %v", v, ctxtBefore, ctxtAfter)
	}

	// CPU seconds are counters read between two reads of /proc/stat: they must lie between them.
	n := 0
	for _, m := range got["node_cpu_seconds_total"].GetMetric() {
		lm := labelsOf(m)
		lo, hi := statBefore[lm["cpu"]][lm["mode"]], statAfter[lm["cpu"]][lm["mode"]]
		if v := m.GetCounter().GetValue(); v < lo-1e-9 || v > hi+1e-9 {
			t.Errorf("node_cpu_seconds_total%v = %v, /proc/stat gave %v then %v", lm, v, lo, hi)
		}
		n++
	}
	if n != 8*len(statBefore) {
		t.Errorf("%d node_cpu_seconds_total series, want 8 modes × %d CPUs", n, len(statBefore))
	}
	for _, m := range got["gmc_host_cpu_core_utilisation_ratio"].GetMetric() {
		if v := m.GetGauge().GetValue(); v < 0 || v > 1 {
			t.Errorf("core utilisation %v outside [0,1]", v)
		}
	}

	// Memory: the fixed sizes exactly, the moving ones within 5% of the range seen.
	memChecks := []struct {
		family, field string
		exact         bool
	}{
		{"node_memory_MemTotal_bytes", "MemTotal", true},
		{"node_memory_SwapTotal_bytes", "SwapTotal", true},
		{"node_memory_MemAvailable_bytes", "MemAvailable", false},
		{"node_memory_MemFree_bytes", "MemFree", false},
		{"node_memory_Cached_bytes", "Cached", false},
		{"node_memory_Buffers_bytes", "Buffers", false},
		{"node_memory_SwapFree_bytes", "SwapFree", false},
	}
	for _, c := range memChecks {
		v := value(got[c.family], got[c.family].GetMetric()[0])
		lo, hi := min(memBefore[c.field], memAfter[c.field]), max(memBefore[c.field], memAfter[c.field])
		tol := 0.0
		if !c.exact {
			tol = 0.05*hi + 1<<20
		}
		if v < lo-tol || v > hi+tol {
			t.Errorf("%s = %v, /proc/meminfo %s gave %v and %v", c.family, v, c.field, lo, hi)
		}
	}
}

// procCtxt is /proc/stat's ctxt line: context switches since boot.
func procCtxt(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Skip(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "ctxt" {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatal("no ctxt line in /proc/stat")
	return 0
}
