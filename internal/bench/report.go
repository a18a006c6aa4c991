package bench

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is the weekly benchmark report of one ISO week.
type Report struct {
	// ID is the ISO week, e.g. 2026-W48.
	ID          string    `json:"id"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Generated   time.Time `json:"generated"`
	Runs        int       `json:"runs"`
	Regressions int       `json:"regressions"`
	// Compared counts the entries whose latest run got a verdict: with
	// none, "0 regressions" says nothing. NoVerdict counts the others
	// (no baseline yet, too few baseline runs or samples, a saturated
	// host): each entry's Verdict is then "none" and VerdictReason says why.
	// Worse counts the entries whose latest run is worse but not yet
	// confirmed by a second (Verdict "worse"); Regressions does not count them.
	Compared  int           `json:"compared"`
	NoVerdict int           `json:"no_verdict"`
	Worse     int           `json:"worse"`
	Entries   []ReportEntry `json:"benchmarks"`
	// Skipped counts the week's scheduled runs not run (saturated host);
	// Skips has, per benchmark, the latest of them when it is the latest
	// word on that benchmark (no run completed after it). Runs does not
	// count them.
	Skipped int    `json:"skipped_runs"`
	Skips   []Skip `json:"skips,omitempty"`
	// Simulated counts the week's runs whose figures were drawn, not
	// measured (Run.Simulated: the demo's history); Runs counts them too.
	Simulated int `json:"simulated_runs"`
	// Benchmarks counts the benchmarks the week scheduled or ran (a
	// completed run or a skip); Ran those with a completed run. Entries
	// has a row per result name of those that ran: with every run skipped
	// it is empty while Skips lists five benchmarks ("RUNS 0 · BENCHMARKS
	// 0" stood above them, t-user6 #7).
	Benchmarks int `json:"benchmark_count"`
	Ran        int `json:"benchmarks_run"`
}

// Skip is a scheduled run that was not run, and why.
type Skip struct {
	Benchmark string    `json:"benchmark"`
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason"`
	// Count is how many of the week's runs of the benchmark were skipped.
	Count int `json:"count"`
}

// ReportEntry is one measured thing (result name) over the week.
type ReportEntry struct {
	Name      string    `json:"name"`
	Benchmark string    `json:"benchmark"`
	Kind      string    `json:"kind"`
	Unit      string    `json:"unit"`
	Better    Direction `json:"better"`
	Runs      int       `json:"runs"`
	Failed    int       `json:"failed_runs"`
	// LatestError is why the benchmark's latest run failed (Run.Error:
	// an exec command's exit status and the end of its stderr, an
	// unreachable target…); empty once a later run completed.
	LatestError string `json:"latest_error,omitempty"`
	// Verdict is the latest run's verdict (a Verdict… value: regression,
	// worse, improvement, unchanged or none) and VerdictReason why there is
	// none or what held a change back; "none" also for a run on a saturated
	// host or without a baseline.
	Verdict       string `json:"verdict"`
	VerdictReason string `json:"verdict_reason,omitempty"`
	// Regressed is whether the verdict the entry stands on (Standing) is
	// a regression: what gmc_bench_regression and the BenchmarkRegression
	// alert hold, so the report and the alert agree while runs get no
	// verdict. RegressedRuns counts the week's runs that were flagged.
	Regressed     bool `json:"regressed"`
	RegressedRuns int  `json:"regressed_runs"`
	// Standing is the latest verdict of the result (not "none") within
	// StandingWindow, this week's or the week before's, StandingTime the
	// end of the run that gave it and Unjudged how many of the
	// benchmark's scheduled runs since gave none (no verdict, a saturated
	// host, skipped). Empty without a verdict in the window.
	Standing     string    `json:"standing_verdict,omitempty"`
	StandingTime time.Time `json:"standing_time,omitzero"`
	Unjudged     int       `json:"unjudged_since,omitempty"`
	// Untrustworthy counts the week's runs taken on a saturated host;
	// LatestUntrustworthy is why the latest run was not compared.
	Untrustworthy       int    `json:"untrustworthy_runs"`
	LatestUntrustworthy string `json:"latest_untrustworthy,omitempty"`
	// Skipped counts the week's scheduled runs of the benchmark that were
	// not run; LatestSkipped is why, when that happened after Latest.
	Skipped       int    `json:"skipped_runs"`
	LatestSkipped string `json:"latest_skipped,omitempty"`
	// Latest is the week's last result, with its comparison to baseline.
	// LatestSimulated says why the latest run's figures were drawn, not
	// measured (Run.Simulated); empty for a measured one.
	LatestSimulated string       `json:"latest_simulated,omitempty"`
	LatestRun       string       `json:"latest_run"`
	LatestTime      time.Time    `json:"latest_time"`
	Latest          Result       `json:"latest"`
	Trend           []TrendPoint `json:"trend"`
}

