package bench

import (
	"fmt"
	"math"
	"slices"

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
	// ChangeLo and ChangeHi bound Change conservatively from the two
	// medians' confidence intervals (0 when either has none).
	ChangeLo float64 `json:"change_lo"`
	ChangeHi float64 `json:"change_hi"`
	// Significant is P < alpha; Regression is significant and worse by
	// more than the threshold; Improvement likewise better.
	Significant bool    `json:"significant"`
	Regression  bool    `json:"regression"`
	Improvement bool    `json:"improvement"`
	Alpha       float64 `json:"alpha"`
	Threshold   float64 `json:"threshold"`
	// BaselineRuns is the number of runs pooled into Base.
	BaselineRuns int    `json:"baseline_runs"`
	Warning      string `json:"warning,omitempty"`
}

// Compare tests whether cur differs from base with a Mann-Whitney U test
// (two-sided, as benchstat) and flags a regression when the difference is
// significant at alpha and the median moved in the worse direction by more
// than threshold (a ratio, 0.05 = 5%).
func Compare(base, cur []float64, better Direction, alpha, threshold float64) Comparison {
	c := Comparison{Base: Summarize(base), New: Summarize(cur), Alpha: alpha, Threshold: threshold, P: 1}
	if len(base) == 0 || len(cur) == 0 {
		c.Warning = "no samples to compare"
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
	if len(base) < 4 || len(cur) < 4 {
		c.Warning = fmt.Sprintf("need at least 4+4 samples for the U test to reach p < 0.05, have %d+%d", len(base), len(cur))
	}
	if c.Base.Median != 0 {
		c.Change = c.New.Median/c.Base.Median - 1
		if c.Base.HasCI() && c.New.HasCI() && c.Base.Lo > 0 && c.Base.Hi > 0 {
			c.ChangeLo = c.New.Lo/c.Base.Hi - 1
			c.ChangeHi = c.New.Hi/c.Base.Lo - 1
		}
	}
	c.Significant = c.P < alpha
	worse := c.Change
	if better == HigherIsBetter {
		worse = -c.Change
	}
	c.Regression = c.Significant && worse > threshold
	c.Improvement = c.Significant && -worse > threshold
	return c
}

// Delta formats the change as benchstat does: "~" when not significant.
func (c *Comparison) Delta() string {
	if !c.Significant {
		return "~"
	}
	return fmt.Sprintf("%+.2f%%", c.Change*100)
}
