// Package trend analyses the long-run behaviour of one metric of a service:
// its load profile by hour of day and day of week, the week-over-week change,
// its peaks, and a forecast of when it reaches a limit. The analysis is pure
// functions over hourly points (analyze.go); handler.go serves it as
// GET /trends/{service}, reading the points through the PromQL engine.
package trend

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Point is one hourly value of the analysed series. Partial marks an hour
// whose raw samples cover less than HourMinCoverage of it (the first hour of
// a young install, the edges of a gap): its rate or average stands for a few
// minutes, not the hour, so the profiles and peaks leave it out.
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
// week): the mean and maximum of the hourly values that fell in it.
type Profile struct {
	// Hour (0-23, UTC) or Day ("Monday"…) names the bucket.
	Hour    *int    `json:"hour,omitempty"`
	Day     string  `json:"day,omitempty"`
	Mean    *Number `json:"mean"`
	Max     *Number `json:"max"`
	Samples int     `json:"samples"`
}

// Number is a float that is never NaN or infinite (those stay out of the
// analysis); a pointer to it is JSON null when unknown.
type Number = float64

// WeekOverWeek compares the mean of the last 7 days with the 7 days before.
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
	// MinCoverage is the share of its hours each week needs for a change
	// (WeekMinCoverage).
	MinCoverage float64 `json:"min_coverage"`
	// Reason says why Change is null; empty when it is set.
	Reason string `json:"reason,omitempty"`
}

// WeekMinCoverage is the share of a week's hours that must have a value for
// the week-over-week change to be worked out: two Friday-evening hours of
// last week against a whole week read as "down a third" (t-user3).
const WeekMinCoverage = 0.9

// Peak is one of the highest hourly values.
type Peak struct {
	Time  float64 `json:"time"` // Unix seconds: the end of the hour
	Value float64 `json:"value"`
}

// Forecast is a least-squares straight line through the window's hourly
// values, extrapolated to the limit.
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
	// NeedHours the span a fit needs (MinFitSpan): a line through less
	// than that follows the daily cycle, not a trend.
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	SpanHours float64 `json:"span_hours"`
	NeedHours float64 `json:"need_hours"`
	// Limit is the level forecast; null when none was given or known.
	Limit *float64 `json:"limit"`
	// Status: "no_limit", "not_approaching" (the trend moves away from the
	// limit or is flat), "reached" (the fitted line is already past it),
	// "approaching" (ReachesAt is set), "insufficient_data" (fewer than
	// three points), "insufficient_history" (the points span less than
	// NeedHours: nothing is fitted).
	Status string `json:"status"`
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
	minFitPoints   = 3
)

// MinFitSpan is the least span of hourly points the forecast fits a line
// to: three days, so the daily cycle (quiet nights, busy trading hours)
// repeats and a slope says more than which hours the data began and ended
// at. The demo's one backfilled day gave R² 0.0000048 and a fitted "now"
// of 940/s beside 2.4k/s.
const MinFitSpan = 72 * time.Hour

