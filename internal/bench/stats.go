package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// Confidence is the level of the median confidence intervals (as benchstat).
const Confidence = 0.95

// Summary is a sample's median with its distribution-free confidence interval
// (benchmath.AssumeNothing). Lo and Hi are ±Inf below 6 samples; they are
// then omitted from JSON.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
}

// Summarize returns the median of xs and its 95% confidence interval.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := benchmath.NewSample(slices.Clone(xs), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	return Summary{N: len(xs), Median: sum.Center, Lo: finite(sum.Lo), Hi: finite(sum.Hi)}
}

// finite maps ±Inf (no interval) to NaN-free JSON-safe 0.
func finite(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return v
}

// HasCI reports whether the summary has a finite confidence interval.
func (s Summary) HasCI() bool { return s.N >= 6 && !(s.Lo == 0 && s.Hi == 0) }

// PctRange is the half-width of the confidence interval relative to the
// median, like benchstat's "± 3%".
func (s Summary) PctRange() string {
	if !s.HasCI() || s.Median == 0 {
		return "∞"
	}
	d := math.Max(s.Median-s.Lo, s.Hi-s.Median) / math.Abs(s.Median)
	return fmt.Sprintf("%.0f%%", d*100)
}

// Comparison is the verdict of a run against its baseline.
type Comparison struct {
	Base Summary `json:"base"`
	New  Summary `json:"new"`
	// U is the Mann-Whitney U statistic of (base, new): the number of
	// pairs where the base value is greater, ties counting ½.
	U float64 `json:"u"`
	// P is the two-sided p-value of the U test.
	P float64 `json:"p"`
	// Change is new median / base median − 1.
	Change float64 `json:"change"`
	// ChangeLo and ChangeHi are the (1 − alpha) confidence interval of the
	// change: the distribution-free Hodges–Lehmann interval of the ratio
	// new/base that goes with the U test (0 below MinSamples a side).
	ChangeLo float64 `json:"change_lo"`
	ChangeHi float64 `json:"change_hi"`
	// Significant is P < alpha with enough samples on both sides
	// (MinSamples) and a confidence interval of the change that excludes
	// zero; Regression is significant and worse by more than the
	// threshold; Improvement likewise better.
	Significant bool    `json:"significant"`
	Regression  bool    `json:"regression"`
	Improvement bool    `json:"improvement"`
	Alpha       float64 `json:"alpha"`
	Threshold   float64 `json:"threshold"`
	// BaselineRuns is the number of runs pooled into Base.
	BaselineRuns int    `json:"baseline_runs"`
	Warning      string `json:"warning,omitempty"`
	// Verdict is one of the Verdict… values: "none" when the comparison
	// cannot judge the run (Reason says why), which is neither ok nor a
	// regression. Old archived comparisons lack it: see Outcome.
	Verdict string `json:"verdict,omitempty"`
	// Reason says why there is no verdict, or what held a change back
	// from being one (the runs' own noise).
	Reason string `json:"reason,omitempty"`
	// RunLo and RunHi bound the median a run is expected to have from the
	// spread of the baseline's runs (the 1 − alpha prediction interval of
	// one more run's median, see runNoise); a change inside them is the
	// runs' noise. Both 0 when unknown (a pinned baseline).
	RunLo float64 `json:"run_lo,omitempty"`
	RunHi float64 `json:"run_hi,omitempty"`
}

// Verdicts of a comparison (Comparison.Verdict).
const (
	// VerdictRegression: worse beyond the threshold and the runs' noise
	// in this run and in the judged run before it, or still significantly
	// worse by more than the threshold after such a regression.
	VerdictRegression = "regression"
	// VerdictWorse: worse beyond the threshold and the runs' noise in this
	// run only; a regression if the next judged run is too.
	VerdictWorse = "worse"
	// VerdictImprovement: better beyond the threshold and the runs' noise.
	VerdictImprovement = "improvement"
	// VerdictUnchanged: compared, and no change beyond the threshold, the
	// noise or chance.
	VerdictUnchanged = "unchanged"
	// VerdictNone: not judged (too few samples or baseline runs, a
	// saturated host, no baseline): Reason says why.
	VerdictNone = "none"
)

// Outcome is the comparison's verdict and reason, derived for comparisons
// archived before Verdict existed: a nil comparison (no baseline) has none.
func (c *Comparison) Outcome() (verdict, reason string) {
	switch {
	case c == nil:
		return VerdictNone, "no earlier run to compare with"
	case c.Verdict != "":
		return c.Verdict, c.Reason
	case c.Regression:
		return VerdictRegression, ""
	case c.Improvement:
		return VerdictImprovement, ""
	case strings.HasPrefix(c.Warning, "baseline of "), strings.HasPrefix(c.Warning, "need at least "), c.Warning == noSamples:
		return VerdictNone, c.Warning
	}
	return VerdictUnchanged, ""
}