// TrendPoint is one run's median and its confidence interval.
type TrendPoint struct {
	T          time.Time `json:"t"`
	Median     float64   `json:"median"`
	Lo         float64   `json:"lo"`
	Hi         float64   `json:"hi"`
	Regression bool      `json:"regression"`
}

// WeekID returns the ISO week ID of t (UTC), e.g. 2026-W48.
func WeekID(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// WeekBounds returns [Monday 00:00 UTC, next Monday) of t's ISO week.
func WeekBounds(t time.Time) (time.Time, time.Time) {
	t = t.UTC()
	d := (int(t.Weekday()) + 6) % 7 // days since Monday
	from := time.Date(t.Year(), t.Month(), t.Day()-d, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 0, 7)
}

// StandingWindow is how long a verdict stands without a later one: the
// lookback of the BenchmarkRegression alert (last_over_time over 7d of
// gmc_bench_regression, which only judged runs write) and the default
// baseline window, beyond which the judge forgets a regression too.
const StandingWindow = 7 * 24 * time.Hour

// BuildReport builds the report of the ISO week containing t from the
// archived runs, and those of the StandingWindow before now that the week
// does not hold, for the verdicts still standing.
func BuildReport(a *Archive, t, now time.Time) (*Report, error) {
	from, to := WeekBounds(t)
	start := now.Add(-StandingWindow)
	if start.After(from) {
		start = from
	}
	runs, err := a.Runs(start, to)
	if err != nil {
		return nil, err
	}
	i := 0
	for i < len(runs) && runs[i].Start.Before(from) {
		i++
	}
	return newReport(runs[:i], runs[i:], from, now), nil
}

// NewReport summarizes runs (of the week starting at from, oldest first).
func NewReport(runs []*Run, from, now time.Time) *Report {
	return newReport(nil, runs, from, now)
}

// standing is a result's latest verdict and the runs since without one.
type standing struct {
	verdict  string
	at       time.Time
	unjudged int
	run      *Run
	res      Result
}

// verdicts follows each result's standing verdict through runs (oldest
// first), as gmc_bench_regression does: a judged run sets it, a run
// without a verdict or a skip counts against it.
type verdicts map[string]*standing

func (vs verdicts) add(run *Run) {
	for _, s := range vs {
		if s.run.Benchmark == run.Benchmark && (run.Skipped != "" || run.Untrustworthy != "") {
			s.unjudged++
		}
	}
	if run.Skipped != "" || run.Untrustworthy != "" {
		return
	}
	for _, res := range run.Results {
		v, _ := res.Comparison.Outcome()
		switch s := vs[res.Name]; {
		case v != VerdictNone:
			vs[res.Name] = &standing{verdict: v, at: run.End, run: run, res: res}
		case s != nil:
			s.unjudged++
		}
	}
}

// set gives e the verdict it stands on, if any is younger than
// StandingWindow at now.
func (s *standing) set(e *ReportEntry, now time.Time) {
	if s == nil || now.Sub(s.at) > StandingWindow {
		return
	}
	e.Standing, e.StandingTime, e.Unjudged = s.verdict, s.at, s.unjudged
	e.Regressed = s.verdict == VerdictRegression
}

// priorRuns counts a result's earlier runs: those that may be a measured
// run's baseline and, of those that may not, the simulated, untrustworthy
// and failed ones.
type priorRuns struct{ usable, simulated, untrustworthy, failed int }

func (p *priorRuns) add(run *Run) {
	switch {
	case run.Simulated != "":
		p.simulated++
	case run.Untrustworthy != "":
		p.untrustworthy++
	case run.Error != "":
		p.failed++
	default:
		p.usable++
	}
}

// noBaseline is why a measured run has no baseline when every earlier
// run is one that may not be one, or "" when one may be (or there is
// none: the plain reason then holds).
func (p *priorRuns) noBaseline() string {
	if p == nil || p.usable > 0 {
		return ""
	}
	n := p.simulated + p.untrustworthy + p.failed
	switch {
	case n == 0:
		return ""
	case n == p.simulated:
		return fmt.Sprintf("no earlier measured run to compare with (the %d before it are simulated, the demo's history: never a measured run's baseline)", n)
	}
	var kinds []string
	for _, k := range []struct {
		n    int
		what string
	}{{p.simulated, "simulated (the demo's history)"}, {p.untrustworthy, "untrustworthy (measured on a saturated host)"}, {p.failed, "failed"}} {
		switch {
		case k.n == n:
			kinds = append(kinds, k.what)
		case k.n > 0:
			kinds = append(kinds, fmt.Sprintf("%d %s", k.n, k.what))
		}
	}
	were := "were"
	if n == 1 {
		were = "was"
	}
	return fmt.Sprintf("no earlier run fit to compare with: the %d before it %s %s, never a baseline", n, were, strings.Join(kinds, " and "))
}

// newReport summarizes runs of the week starting at from; earlier runs
// (oldest first, before from) count only for the verdicts still standing.
func newReport(earlier, runs []*Run, from, now time.Time) *Report {
	rep := &Report{ID: WeekID(from), From: from, To: from.AddDate(0, 0, 7), Generated: now.UTC()}
	vs := verdicts{}
	// Each result's earlier runs by whether one may be a measured run's
	// baseline (verdict.go usable): a measured run with no baseline after
	// only runs that may not says why.
	prior := map[string]*priorRuns{}
	count := func(run *Run) {
		for _, res := range run.Results {
			if prior[res.Name] == nil {
				prior[res.Name] = &priorRuns{}
			}
			prior[res.Name].add(run)
		}
	}
	for _, run := range earlier {
		vs.add(run)
		count(run)
	}
	byName := map[string]*ReportEntry{}
	skips := map[string]Skip{}
	stale := map[string]int{} // skips before a completed run, per benchmark
	seen, ran := map[string]bool{}, map[string]bool{}
	for _, run := range runs {
		vs.add(run)
		seen[run.Benchmark] = true
		if run.Skipped == "" {
			ran[run.Benchmark] = true
		}
		if run.Skipped != "" {
			rep.Skipped++
			skips[run.Benchmark] = Skip{Benchmark: run.Benchmark, Time: run.Start, Reason: run.Skipped, Count: skips[run.Benchmark].Count + stale[run.Benchmark] + 1}
			delete(stale, run.Benchmark)
			for _, e := range byName {
				if e.Benchmark == run.Benchmark {
					e.Skipped++
					e.LatestSkipped = run.Skipped
				}
			}
			continue
		}
		rep.Runs++
		if run.Simulated != "" {
			rep.Simulated++
		}
		// A completed run is the latest word on its benchmark: an earlier
		// skip is no longer (t-user5 #5). Its count stays in Skipped.
		if k, ok := skips[run.Benchmark]; ok {
			delete(skips, run.Benchmark)
			stale[run.Benchmark] = k.Count
		}
		for _, res := range run.Results {
			e := byName[res.Name]
			if e == nil {
				e = &ReportEntry{Name: res.Name, Benchmark: run.Benchmark, Kind: run.Kind}
				byName[res.Name] = e
			}
			e.Runs++
			e.Unit, e.Better = res.Unit, res.Better
			e.LatestRun, e.LatestTime, e.Latest, e.LatestSimulated = run.ID, run.End, res, run.Simulated
			e.Latest.Samples = nil
			reg := res.Comparison != nil && res.Comparison.Regression
			if reg {
				e.RegressedRuns++
			}
			if run.Untrustworthy != "" {
				e.Untrustworthy++
			}
			e.LatestUntrustworthy = run.Untrustworthy
			e.Verdict, e.VerdictReason = "", ""
			e.Verdict, e.VerdictReason = e.outcome()
			if why := prior[res.Name].noBaseline(); run.Simulated == "" && res.Comparison == nil && run.Untrustworthy == "" && why != "" {
				e.VerdictReason = why
			}
			e.LatestSkipped = ""
			e.LatestError = ""
			e.Trend = append(e.Trend, TrendPoint{T: run.End, Median: res.Summary.Median, Lo: res.Summary.Lo, Hi: res.Summary.Hi, Regression: reg})
		}
		count(run)
		// After the results: a failed run may have some (an exec run's
		// times), and its entries are then this run's.
		if run.Error != "" {
			for _, e := range byName {
				if e.Benchmark == run.Benchmark {
					e.Failed++
					e.LatestError = run.Error
				}
			}
		}
	}
	for _, e := range byName {
		vs[e.Name].set(e, now)
	}
	// A regression standing from before the week, of a result with no run
	// this week (skipped, or not due): listed, as the alert still fires.
	for name, s := range vs {
		if byName[name] != nil || s.verdict != VerdictRegression || now.Sub(s.at) > StandingWindow {
			continue
		}
		e := &ReportEntry{Name: name, Benchmark: s.run.Benchmark, Kind: s.run.Kind, Unit: s.res.Unit, Better: s.res.Better,
			LatestRun: s.run.ID, LatestTime: s.run.End, Latest: s.res}
		e.Latest.Samples = nil
		e.Verdict, e.VerdictReason = e.outcome()
		if k, ok := skips[s.run.Benchmark]; ok {
			e.Skipped, e.LatestSkipped = k.Count, k.Reason
		}
		s.set(e, now)
		byName[name] = e
	}
	for _, e := range byName {
		rep.Entries = append(rep.Entries, *e)
		if e.Regressed {
			rep.Regressions++
		}
		switch e.Verdict {
		case VerdictNone:
			rep.NoVerdict++
		case VerdictWorse:
			rep.Worse++
			rep.Compared++
		default:
			rep.Compared++
		}
	}
	rep.Benchmarks, rep.Ran = len(seen), len(ran)
	slices.SortFunc(rep.Entries, func(x, y ReportEntry) int { return cmp.Compare(x.Name, y.Name) })
	for _, name := range slices.Sorted(maps.Keys(skips)) {
		rep.Skips = append(rep.Skips, skips[name])
	}
	return rep
}

// FormatValue prints v in unit with a readable scale: 1.23ms, 45.6k ops/s.
func FormatValue(v float64, unit string) string {
	switch unit {
	case "s", "sec/op":
		suffix := ""
		if unit == "sec/op" {
			suffix = "/op"
		}
		return formatSeconds(v) + suffix
	case "ops/s":
		return formatSI(v) + " ops/s"
	default:
		return formatSI(v) + " " + unit
	}
}

func formatSeconds(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0s"
	case a < 1e-6:
		return fmt.Sprintf("%.4gns", v*1e9)
	case a < 1e-3:
		return fmt.Sprintf("%.4gµs", v*1e6)
	case a < 1:
		return fmt.Sprintf("%.4gms", v*1e3)
	default:
		return fmt.Sprintf("%.4gs", v)
	}
}

