package bench

import (
	"fmt"
	"math"

	"github.com/aclements/go-moremath/stats"
)

// judge fills the Comparison of each of run's results: against pinned when
// it is set, else against the runs of earlier (the baseline window before
// run, oldest first) of the same benchmark on an idle host.
//
// A run's samples are not independent of its run: the demo's four
// benchmarks vary 2–40 % within a run but 10–30 % from one run to the
// next on a quiet machine (t-user5's run A), so a U test of the new
// samples against the pooled baseline calls almost any run "significant".
// The verdict therefore also needs
//
//   - the new median outside the spread of the baseline's own runs (the
//     1 − alpha prediction interval of one more run's median, runNoise),
//     not only a change beyond the threshold and a significant U test;
//   - a second judged run in a row for a regression: the first is
//     "worse", and only two make a "regression" (what gmc_bench_regression
//     and the BenchmarkRegression alert follow); once a regression, a run
//     that is still significantly worse by more than the threshold keeps
//     it, noise or not, and it ends only after two judged runs in a row
//     that are not worse (or one improvement), so one borderline run does
//     not flip it.
func judge(run *Run, earlier []*Run, pinned *Run, cfg Config) {
	var base map[string]baseRuns
	if pinned != nil {
		// A pinned run is matched by result name, whatever suite it came from.
		base = baselineRuns([]*Run{{Benchmark: run.Benchmark, Results: pinned.Results}}, run.Benchmark, false)
	} else {
		base = baselineRuns(earlier, run.Benchmark, true)
	}
	for i := range run.Results {
		res := &run.Results[i]
		b := base[res.Name]
		if len(b.samples) == 0 || len(res.Samples) == 0 {
			continue
		}
		c := Compare(b.samples, res.Samples, res.Better, cfg.Alpha, cfg.RegressionThreshold)
		c.BaselineRuns = len(b.medians)
		res.Comparison = &c
		if pinned == nil && c.BaselineRuns < cfg.MinBaselineRuns {
			// Samples of one run vary less than runs do: no verdict yet.
			c.Significant, c.Regression, c.Improvement = false, false, false
			c.Warning = fmt.Sprintf("baseline of %d run(s), a verdict needs %d", c.BaselineRuns, cfg.MinBaselineRuns)
			c.Verdict, c.Reason = VerdictNone, c.Warning
			continue
		}
		if c.Verdict == VerdictNone {
			continue
		}
		// Compare's own verdict: significant and beyond the threshold.
		beyond := c.Verdict
		if pinned == nil {
			if lo, hi, ok := runNoise(b.medians, cfg.Alpha); ok {
				c.RunLo, c.RunHi = lo, hi
				if m := c.New.Median; m >= lo && m <= hi && beyond != VerdictUnchanged {
					c.Verdict = VerdictUnchanged
					c.Reason = fmt.Sprintf("%+.1f%% is within the runs' own noise: from its %d baseline runs a run's median is expected in %s … %s (%.0f%%)",
						100*c.Change, c.BaselineRuns, FormatValue(lo, res.Unit), FormatValue(hi, res.Unit), 100*(1-cfg.Alpha))
				}
			}
		}
		prev, prevWorse := previousVerdict(earlier, run.Benchmark, res.Name)
		switch {
		case c.Verdict == VerdictRegression && (prev == VerdictWorse || prev == VerdictRegression):
			// Confirmed (or continued) by a second run beyond the noise.
		case c.Verdict == VerdictRegression:
			c.Verdict = VerdictWorse
			c.Reason = "worse beyond the threshold and the runs' noise in this run only: a regression if the next run is worse too"
		case prev == VerdictRegression && beyond == VerdictRegression:
			// Hysteresis: still significantly worse by more than the
			// threshold, only within the noise band now.
			c.Verdict = VerdictRegression
			c.Reason = "still worse by more than the threshold after a regression (" + c.Reason + ")"
		case prev == VerdictRegression && prevWorse && c.Verdict != VerdictImprovement:
			// Hysteresis: one run back to normal does not end a
			// regression; two in a row do, or one beyond the noise the
			// other way.
			c.Verdict = VerdictRegression
			c.Reason = "not worse in this run, after a regression: it ends if the next run is not worse either"
		}
		c.Regression = c.Verdict == VerdictRegression
		c.Improvement = c.Verdict == VerdictImprovement
	}
}

// baseRuns is a baseline of one result: the pooled samples and the
// median of each run pooled.
type baseRuns struct {
	samples []float64
	medians []float64
}

// baselineRuns pools the samples of benchmark's usable runs by result
// name, without the results judged worse or a regression if noSuspects.
func baselineRuns(runs []*Run, benchmark string, noSuspects bool) map[string]baseRuns {
	out := map[string]baseRuns{}
	for _, run := range runs {
		if !usable(run, benchmark) {
			continue
		}
		for _, res := range run.Results {
			if len(res.Samples) == 0 || noSuspects && suspect(res.Comparison) {
				continue
			}
			b := out[res.Name]
			b.samples = append(b.samples, res.Samples...)
			b.medians = append(b.medians, Summarize(res.Samples).Median)
			out[res.Name] = b
		}
	}
	return out
}

// suspect reports whether a run was judged worse or a regression: such a
// run joins no baseline, which stays the level before it (else one worse
// run would widen the noise band enough to hide a second, and a regression
// would soon be its own baseline).
func suspect(c *Comparison) bool {
	v, _ := c.Outcome()
	return v == VerdictWorse || v == VerdictRegression
}

// usable reports whether run is a completed run of benchmark on an idle host:
// one that may join a baseline.
func usable(run *Run, benchmark string) bool {
	return run.Benchmark == benchmark && run.Error == "" && run.Untrustworthy == "" && run.Skipped == ""
}

// previousVerdict is the verdict of the latest judged run of benchmark's
// result name in runs (oldest first), or "" when there is none, and
// whether that run itself was worse (significantly, beyond the threshold).
func previousVerdict(runs []*Run, benchmark, name string) (verdict string, worse bool) {
	for i := len(runs) - 1; i >= 0; i-- {
		if !usable(runs[i], benchmark) {
			continue
		}
		for _, res := range runs[i].Results {
			if res.Name != name || res.Comparison == nil {
				continue
			}
			if v, _ := res.Comparison.Outcome(); v != VerdictNone {
				return v, res.Comparison.worse(res.Better)
			}
		}
	}
	return "", false
}

// worse reports whether the change is significant and worse than the
// threshold, whatever the runs' noise.
func (c *Comparison) worse(better Direction) bool {
	w := c.Change
	if better == HigherIsBetter {
		w = -w
	}
	return c.Significant && w > c.Threshold
}

// runNoise is the 1 − alpha prediction interval of the median of one more
// run, from the medians of the baseline's runs: the log-medians' mean ± t ×
// their standard deviation × √(1 + 1/k), k runs, t of Student's
// distribution with k − 1 degrees of freedom. ok is false below two runs
// or with a median that is not positive.
func runNoise(medians []float64, alpha float64) (lo, hi float64, ok bool) {
	k := len(medians)
	if k < 2 {
		return 0, 0, false
	}
	logs := make([]float64, k)
	for i, m := range medians {
		if !(m > 0) {
			return 0, 0, false
		}
		logs[i] = math.Log(m)
	}
	t := stats.InvCDF(stats.TDist{V: float64(k - 1)})(1 - alpha/2)
	w := t * stats.StdDev(logs) * math.Sqrt(1+1/float64(k))
	mean := stats.Mean(logs)
	return math.Exp(mean - w), math.Exp(mean + w), true
}
