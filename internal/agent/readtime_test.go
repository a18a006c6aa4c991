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
// writer holds a read back 0-150 ms (a collector descheduled under load)
// and then writes a "some" total that has grown one second a second since
// the test began, as for a CPU always waited for. A read held back longer
// than maxReadBracket is read again (the writer answers every read of the
// gather, only the first one late), and the sample carries the last read's
// value; every sample is stamped within its gather (the pusher's stamp,
// taken before the gather, was up to the whole delay earlier: rates of
// 0.44-2.5 s/s from a 1 s/s counter in this test), the files read in the
// same gather (io, memory) too.
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
		stop := make(chan struct{})
		writes := make(chan []float64, 1)
		go func() { writes <- servePressureFIFO(t, fifo, delay, start, stop) }()
		gatherStart := time.Now()
		mfs, err := reg.Gather()
		gatherEnd := time.Now()
		close(stop)
		if err != nil {
			t.Fatal(err)
		}
		var wrote []float64
		select {
		case wrote = <-writes:
		case <-time.After(30 * time.Second):
			t.Fatal("the FIFO's writer did not finish within 30 s")
		}
		if len(wrote) == 0 {
			t.Fatal("the collector did not read /proc/pressure/cpu")
		}
		if delay > maxReadBracket && len(wrote) < 2 {
			t.Errorf("gather %d: a read held back %v was not read again (%d reads)", i, delay, len(wrote))
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if m.TimestampMs == nil {
					t.Fatalf("gather %d: %s has no timestamp of its own (the pusher would stamp it with the gather's start)", i, mf.GetName())
				}
				ts := m.GetTimestampMs()
				if from, to := gatherStart.UnixMilli(), gatherEnd.UnixMilli()+1; ts < from || ts > to {
					t.Errorf("gather %d (read held back %v): %s stamped %d, want within the gather [%d, %d]",
						i, delay, mf.GetName(), ts, from, to)
				}
			}
		}
		ts, v := float64(pressureSample(t, mfs).GetTimestampMs())/1e3, pressureSample(t, mfs).GetCounter().GetValue()
		if last := wrote[len(wrote)-1]; v != last {
			t.Errorf("gather %d: sent %v, want the last read's %v (reads %v)", i, v, last, wrote)
		}
		g := float64(gatherStart.UnixMicro()) / 1e6
		if i > 0 {
			t.Logf("gather %d (read held back %v, %d reads): rate %.3f s/s over read times, %.3f over the gathers' starts",
				i, delay, len(wrote), (v-prevV)/(ts-prevTs), (v-prevV)/(g-prevGather))
		}
		prevTs, prevV, prevGather = ts, v, g
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReadSourceStampsTheBracketMiddle: a source is stamped with the middle
// of the clock readings around its read, and a read descheduled inside
// (its bracket wider than maxReadBracket) is done again, the last read's
// values kept; after readTries wide reads the last one stands.
func TestReadSourceStampsTheBracketMiddle(t *testing.T) {
	c := newHostCollector(slog.New(slog.DiscardHandler))
	base := time.UnixMilli(1_800_000_000_000)
	var clock time.Duration
	c.now = func() time.Time { return base.Add(clock) }
	for _, tc := range []struct {
		name  string
		took  []time.Duration // each read's time between its clock readings
		reads int
		at    time.Duration // the stamp, from the first read's start
	}{
		{"quick", []time.Duration{800 * time.Microsecond}, 1, 400 * time.Microsecond},
		{"descheduled once", []time.Duration{150 * time.Millisecond, time.Millisecond}, 2, 150*time.Millisecond + 500*time.Microsecond},
		{"always descheduled", []time.Duration{40 * time.Millisecond, 30 * time.Millisecond, 20 * time.Millisecond, time.Millisecond}, readTries, 80 * time.Millisecond},
	} {
		from := clock
		n := 0
		ch := make(chan prometheus.Metric, 1)
		out, err := c.readSource(ch, tc.name, func() error {
			clock += tc.took[n]
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.reads {
			t.Errorf("%s: %d reads, want %d", tc.name, n, tc.reads)
		}
		want := base.Add(from + tc.at).UnixMilli()
		if got := out.at.UnixMilli(); got != want {
			t.Errorf("%s: stamped %d ms after the first read began, want %d", tc.name, got-base.Add(from).UnixMilli(), want-base.Add(from).UnixMilli())
		}
		clock += time.Second
	}
	if _, err := c.readSource(nil, "failing", func() error { return errors.New("no such file") }); err == nil {
		t.Error("a failed read gave no error")
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

// servePressureFIFO answers every read of fifo until stop: it waits for a
// reader, holds the first one back for delay, then writes a PSI file whose
// totals are the microseconds since start. Before closing its end it puts a
// fresh FIFO at the path (rename), so the next read opens that one rather
// than seeing this writer again. It returns the totals written (seconds).
func servePressureFIFO(t *testing.T, fifo string, delay time.Duration, start time.Time, stop <-chan struct{}) []float64 {
	var wrote []float64
	deadline := time.Now().Add(20 * time.Second)
	for {
		var f *os.File
		for {
			var err error
			// Non-blocking: fails with ENXIO until a reader has the FIFO open.
			f, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if err == nil {
				break
			}
			select {
			case <-stop:
				return wrote
			default:
			}
			if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
				t.Errorf("open %s for writing: %v", fifo, err)
				return wrote
			}
			time.Sleep(time.Millisecond)
		}
		if len(wrote) == 0 {
			time.Sleep(delay)
		}
		total := time.Since(start).Microseconds()
		if _, err := fmt.Fprintf(f, "some avg10=99.00 avg60=99.00 avg300=99.00 total=%d\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", total); err != nil {
			t.Errorf("write %s: %v", fifo, err)
		}
		wrote = append(wrote, float64(total)/1e6)
		next := fifo + ".next"
		if err := unix.Mkfifo(next, 0o644); err != nil {
			t.Errorf("mkfifo: %v", err)
		} else if err := os.Rename(next, fifo); err != nil {
			t.Errorf("rename %s: %v", next, err)
		}
		f.Close()
	}
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
