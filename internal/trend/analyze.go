// Package trend analyses the long-run behaviour of one metric of a service:
// its load profile by hour of day and day of week, the week-over-week change,
// its peaks, and a forecast of when it reaches a limit. The analysis is pure
// functions over hourly points (analyze.go); handler.go serves it as
// GET /trends/{service}, reading the points through the PromQL engine.
package trend

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"
)

// Point is one hourly value of the analysed series. Partial marks an hour
// whose raw samples cover less than HourMinCoverage of it (the first hour of
// a young install, the edges of a gap): its rate or average stands for a few
// minutes, not the hour (a rate over half an hour's data reads about half
// the hour's), so the analysis leaves it out: profiles, peaks, week over
// week and the forecast's fit.
type Point struct {
	T       time.Time
	V       float64
	Partial bool
}

// HourMinCoverage is the share of an hour its raw samples must span for the
// hour to count in the profiles and peaks: the demo's first hour, 4 minutes
// of 2.4k/s, read as a peak of 163/s (t-user3).
const HourMinCoverage = 0.9

// Profile is one bucket of a load profile (an hour of the day, a day of the
// week). Mean is over the profiles' common block (ProfileBasis): an hour of
// the day is the mean of the block's days' means at that hour, a day the
// mean of its means at the block's hours, so every bucket of a profile is
// over the same mix (Profiles). Max and Samples are of every hourly value
// that fell in the bucket.
type Profile struct {
	// Hour (0-23, UTC, the hour's end: 12 is 11:00-12:00) or Day
	// ("Monday"…, the day the hour starts in) names the bucket.
	Hour *int   `json:"hour,omitempty"`
	Day  string `json:"day,omitempty"`
	// Mean is null when the bucket has no value or is left out of the
	// block: MissingDays (an hour of the day) or MissingHours (a day)
	// then say what it lacks that the other buckets have.
	Mean    *Number `json:"mean"`
	Max     *Number `json:"max"`
	Samples int     `json:"samples"`
	// MissingDays: the block's days with no value at this hour of the day
	// in the window; MissingHours: the block's hours of the day (by their
	// start, 0-23 UTC) this day has no value at.
	MissingDays  []string `json:"missing_days,omitempty"`
	MissingHours []int    `json:"missing_hours,omitempty"`
}

// ProfileBasis is the block of the hour-of-week both profiles are means
// over: the days of the week and the hours of the day (by their start, UTC)
// such that every day has a value at every hour in the window.
type ProfileBasis struct {
	Days  []string `json:"days"`
	Hours []int    `json:"hours"`
}

// Number is a float that is never NaN or infinite (those stay out of the
// analysis); a pointer to it is JSON null when unknown.
type Number = float64

// WeekOverWeek compares the mean of the last 7 days with the 7 days before,
// over the hours of the week both have a value for.
type WeekOverWeek struct {
	ThisWeekMean *Number `json:"this_week_mean"`
	LastWeekMean *Number `json:"last_week_mean"`
	// Change is (this - last) / |last|; null when either week covers less
	// than MinCoverage of its hours or last week's mean is 0 (Reason says
	// which).
	Change *Number `json:"change"`
	// Coverage is the share of the hours of each week that have a value.
	ThisWeekCoverage float64 `json:"this_week_coverage"`
	LastWeekCoverage float64 `json:"last_week_coverage"`
	// ComparedHours is how many hours of the week both weeks have a value
	// for: the means are over those hours only, the same in each week.
	ComparedHours int `json:"compared_hours"`
	// MinCoverage is the share of its hours each week needs for a change
	// (WeekMinCoverage).
	MinCoverage float64 `json:"min_coverage"`
	// Reason says why Change is null; empty when it is set.
	Reason string `json:"reason,omitempty"`
}

// Limit kinds (Forecast.LimitKind, the API's limit_kind).
const (
	LimitCeiling = "ceiling"
	LimitFloor   = "floor"
)

// WeekMinCoverage is the share of a week's hours that must have a value for
// the week-over-week change to be worked out: two Friday-evening hours of
// last week against a whole week read as "down a third" (t-user3).
const WeekMinCoverage = 0.9

// Peak is one of the highest hourly values.
type Peak struct {
	Time  float64 `json:"time"` // Unix seconds: the end of the hour
	Value float64 `json:"value"`
}

