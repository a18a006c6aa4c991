package trend

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// end is a Monday, 00:00 UTC.
var end = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

func hourly(days int, f func(t time.Time) float64) []Point {
	var ps []Point
	for t := end.Add(-time.Duration(days)*24*time.Hour + time.Hour); !t.After(end); t = t.Add(time.Hour) {
		ps = append(ps, Point{T: t, V: f(t)})
	}
	return ps
}

// sparse is every nth of ps, from the last backwards, in time order.
func sparse(ps []Point, n int) []Point {
	var out []Point
	for i := len(ps) - 1; i >= 0; i -= n {
		out = append([]Point{ps[i]}, out...)
	}
	return out[len(out)-15:]
}

// TestPartialHoursAreNotAnalysed: t-user5 #6. An hour its raw samples
// cover only in part (the demo's gap before the live desk: 33 of 60
// minutes, its rate about half the hour's) is left out of the fit and of
// week over week as of the profiles and peaks: the analysis equals the one
// without it.
func TestPartialHoursAreNotAnalysed(t *testing.T) {
	ps := hourly(30, func(t time.Time) float64 { return 1000 + 5*t.Sub(end).Hours()/24 + 100*math.Sin(float64(t.Hour())) })
	with := slices.Clone(ps)
	for _, i := range []int{len(with) - 1, len(with) - 200, len(with) - 400} {
		with[i].V /= 2
		with[i].Partial = true
	}
	var without []Point
	for _, p := range with {
		if !p.Partial {
			without = append(without, p)
		}
	}
	f64 := func(v float64) *float64 { return &v }
	a, b := Analyze(with, end, 30*24*time.Hour, f64(2000), ""), Analyze(without, end, 30*24*time.Hour, f64(2000), "")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("with partial hours:\n%+v\nwithout them:\n%+v", a, b)
	}
	if all := Analyze(ps, end, 30*24*time.Hour, f64(2000), ""); all.Forecast.Points != b.Forecast.Points+3 || b.Forecast.To != float64(end.Add(-time.Hour).Unix()) {
		t.Errorf("fitted %d points to %v, want 3 fewer than %d, to the last whole hour", b.Forecast.Points, b.Forecast.To, all.Forecast.Points)
	}
}

func TestHourAndDayProfiles(t *testing.T) {
	// Value = hour of day (of the hour's end, T); hours starting on a
	// weekend add 100 (the days are the hours' starts: dayProfile).
	ps := hourly(14, func(t time.Time) float64 {
		v := float64(t.Hour())
		if wd := t.Add(-time.Hour).Weekday(); wd == time.Saturday || wd == time.Sunday {
			v += 100
		}
		return v
	})
	a := Analyze(ps, end, 7*24*time.Hour, nil, "")
	if len(a.HourOfDay) != 24 || len(a.DayOfWeek) != 7 {
		t.Fatalf("profiles: %d hours, %d days", len(a.HourOfDay), len(a.DayOfWeek))
	}
	for h, p := range a.HourOfDay {
		// 5 weekdays at h, 2 weekend days at h+100 → mean h + 200/7.
		want := float64(h) + 200.0/7
		if *p.Hour != h || p.Samples != 7 || math.Abs(*p.Mean-want) > 1e-9 || *p.Max != float64(h)+100 {
			t.Errorf("hour %d: hour=%d samples=%d mean=%v max=%v, want 7 samples, mean %v, max %v", h, *p.Hour, p.Samples, *p.Mean, *p.Max, want, float64(h)+100)
		}
	}
	wantDays := []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	for i, p := range a.DayOfWeek {
		if p.Day != wantDays[i] || p.Samples != 24 {
			t.Errorf("day %d = %s with %d samples, want %s with 24", i, p.Day, p.Samples, wantDays[i])
			continue
		}
		// The window (end-7d, end] holds Monday 00:00 (end) as the
		// Monday's first hour and misses the previous Monday's 00:00:
		// every day still has 24 points but Monday's are 00:00 then 01-23
		// of a week earlier — the hour values are the same.
		want := 11.5
		if i >= 5 {
			want += 100
		}
		if math.Abs(*p.Mean-want) > 1e-9 {
			t.Errorf("%s mean = %v, want %v", p.Day, *p.Mean, want)
		}
	}
}

