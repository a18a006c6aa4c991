package sla

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/gmc-dev/gmc/internal/span"
)

// Names of the recording rules an SLA generates. Every series carries the
// labels sla="<name>" and service="<service>".
const (
	// RequestsRate5m is the rate of all events over 5m (events per second).
	RequestsRate5m = "sla:requests:rate5m"
	// ErrorsRate5m is the rate of bad events over 5m.
	ErrorsRate5m = "sla:errors:rate5m"
	// ErrorRatioPrefix + window ("5m", "1h", "30d") is the bad/all ratio
	// over that window.
	ErrorRatioPrefix = "sla:error_ratio:rate"
	// AlertName is the name of every burn-rate alert.
	AlertName = "SLAErrorBudgetBurn"
)

// BurnAlert is one multi-window burn-rate alert of the SRE workbook: it fires
// when the error budget burns Factor times too fast over both windows.
type BurnAlert struct {
	Severity string
	Factor   float64
	Long     time.Duration
	Short    time.Duration
	// BudgetFraction is the part of the period's error budget a burn of
	// Factor spends over Long: Factor = BudgetFraction × period / Long.
	BudgetFraction float64
}

// workbookPeriod is the SLA period the SRE workbook's windows are given for.
const workbookPeriod = 30 * 24 * time.Hour

// workbookBurnAlerts are the SRE workbook's recommended pairs for a 30d
// period (chapter 5, "Alerting on SLOs", table 5-8): page at 14.4× over 1h
// and 5m (2% of the budget in an hour) and 6× over 6h and 30m (5% in 6h);
// ticket at 3× over 1d and 2h (10% in a day) and 1× over 3d and 6h (10% in
// 3 days).
func workbookBurnAlerts() []BurnAlert {
	const h = time.Hour
	return []BurnAlert{
		{Severity: "page", Factor: 14.4, Long: h, Short: 5 * time.Minute, BudgetFraction: 0.02},
		{Severity: "page", Factor: 6, Long: 6 * h, Short: 30 * time.Minute, BudgetFraction: 0.05},
		{Severity: "ticket", Factor: 3, Long: 24 * h, Short: 2 * h, BudgetFraction: 0.10},
		{Severity: "ticket", Factor: 1, Long: 72 * h, Short: 6 * h, BudgetFraction: 0.10},
	}
}

// minBurnWindow is the smallest burn-rate window, the workbook's shortest:
// rate() needs a few samples in it at a 1m scrape interval.
const minBurnWindow = 5 * time.Minute

// BurnAlerts are the SLA's multi-window burn-rate alerts. They follow the
// SLA's own period (its longest window, see BudgetPeriod) as Pyrra does:
// each workbook pair keeps its budget fraction and its windows are scaled by
// period/30d (a 7d SLA pages at 14.4× over 14m and 5m: 2% of a week's
// budget in 14 minutes), rounded to whole minutes and at least 5m; the factor is then budget fraction × period / long window, so it
// is the workbook's 14.4, 6, 3 and 1 unless rounding or the floors moved the
// long window. A pair whose factor would fall below 1 (a burn the budget
// sustains over the period) is left out, and so is one whose windows equal
// those of a pair kept before it. A 30d SLA gets the workbook's
// table unchanged.
func (s SLA) BurnAlerts() []BurnAlert {
	period := s.BudgetPeriod()
	var out []BurnAlert
	for _, b := range workbookBurnAlerts() {
		if period == workbookPeriod {
			out = append(out, b)
			continue
		}
		scale := func(d, floor time.Duration) time.Duration {
			w := time.Duration(float64(d) * float64(period) / float64(workbookPeriod)).Round(time.Minute)
			return max(w, floor)
		}
		b.Long = scale(b.Long, minBurnWindow)
		b.Short = min(scale(b.Short, minBurnWindow), b.Long)
		// 12 significant digits, so that 14.4 prints as 14.4.
		b.Factor, _ = strconv.ParseFloat(strconv.FormatFloat(b.BudgetFraction*float64(period)/float64(b.Long), 'g', 12, 64), 64)
		if b.Factor < 1 || slices.ContainsFunc(out, func(o BurnAlert) bool { return o.Long == b.Long && o.Short == b.Short }) {
			continue // sustainable, or the same windows as a kept pair
		}
		out = append(out, b)
	}
	return out
}