// Forecast is a linear trend fitted beside an hour-of-week profile to the
// hourly values of the last two weeks (or the window, if longer),
// extrapolated to the limit (ForecastModel).
type Forecast struct {
	// Model names the method, so a reader knows what the dates mean.
	Model string `json:"model"`
	// SlopePerDay is the fitted change per day; Current the fitted value at
	// the window's end.
	SlopePerDay float64 `json:"slope_per_day"`
	Current     float64 `json:"current"`
	// RMSE is the root-mean-square residual of the fit (the model's error,
	// in the metric's unit); SlopeStdErr the standard error of the slope
	// per day; R2 the share of the variance the line explains.
	RMSE        float64 `json:"rmse"`
	SlopeStdErr float64 `json:"slope_stderr_per_day"`
	R2          float64 `json:"r2"`
	Points      int     `json:"points"`
	// From and To are the first and last hourly points fitted (Unix
	// seconds; 0 with none); SpanHours the hours between them and
	// NeedHours the span a fit needs (MinFitSpan, two weeks less
	// FitEdgeSlack): a line through less follows the weekly cycle, not a
	// trend.
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	SpanHours float64 `json:"span_hours"`
	NeedHours float64 `json:"need_hours"`
	// Limit is the level forecast; null when none was given or known.
	Limit *float64 `json:"limit"`
	// LimitKind is LimitCeiling or LimitFloor: whether the metric must stay
	// below the limit or above it (empty without a fitted limit).
	LimitKind string `json:"limit_kind,omitempty"`
	// Status: "no_limit", "not_approaching" (the trend moves away from the
	// limit or is flat), "reached" (the fitted line is already past it),
	// "approaching" (ReachesAt is set), "insufficient_history" (the whole
	// hours span less than NeedHours: nothing is fitted),
	// "insufficient_data" (they span enough, but no hour of the week has
	// values from two weeks, so growth cannot be told from the profile),
	// ForecastNotMeasurable (the handler's: p99s in a histogram's first
	// bucket).
	// Partial hours are not fitted and do not count.
	Status string `json:"status"`
	// Reason says why nothing is fitted (the two insufficient statuses).
	Reason string `json:"reason,omitempty"`
	// ReachesAt is when the fitted line meets the limit (Unix seconds);
	// Earliest and Latest use the slope ± 2 standard errors (Latest is null
	// when the slower slope never gets there).
	ReachesAt       *float64 `json:"reaches_at"`
	ReachesEarliest *float64 `json:"reaches_earliest"`
	ReachesLatest   *float64 `json:"reaches_latest"`
}

// Analysis is everything Analyze derives from the hourly points.
type Analysis struct {
	HourOfDay    []Profile    `json:"hour_of_day"`
	DayOfWeek    []Profile    `json:"day_of_week"`
	ProfileBasis ProfileBasis `json:"profile_basis"`
	WeekOverWeek WeekOverWeek `json:"week_over_week"`
	Peaks        []Peak       `json:"peaks"`
	Forecast     Forecast     `json:"forecast"`
}

// MaxPeaks is how many peaks Analyze reports; peakSeparation keeps them
// apart, so one busy afternoon does not fill the list.
const (
	MaxPeaks       = 5
	peakSeparation = 6 * time.Hour
	week           = 7 * 24 * time.Hour
)

// MinFitSpan is the least span of hourly points the forecast fits a trend
// to: two whole weeks (336 hourly points, the first and last 335 h apart),
// so each hour of the week is seen twice and its profile can be told from
// growth, less FitEdgeSlack. One week starting on a Friday night (the
// weekend's lows first, a weekday's peak last) read as +176/s a day, R² 0.2,
// beside a week-over-week change of -0.3 % (t-user4 #2); under three days
// the daily cycle did the same (R² 0.0000048 on the demo's one day).
const MinFitSpan = 2*week - time.Hour - FitEdgeSlack

// FitEdgeSlack is how many hours at the two weeks' edges may be missing
// (no value, or partial and left out) and the trend still be fitted. The
// demo's history ends 1h10m before its live desk, so the hour before the
// current one is always empty: needing the whole 335 h refused every 7d
// trend over 30 days of data ("334 h of the 335 h needed", t-user6 #2), as
// would an agent's restart at either edge. The hours of the week missed
// have one value instead of two and add nothing to the slope (the fit is
// within each hour of the week); the other 156 or more still tell the
// weekly profile from growth.
const FitEdgeSlack = 12 * time.Hour