func TestWeekOverWeek(t *testing.T) {
	ps := hourly(14, func(t time.Time) float64 {
		if t.After(end.Add(-week)) {
			return 150
		}
		return 100
	})
	w := Analyze(ps, end, week, nil, "").WeekOverWeek
	if w.Change == nil || math.Abs(*w.Change-0.5) > 1e-12 || *w.ThisWeekMean != 150 || *w.LastWeekMean != 100 {
		t.Fatalf("week over week = %+v, want 150 vs 100, change 0.5", w)
	}
	if w.ThisWeekCoverage != 1 || w.LastWeekCoverage != 1 {
		t.Errorf("coverage %v / %v, want 1 / 1", w.ThisWeekCoverage, w.LastWeekCoverage)
	}
	// One week of data: no change to report.
	w = Analyze(hourly(7, func(time.Time) float64 { return 1 }), end, week, nil, "").WeekOverWeek
	if w.Change != nil || w.LastWeekMean != nil || w.LastWeekCoverage != 0 || w.Reason == "" {
		t.Errorf("one week: %+v, want no last week, no change and a reason", w)
	}
}

// TestWeekOverWeekNeedsCoverage: a week with only a few hours of data gives
// no change, with the reason (t-user3: two Friday-evening hours of last
// week against a whole week read "−33.1%").
func TestWeekOverWeekNeedsCoverage(t *testing.T) {
	this := hourly(7, func(time.Time) float64 { return 100 })
	lastTwo := []Point{{T: end.Add(-week - 2*time.Hour), V: 150}, {T: end.Add(-week - time.Hour), V: 150}}
	w := Analyze(append(lastTwo, this...), end, week, nil, "").WeekOverWeek
	if w.Change != nil || w.MinCoverage != WeekMinCoverage || !strings.Contains(w.Reason, "last week has 2 of its 168 hours") {
		t.Errorf("2 hours of last week: %+v, want no change and the reason", w)
	}
	// Last week whole, this week only 150 hours (89 %): still unknown.
	ps := hourly(14, func(time.Time) float64 { return 100 })
	ps = ps[:len(ps)-18]
	w = Analyze(ps, end, week, nil, "").WeekOverWeek
	if w.Change != nil || !strings.Contains(w.Reason, "this week has 150 of its 168 hours") {
		t.Errorf("150 hours of this week: %+v, want no change and the reason", w)
	}
	// 152 hours (90.5 %) of each: a change.
	ps = hourly(14, func(t time.Time) float64 {
		if t.After(end.Add(-week)) {
			return 150
		}
		return 100
	})
	all := ps
	ps = append(slices.Clone(all[16:168]), all[168+16:336]...)
	w = Analyze(ps, end, week, nil, "").WeekOverWeek
	if w.Change == nil || math.Abs(*w.Change-0.5) > 1e-12 || w.Reason != "" || w.ComparedHours != 152 {
		t.Errorf("152 hours of each week: %+v, want change 0.5 over 152 hours", w)
	}
	// 152 hours of each, but only 136 at the same hours of the week: no change.
	ps = append(slices.Clone(all[16:168]), all[168:168+152]...)
	w = Analyze(ps, end, week, nil, "").WeekOverWeek
	if w.Change != nil || !strings.Contains(w.Reason, "136 of its 168 hours") {
		t.Errorf("152 hours of each week, 136 of them alike: %+v, want no change and the reason", w)
	}
}

