package e2e

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// sameResult reports how got differs from want: result type, label sets,
// timestamps and values (equal within relTol relative difference; NaN equals
// NaN, infinities must match exactly). It names at most a few differences.
func sameResult(want, got result, relTol float64) error {
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < 8 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	if want.Type != got.Type {
		add("result type %s, want %s", got.Type, want.Type)
	}
	wantByKey := map[string]series{}
	for _, s := range want.Series {
		wantByKey[s.key()] = s
	}
	gotByKey := map[string]series{}
	for _, s := range got.Series {
		gotByKey[s.key()] = s
	}
	for k := range wantByKey {
		if _, ok := gotByKey[k]; !ok {
			add("missing series %s", k)
		}
	}
	for k, gs := range gotByKey {
		ws, ok := wantByKey[k]
		if !ok {
			add("unexpected series %s %v", k, gs.Points)
			continue
		}
		if len(ws.Points) != len(gs.Points) {
			add("series %s: %d points, want %d (got %v, want %v)", k, len(gs.Points), len(ws.Points), abbrev(gs.Points), abbrev(ws.Points))
			continue
		}
		for i := range ws.Points {
			w, g := ws.Points[i], gs.Points[i]
			if w.T != g.T || !floatsEqual(w.V, g.V, relTol) || !histsEqual(w.H, g.H, relTol) {
				add("series %s point %d: %v, want %v", k, i, g, w)
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return errors.New(strings.Join(diffs, "; "))
}

func floatsEqual(a, b, relTol float64) bool {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return math.IsNaN(a) && math.IsNaN(b)
	case math.IsInf(a, 0) || math.IsInf(b, 0):
		return a == b
	case a == b:
		return true
	}
	return math.Abs(a-b) <= relTol*math.Max(math.Abs(a), math.Abs(b))
}

func histsEqual(a, b *histPoint, relTol float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if !floatsEqual(a.Count, b.Count, relTol) || !floatsEqual(a.Sum, b.Sum, relTol) || len(a.Buckets) != len(b.Buckets) {
		return false
	}
	for i, x := range a.Buckets {
		y := b.Buckets[i]
		if x.Rule != y.Rule || !floatsEqual(x.Lower, y.Lower, relTol) || !floatsEqual(x.Upper, y.Upper, relTol) || !floatsEqual(x.Count, y.Count, relTol) {
			return false
		}
	}
	return true
}

func abbrev(ps []point) string {
	if len(ps) <= 4 {
		return fmt.Sprint(ps)
	}
	return fmt.Sprintf("%v … %v", ps[:2], ps[len(ps)-2:])
}

func TestSameResult(t *testing.T) {
	vec := func(v float64, t int64, ls ...string) result {
		m := map[string]string{}
		for i := 0; i+1 < len(ls); i += 2 {
			m[ls[i]] = ls[i+1]
		}
		return result{Type: "vector", Series: []series{{Labels: m, Points: []point{{T: t, V: v}}}}}
	}
	base := vec(1.5, 1000, "a", "x")
	for _, tc := range []struct {
		name string
		got  result
		same bool
	}{
		{"identical", vec(1.5, 1000, "a", "x"), true},
		{"within tolerance", vec(1.5*(1+1e-12), 1000, "a", "x"), true},
		{"value", vec(1.5001, 1000, "a", "x"), false},
		{"timestamp", vec(1.5, 2000, "a", "x"), false},
		{"label value", vec(1.5, 1000, "a", "y"), false},
		{"extra label", vec(1.5, 1000, "a", "x", "b", "z"), false},
		{"type", result{Type: "matrix", Series: base.Series}, false},
		{"empty", result{Type: "vector"}, false},
		{"NaN against number", vec(math.NaN(), 1000, "a", "x"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sameResult(base, tc.got, 1e-9)
			if (err == nil) != tc.same {
				t.Errorf("sameResult = %v, want same=%v", err, tc.same)
			}
		})
	}
	nan := vec(math.NaN(), 1000)
	if err := sameResult(nan, vec(math.NaN(), 1000), 0); err != nil {
		t.Errorf("NaN against NaN: %v", err)
	}
}
