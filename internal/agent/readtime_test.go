package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sys/unix"
)

// TestPressureStampedAtReadTime: pressure stall totals carry the time their
// file was read, not the gather's. /proc/pressure/cpu is a FIFO here whose
// writer holds the read back 0-150 ms (a collector descheduled under load)
// and then writes a "some" total that has grown one second a second since
// the test began, as for a CPU always waited for. Every sample's timestamp
// must be at or after the moment its value was written (the pusher's stamp,
// taken before the gather, was up to the whole delay earlier: rates of
// 0.44-2.5 s/s from a 1 s/s counter in this test), and the files read in the same gather
// (io, memory) carry times within it.
func TestPressureStampedAtReadTime(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "pressure"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"io", "memory"} {
		b, err := os.ReadFile(filepath.Join("testdata", "proc", "pressure", r))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "pressure", r), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fifo := filepath.Join(root, "pressure", "cpu")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	c := kernelCollector(t, root, slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	reg.MustRegister(&partCollector{fn: c.collectPressure})
	start := time.Now()
	var prevTs, prevV, prevGather float64
	for i, delay := range []time.Duration{0, 150 * time.Millisecond, 10 * time.Millisecond, 120 * time.Millisecond, 0, 90 * time.Millisecond} {
		written := make(chan time.Time, 1)
		go func() { written <- writePressureFIFO(t, fifo, delay, start) }()
		gatherStart := time.Now()
		mfs, err := reg.Gather()
		gatherEnd := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		var wrote time.Time
		select {
		case wrote = <-written:
		case <-time.After(30 * time.Second):
			t.Fatal("the FIFO's writer did not finish within 30 s")
		}
		if wrote.IsZero() {
			t.Fatal("the collector did not read /proc/pressure/cpu")
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if m.TimestampMs == nil {
					t.Fatalf("gather %d: %s has no timestamp of its own (the pusher would stamp it with the gather's start)", i, mf.GetName())
				}
				ts := m.GetTimestampMs()
				from, to := gatherStart.UnixMilli(), gatherEnd.UnixMilli()+1
				if mf.GetName() == "node_pressure_cpu_waiting_seconds_total" || mf.GetName() == "node_pressure_cpu_stalled_seconds_total" {
					from = wrote.UnixMilli() // not before its value existed
				}
				if ts < from || ts > to {
					t.Errorf("gather %d (read held back %v): %s stamped %d, want within [%d, %d] (gather began %d)",
						i, delay, mf.GetName(), ts, from, to, gatherStart.UnixMilli())
				}
			}
		}
		ts, v := float64(pressureSample(t, mfs).GetTimestampMs())/1e3, pressureSample(t, mfs).GetCounter().GetValue()
		g := float64(gatherStart.UnixMicro()) / 1e6
		if i > 0 {
			t.Logf("gather %d (read held back %v): rate %.3f s/s over read times, %.3f over the gathers' starts",
				i, delay, (v-prevV)/(ts-prevTs), (v-prevV)/(g-prevGather))
		}
		prevTs, prevV, prevGather = ts, v, g
		time.Sleep(100 * time.Millisecond)
	}
}

// pressureSample is node_pressure_cpu_waiting_seconds_total in mfs.
func pressureSample(t *testing.T, mfs []*dto.MetricFamily) *dto.Metric {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() == "node_pressure_cpu_waiting_seconds_total" && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0]
		}
	}
	t.Fatal("no node_pressure_cpu_waiting_seconds_total")
	return nil
}

// writePressureFIFO waits (up to 20 s) for a reader of fifo, holds it back
// for delay, then writes a PSI file whose totals are the microseconds since
// start, and returns when it wrote them (zero: no reader came).
func writePressureFIFO(t *testing.T, fifo string, delay time.Duration, start time.Time) time.Time {
	deadline := time.Now().Add(20 * time.Second)
	var f *os.File
	for {
		var err error
		// Non-blocking: fails with ENXIO until a reader has the FIFO open.
		f, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Errorf("open %s for writing: %v", fifo, err)
			return time.Time{}
		}
		time.Sleep(time.Millisecond)
	}
	defer f.Close()
	time.Sleep(delay)
	now := time.Now()
	total := now.Sub(start).Microseconds()
	if _, err := fmt.Fprintf(f, "some avg10=99.00 avg60=99.00 avg300=99.00 total=%d\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", total); err != nil {
		t.Errorf("write %s: %v", fifo, err)
	}
	return now
}

// TestMetricsWithoutReadTimes: /metrics serves the samples without the
// read times the pushes carry, as node_exporter serves them.
func TestMetricsWithoutReadTimes(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&partCollector{fn: kernelCollector(t, "testdata/proc", slog.New(slog.DiscardHandler)).collectStat})
	stamped, bare := 0, 0
	for _, g := range []prometheus.Gatherer{reg, withoutTimestamps(reg)} {
		mfs, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if m.TimestampMs != nil {
					stamped++
				} else {
					bare++
				}
			}
		}
	}
	// The stat part's 15 series: stamped when gathered for a push, bare on /metrics.
	if stamped != 15 || bare != 15 {
		t.Errorf("%d samples with a timestamp, %d without; want 15 and 15", stamped, bare)
	}
}