// Analyze derives the profiles, peaks and forecast from the points in
// (end-window, end] and the week-over-week change from the points in
// (end-14d, end], as the forecast's trend (over the window or two weeks,
// whichever is longer). points must be sorted by time; NaN and infinite
// values and Partial points are ignored (the demo's hour holding the gap
// before the live desk, 33 of its 60 minutes, was fitted and compared at
// about half its rate, t-user5 #6). limit, when set, is the level the
// forecast extrapolates to.
//
// limitKind says what the limit is: LimitCeiling (the metric must stay
// below it: CPU, disk used, an order rate's capacity), LimitFloor (above
// it: bytes free), or "" to tell by the fitted values' mean (above it a
// ceiling, below a floor: a capacity the mean had passed read as a floor
// being moved away from, t-user18 F3; the handler always says which).
func Analyze(points []Point, end time.Time, window time.Duration, limit *float64, limitKind string) Analysis {
	var whole, inWindow []Point
	for _, p := range points {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) || p.Partial || p.T.After(end) {
			continue
		}
		whole = append(whole, p)
		if p.T.After(end.Add(-window)) {
			inWindow = append(inWindow, p)
		}
	}
	hours, days, basis := profiles(inWindow)
	return Analysis{
		HourOfDay:    hours,
		DayOfWeek:    days,
		ProfileBasis: basis,
		WeekOverWeek: weekOverWeek(whole, end),
		Peaks:        peaks(inWindow),
		Forecast:     forecast(whole, end, window, limit, limitKind),
	}
}

type acc struct {
	sum, max float64
	n        int
}

func (a *acc) add(v float64) {
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.sum += v
	a.n++
}

// merge adds b's values to a's.
func (a *acc) merge(b acc) {
	if b.n > 0 && (a.n == 0 || b.max > a.max) {
		a.max = b.max
	}
	a.sum += b.sum
	a.n += b.n
}

func (a acc) profile() Profile {
	p := Profile{Samples: a.n}
	if a.n > 0 {
		mean, mx := a.sum/float64(a.n), a.max
		p.Mean, p.Max = &mean, &mx
	}
	return p
}

