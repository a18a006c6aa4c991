package sla

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Drain is what a firing burn-rate alert waits for once its errors have
// ended: it fires while its short window's error ratio is above the
// threshold, so it fires on until that window no longer holds them.
type Drain struct {
	// ErrorsEnded is the time of the newest raw sample of the indicator's
	// error counters that counted errors (it rose since the one before).
	ErrorsEnded time.Time
	// Clears is ErrorsEnded plus the short window: by then the window
	// holds none of those errors, and the alert resolves at its next
	// evaluation unless errors come back.
	Clears time.Time
}

// ErrorsEndedAnnotation is the annotation a burn-rate alert's
// notification carries when it is sent after its errors ended (Drain): when
// they did, in RFC 3339 (see Annotate).
const ErrorsEndedAnnotation = "errors_ended"

// Annotate amends as, the annotations of a firing burn-rate alert of short
// window short as sent to the notifier at at, for d, its newest errors
// with a later sample that counted none (Reporter.LastErrors at at). Its
// summary, rendered from the windows' burn, read "burns its error budget
// at least 14.4× faster …" as of now: the demo's page, sent 12 s after its
// errors stopped (the short window needs 5 minutes of data), read as a
// live incident. When they ended as Drain judges it (none counted for
// drainQuiet), it reads "burned …; its errors ended at 17:40:48 UTC, and
// the 5m window clears by 17:45:48 UTC", and ErrorsEndedAnnotation gives
// the end; before that (a pause in a burst is no end), "…; no errors
// counted after 17:40:48 UTC (read at 17:41:00 UTC): unless they come
// back, the 5m window clears by 17:45:48 UTC". Times are absolute: a
// notification may go out after its group_wait. The end is the second it
// fell in; "after" and "clears by" the next whole second (errors counted
// at 17:40:48.888 are counted after 17:40:48).
func (d Drain) Annotate(as model.LabelSet, short time.Duration, at time.Time) {
	clock := func(t time.Time) string { return t.UTC().Format(time.TimeOnly) }
	ceil := func(t time.Time) string { return clock(t.Add(time.Second - time.Nanosecond).Truncate(time.Second)) }
	sum, w := string(as["summary"]), FormatWindow(short)
	if at.Sub(d.ErrorsEnded) >= drainQuiet(short) {
		as[ErrorsEndedAnnotation] = model.LabelValue(d.ErrorsEnded.UTC().Format(time.RFC3339))
		sum = strings.Replace(sum, " burns its error budget", " burned its error budget", 1)
		as["summary"] = model.LabelValue(fmt.Sprintf("%s; its errors ended at %s UTC, and the %s window clears by %s UTC",
			sum, clock(d.ErrorsEnded), w, ceil(d.Clears)))
		return
	}
	as["summary"] = model.LabelValue(fmt.Sprintf("%s; no errors counted after %s UTC (read at %s UTC): unless they come back, the %s window clears by %s UTC",
		sum, ceil(d.ErrorsEnded), clock(at), w, ceil(d.Clears)))
}

// drainQuiet is how long no error must have been counted before errors
// are said to have ended: a pause between errors of an ongoing burst is
// no end. A tenth of the short window, at least 10s.
func drainQuiet(short time.Duration) time.Duration { return max(short/10, 10*time.Second) }

// Drain reports, for the burn-rate alert of SLA name with short window
// short firing at now, when its errors ended and when its short window
// drains them (see Drain): LastErrors, when no error was counted within
// drainQuiet(short) of now (false otherwise).
func (r *Reporter) Drain(ctx context.Context, name string, short time.Duration, now time.Time) (Drain, bool, error) {
	d, ok, err := r.LastErrors(ctx, name, short, now)
	if !ok || now.Sub(d.ErrorsEnded) < drainQuiet(short) {
		return Drain{}, false, err
	}
	return d, true, nil
}

// LastErrors reports, for the burn-rate alert of SLA name with short
// window short at now, when its newest errors were counted (ErrorsEnded)
// and when its short window drains them, however recent they are (a pause
// within a burst too; Drain judges whether they ended). It reads the raw
// samples of the indicator's error counters, so it is known for ratio
// indicators only (errors a counter of their own); false for the others,
// when the counter that counted the last ones has no sample since (not
// known that none came), or when no error was counted over the window.
func (r *Reporter) LastErrors(ctx context.Context, name string, short time.Duration, now time.Time) (Drain, bool, error) {
	var s *SLA
	for _, x := range r.SLAs() {
		if x.Name == name {
			s = &x
			break
		}
	}
	if s == nil || s.Indicator.Ratio == nil || short <= 0 || r.opts.Queryable == nil {
		return Drain{}, false, nil
	}
	ms, err := s.errorMatchers()
	if err != nil {
		return Drain{}, false, err
	}
	// A minute before the window: the sample before its first error.
	q, err := r.opts.Queryable.Querier(now.Add(-short-time.Minute).UnixMilli(), now.UnixMilli())
	if err != nil {
		return Drain{}, false, fmt.Errorf("read errors of sla %s: %w", name, err)
	}
	defer q.Close()
	var (
		last  int64 // the newest sample that counted errors, ms
		after = true
		it    chunkenc.Iterator
	)
	ss := q.Select(ctx, false, nil, ms...)
	for ss.Next() {
		it = ss.At().Iterator(it)
		var rose int64 // this series' newest sample that counted errors
		seen := false  // a sample of it after rose
		prev := math.NaN()
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				return Drain{}, false, nil // a histogram: not an error counter
			}
			t, v := it.At()
			if value.IsStaleNaN(v) || math.IsNaN(v) {
				continue
			}
			if !math.IsNaN(prev) && (v > prev || v < prev && v > 0) { // a rise, or a reset to some errors
				rose, seen = t, false
			} else if rose != 0 {
				seen = true
			}
			prev = v
		}
		if err := it.Err(); err != nil {
			return Drain{}, false, fmt.Errorf("read errors of sla %s: %w", name, err)
		}
		switch {
		case rose > last:
			last, after = rose, seen
		case rose != 0 && rose == last:
			after = after && seen
		}
	}
	if err := ss.Err(); err != nil {
		return Drain{}, false, fmt.Errorf("read errors of sla %s: %w", name, err)
	}
	if last == 0 || !after {
		return Drain{}, false, nil
	}
	ended := time.UnixMilli(last)
	return Drain{ErrorsEnded: ended, Clears: ended.Add(short)}, true, nil
}

// errorMatchers select a ratio indicator's error counters, as ErrorsRate
// reads them.
func (s SLA) errorMatchers() ([]*labels.Matcher, error) {
	if e := s.Indicator.Ratio.Errors; e != "" {
		ms, err := newParser().ParseMetricSelector(e)
		if err != nil {
			return nil, fmt.Errorf("sla %s errors %q: %w", s.Name, e, err)
		}
		return ms, nil
	}
	ms := []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, DefaultOrdersMetric),
		labels.MustNewMatcher(labels.MatchNotEqual, "result", "success"),
	}
	if s.Service != "" {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, "service", s.Service))
	}
	return ms, nil
}
