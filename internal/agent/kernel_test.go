package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// kernelPrefixes select the families of kernel.go.
var kernelPrefixes = []string{"node_pressure_", "node_intr_total", "node_interrupts_total", "node_softirqs_total", "node_filefd_", "node_sockstat_",
	"node_context_switches_total", "node_forks_total", "node_procs_"}

func isKernelFamily(name string) bool {
	return slices.ContainsFunc(kernelPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

// kernelCollector is a host collector reading root instead of /proc.
func kernelCollector(t *testing.T, root string, logger *slog.Logger) *hostCollector {
	t.Helper()
	c := newHostCollector(logger)
	var err error
	if c.proc, err = newProcFS(root); err != nil {
		t.Fatal(err)
	}
	return c
}

// sample is one series of a part's output: type, labels and value.
type sample struct {
	typ    dto.MetricType
	labels string
	value  float64
}

// partCollector is one part of the host collector as a collector of its own.
type partCollector struct {
	fn  func(chan<- prometheus.Metric) error
	err error
}

func (p *partCollector) Describe(chan<- *prometheus.Desc)    {}
func (p *partCollector) Collect(ch chan<- prometheus.Metric) { p.err = p.fn(ch) }

// runPart gathers one part into "name{label=value,...}" → sample.
func runPart(t *testing.T, fn func(chan<- prometheus.Metric) error) (map[string]sample, error) {
	t.Helper()
	pc := &partCollector{fn: fn}
	reg := prometheus.NewRegistry()
	reg.MustRegister(pc)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sample{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName()
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			out[key] = sample{typ: mf.GetType(), labels: strings.Join(ls, ","), value: value(mf, m)}
		}
	}
	return out, pc.err
}

// TestKernelPartsReadFixtures reads copies of this machine's /proc files
// (testdata/proc, taken 2026-12-04 on a 2-CPU kernel 6.18 host) and checks
// every value against the file's text.
func TestKernelPartsReadFixtures(t *testing.T) {
	c := kernelCollector(t, "testdata/proc", slog.New(slog.DiscardHandler))
	page := float64(os.Getpagesize())
	counter, gauge := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	cases := []struct {
		part string
		fn   func(chan<- prometheus.Metric) error
		want map[string]sample
	}{
		{"pressure", c.collectPressure, map[string]sample{
			// total= is in microseconds.
			"node_pressure_cpu_waiting_seconds_total":    {counter, "", 12283.296598},
			"node_pressure_io_waiting_seconds_total":     {counter, "", 344.499578},
			"node_pressure_io_stalled_seconds_total":     {counter, "", 50.786588},
			"node_pressure_memory_waiting_seconds_total": {counter, "", 0.191678},
			"node_pressure_memory_stalled_seconds_total": {counter, "", 0.166377},
		}},
		{"stat", c.collectStat, map[string]sample{
			"node_context_switches_total":              {counter, "", 113322983},
			"node_forks_total":                         {counter, "", 302851},
			"node_procs_running":                       {gauge, "", 14},
			"node_procs_blocked":                       {gauge, "", 0},
			"node_intr_total":                          {counter, "", 47019408},
			"node_softirqs_total{vector=hi}":           {counter, "vector=hi", 0},
			"node_softirqs_total{vector=timer}":        {counter, "vector=timer", 2003318},
			"node_softirqs_total{vector=net_tx}":       {counter, "vector=net_tx", 6},
			"node_softirqs_total{vector=net_rx}":       {counter, "vector=net_rx", 5368181},
			"node_softirqs_total{vector=block}":        {counter, "vector=block", 1956931},
			"node_softirqs_total{vector=block_iopoll}": {counter, "vector=block_iopoll", 0},
			"node_softirqs_total{vector=tasklet}":      {counter, "vector=tasklet", 4462},
			"node_softirqs_total{vector=sched}":        {counter, "vector=sched", 2039853},
			"node_softirqs_total{vector=hrtimer}":      {counter, "vector=hrtimer", 51428},
			"node_softirqs_total{vector=rcu}":          {counter, "vector=rcu", 3862709},
		}},
		{"filefd", c.collectFileFD, map[string]sample{
			"node_filefd_allocated": {gauge, "", 3166},
			"node_filefd_maximum":   {gauge, "", 2466248},
		}},
		{"sockstat", c.collectSockstat, map[string]sample{
			"node_sockstat_sockets_used":   {gauge, "", 158},
			"node_sockstat_TCP_inuse":      {gauge, "", 80},
			"node_sockstat_TCP_orphan":     {gauge, "", 0},
			"node_sockstat_TCP_tw":         {gauge, "", 32},
			"node_sockstat_TCP_alloc":      {gauge, "", 80},
			"node_sockstat_TCP_mem":        {gauge, "", 43},
			"node_sockstat_TCP_mem_bytes":  {gauge, "", 43 * page},
			"node_sockstat_UDP_inuse":      {gauge, "", 0},
			"node_sockstat_UDP_mem":        {gauge, "", 0},
			"node_sockstat_UDP_mem_bytes":  {gauge, "", 0},
			"node_sockstat_UDPLITE_inuse":  {gauge, "", 0},
			"node_sockstat_RAW_inuse":      {gauge, "", 0},
			"node_sockstat_FRAG_inuse":     {gauge, "", 0},
			"node_sockstat_FRAG_memory":    {gauge, "", 0},
			"node_sockstat_TCP6_inuse":     {gauge, "", 0},
			"node_sockstat_UDP6_inuse":     {gauge, "", 0},
			"node_sockstat_UDPLITE6_inuse": {gauge, "", 0},
			"node_sockstat_RAW6_inuse":     {gauge, "", 0},
			"node_sockstat_FRAG6_inuse":    {gauge, "", 0},
			"node_sockstat_FRAG6_memory":   {gauge, "", 0},
		}},
	}
	for _, tc := range cases {
		got, err := runPart(t, tc.fn)
		if err != nil {
			t.Errorf("%s: %v", tc.part, err)
			continue
		}
		for k, w := range tc.want {
			if g, ok := got[k]; !ok {
				t.Errorf("%s: %s missing", tc.part, k)
			} else if g != w {
				t.Errorf("%s: %s = %+v, want %+v", tc.part, k, g, w)
			}
		}
		for k := range got {
			if _, ok := tc.want[k]; !ok {
				t.Errorf("%s: unexpected %s", tc.part, k)
			}
		}
	}
}

// TestInterruptsReadFixture reads a copy of this machine's /proc/interrupts
// (2 CPUs): one counter per IRQ line and CPU, labelled as node_exporter's.
func TestInterruptsReadFixture(t *testing.T) {
	c := kernelCollector(t, "testdata/proc", slog.New(slog.DiscardHandler))
	got, err := runPart(t, c.collectInterrupts)
	if err != nil {
		t.Fatal(err)
	}
	// 34 lines after the header: 32 with a count per CPU, ERR and MIS with
	// one system-wide count and no description, left out as node_exporter does.
	if len(got) != 32*2 {
		t.Errorf("%d series, want 64", len(got))
	}
	for k, want := range map[string]float64{
		"node_interrupts_total{cpu=0,devices=,info=Local timer interrupts,type=LOC}":  21915235,
		"node_interrupts_total{cpu=1,devices=,info=Local timer interrupts,type=LOC}":  22112312,
		"node_interrupts_total{cpu=0,devices=5-edge ACPI:Ged,info=IO-APIC,type=24}":   1,
		"node_interrupts_total{cpu=1,devices=5-edge ACPI:Ged,info=IO-APIC,type=24}":   0,
		"node_interrupts_total{cpu=0,devices=,info=Non-maskable interrupts,type=NMI}": 0,
	} {
		if g, ok := got[k]; !ok || g.value != want || g.typ != dto.MetricType_COUNTER {
			t.Errorf("%s = %+v (present %v), want counter %v", k, g, ok, want)
		}
	}
	if _, ok := got["node_interrupts_total{cpu=0,devices=,info=,type=ERR}"]; ok {
		t.Error("ERR (one system-wide count) is reported")
	}

	// Off by default: the host collector reports no node_interrupts_total.
	reg := prometheus.NewRegistry()
	reg.MustRegister(newHostCollector(slog.New(slog.DiscardHandler)))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "node_interrupts_total" {
			t.Error("node_interrupts_total reported without host.interrupts")
		}
	}
}