// profiles builds the hour-of-day and day-of-week profiles from the
// hour-of-week means of the window's values (168 cells: the day and hour of
// day each hour starts in), over one block of them: the days of the week R
// and hours of the day C with a value in every cell of R×C, the largest
// such block (most cells; then most days). An hour of the day is the mean
// over R of its cells, a day the mean over C of its cells.
//
// So every bar of a profile is over the same mix. Each hour of the day's
// plain mean over the values it had mixed different days: the demo's
// Sunday hour at the seam between its history and the live desk is
// partial and left out, so 12:00-13:00 was the mean of Monday-Saturday
// while its neighbours held the quiet Sunday too, a bar 7.8 % above where
// the load put it (t-user18 F2). Over 30 days (4 weeks and 2 days) the
// hours before the window's end held one more of one weekday than those
// after it, a step at the end's hour with no hour missing. A day's mean
// weighted its hours by how many of them the window held alike.
//
// An hour of the day or a day left out of the block (a partial or missing
// hour in a 7d window, where each cell is one value) keeps its max and
// samples but has no mean, and says which days or hours it lacks: a mean
// over another mix is not comparable to its neighbours. Leaving the day
// out of every hour instead would drop 23 whole hours for one partial
// one; the block keeps the most cells.
func profiles(points []Point) ([]Profile, []Profile, ProfileBasis) {
	var cells [7][24]acc
	for _, p := range points {
		s := p.T.Add(-Step).UTC()
		cells[s.Weekday()][s.Hour()].add(p.V)
	}
	has := func(d, h int) bool { return cells[d][h].n > 0 }
	// The block: try every set of days with data (at most 2^7).
	var withData int
	for d := range 7 {
		for h := range 24 {
			if has(d, h) {
				withData |= 1 << d
			}
		}
	}
	bestDays, bestHours, bestArea := 0, 0, 0
	for set := withData; set > 0; set = (set - 1) & withData {
		hours := 1<<24 - 1
		for d := range 7 {
			if set&(1<<d) == 0 {
				continue
			}
			for h := range 24 {
				if !has(d, h) {
					hours &^= 1 << h
				}
			}
		}
		nd, nh := popcount(set), popcount(hours)
		if a := nd * nh; a > bestArea || (a == bestArea && a > 0 && nd > popcount(bestDays)) {
			bestDays, bestHours, bestArea = set, hours, a
		}
	}
	inDays := func(d int) bool { return bestDays&(1<<d) != 0 }
	inHours := func(h int) bool { return bestHours&(1<<h) != 0 }
	cellMean := func(d, h int) float64 { return cells[d][h].sum / float64(cells[d][h].n) }
	// Monday first, as trading weeks are read.
	weekdays := func(yield func(int) bool) {
		for i := range 7 {
			if !yield((i + 1) % 7) {
				return
			}
		}
	}

	var basis ProfileBasis
	basis.Days, basis.Hours = []string{}, []int{}
	for d := range weekdays {
		if inDays(d) {
			basis.Days = append(basis.Days, time.Weekday(d).String())
		}
	}
	for h := range 24 {
		if inHours(h) {
			basis.Hours = append(basis.Hours, h)
		}
	}

	hourOut := make([]Profile, 24)
	for end := range 24 {
		h := (end + 23) % 24 // the API files an hour by its end
		var all acc
		for d := range 7 {
			if has(d, h) {
				all.merge(cells[d][h])
			}
		}
		pr := all.profile()
		pr.Mean = nil
		switch {
		case inHours(h):
			var m float64
			for d := range 7 {
				if inDays(d) {
					m += cellMean(d, h)
				}
			}
			m /= float64(popcount(bestDays))
			pr.Mean = &m
		case all.n > 0:
			for d := range weekdays {
				if inDays(d) && !has(d, h) {
					pr.MissingDays = append(pr.MissingDays, time.Weekday(d).String())
				}
			}
		}
		pr.Hour = &end
		hourOut[end] = pr
	}

	dayOut := make([]Profile, 0, 7)
	for d := range weekdays {
		var all acc
		for h := range 24 {
			if has(d, h) {
				all.merge(cells[d][h])
			}
		}
		pr := all.profile()
		pr.Mean = nil
		switch {
		case inDays(d):
			var m float64
			for h := range 24 {
				if inHours(h) {
					m += cellMean(d, h)
				}
			}
			m /= float64(popcount(bestHours))
			pr.Mean = &m
		case all.n > 0:
			for h := range 24 {
				if inHours(h) && !has(d, h) {
					pr.MissingHours = append(pr.MissingHours, h)
				}
			}
		}
		pr.Day = time.Weekday(d).String()
		dayOut = append(dayOut, pr)
	}
	return hourOut, dayOut, basis
}

func popcount(x int) int { return bits.OnesCount(uint(x)) }

func weekOverWeek(points []Point, end time.Time) WeekOverWeek {
	var this, last acc
	// Each week's mean is over the hours of the week both weeks have a
	// value for: an hour left out of one week (partial: the demo's seam,
	// a restart; or missing) is left out of the other too. Leaving it out
	// of this week alone compared 166 hours with 168 and read +1.45 %
	// where the same hours gave +0.91 % (t-user18 F2).
	lastAt := map[int64]float64{}
	var thisPts []Point
	for _, p := range points {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) || p.T.After(end) {
			continue
		}
		switch {
		case p.T.After(end.Add(-week)):
			thisPts = append(thisPts, p)
		case p.T.After(end.Add(-2 * week)):
			lastAt[p.T.UnixMilli()] = p.V
		}
	}
	for _, p := range thisPts {
		if v, ok := lastAt[p.T.Add(-week).UnixMilli()]; ok {
			this.add(p.V)
			last.add(v)
		}
	}
	hours := float64(week / time.Hour)
	w := WeekOverWeek{ThisWeekCoverage: math.Min(1, float64(len(thisPts))/hours), LastWeekCoverage: math.Min(1, float64(len(lastAt))/hours),
		MinCoverage: WeekMinCoverage, ComparedHours: this.n}
	w.ThisWeekMean = this.profile().Mean
	w.LastWeekMean = last.profile().Mean
	switch {
	case w.LastWeekCoverage < WeekMinCoverage:
		w.Reason = fmt.Sprintf("last week has %d of its %d hours (%.1f%%); the change needs %.0f%% of each week",
			len(lastAt), int(hours), 100*w.LastWeekCoverage, 100*WeekMinCoverage)
	case w.ThisWeekCoverage < WeekMinCoverage:
		w.Reason = fmt.Sprintf("this week has %d of its %d hours (%.1f%%); the change needs %.0f%% of each week",
			len(thisPts), int(hours), 100*w.ThisWeekCoverage, 100*WeekMinCoverage)
	case float64(this.n) < WeekMinCoverage*hours:
		w.Reason = fmt.Sprintf("the two weeks have a value at the same hour of the week for %d of its %d hours; the change needs %.0f%%",
			this.n, int(hours), 100*WeekMinCoverage)
	case *w.LastWeekMean == 0:
		w.Reason = "last week's mean is 0"
	default:
		c := (*w.ThisWeekMean - *w.LastWeekMean) / math.Abs(*w.LastWeekMean)
		w.Change = &c
	}
	return w
}

