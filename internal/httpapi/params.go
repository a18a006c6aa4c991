package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// MinTime and MaxTime bound an open time range: the same instants Prometheus
// uses (and accepts, formatted, as parameters).
func MinTime() time.Time { return time.Unix(math.MinInt64/1000+62135596801, 0).UTC() }

// MaxTime is the upper bound of an open time range; see MinTime.
func MaxTime() time.Time { return time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC() }

// ParseTime parses a time parameter as Prometheus does: Unix seconds with an
// optional fraction (rounded to the millisecond) or RFC 3339.
func ParseTime(s string) (time.Time, error) {
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		sec, ns := math.Modf(t)
		ns = math.Round(ns*1000) / 1000
		return time.Unix(int64(sec), int64(ns*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// time.Parse handles only 4-digit years; accept the range bounds anyway.
	switch s {
	case MinTime().Format(time.RFC3339Nano):
		return MinTime(), nil
	case MaxTime().Format(time.RFC3339Nano):
		return MaxTime(), nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// ParseDuration parses a duration parameter as Prometheus does: seconds as
// a float ("15", "0.5") or a Prometheus duration ("1m30s", "2h").
func ParseDuration(s string) (time.Duration, error) {
	if d, err := strconv.ParseFloat(s, 64); err == nil {
		ts := d * float64(time.Second)
		if math.IsNaN(ts) || ts >= float64(math.MaxInt64) || ts < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ts), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

// TimeParam reads the named form value as a time, def when absent.
func TimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	t, err := ParseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time value for '%s': %w", name, err)
	}
	return t, nil
}