func formatSI(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.4gG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.4gM", v/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.4gk", v/1e3)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

// verdict is the change column: "+12.30% (p=0.000 n=10+60) REGRESSION".
func verdict(c *Comparison) string {
	if c == nil {
		return "no baseline"
	}
	s := fmt.Sprintf("%s (p=%.3f n=%d+%d)", c.Delta(), c.P, c.Base.N, c.New.N)
	switch v, _ := c.Outcome(); v {
	case VerdictRegression:
		s += " REGRESSION"
	case VerdictWorse:
		s += " worse, unconfirmed"
	case VerdictImprovement:
		s += " improved"
	case VerdictNone:
		s += " no verdict"
	}
	return s
}

// outcome is the entry's Verdict and VerdictReason, derived from its latest
// run when they are not set: none for a run on a saturated host.
func (e *ReportEntry) outcome() (verdict, reason string) {
	switch {
	case e.Verdict != "":
		return e.Verdict, e.VerdictReason
	case e.LatestUntrustworthy != "":
		return VerdictNone, e.LatestUntrustworthy
	}
	return e.Latest.Comparison.Outcome()
}

// status is an entry's status column (plain text): its verdict, with why
// there is none.
func (e *ReportEntry) status() string {
	v, why := e.outcome()
	if e.Regressed && v != VerdictRegression {
		return "REGRESSION (" + e.standingNote() + ")"
	}
	switch {
	case v == VerdictNone && e.LatestUntrustworthy != "":
		return "not compared: " + e.LatestUntrustworthy
	case v == VerdictNone:
		return "no verdict: " + why
	case v == VerdictRegression && why != "":
		return "REGRESSION (" + why + ")"
	case v == VerdictRegression:
		return "REGRESSION"
	case v == VerdictWorse:
		return "worse, unconfirmed: " + why
	case v == VerdictImprovement:
		return "improved"
	}
	return "ok"
}