// BurnCollapses are the pairs of long windows (faster, slower) of the SLA's
// burn alerts of one severity: while the faster fires, the slower adds
// nothing (gmc's default inhibit rules mute it).
func (s SLA) BurnCollapses() [][2]string {
	var out [][2]string
	bs := s.BurnAlerts()
	for i, a := range bs {
		for _, b := range bs[i+1:] {
			if a.Severity == b.Severity && a.Long < b.Long {
				out = append(out, [2]string{FormatWindow(a.Long), FormatWindow(b.Long)})
			}
		}
	}
	return out
}

// shortWindows are always recorded (the dashboard reads the 1h ratio) and,
// with every window up to rawGroupMax, evaluated in the SLA's raw group.
func shortWindows() []time.Duration {
	return []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour}
}

// rawGroupMax is the longest window the SLA's raw group reads; longer ones
// are in its slow group.
const rawGroupMax = 6 * time.Hour

// FormatWindow prints a window in the largest whole unit among d, h and m
// ("30d", "6h", "5m"), as used in recording rule names and PromQL ranges.
func FormatWindow(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	default:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
}

// ErrorRatioRecord is the recording rule name of the error ratio over w.
func ErrorRatioRecord(w time.Duration) string { return ErrorRatioPrefix + FormatWindow(w) }

// RecordedWindows are all windows the SLA records an error ratio for: the
// burn-rate windows and the SLA's own windows, shortest first.
func (s SLA) RecordedWindows() []time.Duration {
	set := map[time.Duration]bool{}
	for _, w := range shortWindows() {
		set[w] = true
	}
	for _, b := range s.BurnAlerts() {
		set[b.Long], set[b.Short] = true, true
	}
	for _, w := range s.Windows {
		set[time.Duration(w)] = true
	}
	out := make([]time.Duration, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	sortDurations(out)
	return out
}

func sortDurations(ds []time.Duration) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j] < ds[j-1]; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// selector returns the series selector for the SLA's own recordings.
func (s SLA) selector(name string) string {
	return fmt.Sprintf("%s{sla=%s}", name, strconv.Quote(s.Name))
}

// serviceMatcher returns `service="S"` or "" when the SLA has no service.
func (s SLA) serviceMatcher() string {
	if s.Service == "" {
		return ""
	}
	return "service=" + strconv.Quote(s.Service)
}

// withMatchers adds matchers to a metric name: name{m1,m2}.
func withMatchers(name string, ms ...string) string {
	var keep []string
	for _, m := range ms {
		if m != "" {
			keep = append(keep, m)
		}
	}
	return name + "{" + strings.Join(keep, ",") + "}"
}

// TotalRate is the PromQL for the rate of all events over window w.
func (s SLA) TotalRate(w time.Duration) string {
	r := "[" + FormatWindow(w) + "]"
	switch ind := s.Indicator; {
	case ind.Latency != nil && ind.Latency.Buckets == "classic":
		return fmt.Sprintf("sum(rate(%s%s))", withMatchers(ind.Latency.Metric+"_count", s.serviceMatcher()), r)
	case ind.Latency != nil:
		return fmt.Sprintf("histogram_count(sum(rate(%s%s)))", withMatchers(ind.Latency.Metric, s.serviceMatcher()), r)
	case ind.Ratio != nil && ind.Ratio.Total != "":
		return fmt.Sprintf("sum(rate(%s%s))", ind.Ratio.Total, r)
	case ind.Ratio != nil:
		return fmt.Sprintf("sum(rate(%s%s))", withMatchers(DefaultOrdersMetric, s.serviceMatcher()), r)
	case ind.Custom != nil:
		return fmt.Sprintf("sum(rate(%s%s))", ind.Custom.Total, r)
	}
	return ""
}