// TestPressureIRQ: a kernel with /proc/pressure/irq (6.1+, IRQ time
// accounting; not this machine's) has its "full" line reported as
// node_exporter 1.8+ does; the other pressure files as without it.
func TestPressureIRQ(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "pressure"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"cpu", "io", "memory"} {
		b, err := os.ReadFile(filepath.Join("testdata", "proc", "pressure", r))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "pressure", r), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The format of a 6.1 kernel's /proc/pressure/irq: one "full" line.
	if err := os.WriteFile(filepath.Join(root, "pressure", "irq"), []byte("full avg10=0.12 avg60=0.05 avg300=0.01 total=2345678\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runPart(t, kernelCollector(t, root, slog.New(slog.DiscardHandler)).collectPressure)
	if err != nil {
		t.Fatal(err)
	}
	if g := got["node_pressure_irq_stalled_seconds_total"]; g.typ != dto.MetricType_COUNTER || g.value != 2.345678 {
		t.Errorf("node_pressure_irq_stalled_seconds_total = %+v, want counter 2.345678", g)
	}
	if g := got["node_pressure_cpu_waiting_seconds_total"]; g.value != 12283.296598 {
		t.Errorf("node_pressure_cpu_waiting_seconds_total = %+v beside irq", g)
	}
	if len(got) != 6 {
		t.Errorf("%d pressure series, want 6: %v", len(got), got)
	}
}

// logCounter counts log records by message.
type logCounter struct {
	slog.Handler
	n map[string]int
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "collector" {
			l.n[r.Message+" "+a.Value.String()]++
		}
		return true
	})
	return nil
}