// counts says what the week's runs were: completed and skipped, and of
// how many benchmarks how many ran ("0 runs completed, 13 skipped; 5
// benchmarks, none ran").
func (r *Report) counts() string {
	s := fmt.Sprintf("%d runs", r.Runs)
	if r.Skipped > 0 {
		s = fmt.Sprintf("%d runs completed, %d skipped", r.Runs, r.Skipped)
	}
	if r.Simulated > 0 {
		s += fmt.Sprintf(" (%d simulated: the demo's history, not measured)", r.Simulated)
	}
	n, ran := r.Benchmarks, r.Ran
	if n == 0 && ran == 0 {
		// A report archived before it counted benchmarks: its entries'.
		names := map[string]bool{}
		for _, e := range r.Entries {
			names[e.Benchmark] = true
		}
		n, ran = len(names), len(names)
	}
	s += fmt.Sprintf("; %d benchmarks", n)
	switch {
	case n > 0 && ran == 0:
		s += ", none ran"
	case ran < n:
		s += fmt.Sprintf(", %d ran", ran)
	}
	return s
}

// standingNote says which verdict a result stands on when its latest run
// gave none: "latest verdict 2026-12-05T00:10:00Z; 3 runs since without
// one (not compared: host saturated …)".
func (e *ReportEntry) standingNote() string {
	s := "latest verdict " + e.StandingTime.UTC().Format(time.RFC3339)
	if e.Unjudged > 0 {
		s += fmt.Sprintf("; %d runs since without one", e.Unjudged)
	}
	switch v, why := e.outcome(); {
	case e.LatestSkipped != "":
		s += " (then skipped: " + e.LatestSkipped + ")"
	case e.LatestUntrustworthy != "":
		s += " (not compared: " + e.LatestUntrustworthy + ")"
	case v == VerdictNone && why != "":
		s += " (no verdict: " + why + ")"
	}
	return s
}