// ErrorsRate is the PromQL for the rate of bad events over window w.
func (s SLA) ErrorsRate(w time.Duration) string {
	r := "[" + FormatWindow(w) + "]"
	switch ind := s.Indicator; {
	case ind.Latency != nil && ind.Latency.Buckets == "classic":
		le := `le="` + strconv.FormatFloat(time.Duration(ind.Latency.Threshold).Seconds(), 'g', -1, 64) + `"`
		return fmt.Sprintf("(%s - sum(rate(%s%s)))", s.TotalRate(w), withMatchers(ind.Latency.Metric+"_bucket", s.serviceMatcher(), le), r)
	case ind.Latency != nil:
		th := strconv.FormatFloat(time.Duration(ind.Latency.Threshold).Seconds(), 'g', -1, 64)
		sel := withMatchers(ind.Latency.Metric, s.serviceMatcher())
		return fmt.Sprintf("(%s * (1 - histogram_fraction(0, %s, sum(rate(%s%s)))))", s.TotalRate(w), th, sel, r)
	// An error counter that does not exist (yet) counts zero errors.
	case ind.Ratio != nil && ind.Ratio.Errors != "":
		return fmt.Sprintf("(sum(rate(%s%s)) or vector(0))", ind.Ratio.Errors, r)
	case ind.Ratio != nil:
		return fmt.Sprintf("(sum(rate(%s%s)) or vector(0))", withMatchers(DefaultOrdersMetric, s.serviceMatcher(), `result!="success"`), r)
	case ind.Custom != nil:
		return fmt.Sprintf("(%s - sum(rate(%s%s)))", s.TotalRate(w), ind.Custom.Good, r)
	}
	return ""
}

// SlowGroupInterval is the evaluation interval of an SLA's slow group.
const SlowGroupInterval = time.Minute

// IsSlowGroup reports whether a rule group name is an SLA's slow group
// (see RuleGroups): it reads raw series over days, so it runs on its own
// interval and is not re-evaluated on every push.
func IsSlowGroup(name string) bool {
	return strings.HasPrefix(name, "sla:") && strings.HasSuffix(name, ":slow")
}

// RuleGroups generates the SLA's two rule groups, every error ratio read
// from the raw series over the window itself (traffic-weighted, whatever
// gmc's uptime, data written before gmc started included):
//
//   - "sla:<name>:raw": the 5m request and error rates, the error ratios
//     over 5m, 30m, 1h, 2h and 6h, and the two page alerts. gmc's
//     sub-second path re-evaluates it when the raw series are pushed.
//   - "sla:<name>:slow": the error ratios over 1d, 3d and the SLA's longer
//     windows, and the two ticket alerts, every SlowGroupInterval.
func (s SLA) RuleGroups() []rulefmt.RuleGroup {
	lbls := map[string]string{"sla": s.Name, "service": s.Service}
	short := rulefmt.RuleGroup{Name: "sla:" + s.Name + ":raw", Labels: lbls}
	long := rulefmt.RuleGroup{Name: "sla:" + s.Name + ":slow", Labels: lbls, Interval: model.Duration(SlowGroupInterval)}
	five := 5 * time.Minute
	short.Rules = append(short.Rules,
		rulefmt.Rule{Record: RequestsRate5m, Expr: s.TotalRate(five)},
		rulefmt.Rule{Record: ErrorsRate5m, Expr: s.ErrorsRate(five)},
	)
	for _, w := range s.RecordedWindows() {
		rule := rulefmt.Rule{Record: ErrorRatioRecord(w), Expr: s.ErrorsRate(w) + " / " + s.TotalRate(w)}
		if w <= rawGroupMax {
			short.Rules = append(short.Rules, rule)
		} else {
			long.Rules = append(long.Rules, rule)
		}
	}
	bs := s.BurnAlerts()
	for _, b := range bs {
		var faster []string
		for _, a := range bs {
			if a.Long < b.Long {
				faster = append(faster, FormatWindow(a.Long))
			}
		}
		rule := s.burnAlert(b, faster)
		if b.Long <= rawGroupMax {
			short.Rules = append(short.Rules, rule)
		} else {
			long.Rules = append(long.Rules, rule)
		}
	}
	return []rulefmt.RuleGroup{short, long}
}

