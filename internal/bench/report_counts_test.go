package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestReportCountsSkippedWeek: with every run of the week skipped (a
// saturated host, t-user6 #7) the report said "0 runs, 0 benchmarks"
// above the five benchmarks it listed as skipped. It counts the runs
// completed and skipped, and the benchmarks scheduled and run.
func TestReportCountsSkippedWeek(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return from.Add(4*24*time.Hour + time.Duration(m)*time.Minute) }
	var runs []*Run
	names := []string{"backtest-throughput", "db-query-latency-standin", "marketdata-playback", "matching-engine-tps", "order-gateway-latency"}
	for i := 0; i < 13; i++ {
		name := names[i%len(names)]
		runs = append(runs, &Run{ID: fmt.Sprintf("skip-%d", i), Benchmark: name, Start: at(i), End: at(i),
			Skipped: "host saturated: load average 16.42 on 2 CPUs (limit 1.00 per CPU) at 00:26:12, waited 1m0s: not run"})
	}
	rep := NewReport(runs, from, at(14))
	if rep.Runs != 0 || rep.Skipped != 13 || rep.Benchmarks != 5 || rep.Ran != 0 || len(rep.Skips) != 5 {
		t.Errorf("runs %d, skipped %d, benchmarks %d, ran %d, skips %d; want 0, 13, 5, 0, 5", rep.Runs, rep.Skipped, rep.Benchmarks, rep.Ran, len(rep.Skips))
	}
	const want = "0 runs completed, 13 skipped; 5 benchmarks, none ran"
	if md := rep.Markdown(); !strings.Contains(md, want) || strings.Contains(md, "0 runs, 0 benchmarks") {
		t.Errorf("markdown headline lacks %q:\n%s", want, md)
	}
	if page := rep.HTML(); !strings.Contains(page, want) {
		t.Errorf("html headline lacks %q", want)
	}

	// One of them runs after its skips: 1 ran of 5; a week without skips
	// reads as before ("N runs; M benchmarks").
	runs = append(runs, &Run{ID: "ran", Benchmark: "matching-engine-tps", Kind: "func", Start: at(20), End: at(20).Add(time.Second),
		Results: []Result{{Name: "matching-engine-tps", Unit: "ops/s", Better: HigherIsBetter, Samples: []float64{1, 2, 3}, Summary: Summary{N: 3, Median: 2}}}})
	rep = NewReport(runs, from, at(21))
	if md := rep.Markdown(); !strings.Contains(md, "1 runs completed, 13 skipped; 5 benchmarks, 1 ran") {
		t.Errorf("markdown headline after one run:\n%s", md)
	}
	rep = NewReport(runs[13:], from, at(21))
	if md := rep.Markdown(); !strings.Contains(md, "(UTC), 1 runs; 1 benchmarks; 0 of 1 compared") {
		t.Errorf("markdown headline of a week without skips:\n%s", md)
	}
}

// TestReportNoBaselineAfterSimulated: a measured run after simulated runs
// only (the demo's history) has no baseline, and its reason says why. It
// read "no earlier run to compare with" beside "Runs 3" (t-user24).
func TestReportNoBaselineAfterSimulated(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return from.Add(time.Duration(m) * time.Minute) }
	run := func(id string, m int, simulated string) *Run {
		return &Run{ID: id, Benchmark: "matching-engine-tps", Kind: "func", Start: at(m), End: at(m).Add(time.Second), Simulated: simulated,
			Results: []Result{{Name: "matching-engine-tps", Unit: "ops/s", Better: HigherIsBetter, Samples: []float64{1, 2, 3}, Summary: Summary{N: 3, Median: 2}}}}
	}
	const sim = "drawn for the demo's history"
	runs := []*Run{run("s1", 1, sim), run("s2", 2, sim), run("live", 3, "")}
	e := NewReport(runs, from, at(4)).Entries[0]
	if e.Verdict != VerdictNone || !strings.Contains(e.VerdictReason, "the 2 before it are simulated") {
		t.Errorf("measured run after two simulated: verdict %q, reason %q", e.Verdict, e.VerdictReason)
	}
	// A first run ever keeps the plain reason.
	e = NewReport(runs[2:], from, at(4)).Entries[0]
	if e.VerdictReason != "no earlier run to compare with" {
		t.Errorf("first run: reason %q", e.VerdictReason)
	}
}

// TestReportNoBaselineAfterUnfit: a measured run whose earlier runs are
// all unfit to be its baseline (simulated, untrustworthy or failed) says
// which they are; an untrustworthy measured run was counted as a measured
// one, so after it the reason read "no earlier run to compare with".
func TestReportNoBaselineAfterUnfit(t *testing.T) {
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return from.Add(time.Duration(m) * time.Minute) }
	const (
		sim       = "drawn for the demo's history"
		saturated = "host saturated: load average 9.00 on 2 CPUs (limit 1.00 per CPU) when the run began"
	)
	type kind int
	const (
		measured kind = iota
		simulated
		untrustworthy
		failed
	)
	run := func(m int, k kind) *Run {
		r := &Run{ID: fmt.Sprint("r", m), Benchmark: "matching-engine-tps", Kind: "func", Start: at(m), End: at(m).Add(time.Second),
			Results: []Result{{Name: "matching-engine-tps", Unit: "ops/s", Better: HigherIsBetter, Samples: []float64{1, 2, 3}, Summary: Summary{N: 3, Median: 2}}}}
		switch k {
		case simulated:
			r.Simulated = sim
		case untrustworthy:
			r.Untrustworthy = saturated
		case failed:
			r.Error = "exit status 1"
		}
		return r
	}
	for _, c := range []struct {
		name    string
		earlier []kind
		want    string
	}{
		{"untrustworthy", []kind{untrustworthy},
			"no earlier run fit to compare with: the 1 before it was untrustworthy (measured on a saturated host), never a baseline"},
		{"simulated then untrustworthy", []kind{simulated, simulated, untrustworthy},
			"no earlier run fit to compare with: the 3 before it were 2 simulated (the demo's history) and 1 untrustworthy (measured on a saturated host), never a baseline"},
		{"untrustworthy and failed", []kind{untrustworthy, failed},
			"no earlier run fit to compare with: the 2 before it were 1 untrustworthy (measured on a saturated host) and 1 failed, never a baseline"},
		// One earlier run may be a baseline (here outside the baseline
		// window, say): the reason is the comparison's own.
		{"one measured among them", []kind{untrustworthy, measured}, "no earlier run to compare with"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var runs []*Run
			for i, k := range c.earlier {
				runs = append(runs, run(i+1, k))
			}
			runs = append(runs, run(len(runs)+1, measured))
			e := NewReport(runs, from, at(60)).Entries[0]
			if e.Verdict != VerdictNone || e.VerdictReason != c.want {
				t.Errorf("verdict %q, reason:\n got %q\nwant %q", e.Verdict, e.VerdictReason, c.want)
			}
		})
	}
}