// Analyze derives the profiles, peaks and forecast from the points in
// (end-window, end] and the week-over-week change from the points in
// (end-14d, end]. points must be sorted by time; NaN and infinite values
// are ignored, and Partial points count in the forecast and week over week
// only. limit, when set, is the level the forecast extrapolates to.
func Analyze(points []Point, end time.Time, window time.Duration, limit *float64) Analysis {
	var in, whole []Point
	for _, p := range points {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) || !p.T.After(end.Add(-window)) || p.T.After(end) {
			continue
		}
		in = append(in, p)
		if !p.Partial {
			whole = append(whole, p)
		}
	}
	return Analysis{
		HourOfDay:    hourProfile(whole),
		DayOfWeek:    dayProfile(whole),
		WeekOverWeek: weekOverWeek(points, end),
		Peaks:        peaks(whole),
		Forecast:     forecast(in, end, limit),
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

func (a acc) profile() Profile {
	p := Profile{Samples: a.n}
	if a.n > 0 {
		mean, mx := a.sum/float64(a.n), a.max
		p.Mean, p.Max = &mean, &mx
	}
	return p
}

func hourProfile(points []Point) []Profile {
	var accs [24]acc
	for _, p := range points {
		accs[p.T.UTC().Hour()].add(p.V)
	}
	out := make([]Profile, 24)
	for h := range accs {
		out[h] = accs[h].profile()
		out[h].Hour = &h
	}
	return out
}

func dayProfile(points []Point) []Profile {
	var accs [7]acc
	for _, p := range points {
		accs[p.T.UTC().Weekday()].add(p.V)
	}
	out := make([]Profile, 0, 7)
	// Monday first, as trading weeks are read.
	for i := range 7 {
		d := time.Weekday((i + 1) % 7)
		pr := accs[d].profile()
		pr.Day = d.String()
		out = append(out, pr)
	}
	return out
}

func weekOverWeek(points []Point, end time.Time) WeekOverWeek {
	var this, last acc
	for _, p := range points {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) || p.T.After(end) {
			continue
		}
		switch {
		case p.T.After(end.Add(-week)):
			this.add(p.V)
		case p.T.After(end.Add(-2 * week)):
			last.add(p.V)
		}
	}
	hours := float64(week / time.Hour)
	w := WeekOverWeek{ThisWeekCoverage: math.Min(1, float64(this.n)/hours), LastWeekCoverage: math.Min(1, float64(last.n)/hours),
		MinCoverage: WeekMinCoverage}
	w.ThisWeekMean = this.profile().Mean
	w.LastWeekMean = last.profile().Mean
	switch {
	case w.LastWeekCoverage < WeekMinCoverage:
		w.Reason = fmt.Sprintf("last week has %d of its %d hours (%.1f%%); the change needs %.0f%% of each week",
			last.n, int(hours), 100*w.LastWeekCoverage, 100*WeekMinCoverage)
	case w.ThisWeekCoverage < WeekMinCoverage:
		w.Reason = fmt.Sprintf("this week has %d of its %d hours (%.1f%%); the change needs %.0f%% of each week",
			this.n, int(hours), 100*w.ThisWeekCoverage, 100*WeekMinCoverage)
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

// forecast fits v = a + b·x by least squares, x in days before end
// (negative), so a is the fitted value at end and b the slope per day.
func forecast(points []Point, end time.Time, limit *float64) Forecast {
	f := Forecast{Model: "linear least squares over the window's hourly values", Limit: limit, Points: len(points), NeedHours: MinFitSpan.Hours()}
	if len(points) > 0 {
		first, last := points[0].T, points[len(points)-1].T
		f.From, f.To = float64(first.Unix()), float64(last.Unix())
		f.SpanHours = last.Sub(first).Hours()
	}
	if len(points) < minFitPoints {
		f.Status = "insufficient_data"
		return f
	}
	if f.SpanHours < f.NeedHours {
		f.Status = "insufficient_history"
		return f
	}
	n := float64(len(points))
	var sx, sy float64
	xs := make([]float64, len(points))
	for i, p := range points {
		xs[i] = p.T.Sub(end).Hours() / 24
		sx += xs[i]
		sy += p.V
	}
	mx, my := sx/n, sy/n
	var sxx, sxy, syy float64
	for i, p := range points {
		dx, dy := xs[i]-mx, p.V-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		f.Status = "insufficient_data"
		return f
	}
	b := sxy / sxx
	a := my - b*mx
	var sse float64
	for i, p := range points {
		r := p.V - (a + b*xs[i])
		sse += r * r
	}
	f.SlopePerDay, f.Current = b, a
	f.RMSE = math.Sqrt(sse / n)
	if len(points) > 2 {
		f.SlopeStdErr = math.Sqrt(sse/(n-2)) / math.Sqrt(sxx)
	}
	if syy > 0 {
		f.R2 = 1 - sse/syy
	} else {
		f.R2 = 1
	}
	if limit == nil {
		f.Status = "no_limit"
		return f
	}
	// The limit is a ceiling when it lies above the window's mean (disk
	// used, CPU busy, order rate) and a floor when below (bytes free).
	ceiling := *limit > my
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
