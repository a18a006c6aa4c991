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