// TestWeekOverWeekSameHours: an hour left out of this week (partial: the
// demo's seam, a restart) is left out of last week too. The load follows
// the day (quiet nights, busy afternoons) and grew 1 % in the week; this
// week misses two night hours. Each week's mean over its own hours read
// the two quiet hours as growth (t-user18 F2: +1.45 % where the same
// hours gave +0.91 %); over the same hours it is the 1 %.
func TestWeekOverWeekSameHours(t *testing.T) {
	load := func(t time.Time) float64 {
		v := 1000.0
		if h := t.Hour(); h >= 12 && h < 20 {
			v = 8000
		}
		if t.After(end.Add(-week)) {
			v *= 1.01
		}
		return v
	}
	var ps []Point
	for _, p := range hourly(14, load) {
		if p.T.After(end.Add(-week)) && p.T.Hour() >= 2 && p.T.Hour() < 4 && p.T.Day() == end.Add(-time.Hour).Day() {
			continue // this week's two night hours, partial
		}
		ps = append(ps, p)
	}
	w := Analyze(ps, end, week, nil, "").WeekOverWeek
	if w.Change == nil || math.Abs(*w.Change-0.01) > 1e-12 || w.ComparedHours != 166 {
		t.Fatalf("week over week = %+v, want change 0.01 over 166 hours", w)
	}
}

func TestPeaksAreSeparated(t *testing.T) {
	ps := hourly(7, func(t time.Time) float64 { return 1 })
	// A busy afternoon (three high hours in a row) and two lone spikes.
	set := func(ago time.Duration, v float64) {
		for i := range ps {
			if ps[i].T.Equal(end.Add(-ago)) {
				ps[i].V = v
			}
		}
	}
	set(30*time.Hour, 50)
	set(31*time.Hour, 60)
	set(32*time.Hour, 55)
	set(80*time.Hour, 40)
	set(100*time.Hour, 70)
	got := Analyze(ps, end, week, nil, "").Peaks
	want := []Peak{
		{float64(end.Add(-100 * time.Hour).Unix()), 70},
		{float64(end.Add(-31 * time.Hour).Unix()), 60},
		{float64(end.Add(-80 * time.Hour).Unix()), 40},
	}
	if len(got) != MaxPeaks {
		t.Fatalf("peaks = %v, want %d", got, MaxPeaks)
	}
	for i, p := range want {
		if got[i] != p {
			t.Errorf("peak %d = %+v, want %+v", i, got[i], p)
		}
	}
	for _, p := range got[3:] {
		if p.Value != 1 {
			t.Errorf("later peak %+v, want a baseline hour (value 1)", p)
		}
	}
}