// TestKernelPartsAbsent: on a kernel without PSI, file-nr or sockstat
// (an empty proc root here) those parts are skipped without a failure, and
// said so once in the log however often the agent collects; a file that is
// there but malformed is a failure.
func TestKernelPartsAbsent(t *testing.T) {
	logs := &logCounter{Handler: slog.DiscardHandler, n: map[string]int{}}
	root := t.TempDir()
	c := kernelCollector(t, root, slog.New(logs))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	var success map[string]float64
	for range 3 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		success = map[string]float64{}
		for _, mf := range mfs {
			if isKernelFamily(mf.GetName()) && mf.GetName() != "node_context_switches_total" && !strings.HasPrefix(mf.GetName(), "node_procs_") &&
				mf.GetName() != "node_forks_total" && mf.GetName() != "node_intr_total" && mf.GetName() != "node_softirqs_total" {
				t.Errorf("family %s reported from an empty proc root", mf.GetName())
			}
			if mf.GetName() == "gmc_agent_collector_success" {
				for _, m := range mf.GetMetric() {
					success[labelsOf(m)["collector"]] = m.GetGauge().GetValue()
				}
			}
		}
	}
	for _, part := range []string{"pressure", "filefd", "sockstat"} {
		if v, ok := success[part]; ok {
			t.Errorf("gmc_agent_collector_success{collector=%q} = %v for a source the kernel lacks, want no series", part, v)
		}
		if n := logs.n["host metrics part skipped: the kernel does not provide it "+part]; n != 1 {
			t.Errorf("absence of %s logged %d times in 3 collections, want once", part, n)
		}
	}
	if v, ok := success["stat"]; !ok || v != 0 {
		t.Errorf("stat success %v (reported %v) without /proc/stat, want 0: a file every kernel has is a failure when missing", v, ok)
	}

	// A malformed file-nr is a failure, not an absence.
	if err := os.MkdirAll(filepath.Join(root, "sys", "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "sys", "fs", "file-nr"), []byte("12 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runPart(t, c.collectFileFD); err == nil || strings.Contains(err.Error(), errAbsent.Error()) {
		t.Errorf("malformed file-nr: err %v, want a failure", err)
	}
}

// TestKernelFamiliesMatchNodeExporter compares the families of kernel.go
// with a real node_exporter's (Debian's prometheus-node-exporter, with the
// pressure, stat (softirq), filefd and sockstat collectors) on this host:
// the same names, types and label names, the same softirq vectors and
// file-max, so Node Exporter Full's panels read gmc's data unchanged.
func TestKernelFamiliesMatchNodeExporter(t *testing.T) {
	const bin = "/usr/bin/prometheus-node-exporter"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("peer %s missing (apt package prometheus-node-exporter): %v", bin, err)
		}
		t.Skipf("peer %s missing (apt package prometheus-node-exporter)", bin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--collector.disable-defaults",
		"--collector.pressure", "--collector.stat", "--collector.stat.softirq", "--collector.filefd", "--collector.sockstat", "--collector.interrupts")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by its PID
		_ = cmd.Wait()
	})
	var body []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			var buf bytes.Buffer
			_, err = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				body = buf.Bytes()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node_exporter on %s did not answer in 20 s: %v; stderr:\n%s", addr, err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	theirs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	host := newHostCollector(slog.New(slog.DiscardHandler))
	host.interrupts = true
	reg := prometheus.NewRegistry()
	reg.MustRegister(host)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		ours[mf.GetName()] = mf
	}
	shape := func(mf *dto.MetricFamily) string {
		names := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				names[l.GetName()] = true
			}
		}
		return fmt.Sprintf("%v %v", mf.GetType(), slices.Sorted(func(yield func(string) bool) {
			for n := range names {
				if !yield(n) {
					return
				}
			}
		}))
	}
	n := 0
	for name, mf := range theirs {
		if !isKernelFamily(name) {
			continue
		}
		n++
		o, ok := ours[name]
		if !ok {
			t.Errorf("node_exporter reports %s, gmc agent does not", name)
			continue
		}
		if a, b := shape(o), shape(mf); a != b {
			t.Errorf("%s: gmc agent %s, node_exporter %s", name, a, b)
		}
	}
	for name := range ours {
		if isKernelFamily(name) && theirs[name] == nil {
			t.Errorf("gmc agent reports %s, node_exporter does not", name)
		}
	}
	if n < 20 {
		t.Errorf("only %d kernel families from node_exporter, want the pressure, stat, filefd and sockstat ones", n)
	}
	vectors := func(mf *dto.MetricFamily) []string {
		var v []string
		for _, m := range mf.GetMetric() {
			v = append(v, labelsOf(m)["vector"])
		}
		slices.Sort(v)
		return v
	}
	if a, b := vectors(ours["node_softirqs_total"]), vectors(theirs["node_softirqs_total"]); !slices.Equal(a, b) {
		t.Errorf("softirq vectors: gmc agent %v, node_exporter %v", a, b)
	}
	irqs := func(mf *dto.MetricFamily) []string {
		var v []string
		for _, m := range mf.GetMetric() {
			l := labelsOf(m)
			v = append(v, l["type"]+"|"+l["cpu"]+"|"+l["info"]+"|"+l["devices"])
		}
		slices.Sort(v)
		return v
	}
	if a, b := irqs(ours["node_interrupts_total"]), irqs(theirs["node_interrupts_total"]); !slices.Equal(a, b) {
		t.Errorf("interrupt series (type|cpu|info|devices):\n gmc agent     %q\n node_exporter %q", a, b)
	}
	if a, b := ours["node_filefd_maximum"].GetMetric()[0].GetGauge().GetValue(), theirs["node_filefd_maximum"].GetMetric()[0].GetGauge().GetValue(); a != b {
		t.Errorf("node_filefd_maximum: gmc agent %v, node_exporter %v", a, b)
	}
}

