package agent

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/process"
)

func TestParseProcess(t *testing.T) {
	good := map[string]Process{
		"me=name:matching-engine":    {Service: "me", Name: "matching-engine"},
		"risk=pidfile:/run/risk.pid": {Service: "risk", PIDFile: "/run/risk.pid"},
		"gw=cgroup:system.slice/gw":  {Service: "gw", Cgroup: "system.slice/gw"},
		"x=name:with:colon-in-name":  {Service: "x", Name: "with:colon-in-name"},
	}
	for in, want := range good {
		got, err := ParseProcess(in)
		if err != nil || got != want {
			t.Errorf("ParseProcess(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "me", "me=", "me=name:", "=name:x", "me=exe:x", "me=name"} {
		if _, err := ParseProcess(in); err == nil {
			t.Errorf("ParseProcess(%q) accepted", in)
		}
	}
}

// selfStatus reads a field of /proc/self/status.
func selfStatus(t *testing.T, field string) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			f, err := strconv.ParseFloat(strings.Fields(v)[0], 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

func TestProcessCollectorFindsThisProcess(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "self.pid")
	if err := os.WriteFile(pidfile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		t.Fatal(err)
	}
	cgroup := filepath.Join(dir, "cg")
	if err := os.MkdirAll(cgroup, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cgroup, "cgroup.procs"), fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		t.Fatal(err)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	targets := []Process{
		{Service: "by-pidfile", PIDFile: pidfile},
		{Service: "by-cgroup", Cgroup: cgroup},
		{Service: "by-name", Name: strings.TrimSpace(string(comm))},
		{Service: "absent", Name: "no-such-process-gmc"},
	}
	// Use some CPU so that user time is above the 10 ms tick.
	x := 0.0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		for i := range 10000 {
			x += float64(i)
		}
	}
	_ = x
	reg := prometheus.NewRegistry()
	reg.MustRegister(newProcessCollector(targets, slog.New(slog.DiscardHandler)))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			lm := labelsOf(m)
			vals[mf.GetName()+"|"+lm["service"]+"|"+lm["mode"]+lm["kind"]] = value(mf, m)
		}
	}
	rss := selfStatus(t, "VmRSS") * 1024
	threads := selfStatus(t, "Threads")
	for _, svc := range []string{"by-pidfile", "by-cgroup", "by-name"} {
		if got := vals["gmc_process_count|"+svc+"|"]; got < 1 {
			t.Errorf("%s: gmc_process_count %v, want ≥ 1", svc, got)
			continue
		}
		if got := vals["gmc_process_resident_memory_bytes|"+svc+"|"]; got < rss/2 || got > rss*2 {
			t.Errorf("%s: rss %v, /proc/self/status says %v", svc, got, rss)
		}
		if got := vals["gmc_process_threads|"+svc+"|"]; got < 1 || got > threads+16 {
			t.Errorf("%s: threads %v, /proc/self/status says %v", svc, got, threads)
		}
		if got := vals["gmc_process_open_fds|"+svc+"|"]; got < 3 {
			t.Errorf("%s: open fds %v, want ≥ 3", svc, got)
		}
		if got := vals["gmc_process_cpu_seconds_total|"+svc+"|user"]; got <= 0 {
			t.Errorf("%s: user cpu %v, want > 0", svc, got)
		}
		if _, ok := vals["gmc_process_context_switches_total|"+svc+"|voluntary"]; !ok {
			t.Errorf("%s: no voluntary context switches series", svc)
		}
	}
	if got, ok := vals["gmc_process_count|absent|"]; !ok || got != 0 {
		t.Errorf("absent service: gmc_process_count %v (present %v), want 0", got, ok)
	}
	if _, ok := vals["gmc_process_threads|absent|"]; ok {
		t.Errorf("absent service reports threads")
	}
}

// TestProcessCPUStampsTheBracketMiddle: a service's CPU time is stamped as
// the host's sources are (TestReadSourceStampsTheBracketMiddle): with the
// middle of two clock readings around its process's read, read again when
// the collector was descheduled inside it (the bracket wider than
// maxReadBracket), keeping the last read's figures. It was stamped with
// time.Now() right after a single read, late by however long the collector
// waited to run again: here its first read takes 150.6 ms (descheduled),
// the second 1.8 ms.
func TestProcessCPUStampsTheBracketMiddle(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "self.pid")
	if err := os.WriteFile(pidfile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newProcessCollector([]Process{{Service: "svc", PIDFile: pidfile}}, slog.New(slog.DiscardHandler))
	base := time.UnixMilli(1_800_000_000_000)
	var clock time.Duration
	c.now = func() time.Time { return base.Add(clock) }
	took := []time.Duration{150*time.Millisecond + 600*time.Microsecond, 1800 * time.Microsecond}
	reads := 0
	c.times = func(*process.Process) (*cpu.TimesStat, error) {
		clock += took[min(reads, len(took)-1)]
		reads++
		// Each read sees a second more of user time: the figure kept is
		// the last read's.
		return &cpu.TimesStat{User: float64(reads), System: 0.5}, nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if reads != 2 {
		t.Errorf("%d reads, want 2 (the descheduled one again)", reads)
	}
	// The second read's middle: 150.6 + 0.9 ms (a stamp after the first
	// read: 150.6 ms).
	want := base.Add(151*time.Millisecond + 500*time.Microsecond).UnixMilli()
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "gmc_process_cpu_seconds_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			found = true
			if got := m.GetTimestampMs(); got != want {
				t.Errorf("%v: stamped %d ms after the read began, want %d", labelsOf(m), got-base.UnixMilli(), want-base.UnixMilli())
			}
			if lm := labelsOf(m); lm["mode"] == "user" && value(mf, m) != 2 {
				t.Errorf("user time %v, want 2 (the second read's)", value(mf, m))
			}
		}
	}
	if !found {
		t.Fatal("no gmc_process_cpu_seconds_total")
	}
}