// burnAlert is the alerting rule of burn pair b; faster are the long
// windows of the SLA's pairs faster than b (the ones that inhibit it).
func (s SLA) burnAlert(b BurnAlert, faster []string) rulefmt.Rule {
	budget := "(1 - " + strconv.FormatFloat(s.Target(), 'g', -1, 64) + ")"
	factor := strconv.FormatFloat(b.Factor, 'g', -1, 64)
	long, short := FormatWindow(b.Long), FormatWindow(b.Short)
	expr := fmt.Sprintf("%s > (%s * %s) and %s > (%s * %s) and on() %s",
		s.selector(ErrorRatioRecord(b.Long)), factor, budget,
		s.selector(ErrorRatioRecord(b.Short)), factor, budget, s.covered(b.Short))
	if len(faster) > 0 {
		expr += " unless on(sla) " + s.pagedBy(faster, b.Short)
	}
	return rulefmt.Rule{
		Alert: AlertName,
		// Gated on the short window being covered (a burn seen over a few
		// seconds of data says little); the long window counts over the
		// data it holds, whatever gmc's age, as Prometheus's, Sloth's and
		// Pyrra's burn alerts do: a fresh install's error burst pages.
		// Not while its short window still holds a burst a faster pair
		// fired on (pagedBy): one incident, one page.
		Expr: expr,
		Labels: map[string]string{
			"severity":     b.Severity,
			"long_window":  long,
			"short_window": short,
		},
		Annotations: map[string]string{
			// The factor is the threshold; the measured burn over each
			// window comes from its recorded error ratio.
			"summary": fmt.Sprintf("SLA %s (%s, objective %s%%) burns its error budget at least %s× faster than sustainable over %s and %s%s",
				s.Name, s.Service, strconv.FormatFloat(s.Objective, 'g', -1, 64), factor, long, short,
				fmt.Sprintf(" (%s: %s%s, %s: %s)", long, s.burnTemplate(b.Long, budget), s.partialTemplate(b.Long), short, s.burnTemplate(b.Short, budget))),
			// gmc's notification channels print it for a resolved alert
			// (notify/channel.ResolvedSummaryAnnotation); the rules render
			// it once more when the alert resolves (rules.resolvedSummary),
			// so it says which condition ended.
			"resolved_summary": s.resolvedTemplate(b, budget, faster),
			"description": fmt.Sprintf("error ratio over %s%s is {{ $value | humanizePercentage }} (a burn rate of %s, alerting at %s× or more over both %s and %s); at %s× the whole budget of %s lasts %s.",
				long, s.partialTemplate(b.Long), s.burnTemplate(b.Long, budget), factor, long, short, factor, FormatWindow(s.BudgetPeriod()), FormatWindow(time.Duration(float64(s.BudgetPeriod())/b.Factor).Round(time.Minute))),
			// How much of the long window the ratio is over.
			"long_window_coverage": s.withDataSpan(b.Long, fmt.Sprintf(`{{ with query (printf "%%f / %g" .) }}{{ . | first | value | humanizePercentage }}{{ end }} of %s holds data`, b.Long.Seconds(), long), "unknown"),
			// The value is the long window's error ratio.
			"unit": "ratio",
		},
	}
}

