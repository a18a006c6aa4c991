package sdk

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestSpoolMetrics() *spoolMetrics {
	return &spoolMetrics{
		dropped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "gmc_spool_dropped_requests_total", Help: "h"}),
		requests: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gmc_spool_requests", Help: "h"}),
		bytes:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "gmc_spool_bytes", Help: "h"}),
	}
}

// drain reads the spool head to tail, removing as it goes.
func drain(t *testing.T, s *spool) []string {
	t.Helper()
	var got []string
	for range 1000 {
		seq, body, ok, err := s.head()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return got
		}
		got = append(got, string(body))
		if err := s.remove(seq); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("spool does not drain")
	return nil
}

func TestSpool(t *testing.T) {
	for _, mode := range []string{"disk", "memory"} {
		t.Run(mode, func(t *testing.T) {
			dir := ""
			if mode == "disk" {
				dir = filepath.Join(t.TempDir(), "spool")
			}
			var logs bytes.Buffer
			m := newTestSpoolMetrics()
			// Room for 3 requests of 10 bytes.
			s, err := openSpool(dir, 35, slog.New(slog.NewTextHandler(&logs, nil)), m)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				if err := s.add(uint64(i), fmt.Appendf(nil, "request-%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if s.len() != 3 || testutil.ToFloat64(m.bytes) != 30 || testutil.ToFloat64(m.dropped) != 0 {
				t.Fatalf("after 3 adds: len %d, bytes gauge %v, dropped %v", s.len(), testutil.ToFloat64(m.bytes), testutil.ToFloat64(m.dropped))
			}
			// The 4th and 5th do not fit: the two oldest go, with a log line and the metric.
			for i := 4; i <= 5; i++ {
				if err := s.add(uint64(i), fmt.Appendf(nil, "request-%02d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if got := testutil.ToFloat64(m.dropped); got != 2 {
				t.Errorf("gmc_spool_dropped_requests_total = %v, want 2", got)
			}
			if !strings.Contains(logs.String(), "spool full, dropped the oldest requests") {
				t.Errorf("no log line for the drop; logs: %s", logs.String())
			}
			if testutil.ToFloat64(m.requests) != 3 || testutil.ToFloat64(m.bytes) != 30 {
				t.Errorf("gauges after drop: requests %v bytes %v, want 3 and 30", testutil.ToFloat64(m.requests), testutil.ToFloat64(m.bytes))
			}
			// A request larger than the whole spool is dropped, not stored.
			if err := s.add(6, bytes.Repeat([]byte("x"), 36)); err != nil {
				t.Fatal(err)
			}
			if got := testutil.ToFloat64(m.dropped); got != 3 {
				t.Errorf("oversize request: dropped = %v, want 3", got)
			}

			if mode == "disk" {
				// A restart finds the same requests, in order, and ignores a half-written one.
				if err := os.WriteFile(filepath.Join(dir, "0000000000000007.rw.tmp"), []byte("partial"), 0o644); err != nil {
					t.Fatal(err)
				}
				s2, err := openSpool(dir, 35, slog.New(slog.DiscardHandler), newTestSpoolMetrics())
				if err != nil {
					t.Fatal(err)
				}
				if s2.lastSeq() != 5 {
					t.Errorf("reopened lastSeq %d, want 5", s2.lastSeq())
				}
				s = s2
			}
			want := []string{"request-03", "request-04", "request-05"}
			if got := drain(t, s); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("spool order %v, want %v", got, want)
			}
			if mode == "disk" {
				des, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(des) != 0 {
					t.Errorf("files left in a drained spool: %v", des)
				}
			}
		})
	}
}

func TestQueueKeepsOrderAcrossSpill(t *testing.T) {
	sp, err := openSpool(t.TempDir(), 1<<20, slog.New(slog.DiscardHandler), newTestSpoolMetrics())
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(sp, 2)
	push := func(s string) {
		if err := q.push([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	push("a")
	push("b") // both in memory
	seqA, body, _, _ := q.head()
	if string(body) != "a" {
		t.Fatalf("head %q, want a", body)
	}
	push("c") // memory full: a, b spill to the spool with c behind them
	if sp.len() != 3 {
		t.Fatalf("spool holds %d, want 3", sp.len())
	}
	if err := q.done(seqA); err != nil { // "a" was in flight when it was spilled
		t.Fatal(err)
	}
	push("d")
	var got []string
	for range 10 {
		seq, body, ok, err := q.head()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, string(body))
		if err := q.done(seq); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, "") != "bcd" {
		t.Errorf("queue order %v, want b c d", got)
	}
}