func peaks(points []Point) []Peak {
	order := slices.Clone(points)
	slices.SortStableFunc(order, func(a, b Point) int {
		switch {
		case a.V > b.V:
			return -1
		case a.V < b.V:
			return 1
		}
		return a.T.Compare(b.T)
	})
	out := []Peak{}
	var taken []time.Time
	for _, p := range order {
		if len(out) == MaxPeaks {
			break
		}
		near := slices.ContainsFunc(taken, func(t time.Time) bool {
			d := p.T.Sub(t)
			return d < peakSeparation && d > -peakSeparation
		})
		if near {
			continue
		}
		taken = append(taken, p.T)
		out = append(out, Peak{Time: float64(p.T.Unix()), Value: p.V})
	}
	return out
}

// ForecastModel is Forecast.Model: what is fitted, how its error is
// estimated, and what it cannot see.
const ForecastModel = "linear trend plus an hour-of-week profile (168 seasonal means), least squares over the hourly values " +
	"of the last two weeks or the window if longer; slope standard error Newey-West (Bartlett kernel, 24 hourly lags), " +
	"so a day's autocorrelated residuals do not read as independent evidence. current is the trend's level at the end " +
	"(the week's average hour): the profile's busy hours reach a ceiling earlier. Less than two weeks (less 12 h at " +
	"the edges) cannot tell growth from the weekly cycle, so nothing is fitted"

// nwLags is the Newey-West bandwidth in hourly lags: one day.
const nwLags = 24