func TestForecast(t *testing.T) {
	f64 := func(v float64) *float64 { return &v }
	day := 24 * time.Hour
	// Free disk: 1000 GB falling 10 GB/day, exactly: full 100 days after end... minus what is left.
	falling := hourly(30, func(t time.Time) float64 { return 500 - 10*t.Sub(end).Hours()/24 })
	cases := []struct {
		name   string
		ps     []Point
		limit  *float64
		status string
		at     time.Time
	}{
		{"floor reached in 50 days", falling, f64(0), "approaching", end.Add(50 * day)},
		{"ceiling the falling line moves away from", falling, f64(1000), "not_approaching", time.Time{}},
		{"floor already passed", falling, f64(600), "reached", time.Time{}},
		{"no limit", falling, nil, "no_limit", time.Time{}},
		{"rising to a ceiling", hourly(14, func(t time.Time) float64 { return 80 + 2*t.Sub(end).Hours()/24 }), f64(100), "approaching", end.Add(10 * day)},
		// One threshold: two points an hour apart are too short a span,
		// as a day is (it said "a line needs 3 points", t-user5 #8).
		{"too few points", falling[:2], f64(0), "insufficient_history", time.Time{}},
		// 15 points a day and an hour apart span 350 h, but no hour of the
		// week has two values: no growth can be told from the profile.
		{"no hour of the week twice", sparse(falling, 25), f64(0), "insufficient_data", time.Time{}},
		{"one day of points", falling[len(falling)-25:], f64(0), "insufficient_history", time.Time{}},
		{"one week of points", falling[len(falling)-168:], f64(0), "insufficient_history", time.Time{}},
		{"two weeks of points", falling[len(falling)-336:], f64(0), "approaching", end.Add(50 * day)},
		// A missing edge hour does not refuse two weeks: the demo's 30d
		// history ends 1h10m before its live desk, so the hour before the
		// current one is empty and every 7d trend read "334 h of the 335 h
		// needed" (t-user6 #2).
		{"two weeks, the last hour missing", falling[len(falling)-336 : len(falling)-1], f64(0), "approaching", end.Add(50 * day)},
		{"two weeks, the first hour missing", falling[len(falling)-335:], f64(0), "approaching", end.Add(50 * day)},
		{"two weeks, 12 edge hours missing", falling[len(falling)-336+6 : len(falling)-6], f64(0), "approaching", end.Add(50 * day)},
		{"two weeks, 13 edge hours missing", falling[len(falling)-336+7 : len(falling)-6], f64(0), "insufficient_history", time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := Analyze(c.ps, end, 30*day, c.limit, "").Forecast
			if f.Status != c.status {
				t.Fatalf("status %q, want %q (%+v)", f.Status, c.status, f)
			}
			// The span fitted (or refused) is stated: first and last point.
			if span := c.ps[len(c.ps)-1].T.Sub(c.ps[0].T).Hours(); f.SpanHours != span || f.From != float64(c.ps[0].T.Unix()) || f.To != float64(c.ps[len(c.ps)-1].T.Unix()) || f.NeedHours != 323 {
				t.Errorf("span %v h (%v..%v), need %v; want %v h from the points, need 323 (335 less 12 at the edges)", f.SpanHours, f.From, f.To, f.NeedHours, span)
			}
			if f.Status == "insufficient_history" && (f.SlopePerDay != 0 || f.Current != 0 || f.R2 != 0 || !strings.Contains(f.Reason, "weekly cycle")) {
				t.Errorf("refused forecast carries a fit or no reason: %+v", f)
			}
			if f.Status == "insufficient_data" && (f.SlopePerDay != 0 || !strings.Contains(f.Reason, "two weeks")) {
				t.Errorf("refused forecast carries a fit or no reason: %+v", f)
			}
			if c.at.IsZero() {
				if f.ReachesAt != nil {
					t.Errorf("reaches_at %v, want null", *f.ReachesAt)
				}
				return
			}
			if f.ReachesAt == nil || math.Abs(*f.ReachesAt-float64(c.at.Unix())) > 1 {
				t.Fatalf("reaches_at %v, want %v", f.ReachesAt, c.at.Unix())
			}
			// An exact line: no error, and the bounds equal the estimate.
			if f.RMSE > 1e-9 || f.R2 < 1-1e-9 || *f.ReachesEarliest != *f.ReachesAt || *f.ReachesLatest != *f.ReachesAt {
				t.Errorf("exact line: rmse %v r2 %v bounds %v..%v", f.RMSE, f.R2, *f.ReachesEarliest, *f.ReachesLatest)
			}
		})
	}
}

func TestForecastErrorWidensTheBounds(t *testing.T) {
	i := 0
	noisy := hourly(30, func(t time.Time) float64 {
		i++
		return 500 - 10*t.Sub(end).Hours()/24 + float64(i%5-2)*5 // deterministic ±10 wiggle, not weekly (168 = 5·33 + 3)
	})
	zero := 0.0
	f := Analyze(noisy, end, 30*24*time.Hour, &zero, "").Forecast
	if f.Status != "approaching" || f.RMSE < 3 || f.RMSE > 10 || f.SlopeStdErr <= 0 {
		t.Fatalf("noisy forecast %+v", f)
	}
	if !(*f.ReachesEarliest < *f.ReachesAt && *f.ReachesAt < *f.ReachesLatest) {
		t.Errorf("bounds %v < %v < %v do not hold", *f.ReachesEarliest, *f.ReachesAt, *f.ReachesLatest)
	}
	if d := math.Abs(*f.ReachesAt-float64(end.Add(50*24*time.Hour).Unix())) / 86400; d > 2 {
		t.Errorf("reaches_at %.1f days off the true 50", d)
	}
}