// summary is the report's headline after the runs: what was compared,
// what was not and why, the regressions.
func (r *Report) summary() string {
	s := fmt.Sprintf("%d of %d compared", r.Compared, len(r.Entries))
	if r.NoVerdict > 0 {
		s += fmt.Sprintf(", %d without a verdict (%s)", r.NoVerdict, strings.Join(r.noVerdictReasons(), "; "))
	}
	if r.Worse > 0 {
		s += fmt.Sprintf(", %d worse but unconfirmed", r.Worse)
	}
	return s
}

// noVerdictReasons lists each reason for no verdict once, with the
// entries it applies to.
func (r *Report) noVerdictReasons() []string {
	var reasons []string
	names := map[string][]string{}
	for _, e := range r.Entries {
		if e.Verdict != VerdictNone {
			continue
		}
		if names[e.VerdictReason] == nil {
			reasons = append(reasons, e.VerdictReason)
		}
		names[e.VerdictReason] = append(names[e.VerdictReason], e.Name)
	}
	out := make([]string, len(reasons))
	for i, why := range reasons {
		out[i] = why + ": " + strings.Join(names[why], ", ")
	}
	return out
}

func medianCI(s Summary, unit string) string {
	return FormatValue(s.Median, unit) + " ± " + s.PctRange()
}