// resolvedTemplate is the burn alert's resolved_summary: why it stopped,
// from the data when it resolved. It fires while both windows burn at
// least the factor (over a covered short window, and no faster pair fired
// within it), so it resolves when one of them no longer does: "the 5m burn
// fell to 9.1×, under 14.4× (1h: still 39.6×)", where "stopped burning …
// over both 1h and 5m" read as if both had (t-user13 F10b). Rendered
// while the alert fires (as Prometheus renders every annotation), every
// condition still holds and it gives the burn at that evaluation; that
// text stays when the alert resolves without an evaluation (a reload or a
// restart ends it).
func (s SLA) resolvedTemplate(b BurnAlert, budget string, faster []string) string {
	f := strconv.FormatFloat(b.Factor, 'g', -1, 64)
	lit := f // a float literal for the template's comparisons
	if !strings.ContainsAny(lit, ".e") {
		lit += ".0"
	}
	long, short := FormatWindow(b.Long), FormatWindow(b.Short)
	burn := func(w time.Duration) string {
		return strconv.Quote(s.selector(ErrorRatioRecord(w)) + " / " + budget)
	}
	fell := func(v string) string { return fmt.Sprintf("(ge %s 0.0) (le %s %s)", v, v, lit) }
	// A burn is printed to three digits, or as many more as it takes to
	// differ from the factor's: "fell to 14.4×, under 14.4×" said of a
	// 5m burn of 14.38× (the demo's errors incident).
	val := func(v string) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, `{{ if ge %s 0.0 }}{{ $t := printf "%%.3g" %s }}`, v, v)
		prec := 3
		for _, more := range []int{4, 6, 9} {
			fmt.Fprintf(&sb, `{{ if eq $t %q }}{{ $t = printf "%%.%dg" %s }}{{ end }}`, fmt.Sprintf("%.*g", prec, b.Factor), more, v)
			prec = more
		}
		sb.WriteString(`{{ $t }}×{{ else }}unknown{{ end }}`)
		return sb.String()
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `{{ $s := -1.0 }}{{ with query %s }}{{ $s = . | first | value }}{{ end }}`, burn(b.Short))
	fmt.Fprintf(&sb, `{{ $l := -1.0 }}{{ with query %s }}{{ $l = . | first | value }}{{ end }}`, burn(b.Long))
	fmt.Fprintf(&sb, "SLA %s (%s, objective %s%%) stopped burning its error budget at least %s× faster than sustainable",
		s.Name, s.Service, strconv.FormatFloat(s.Objective, 'g', -1, 64), f)
	fmt.Fprintf(&sb, `{{ if and %s %s }}: over %s and over %s, both under %s× (%s: %s, %s: %s)`,
		fell("$s"), fell("$l"), short, long, f, short, val("$s"), long, val("$l"))
	fmt.Fprintf(&sb, `{{ else if and %s }}: the %s burn fell to %s, under %s× (%s: still %s)`,
		fell("$s"), short, val("$s"), f, long, val("$l"))
	fmt.Fprintf(&sb, `{{ else if and %s }}: the %s burn fell to %s, under %s× (%s: still %s)`,
		fell("$l"), long, val("$l"), f, short, val("$s"))
	if len(faster) > 0 {
		fmt.Fprintf(&sb, `{{ else if query %q }}: a faster burn alert of the SLA fired (long window %s), and this one's %s window holds the errors it paged for; it fires again if the burn goes on past them (%s: %s, %s: %s)`,
			s.pagedBy(faster, b.Short), strings.Join(faster, " or "), short, short, val("$s"), long, val("$l"))
	}
	fmt.Fprintf(&sb, `{{ else if not (query %q) }}: its %s window holds too little data to judge (under %g%% covered; %s: %s, %s: %s)`,
		s.covered(b.Short), short, MinCoverage*100, short, val("$s"), long, val("$l"))
	fmt.Fprintf(&sb, `{{ else }} over both %s and %s; at its last firing evaluation the burn was %s: %s, %s: %s{{ end }}`,
		long, short, long, s.burnTemplate(b.Long, budget), short, s.burnTemplate(b.Short, budget))
	return sb.String()
}

