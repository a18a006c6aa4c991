package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// clock is a settable test clock.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }
func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func funcBench(name, fn string) Benchmark {
	return Benchmark{Name: name, Kind: KindFunc, Func: &FuncConfig{Name: fn, Benchtime: Duration(2 * time.Millisecond), Count: 8}}
}

// placeOrder stands in for a matching engine: each call advances the test
// clock by its cost (set per test) ± 5%, so the figures are deterministic.
func registry(t *testing.T, clk *clock, cost *atomic.Int64) *Registry {
	reg := NewRegistry()
	var i int64
	if err := reg.Register("matching-engine/place-order", func(b *B) {
		for range b.N {
			i++
			clk.add(time.Duration(cost.Load() * (100 + (i*7)%11 - 5) / 100))
		}
		b.ReportMetric(1, "fills/op")
	}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("matching-engine/place-order", func(*B) {}); err == nil {
		t.Fatal("registering a name twice must fail")
	}
	return reg
}

// idleHost is a host load well below saturation.
func idleHost() (HostLoad, error) { return HostLoad{Load1: 0.4, CPUs: 2}, nil }

// Five runs a day apart: the fourth, 30% slower, is worse than the first
// three pooled (and than their spread), the fifth as slow confirms the
// regression; every run is archived, recorded and in the weekly report.
func TestRunnerBaselineRegressionReport(t *testing.T) {
	var cost atomic.Int64
	cost.Store(int64(20 * time.Microsecond))
	dir := t.TempDir()
	a, err := OpenArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	clk := newClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)) // Monday, 2026-W48
	cfg := Config{Suite: []Benchmark{funcBench("tps", "matching-engine/place-order")}}
	r, err := NewRunner(Options{Config: normalised(cfg), Archive: a, Registry: registry(t, clk, &cost), Recorder: rec, Now: clk.now, HostLoad: idleHost})
	if err != nil {
		t.Fatal(err)
	}
	var runs []*Run
	for i := range 5 {
		if i == 3 {
			cost.Store(int64(26 * time.Microsecond))
		}
		got, err := r.RunAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, got...)
		clk.add(24 * time.Hour)
	}
	if runs[0].Results[0].Comparison != nil {
		t.Errorf("first run has no baseline, got %+v", runs[0].Results[0].Comparison)
	}
	if c := runs[3].Results[0].Comparison; c == nil || c.Verdict != VerdictWorse || c.Regression || c.BaselineRuns != 3 || c.RunHi == 0 || c.New.Median > c.RunLo {
		t.Fatalf("fourth run (TPS down ~23%%): %+v, want worse (unconfirmed) and below the runs' spread", c)
	}
	// The fifth's baseline is still the first three: a worse run joins none.
	res := runs[4].Results[0]
	c := res.Comparison
	if c == nil || !c.Regression || c.Verdict != VerdictRegression || c.BaselineRuns != 3 || c.Base.N != 24 || c.Change > -0.1 || c.ChangeHi >= 0 {
		t.Fatalf("fifth run (TPS down ~23%% again): %+v, want a regression", c)
	}
	if res.Unit != "ops/s" || res.Better != HigherIsBetter || len(res.Samples) != 8 || res.Extra["fills/op"] != 1 {
		t.Errorf("result: %+v", res)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "bench", "runs", "*.json"))
	if len(files) != 5 {
		t.Errorf("archived %d runs, want 5", len(files))
	}
	back, err := ReadRun(files[4])
	if err != nil || !back.Regressed() || back.ID != runs[4].ID || back.HostLoad == nil || back.HostLoad.Load1 != 0.4 {
		t.Errorf("read back %v %+v", err, back)
	}
	if len(rec.runs) != 5 {
		t.Errorf("recorded %d runs, want 5", len(rec.runs))
	}
	// gmc_bench_regression: none for runs without a verdict (the first
	// three), 0 for the unconfirmed fourth, 1 for the fifth.
	for i, want := range []string{"", "", "", "0", "1"} {
		got := ""
		for _, s := range Series(rec.runs[i]) {
			if s.Labels.Get("__name__") == "gmc_bench_regression" && s.Labels.Get("benchmark") == "tps" {
				got = strconv.FormatFloat(s.V, 'g', -1, 64)
			}
		}
		if got != want {
			t.Errorf("run %d: gmc_bench_regression{benchmark=tps} %q, want %q", i+1, got, want)
		}
	}

	// The week's report.
	if err := r.UpdateReport(clk.now()); err != nil {
		t.Fatal(err)
	}
	rep, err := BuildReport(a, clk.now(), clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.ID != "2026-W48" || rep.Runs != 5 || rep.Regressions != 1 || len(rep.Entries) != 1 || len(rep.Entries[0].Trend) != 5 {
		t.Fatalf("report: %+v", rep)
	}
	md := rep.Markdown()
	for _, want := range []string{"# Benchmark report 2026-W48", "| tps | func |", FormatValue(res.Summary.Median, "ops/s"), "REGRESSION", "**1 regressions**", "vs baseline (3 runs pooled)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	page := rep.HTML()
	for _, want := range []string{"<!DOCTYPE html>", "<svg", "<polyline", "<circle", "REGRESSION"} {
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "<link", "href=\"http", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("html is not self-contained: has %q", bad)
		}
	}

	// HTTP handlers.
	mux := http.NewServeMux()
	h := NewHandler(a)
	mux.HandleFunc("GET /benchmark/report", h.Latest)
	mux.HandleFunc("GET /benchmark/reports", h.List)
	mux.HandleFunc("GET /benchmark/report/{id}", h.One)
	get := func(path string) (int, string, string) {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Header().Get("Content-Type"), w.Body.String()
	}
	if code, ct, body := get("/benchmark/report?format=md"); code != 200 || !strings.HasPrefix(ct, "text/markdown") || body != md {
		t.Errorf("latest md: %d %s", code, ct)
	}
	if code, ct, body := get("/benchmark/report/2026-W48?format=html"); code != 200 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "<svg") {
		t.Errorf("one html: %d %s", code, ct)
	}
	code, _, body := get("/benchmark/report")
	var got Report
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got.ID != "2026-W48" || got.Regressions != 1 {
		t.Errorf("latest json: %d %s", code, body)
	}
	if code, _, body := get("/benchmark/reports"); code != 200 || !strings.Contains(body, `"id":"2026-W48"`) {
		t.Errorf("list: %d %s", code, body)
	}
	if code, _, body := get("/benchmark/report/2026-W01"); code != 404 || !strings.Contains(body, "not_found") {
		t.Errorf("missing report: %d %s", code, body)
	}
	if code, _, body := get("/benchmark/report?format=pdf"); code != 400 || !strings.Contains(body, "format") {
		t.Errorf("bad format: %d %s", code, body)
	}
	if code, _, _ := get("/benchmark/report/..%2fx"); code != 404 {
		t.Errorf("bad id: %d", code)
	}

	// A pinned baseline: the slow run as baseline makes a fast run an improvement.
	cost.Store(int64(20 * time.Microsecond))
	r2, err := NewRunner(Options{Config: normalised(Config{Baseline: files[4], Suite: cfg.Suite}), Archive: a, Registry: registry(t, clk, &cost), Now: clk.now, HostLoad: idleHost})
	if err != nil {
		t.Fatal(err)
	}
	run, err := r2.Run(context.Background(), cfg.Suite[0])
	if err != nil {
		t.Fatal(err)
	}
	if c := run.Results[0].Comparison; c == nil || c.BaselineRuns != 1 || !c.Improvement {
		t.Errorf("against the pinned slow run: %+v", c)
	}
}