// weekly is a desk's order rate: quiet weekends, a trading-hours hump on
// weekdays, AR(1) noise (φ 0.8, so neighbouring hours err together), plus
// growth per day from zero at end.
func weekly(from, to time.Time, growth float64) []Point {
	var ps []Point
	noise, seed := 0.0, uint64(17)
	for t := from.Add(time.Hour); !t.After(to); t = t.Add(time.Hour) {
		seed = seed*6364136223846793005 + 1442695040888963407
		u := float64(seed>>11)/float64(1<<53) - 0.5
		noise = 0.8*noise + 40*u
		v := 200.0
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			v = 800 + 600*math.Max(0, math.Sin(math.Pi*float64(t.Hour()-7)/10))
		}
		ps = append(ps, Point{T: t, V: v + noise + growth*t.Sub(to).Hours()/24})
	}
	return ps
}

// TestForecastWeeklyCycleIsNoTrend: t-user4 #2. A flat series with a
// strong weekly cycle, its window starting on a Friday night (weekend
// lows first, a weekday's peak last), read as growth by a plain line
// with independent errors (the old model here: 7d +132/day ± 11.1, R²
// 0.46; 30d +3.9/day ± 1.65, 2.4 s.e.). With one week it is unknown; with
// more the trend is within its error of 0 (30d: -0.14 ± 0.22); real
// growth still shows (30d: 19.9 ± 0.22 of 20).
func TestForecastWeeklyCycleIsNoTrend(t *testing.T) {
	fri := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC) // a Friday night
	if fri.Weekday() != time.Friday {
		t.Fatal(fri.Weekday())
	}
	week := 7 * 24 * time.Hour
	flat7 := weekly(fri.Add(-week), fri, 0)
	if f := Analyze(flat7, fri, week, nil, "").Forecast; f.Status != "insufficient_history" || f.SlopePerDay != 0 {
		t.Errorf("one week of a weekly cycle: %+v, want unknown (insufficient_history)", f)
	}
	// Two weeks less the last hour (the demo's empty hour before its live
	// desk, t-user6 #2) is fitted, and tells growth as the whole two weeks.
	grow14 := weekly(fri.Add(-2*week), fri, 20)
	for _, ps := range [][]Point{grow14, grow14[:len(grow14)-1], grow14[1:]} {
		f := Analyze(ps, fri, week, nil, "").Forecast
		if f.Status != "no_limit" || math.Abs(f.SlopePerDay-20) > 2*f.SlopeStdErr+1 {
			t.Errorf("two weeks of growth 20/day, %d hourly points: %s %v/day ± %v (1 s.e.), want fitted, 20 within 2 s.e.", len(ps), f.Status, f.SlopePerDay, f.SlopeStdErr)
		}
		t.Logf("growth 20/day, %d hourly points over %v h: %.3g/day ± %.3g (1 s.e.)", len(ps), f.SpanHours, f.SlopePerDay, f.SlopeStdErr)
	}
	flat30 := weekly(fri.Add(-30*24*time.Hour), fri, 0)
	for _, w := range []time.Duration{week, 30 * 24 * time.Hour} {
		f := Analyze(flat30, fri, w, nil, "").Forecast
		if f.Status != "no_limit" || math.Abs(f.SlopePerDay) > 2*f.SlopeStdErr || math.Abs(f.SlopePerDay) > 5 {
			t.Errorf("flat weekly cycle, window %v: %+v/day ± %v (1 s.e.), want within 2 s.e. of 0 and under 5/day", w, f.SlopePerDay, f.SlopeStdErr)
		}
		t.Logf("flat, window %v: %.3g/day ± %.3g (1 s.e.), R² %.3g, level %.4g", w, f.SlopePerDay, f.SlopeStdErr, f.R2, f.Current)
	}
	grow30 := weekly(fri.Add(-30*24*time.Hour), fri, 20)
	for _, w := range []time.Duration{week, 30 * 24 * time.Hour} {
		f := Analyze(grow30, fri, w, nil, "").Forecast
		if math.Abs(f.SlopePerDay-20) > 2*f.SlopeStdErr+1 || f.SlopePerDay < 3*f.SlopeStdErr {
			t.Errorf("growth 20/day, window %v: %v/day ± %v (1 s.e.), want 20 within 2 s.e., and significant", w, f.SlopePerDay, f.SlopeStdErr)
		}
		t.Logf("growth 20/day, window %v: %.3g/day ± %.3g (1 s.e.), R² %.3g", w, f.SlopePerDay, f.SlopeStdErr, f.R2)
	}
}