// pagedBy is the PromQL that a faster burn alert of the SLA (long
// windows faster) fired within the last short: while it returns a series,
// the slower pair's short window still holds the errors that alert was
// about. A short error burst pages the 1h & 5m pair and, over the same
// errors, the 6h & 30m one; the default inhibit rules mute the slower
// while the faster fires, but the faster resolves once the burst leaves
// its 5m window, and the slower, still true on the same burst inside its
// 30m window, then paged a second time, 5 minutes after the errors stopped,
// and again at the next incident's resolve (t-user13 F7). So the slower
// pair fires only on errors after the faster one's last firing evaluation:
// a burn that goes on after that pages once its short window is past the
// burst (at most `short` later), a burst that ended does not page again.
// ALERTS is the rules' own series (alertstate="firing" only while firing).
func (s SLA) pagedBy(faster []string, short time.Duration) string {
	lw := `long_window="` + faster[0] + `"`
	if len(faster) > 1 {
		lw = `long_window=~"` + strings.Join(faster, "|") + `"`
	}
	return fmt.Sprintf(`max_over_time(ALERTS{alertname=%q,alertstate="firing",sla=%s,%s}[%s])`,
		AlertName, strconv.Quote(s.Name), lw, model.Duration(short))
}

// partialTemplate is the alert template text saying how much data window
// w holds when it is not whole, e.g. " over 4m of data": the long
// window's burn of a service seen for minutes is over those minutes (the
// demo's first errors incident paged "1h: 15.1×" over 4 minutes of data,
// t-user8 #3). The figure is the span the raw samples cover (dataSpanExpr),
// and when the newest sample is a minute old or more it says so (", none
// in the last 2m 0s": a gap at the window's end is not data). Empty when
// the window is whole or its coverage unknown.
func (s SLA) partialTemplate(w time.Duration) string {
	secs := w.Seconds()
	return s.withDataSpan(w, fmt.Sprintf(`{{ if lt . %.1f }} over %s of data`+
		`{{ with query %q }}{{ with . | first | value }}{{ if ge . 60.0 }}, none in the last %s{{ end }}{{ end }}{{ end }}{{ end }}`,
		secs-coverageStep(w).Seconds()/2, DurationTemplate("."), "time() - max(timestamp("+s.totalSelector()+"))", DurationTemplate(".")), "")
}

// withDataSpan is the template text then with the seconds of data window
// w holds (dataSpanExpr) as its dot, or otherwise when there are none (no
// sample in the window). The expression is built from the evaluation
// time (the query "time()"), to clamp the first interval at the window's
// start. (A window whose data began before it with a sample in every
// minute took a cheaper query, its start to the newest sample: a minute
// per step says nothing of a 112 s hole in samples 1 s apart, and that
// query read gmc's own 1m52s outage as data, t-user16 F7.)
func (s SLA) withDataSpan(w time.Duration, then, otherwise string) string {
	return fmt.Sprintf(`{{ with query "time()" }}{{ with query (printf %q (. | first | value)) }}{{ with . | first | value }}%s{{ end }}{{ else }}%s{{ end }}{{ end }}`,
		s.dataSpanExpr(w), then, otherwise)
}

