package rules

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/alerthistory"
	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// t0 is the synthetic clock's origin: 2026-01-01T00:00:00Z.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func openTSDB(t testing.TB, dir string) *gmcstorage.TSDB {
	t.Helper()
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: dir, Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newEngine(reg prometheus.Registerer) *promql.Engine {
	// As internal/query builds it for the server, delayed name removal included.
	return promql.NewEngine(promql.EngineOpts{Reg: reg, MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute,
		EnableDelayedNameRemoval: true})
}

// sink collects what the manager sends.
type sink struct {
	mu      sync.Mutex
	batches [][]*model.Alert
}

func (s *sink) send(as []*model.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, as)
}

func (s *sink) take() [][]*model.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.batches
	s.batches = nil
	return b
}

func newManager(t testing.TB, db *gmcstorage.TSDB, opts Options) *Manager {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Appendable, opts.Registerer = db, reg
	if opts.Queryable == nil {
		opts.Queryable = db
	}
	// New trusts its input: normalise and validate as config.Load does.
	opts.Thresholds = slices.Clone(opts.Thresholds)
	for i := range opts.Thresholds {
		opts.Thresholds[i].Normalise()
		if err := opts.Thresholds[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	opts.SLAs = slices.Clone(opts.SLAs)
	for i := range opts.SLAs {
		opts.SLAs[i].Normalise()
		if err := opts.SLAs[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if opts.Engine == nil {
		opts.Engine = newEngine(reg)
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// openHistory opens the alert history in dir as the server does (in
// <data_dir>/alerts), closed when the test ends.
func openHistory(t testing.TB, dir string) *alerthistory.History {
	t.Helper()
	h, err := alerthistory.Open(alerthistory.Options{Dir: filepath.Join(dir, "alerts")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// slaReporter is the SLA reporter the server builds beside m.
func slaReporter(m *Manager) *sla.Reporter {
	return sla.NewReporter(sla.ReporterOptions{
		SLAs: m.opts.SLAs, Engine: m.engine, Queryable: m.opts.Queryable, Logger: m.logger, Now: m.opts.Now,
	})
}

func appendFloat(t testing.TB, db storage.AppendableV2, ls labels.Labels, ts time.Time, v float64) {
	t.Helper()
	app := db.AppenderV2(context.Background())
	if _, err := app.Append(0, ls, 0, ts.UnixMilli(), v, nil, nil, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// silentRisk is a manager with the default rules over a store where
// service risk pushed its order counter every second from t0 to t0+1m and
// then stopped; ls is that series, for a test to push it again.
func silentRisk(t testing.TB) (m *Manager, s *sink, db *gmcstorage.TSDB, ls labels.Labels) {
	t.Helper()
	db = openTSDB(t, t.TempDir())
	s = &sink{}
	m = newManager(t, db, Options{DefaultRules: true, EvalInterval: 10 * time.Second, Sink: s.send})
	ls = labels.FromStrings("__name__", "gmc_orders_total", "service", "risk", "result", "success")
	for sec := 0; sec <= 60; sec++ {
		appendFloat(t, db, ls, t0.Add(time.Duration(sec)*time.Second), float64(sec))
	}
	return m, s, db, ls
}

// resolvedSummary is the resolved_summary of the last notification in s
// that ended alert name by at ("" if none).
func resolvedSummary(s *sink, name string, at time.Time) string {
	var text string
	for _, b := range s.take() {
		for _, a := range b {
			if a.Labels["alertname"] == model.LabelValue(name) && !a.EndsAt.After(at) {
				text = string(a.Annotations["resolved_summary"])
			}
		}
	}
	return text
}

func newTestParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// cpuRestart runs the default rules over vm's idle CPU counter: 10 minutes
// evaluated every 10 s, HostCPUHigh firing at their end (else the test
// fails), then gmc down 112 s (its alert history closed and reopened) and
// 3 minutes evaluated every 2 s, the agent's samples every 10 s. idle(at)
// is the counter's value at at, asked in time order. It returns what the
// rules sent after the restart, the history then, and the run's end.
func cpuRestart(t *testing.T, idle func(at time.Duration) float64) (sent [][]*model.Alert, h *alerthistory.History, end time.Time) {
	t.Helper()
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	ls := labels.FromStrings("__name__", "node_cpu_seconds_total", "instance", "vm", "cpu", "0", "mode", "idle")
	ctx := context.Background()
	var s sink
	h = openHistory(t, dir)
	m := newManager(t, db, Options{History: h, DefaultRules: true, EvalInterval: 10 * time.Second, Sink: s.send})
	for at := time.Duration(0); at <= 10*time.Minute; at += 10 * time.Second {
		appendFloat(t, db, ls, t0.Add(at), idle(at))
		m.EvalAll(ctx, t0.Add(at))
	}
	if got := activeOf(t, m, "HostCPUHigh"); len(got) != 1 || got[0] != ":firing" {
		t.Fatalf("HostCPUHigh before the stop: %v, want firing", got)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	s.take()
	// Down from 10m to 11m52s; the rules are evaluated every 2 s after
	// it (the demo's are every second).
	h = openHistory(t, dir)
	m = newManager(t, db, Options{History: h, DefaultRules: true, EvalInterval: 2 * time.Second, Sink: s.send})
	restart := 10*time.Minute + 112*time.Second
	for at := restart; at <= restart+3*time.Minute; at += 2 * time.Second {
		if (at-restart)%(10*time.Second) == 0 {
			appendFloat(t, db, ls, t0.Add(at), idle(at))
		}
		m.EvalAll(ctx, t0.Add(at))
	}
	return s.take(), h, t0.Add(restart + 3*time.Minute)
}