// forecast fits v = s(hour of week) + b·x by least squares, x in days
// before end (negative): the trend b is the slope within each hour-of-week
// slot (Frisch-Waugh: x and v less their slot's means), so a window that
// starts on the weekend's lows and ends on a weekday's peak shows no
// growth. It reads the points in (end - max(window, 2 weeks), end].
func forecast(points []Point, end time.Time, window time.Duration, limit *float64, limitKind string) Forecast {
	f := Forecast{Model: ForecastModel, Limit: limit, NeedHours: MinFitSpan.Hours()}
	from := end.Add(-max(window, 2*week))
	var fit []Point
	for _, p := range points {
		if p.T.After(from) && !p.T.After(end) && !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
			fit = append(fit, p)
		}
	}
	f.Points = len(fit)
	if len(fit) > 0 {
		first, last := fit[0].T, fit[len(fit)-1].T
		f.From, f.To = float64(first.Unix()), float64(last.Unix())
		f.SpanHours = last.Sub(first).Hours()
	}
	// One threshold, the span (a fresh install said "a line needs 3
	// hourly points" beside "nothing is fitted until 335 h", t-user5 #8).
	if f.SpanHours < f.NeedHours {
		f.Status = "insufficient_history"
		f.Reason = fmt.Sprintf("the whole hours span %.0f h of the %.0f h (two weeks of hourly values, less %.0f h at the edges) a trend needs: a shorter span cannot tell growth from the weekly cycle (a window that starts on the weekend's lows reads as growth)",
			f.SpanHours, f.NeedHours, FitEdgeSlack.Hours())
		return f
	}
	// Slot means of x and v (hour of week, from Monday 00:00 UTC).
	slot := func(t time.Time) int { return (int(t.UTC().Weekday()+6)%7)*24 + t.UTC().Hour() }
	var sx, sv [168]float64
	var cnt [168]int
	xs := make([]float64, len(fit))
	for i, p := range fit {
		xs[i] = p.T.Sub(end).Hours() / 24
		k := slot(p.T)
		sx[k] += xs[i]
		sv[k] += p.V
		cnt[k]++
	}
	groups := 0
	for k := range cnt {
		if cnt[k] > 0 {
			sx[k] /= float64(cnt[k])
			sv[k] /= float64(cnt[k])
			groups++
		}
	}
	dx, dv := make([]float64, len(fit)), make([]float64, len(fit))
	var sxx, sxv, svv float64
	for i, p := range fit {
		k := slot(p.T)
		dx[i], dv[i] = xs[i]-sx[k], p.V-sv[k]
		sxx += dx[i] * dx[i]
		sxv += dx[i] * dv[i]
		svv += dv[i] * dv[i]
	}
	if sxx == 0 {
		f.Status = "insufficient_data"
		f.Reason = fmt.Sprintf("the %d whole hours span %.0f h, but no hour of the week has values from two weeks, so growth cannot be told from the weekly profile",
			len(fit), f.SpanHours)
		return f
	}
	b := sxv / sxx
	// The level at end: the slots' fitted values at end, averaged.
	var a float64
	for k := range cnt {
		if cnt[k] > 0 {
			a += sv[k] - b*sx[k]
		}
	}
	a /= float64(groups)
	e := make([]float64, len(fit))
	var sse float64
	for i := range fit {
		e[i] = dv[i] - b*dx[i]
		sse += e[i] * e[i]
	}
	n := float64(len(fit))
	f.SlopePerDay, f.Current = b, a
	f.RMSE = math.Sqrt(sse / n)
	if dof := n - float64(groups) - 1; dof > 0 {
		f.SlopeStdErr = math.Sqrt(neweyWest(fit, dx, e)*n/dof) / sxx
	}
	if svv > 0 {
		f.R2 = 1 - sse/svv
	} else {
		f.R2 = 1
	}
	if limit == nil {
		f.Status = "no_limit"
		return f
	}
	// Unless told, the limit is a ceiling when it lies above the fitted
	// values' mean (disk used, CPU busy, order rate) and a floor when below
	// (bytes free).
	ceiling := limitKind == LimitCeiling
	if limitKind == "" {
		my := 0.0
		for _, p := range fit {
			my += p.V
		}
		ceiling = *limit > my/n
	}
	f.LimitKind = LimitFloor
	if ceiling {
		f.LimitKind = LimitCeiling
	}
	gap := *limit - a
	switch {
	case ceiling && a >= *limit, !ceiling && a <= *limit:
		f.Status = "reached"
		return f
	case ceiling && b <= 0, !ceiling && b >= 0:
		f.Status = "not_approaching"
		return f
	}
	f.Status = "approaching"
	at := func(slope float64) *float64 {
		if slope == 0 || (gap > 0) != (slope > 0) {
			return nil
		}
		t := float64(end.Unix()) + gap/slope*86400
		return &t
	}
	f.ReachesAt = at(b)
	fast, slow := b+2*f.SlopeStdErr, b-2*f.SlopeStdErr
	if b < 0 {
		fast, slow = slow, fast
	}
	f.ReachesEarliest, f.ReachesLatest = at(fast), at(slow)
	return f
}

// neweyWest is the long-run variance Σ of the slope's scores u = dx·e:
// Σu² plus twice the Bartlett-weighted products of scores l = 1..nwLags
// hours apart (Newey and West, 1987). Divided by sxx² it is the slope's
// variance under heteroscedastic, autocorrelated residuals.
func neweyWest(points []Point, dx, e []float64) float64 {
	u := make(map[int64]float64, len(points))
	var s float64
	for i, p := range points {
		h := p.T.Unix() / 3600
		u[h] = dx[i] * e[i]
		s += u[h] * u[h]
	}
	for i, p := range points {
		h := p.T.Unix() / 3600
		for l := int64(1); l <= nwLags; l++ {
			if v, ok := u[h-l]; ok {
				s += 2 * (1 - float64(l)/float64(nwLags+1)) * dx[i] * e[i] * v
			}
		}
	}
	return s
}