// TestProfilesSameMixOfDays: t-user18 F2's second half. The load depends
// on the day only (weekdays 6000, weekends 3000), flat over the hours of
// the day, so every hour of the day's mean is the same. A Sunday hour left
// out (partial: the demo's seam) made its slot the mean of Monday-Saturday,
// a bump above its neighbours; over 30 days ending mid-day the hours
// before the end held one more of some weekday than the hours after it, a
// step. Now each slot is over the same days: the slot missing Sunday has
// no mean and says so, the others are equal; the days are over the same
// hours of the day.
func TestProfilesSameMixOfDays(t *testing.T) {
	load := func(t time.Time) float64 {
		if wd := t.Add(-time.Hour).Weekday(); wd == time.Saturday || wd == time.Sunday {
			return 3000
		}
		return 6000
	}
	flat := 3000 + 3000*5.0/7
	// 7d window, Sunday 11:00-12:00 (the hour ending 12:00) partial.
	var ps []Point
	for _, p := range hourly(14, load) {
		if p.T.Equal(end.Add(-12 * time.Hour)) {
			p.Partial = true
		}
		ps = append(ps, p)
	}
	a := Analyze(ps, end, week, nil, "")
	for _, p := range a.HourOfDay {
		if *p.Hour == 12 {
			if p.Mean != nil || !slices.Equal(p.MissingDays, []string{"Sunday"}) || p.Samples != 6 {
				t.Errorf("hour ending 12:00 (no Sunday) = mean %v, missing %v, %d samples; want no mean, missing Sunday, 6 samples", deref(p.Mean), p.MissingDays, p.Samples)
			}
			continue
		}
		if p.Mean == nil || math.Abs(*p.Mean-flat) > 1e-9 {
			t.Errorf("hour ending %d:00 mean = %v, want %v", *p.Hour, deref(p.Mean), flat)
		}
	}
	if len(a.ProfileBasis.Days) != 7 || len(a.ProfileBasis.Hours) != 23 || slices.Contains(a.ProfileBasis.Hours, 11) {
		t.Errorf("basis = %+v, want the 7 days over the 23 hours but 11:00", a.ProfileBasis)
	}
	for _, p := range a.DayOfWeek {
		want := 6000.0
		if p.Day == "Saturday" || p.Day == "Sunday" {
			want = 3000
		}
		if p.Mean == nil || *p.Mean != want {
			t.Errorf("%s mean = %v, want %v", p.Day, deref(p.Mean), want)
		}
	}

	// 30d window ending at 13:00, every hour whole: no step at 13:00.
	end13 := end.Add(13 * time.Hour)
	ps = nil
	for t := end13.Add(-60*24*time.Hour + time.Hour); !t.After(end13); t = t.Add(time.Hour) {
		ps = append(ps, Point{T: t, V: load(t)})
	}
	a = Analyze(ps, end13, 30*24*time.Hour, nil, "")
	for _, p := range a.HourOfDay {
		if p.Mean == nil || math.Abs(*p.Mean-flat) > 1e-9 {
			t.Errorf("30d: hour ending %d:00 mean = %v, want %v", *p.Hour, deref(p.Mean), flat)
		}
	}
	for _, p := range a.DayOfWeek {
		if p.Mean == nil {
			t.Errorf("30d: %s has no mean (missing %v)", p.Day, p.MissingHours)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
