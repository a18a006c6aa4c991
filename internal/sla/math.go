package sla

import "math"

// The math of SLAs, as pure functions. Ratios and objectives are fractions
// (99.9% is 0.999); NaN means "no data" and propagates.

// ErrorRatio is bad/total; NaN when total is zero.
func ErrorRatio(bad, total float64) float64 {
	if total == 0 {
		return math.NaN()
	}
	return bad / total
}

// Achievement is the fraction of good events: 1 - error ratio.
func Achievement(errorRatio float64) float64 { return 1 - errorRatio }

// ErrorBudget is the fraction of events allowed to be bad: 1 - objective.
func ErrorBudget(objective float64) float64 { return 1 - objective }

// ErrorBudgetLeft is the part of the budget not yet spent:
// 1 - (1 - achievement) / (1 - objective). 1 means untouched, 0 spent,
// negative overspent (the SLA is violated over that window).
func ErrorBudgetLeft(achievement, objective float64) float64 {
	return 1 - (1-achievement)/ErrorBudget(objective)
}

// BurnRate is how many times faster than sustainable the budget is spent:
// error ratio / (1 - objective). 1 spends exactly the budget over the SLA's
// window.
func BurnRate(errorRatio, objective float64) float64 {
	return errorRatio / ErrorBudget(objective)
}

// Burning reports which of the burn-rate alerts' conditions hold given the
// error ratio per window (keyed by window), the highest severity first:
// "page", "ticket" or "" when none holds or a window has no data. Like the
// generated alerts, a pair counts only when its short window is at least
// MinCoverage covered by data (coverage keyed like errorRatios; nil or a
// missing window means covered); its long window counts over the data it
// holds, as Prometheus's, Sloth's and Pyrra's burn alerts do. The alerts
// count the short window's coverage in whole-minute steps, each covered by
// a sample within the 5m lookback, this the time its samples cover by the
// series' cadence (Reporter.Coverage), so over data younger than the short
// window they can differ by up to a minute, and over a window holding a
// hole (gmc's restart) by the hole: the server's /sla therefore takes its
// burn state from the alerts (ReporterOptions.Burns), and this is its
// fallback.
func Burning(alerts []BurnAlert, errorRatios, coverage map[string]float64, objective float64) string {
	sev := ""
	for _, b := range alerts {
		long, ok1 := errorRatios[FormatWindow(b.Long)]
		short, ok2 := errorRatios[FormatWindow(b.Short)]
		if !ok1 || !ok2 {
			continue
		}
		if cov, ok := coverage[FormatWindow(b.Short)]; ok && cov < MinCoverage {
			continue
		}
		if BurnRate(long, objective) > b.Factor && BurnRate(short, objective) > b.Factor {
			if b.Severity == "page" {
				return "page"
			}
			sev = b.Severity
		}
	}
	return sev
}