// Judged reports whether the comparison has a verdict.
func (c *Comparison) Judged() bool {
	v, _ := c.Outcome()
	return v != VerdictNone
}

const noSamples = "no samples to compare"

// MinSamples is the fewest samples on each side for a verdict: below 6
// the medians have no finite 95% confidence interval (benchmath).
const MinSamples = 6

// Compare tests whether cur differs from base with a Mann-Whitney U test
// (two-sided, as benchstat) and flags a regression when the difference is
// significant: p below alpha, at least MinSamples on each side and the
// confidence interval of the change (ChangeLo…ChangeHi, see shiftCI)
// excluding zero; and the median moved in the worse direction by more than
// threshold (a ratio, 0.05 = 5%).
func Compare(base, cur []float64, better Direction, alpha, threshold float64) Comparison {
	c := Comparison{Base: Summarize(base), New: Summarize(cur), Alpha: alpha, Threshold: threshold, P: 1}
	if len(base) == 0 || len(cur) == 0 {
		c.Warning = noSamples
		c.Verdict, c.Reason = VerdictNone, noSamples
		return c
	}
	res, err := stats.MannWhitneyUTest(base, cur, stats.LocationDiffers)
	if err != nil {
		// All values identical (or too few): no evidence of a difference.
		c.U = float64(len(base)*len(cur)) / 2
		c.Warning = fmt.Sprintf("u-test: %v", err)
	} else {
		c.U, c.P = res.U, res.P
	}
	enough := len(base) >= MinSamples && len(cur) >= MinSamples
	if !enough {
		c.Warning = fmt.Sprintf("need at least %d+%d samples for a verdict, have %d+%d", MinSamples, MinSamples, len(base), len(cur))
	}
	ciKnown := false
	if c.Base.Median != 0 {
		c.Change = c.New.Median/c.Base.Median - 1
		if enough {
			c.ChangeLo, c.ChangeHi, ciKnown = shiftCI(base, cur, alpha)
		}
	}
	ciExcludesZero := ciKnown && (c.ChangeLo > 0 || c.ChangeHi < 0)
	if enough && c.P < alpha && !ciExcludesZero {
		c.Warning = fmt.Sprintf("p = %.3f but the change's 95%% interval [%+.1f%%, %+.1f%%] includes zero", c.P, 100*c.ChangeLo, 100*c.ChangeHi)
	}
	c.Significant = enough && c.P < alpha && ciExcludesZero
	worse := c.Change
	if better == HigherIsBetter {
		worse = -c.Change
	}
	c.Regression = c.Significant && worse > threshold
	c.Improvement = c.Significant && -worse > threshold
	switch {
	case !enough:
		c.Verdict, c.Reason = VerdictNone, c.Warning
	case c.Regression:
		c.Verdict = VerdictRegression
	case c.Improvement:
		c.Verdict = VerdictImprovement
	default:
		c.Verdict = VerdictUnchanged
	}
	return c
}

// shiftCI is the distribution-free (1 − alpha) confidence interval of the
// ratio cur/base − 1 (Hodges–Lehmann, from the sorted pairwise differences
// of the logarithms, normal approximation of the U distribution). ok is
// false when a value is not positive or the samples are too few.
func shiftCI(base, cur []float64, alpha float64) (lo, hi float64, ok bool) {
	n, m := len(base), len(cur)
	d := make([]float64, 0, n*m)
	for _, b := range base {
		for _, x := range cur {
			if b <= 0 || x <= 0 {
				return 0, 0, false
			}
			d = append(d, math.Log(x)-math.Log(b))
		}
	}
	slices.Sort(d)
	z := stats.StdNormal.InvCDF(1 - alpha/2)
	nm := float64(n * m)
	k := int(math.Floor(nm/2 - z*math.Sqrt(nm*float64(n+m+1)/12)))
	if k < 1 {
		return 0, 0, false
	}
	return math.Exp(d[k-1]) - 1, math.Exp(d[len(d)-k]) - 1, true
}

// Delta formats the change as benchstat does: "~" when not significant.
func (c *Comparison) Delta() string {
	if !c.Significant {
		return "~"
	}
	return fmt.Sprintf("%+.2f%%", c.Change*100)
}
