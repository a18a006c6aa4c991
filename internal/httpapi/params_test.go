package httpapi

import (
	"testing"
	"time"
)

func TestParseTimeAndDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.1234", time.Unix(1700000000, 123_000_000)},
		{"2024-11-24T20:00:00Z", time.Date(2024, 11, 24, 20, 0, 0, 0, time.UTC)},
		{"2024-11-24T20:00:00.5+01:00", time.Date(2024, 11, 24, 19, 0, 0, 500_000_000, time.UTC)},
	} {
		got, err := ParseTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseTime("soon"); err == nil {
		t.Error("ParseTime(soon): no error")
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"15", 15 * time.Second},
		{"0.25", 250 * time.Millisecond},
		{"1m30s", 90 * time.Second},
		{"2h", 2 * time.Hour},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "fast", "1e300", "NaN"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}