// TestVerdictNeedsRunsAndIdleHost replays the contradicting verdicts: a
// run compared with a single earlier run gets no verdict however far it
// moved; a run on a saturated host is marked untrustworthy, not compared,
// and joins no baseline; and a report's status follows the latest run's
// comparison (an improvement after a regression is not REGRESSION).
func TestVerdictNeedsRunsAndIdleHost(t *testing.T) {
	var cost atomic.Int64
	clk := newClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	load := HostLoad{Load1: 0.4, CPUs: 2}
	cfg := Config{Suite: []Benchmark{funcBench("tps", "matching-engine/place-order")}}
	newRunner := func() (*Runner, *Archive) {
		a, err := OpenArchive(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRunner(Options{Config: normalised(cfg), Archive: a, Registry: registry(t, clk, &cost), Now: clk.now,
			HostLoad: func() (HostLoad, error) { return load, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return r, a
	}
	run := func(r *Runner, c time.Duration) *Run {
		t.Helper()
		cost.Store(int64(c))
		got, err := r.Run(context.Background(), cfg.Suite[0])
		if err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
		return got
	}
	r, _ := newRunner()
	run(r, 20*time.Microsecond)
	second := run(r, 40*time.Microsecond) // half the TPS, against one run
	if c := second.Results[0].Comparison; c == nil || c.Regression || c.Significant || !strings.Contains(c.Warning, "baseline of 1 run") {
		t.Errorf("second run against one baseline run: %+v, want no verdict", c)
	}

	r, a := newRunner()
	load = HostLoad{Load1: 5, CPUs: 2}
	busy := run(r, 40*time.Microsecond)
	if busy.Untrustworthy == "" || busy.Results[0].Comparison != nil || busy.HostLoad.Load1 != 5 {
		t.Errorf("run on a saturated host: untrustworthy %q, comparison %+v", busy.Untrustworthy, busy.Results[0].Comparison)
	}
	load = HostLoad{Load1: 0.4, CPUs: 2}
	for range 3 {
		run(r, 20*time.Microsecond)
	}
	slow := run(r, 30*time.Microsecond) // against the three idle runs, not the busy one
	if c := slow.Results[0].Comparison; c == nil || c.Verdict != VerdictWorse || c.BaselineRuns != 3 {
		t.Fatalf("slow run against three: %+v, want worse", c)
	}
	slow = run(r, 30*time.Microsecond)
	if c := slow.Results[0].Comparison; c == nil || !c.Regression || c.BaselineRuns != 3 {
		t.Fatalf("second slow run against three: %+v, want a regression", c)
	}
	fast := run(r, 10*time.Microsecond)
	if c := fast.Results[0].Comparison; c == nil || c.Regression || !c.Improvement {
		t.Fatalf("fast run: %+v", c)
	}
	rep, err := BuildReport(a, clk.now(), clk.now())
	if err != nil {
		t.Fatal(err)
	}
	e := rep.Entries[0]
	if e.Regressed || e.RegressedRuns != 1 || e.Untrustworthy != 1 || rep.Regressions != 0 {
		t.Errorf("report entry: regressed %v (%d runs), untrustworthy %d, report regressions %d; want the latest run's verdict (improved)",
			e.Regressed, e.RegressedRuns, e.Untrustworthy, rep.Regressions)
	}
	if md := rep.Markdown(); strings.Contains(md, "**REGRESSION**") {
		t.Errorf("status REGRESSION beside an improvement:\n%s", md)
	}
}

type memRecorder struct{ runs []*Run }

func (m *memRecorder) Record(_ context.Context, run *Run) error {
	m.runs = append(m.runs, run)
	return nil
}

func TestFuncNotRegistered(t *testing.T) {
	a, _ := OpenArchive(t.TempDir())
	r, err := NewRunner(Options{Archive: a, Registry: NewRegistry(), Config: normalised(Config{Suite: []Benchmark{funcBench("x", "nope")}})})
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(context.Background(), r.Config().Suite[0])
	if err == nil || !strings.Contains(err.Error(), `"nope" is not registered`) || run == nil || run.Error == "" {
		t.Errorf("run %+v err %v", run, err)
	}
	if s := Series(run); s[0].Labels.Get("__name__") != "gmc_bench_run_failed" || s[0].V != 1 {
		t.Errorf("failed run series: %v", s)
	}
}

func TestExecKind(t *testing.T) {
	c := &ExecConfig{Shell: "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", Runs: 6, Warmup: 1}
	c.Normalise()
	if err := c.validate("exec"); err != nil {
		t.Fatal(err)
	}
	var calls int
	res, err := runExec(context.Background(), "loop", c, func(float64) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	e := res.Exec
	if e.Runs != 6 || len(res.Samples) != 6 || e.Failed != 0 || calls != 7 {
		t.Fatalf("exec: %+v calls %d", e, calls)
	}
	if !(e.Wall.Min > 0 && e.Wall.Min <= e.Wall.Median && e.Wall.Median <= e.Wall.Max && e.User.Mean+e.System.Mean > 0) {
		t.Errorf("exec figures: %+v", e)
	}
	if !res.Summary.HasCI() {
		t.Errorf("6 runs should give a CI: %+v", res.Summary)
	}
	fail := &ExecConfig{Command: []string{"false"}, Runs: 2, IgnoreFailure: true}
	fail.Normalise()
	if res, err := runExec(context.Background(), "f", fail, nil); err != nil || res.Exec.Failed != 2 || res.Errors != 2 {
		t.Errorf("failing command, ignore_failure: %+v %v", res.Exec, err)
	}
	missing := &ExecConfig{Command: []string{"/nonexistent/cmd"}, Runs: 1}
	missing.Normalise()
	if _, err := runExec(context.Background(), "m", missing, nil); err == nil {
		t.Error("a missing binary must fail the run")
	}
}

// TestExecNonZeroExitFailsTheRun: an exec benchmark whose command exited
// non-zero was a completed run (its exits only counted in Exec.Failed and
// Errors), so gmc_bench_run_failed stayed 0 and BenchmarkRunFailed never
// fired for it (t-dur8). Now it fails the run: Run.Error names the exit
// status and the end of the command's stderr, the series is 1, the run's
// times are kept but get no verdict, and the weekly report's entry says
// why the latest run failed until a later run succeeds. ignore_failure
// keeps the old reading.
func TestExecNonZeroExitFailsTheRun(t *testing.T) {
	a, err := OpenArchive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	clk := newClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	script := filepath.Join(t.TempDir(), "bench.sh")
	write := func(body string) {
		if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nightly := Benchmark{Name: "nightly", Kind: KindExec, Exec: &ExecConfig{Command: []string{script}, Runs: 3, Warmup: 1}}
	lenient := Benchmark{Name: "lenient", Kind: KindExec, Exec: &ExecConfig{Command: []string{script}, Runs: 3, IgnoreFailure: true}}
	r, err := NewRunner(Options{Config: normalised(Config{Suite: []Benchmark{nightly, lenient}}), Archive: a, Recorder: rec, Now: clk.now, HostLoad: idleHost})
	if err != nil {
		t.Fatal(err)
	}
	failed := func(run *Run) float64 {
		for _, s := range Series(run) {
			if s.Labels.Get("__name__") == "gmc_bench_run_failed" {
				return s.V
			}
		}
		t.Fatalf("run %s wrote no gmc_bench_run_failed", run.ID)
		return -1
	}

	// Two runs succeed (a baseline for the comparison), then the command
	// fails (exit 3, a message on stderr) in every run.
	write("exit 0")
	for range 2 {
		if _, err := r.Run(context.Background(), nightly); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
	}
	write("echo 'connection refused: 127.0.0.1:5432' >&2; exit 3")
	run, err := r.Run(context.Background(), nightly)
	if err == nil || run == nil {
		t.Fatalf("a command exiting 3 in every run: err %v, run %+v; want a failed run", err, run)
	}
	want := fmt.Sprintf("%q failed in 4 of 4 runs (1 warmup, 3 measured); first in warmup run 1: exit status 3, stderr: connection refused: 127.0.0.1:5432", script)
	if run.Error != want {
		t.Errorf("run.Error\n %q\nwant\n %q", run.Error, want)
	}
	if v := failed(run); v != 1 {
		t.Errorf("gmc_bench_run_failed %v, want 1", v)
	}
	if len(run.Results) != 1 || run.Results[0].Exec.Failed != 3 || run.Results[0].Errors != 3 || len(run.Results[0].Samples) != 3 {
		t.Errorf("the failed run's times: %+v, want 3 runs kept, 3 failed", run.Results)
	} else if c := run.Results[0].Comparison; c != nil {
		t.Errorf("a failed run was compared with its baseline: %+v", c)
	}

	// ignore_failure: the same exits counted, the run did not fail.
	lrun, err := r.Run(context.Background(), lenient)
	if err != nil || lrun.Error != "" || failed(lrun) != 0 || lrun.Results[0].Errors != 3 {
		t.Errorf("ignore_failure: err %v, run %+v", err, lrun)
	}

	// The report says why the latest run failed, in every format.
	clk.add(time.Hour)
	rep, err := BuildReport(a, clk.now(), clk.now())
	if err != nil {
		t.Fatal(err)
	}
	entry := func(rep *Report) ReportEntry {
		for _, e := range rep.Entries {
			if e.Benchmark == "nightly" {
				return e
			}
		}
		t.Fatalf("no nightly entry in %+v", rep.Entries)
		return ReportEntry{}
	}
	if e := entry(rep); e.Failed != 1 || e.LatestError != want || e.Runs != 3 {
		t.Errorf("report entry: failed %d, latest_error %q, runs %d; want 1, the run's error, 3", e.Failed, e.LatestError, e.Runs)
	}
	for format, doc := range map[string]string{"md": rep.Markdown(), "html": rep.HTML()} {
		if !strings.Contains(doc, "latest run FAILED") || !strings.Contains(doc, "exit status 3, stderr: connection refused") {
			t.Errorf("%s report does not say why the latest run failed", format)
		}
	}

	// A later run that succeeds clears it; the count stays.
	write("exit 0")
	run, err = r.Run(context.Background(), nightly)
	if err != nil || run.Error != "" || failed(run) != 0 {
		t.Fatalf("after the command was fixed: err %v, run %+v", err, run)
	}
	rep, err = BuildReport(a, clk.now(), clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(rep); e.Failed != 1 || e.LatestError != "" {
		t.Errorf("after a run succeeded: failed %d, latest_error %q; want 1, none", e.Failed, e.LatestError)
	}
}

func TestGoBenchFile(t *testing.T) {
	res, err := runGoBench(context.Background(), "me", &GoBenchConfig{File: "testdata/gobench.txt"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "me/PlaceOrder-2" || res[1].Name != "me/Cancel-2" {
		t.Fatalf("names: %v", res)
	}
	po := res[0]
	if po.Unit != "sec/op" || len(po.Samples) != 3 || math.Abs(po.Summary.Median-1000e-9) > 1e-15 || po.Extra["B/op"] != 128 || po.Extra["allocs/op"] != 2 || po.Requests != 3000000 {
		t.Errorf("PlaceOrder: %+v", po)
	}
	if _, err := parseGoBench("x", strings.NewReader("PASS\n"), "empty"); err == nil {
		t.Error("no results must be an error")
	}
}

// gobench runs `go test -bench` for real in a tiny module.
func TestGoBenchRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "m_test.go"), []byte(`package m
import "testing"
func BenchmarkSum(b *testing.B) { s := 0; for i := range b.N { s += i }; _ = s }
`), 0o644)
	c := &GoBenchConfig{Dir: dir, Count: 3, Benchtime: "1000x"}
	c.Normalise()
	if err := c.validate("gobench"); err != nil {
		t.Fatal(err)
	}
	res, err := runGoBench(context.Background(), "m", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !strings.HasPrefix(res[0].Name, "m/Sum") || len(res[0].Samples) != 3 || res[0].Requests != 3000 {
		t.Errorf("go test -bench: %+v", res)
	}
}

func TestCompareTable(t *testing.T) {
	mk := func(xs ...float64) *Run {
		return &Run{Results: []Result{{Name: "orders", Unit: "s", Better: LowerIsBetter, Samples: xs}, {Name: "only-here", Unit: "s", Samples: xs}}}
	}
	old := mk(0.0010, 0.0011, 0.0009, 0.0010, 0.0010, 0.0011, 0.0009, 0.0010)
	cur := mk(0.0012, 0.0013, 0.0011, 0.0012, 0.0012, 0.0013, 0.0011, 0.0012)
	cur.Results[1].Name = "new-one"
	var buf bytes.Buffer
	if err := WriteCompareTable(&buf, "old.json", "new.json", CompareRuns(old, cur, 0.05, 0.05)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want header + 1 row:\n%s", buf.String())
	}
	for _, want := range []string{"name", "old.json", "new.json", "vs base"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %q", lines[0], want)
		}
	}
	for _, want := range []string{"orders", "1ms ± ", "1.2ms ± ", "+20.00% (p=0.00", "n=8+8) REGRESSION"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
}

// The remote-write recorder sends a valid snappy protobuf that carries the
// run's series.
func TestRemoteWriteRecorder(t *testing.T) {
	var got prompb.WriteRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, body)
		if err != nil || r.URL.Path != "/api/v1/write" || r.Header.Get("Content-Encoding") != "snappy" {
			http.Error(w, "bad request", 400)
			return
		}
		if err := got.Unmarshal(raw); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	run := sampleRun()
	if err := (&RemoteWriteRecorder{URL: srv.URL}).Record(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		`gmc_bench_latency_seconds{benchmark="orders",quantile="0.99",team="core"}`: 0.004,
		`gmc_bench_throughput_per_second{benchmark="orders",team="core"}`:           999.5,
		`gmc_bench_errors_total{benchmark="orders",team="core"}`:                    2,
		`gmc_bench_regression{benchmark="orders",team="core"}`:                      1,
		`gmc_bench_change_ratio{benchmark="orders",team="core"}`:                    0.25,
		`gmc_bench_duration_seconds{benchmark="orders",team="core"}`:                10,
	}
	seen := map[string]float64{}
	for _, ts := range got.Timeseries {
		var name string
		var ls []string
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				name = l.Value
				continue
			}
			ls = append(ls, l.Name+`="`+l.Value+`"`)
		}
		if len(ts.Samples) != 1 || ts.Samples[0].Timestamp != run.End.UnixMilli() {
			t.Errorf("%s: samples %v", name, ts.Samples)
		}
		seen[name+"{"+strings.Join(ls, ",")+"}"] = ts.Samples[0].Value
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("%s = %v, want %v", k, seen[k], v)
		}
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "out of bounds", 400) }))
	defer bad.Close()
	if err := (&RemoteWriteRecorder{URL: bad.URL}).Record(context.Background(), run); err == nil || !strings.Contains(err.Error(), "out of bounds") {
		t.Errorf("a 400 must be an error carrying the message: %v", err)
	}
}

func sampleRun() *Run {
	end := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &Run{
		ID: newRunID(end, "orders"), Benchmark: "orders", Kind: KindHTTP, Labels: map[string]string{"team": "core"},
		Start: end.Add(-10 * time.Second), End: end,
		Results: []Result{{
			Name: "orders", Unit: "s", Better: LowerIsBetter, Samples: []float64{0.004},
			Latency:  &Latency{P50: 0.001, P90: 0.002, P99: 0.004, P999: 0.008, P9999: 0.009, Max: 0.010},
			Requests: 9995, Errors: 2, Throughput: 999.5, TargetRate: 1000, DurationSeconds: 10,
			Comparison: &Comparison{Change: 0.25, P: 0.001, Regression: true},
		}},
	}
}