// dataSpanExpr is a printf format of the PromQL for the seconds of window
// w (ending at the evaluation time, its one operand, a float) its raw
// samples cover, each series by its own cadence as /sla counts
// (span.Hole): the time from each sample to the next, clamped at the
// window's start, unless that gap is a hole, longer than the lookback
// (5m) or than 3 times the series' mean interval over the 10 minutes up
// to its end (gap × samples in those 10 minutes > 1800 s); of the
// indicator's total series, the one that covers most. It sums, at steps
// of dataSpanStep, the time between the newest sample at the step and the
// newest a step before. It counted every gap up to 5 minutes: "1h: 33.1×
// over 22m 11s of data" where the samples, 1 s apart with gmc down for
// 111.9 s, covered 20m20s (t-user16 F7). At 1s steps (windows up to an
// hour) the figure is the samples' to the second for series sampled a
// second apart or more. A longer window's steps (at most 3600) see the
// time between samples only to the step: a step's worth between them
// (up to twice the step) is taken as data, and a gap's end is found within
// a step; the same holds for series sampled faster than a second.
func (s SLA) dataSpanExpr(w time.Duration) string {
	x := strings.ReplaceAll(s.totalSelector(), "%", "%%")
	st := dataSpanStep(w)
	gap := fmt.Sprintf("(timestamp(%[1]s) - timestamp(%[1]s offset %[2]s))", x, model.Duration(st))
	return fmt.Sprintf("max(sum_over_time((((timestamp(%[1]s) - clamp_min(timestamp(%[1]s offset %[2]s), %%f - %[3]g)) > 0) and (%[4]s <= %[5]g) and ((%[4]s * count_over_time(%[1]s[%[6]s]) <= %[7]g) or (%[4]s <= %[8]g)))[%[9]s:%[2]s]))",
		x, model.Duration(st), w.Seconds(), gap, coverageLookback.Seconds(),
		model.Duration(span.CadenceRange*time.Millisecond), float64(span.HoleFactor*span.CadenceRange)/1000, 2*st.Seconds(), model.Duration(w))
}

// dataSpanStep is the step of dataSpanExpr's subquery: a second, longer
// for windows over an hour (at most 3600 steps).
func dataSpanStep(w time.Duration) time.Duration {
	return max(time.Second, (w / 3600).Round(time.Second))
}

// burnTemplate is the alert template text of the burn rate measured over
// window w (its recorded error ratio over the budget), e.g. "92.3×", or
// "unknown" when there is none.
func (s SLA) burnTemplate(w time.Duration, budget string) string {
	return fmt.Sprintf(`{{ with query %q }}{{ . | first | value | printf "%%.3g" }}×{{ else }}unknown{{ end }}`,
		s.selector(ErrorRatioRecord(w))+" / "+budget)
}

// covered is the PromQL condition that at least MinCoverage of window w
// holds data, as Reporter.Coverage reckons it: the indicator's total has a
// sample within the lookback before at least that part of the window's
// coverageSteps.
func (s SLA) covered(w time.Duration) string {
	step := coverageStep(w)
	need := math.Ceil(MinCoverage*float64(w/step) - 1e-9)
	return fmt.Sprintf("count_over_time(count(%s)[%s:%s]) >= %g", s.totalSelector(), model.Duration(w), model.Duration(step), need)
}

// coverageStep is the resolution at which the PromQL coverage of window w
// looks for data: 1m, coarser for windows over a day (at most 1440 steps).
func coverageStep(w time.Duration) time.Duration {
	return max(time.Minute, (w / 1440).Round(time.Minute))
}

// totalSelector is the series selector of the indicator's total.
func (s SLA) totalSelector() string {
	sels := s.totalMatchers()
	if len(sels) == 0 {
		return ""
	}
	return sels[0].String()
}

// totalMatchers are the vector selectors in the indicator's total rate.
func (s SLA) totalMatchers() []*parser.VectorSelector {
	expr, err := newParser().ParseExpr(s.TotalRate(time.Minute))
	if err != nil {
		return nil
	}
	var out []*parser.VectorSelector
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// BudgetPeriod is the SLA's longest window (30d when it names none): the
// period its error budget spans.
func (s SLA) BudgetPeriod() time.Duration {
	var m time.Duration
	for _, w := range s.Windows {
		m = max(m, time.Duration(w))
	}
	if m == 0 {
		m = 30 * 24 * time.Hour
	}
	return m
}

func newParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// checkSelector accepts "" or a plain series selector (no functions, no range).
func checkSelector(field, s string) error {
	if s == "" {
		return nil
	}
	e, err := newParser().ParseExpr(s)
	if err != nil {
		return fmt.Errorf("%s: %q does not parse: %w", field, s, err)
	}
	if _, ok := e.(*parser.VectorSelector); !ok {
		return fmt.Errorf("%s: %q must be a series selector such as requests_total{code=~\"5..\"}", field, s)
	}
	return nil
}