// Markdown renders the report as Markdown.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark report %s\n\n", r.ID)
	fmt.Fprintf(&b, "%s – %s (UTC), %s; %s, **%d regressions**. Generated %s.\n\n",
		r.From.Format("2006-01-02"), r.To.AddDate(0, 0, -1).Format("2006-01-02"), r.counts(), mdEscape(r.summary()), r.Regressions, r.Generated.Format(time.RFC3339))
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "%d scheduled runs skipped (host saturated)", r.Skipped)
		if len(r.Skips) == 0 {
			b.WriteString("; every benchmark ran since.\n\n")
		} else {
			b.WriteString("; not run since:\n\n")
		}
		for _, k := range r.Skips {
			fmt.Fprintf(&b, "- %s, latest %s: %s\n", mdEscape(k.Benchmark), k.Time.UTC().Format(time.RFC3339), mdEscape(k.Reason))
		}
		if len(r.Skips) > 0 {
			b.WriteString("\n")
		}
	}
	if len(r.Entries) == 0 {
		b.WriteString("No benchmark ran this week.\n")
		return b.String()
	}
	b.WriteString("| benchmark | kind | latest median ± 95% CI | baseline median | vs baseline | runs | status |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, e := range r.Entries {
		base := "—"
		if c := e.Latest.Comparison; c != nil {
			base = medianCI(c.Base, e.Unit)
		}
		status := mdEscape(e.status())
		if v, why := e.outcome(); v == VerdictRegression {
			status = "**REGRESSION**"
			if why != "" {
				status += " (" + mdEscape(why) + ")"
			}
		} else if e.Regressed {
			status = "**REGRESSION** (" + mdEscape(e.standingNote()) + ")"
		}
		if e.Untrustworthy > 0 {
			status += fmt.Sprintf(" (%d runs on a saturated host)", e.Untrustworthy)
		}
		if e.Failed > 0 {
			status += fmt.Sprintf(" (%d failed runs)", e.Failed)
		}
		if e.LatestError != "" {
			status += " (latest run FAILED: " + mdEscape(e.LatestError) + ")"
		}
		if e.LatestSkipped != "" && !e.Regressed {
			status += " (then skipped: " + mdEscape(e.LatestSkipped) + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %s |\n", mdEscape(e.Name), e.Kind, medianCI(e.Latest.Summary, e.Unit), base, verdict(e.Latest.Comparison), e.Runs, status)
	}
	b.WriteString("\n## Details of the latest runs\n")
	for _, e := range r.Entries {
		fmt.Fprintf(&b, "\n### %s\n\n", mdEscape(e.Name))
		for _, line := range detailLines(&e.Latest) {
			fmt.Fprintf(&b, "- %s\n", line)
		}
	}
	return b.String()
}