// BenchmarkHostParts is the cost of one collection of each host part on
// this machine (the agent collects every part at each push, 1 s by default).
func BenchmarkHostParts(b *testing.B) {
	c := newHostCollector(slog.New(slog.DiscardHandler))
	for _, p := range []struct {
		name string
		fn   func(chan<- prometheus.Metric) error
	}{
		{"cpu", c.collectCPU}, {"meminfo", c.collectMemory}, {"diskstats", c.collectDisks}, {"filesystem", c.collectFilesystems},
		{"netdev", c.collectNetwork}, {"netstat", c.collectTCP},
		{"stat", c.collectStat}, {"pressure", c.collectPressure}, {"filefd", c.collectFileFD}, {"sockstat", c.collectSockstat},
	} {
		b.Run(p.name, func(b *testing.B) {
			ch := make(chan prometheus.Metric, 4096)
			for b.Loop() {
				if err := p.fn(ch); err != nil {
					b.Fatal(err)
				}
				for len(ch) > 0 {
					<-ch
				}
			}
		})
	}
}

// TestHostInterruptsOption: host.interrupts in the agent's file turns on
// node_interrupts_total; without it the agent reports only node_intr_total.
func TestHostInterruptsOption(t *testing.T) {
	for _, on := range []bool{true, false} {
		dir := t.TempDir()
		yml := fmt.Sprintf("spool: {dir: %s}\nweb: {listen_address: \"\"}\nhost: {interrupts: %v}\n", filepath.Join(dir, "spool"), on)
		if err := os.WriteFile(filepath.Join(dir, "agent.yml"), []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfigFile(filepath.Join(dir, "agent.yml"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Options{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		mfs, err := a.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		has := map[string]bool{}
		for _, mf := range mfs {
			has[mf.GetName()] = len(mf.GetMetric()) > 0
		}
		if has["node_interrupts_total"] != on || !has["node_intr_total"] {
			t.Errorf("host.interrupts %v: node_interrupts_total reported %v, node_intr_total %v", on, has["node_interrupts_total"], has["node_intr_total"])
		}
	}
}