// detailLines lists the kind-specific figures of a result.
func detailLines(res *Result) []string {
	var out []string
	if l := res.Latency; l != nil {
		co := "measured from the actual send"
		if l.CorrectedForCO {
			co = "corrected for coordinated omission"
		}
		out = append(out, fmt.Sprintf("latency (%s): p50 %s, p90 %s, p99 %s, p99.9 %s, p99.99 %s, max %s, mean %s",
			co, formatSeconds(l.P50), formatSeconds(l.P90), formatSeconds(l.P99), formatSeconds(l.P999), formatSeconds(l.P9999), formatSeconds(l.Max), formatSeconds(l.Mean)))
	}
	if res.TargetRate > 0 {
		out = append(out, fmt.Sprintf("rate: %.1f/s achieved of %.1f/s target", res.Throughput, res.TargetRate))
	} else if res.Throughput > 0 {
		out = append(out, fmt.Sprintf("throughput: %s/s", formatSI(res.Throughput)))
	}
	if res.Requests > 0 || res.Errors > 0 {
		out = append(out, fmt.Sprintf("operations: %d, errors: %d, measured for %s", res.Requests, res.Errors, formatSeconds(res.DurationSeconds)))
	}
	if e := res.Exec; e != nil {
		for _, s := range []struct {
			n string
			s Stats
		}{{"wall", e.Wall}, {"user", e.User}, {"system", e.System}} {
			out = append(out, fmt.Sprintf("%s: mean %s ± %s (median %s, min %s, max %s)", s.n, formatSeconds(s.s.Mean), formatSeconds(s.s.StdDev), formatSeconds(s.s.Median), formatSeconds(s.s.Min), formatSeconds(s.s.Max)))
		}
	}
	for _, u := range slices.Sorted(maps.Keys(res.Extra)) {
		out = append(out, fmt.Sprintf("%s: %s", u, formatSI(res.Extra[u])))
	}
	if c := res.Comparison; c != nil {
		out = append(out, fmt.Sprintf("vs baseline (%d runs pooled): U=%.1f, p=%.4f, change %+.2f%%", c.BaselineRuns, c.U, c.P, c.Change*100)+changeCI(c))
		v, why := c.Outcome()
		if (c.RunLo > 0 || c.RunHi > 0) && !strings.Contains(why, "runs' own noise") {
			out = append(out, fmt.Sprintf("a run's median expected from the baseline's runs: %s … %s", FormatValue(c.RunLo, res.Unit), FormatValue(c.RunHi, res.Unit)))
		}
		if why != "" {
			out = append(out, fmt.Sprintf("verdict %s: %s", v, why))
		}
	}
	return out
}

func changeCI(c *Comparison) string {
	if c.ChangeLo == 0 && c.ChangeHi == 0 {
		return ""
	}
	return fmt.Sprintf(" [%+.2f%%, %+.2f%%]", c.ChangeLo*100, c.ChangeHi*100)
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// niceTicks covers [lo, hi] with about n ticks at a round step (1, 2 or 5
// times a power of ten); it returns the ticks (first ≤ lo, last ≥ hi) and
// the step.
func niceTicks(lo, hi float64, n int) ([]float64, float64) {
	if !(hi > lo) {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n-1)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * p
	for _, m := range []float64{1, 2, 5} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	var ticks []float64
	for v := math.Floor(lo/step) * step; len(ticks) < 4*n; v += step {
		ticks = append(ticks, v)
		if v >= hi-step*1e-9 {
			break
		}
	}
	return ticks, step
}

// roundTo rounds v to the step's decimals (no 0.30000000000000004).
func roundTo(v, step float64) float64 {
	d := math.Pow(10, math.Max(0, -math.Floor(math.Log10(step))))
	return math.Round(v*d) / d
}

type timeTick struct {
	at    time.Time
	label string
}

// timeTicks places UTC ticks at a round interval over [from, to], at least
// 70 px apart on an axis width px wide, labelled by the hour within a day
// and by the day beyond.
func timeTicks(from, to time.Time, width float64) []timeTick {
	span := to.Sub(from)
	maxTicks := max(2, int(width/70))
	steps := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if int(span/s) < maxTicks {
			step = s
			break
		}
	}
	layout := "15:04"
	if step >= 24*time.Hour {
		layout = "Mon 02"
	} else if from.UTC().YearDay() != to.UTC().YearDay() {
		layout = "Mon 15:04"
	}
	var out []timeTick
	for t := from.UTC().Truncate(step); !t.After(to); t = t.Add(step) {
		if t.Before(from) {
			continue
		}
		out = append(out, timeTick{at: t, label: t.Format(layout)})
	}
	return out
}

func nonZero(v, fallback float64) float64 {
	if v == 0 {
		return fallback
	}
	return v
}
