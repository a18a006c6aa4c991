package promeval

import (
	"math"
	"math/rand/v2"
	"testing"
)

// extrapolateDividing is Extrapolate as the engine's extrapolatedRate
// computes it: the zero point found by a division in every window.
func extrapolateDividing(e *Edges, result, firstF float64, isRate bool, rangeSeconds float64) float64 {
	durationToZero := e.durationToStart
	if result > 0 && firstF >= 0 {
		durationToZero = e.sampledInterval * (firstF / result)
	}
	if durationToZero < e.durationToStart {
		return result * factor(e.sampledInterval, durationToZero, e.durationToEnd, isRate, rangeSeconds)
	}
	return result * e.factor
}

// TestExtrapolateEqualsDivision: Extrapolate, which skips the division
// where zeroRatio shows the zero point at or before the window's start,
// answers what the division does, bit for bit: for first values and
// increases a few ulps either side of the zero point's edge
// (durationToZero = durationToStart), at zero, in the subnormal range,
// huge, infinite and NaN; for windows whose first sample is at their
// start, or their last at the first.
func TestExtrapolateEqualsDivision(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 42))
	odd := []float64{0, math.SmallestNonzeroFloat64, 1e-310, 0x1p-1000, 0x1p-999, 1e-300, 1e-200, 1e-9, 0.5, 1, 3,
		1e9, 1e300, math.MaxFloat64, math.Inf(1), math.NaN(), -1, -1e-310, math.Inf(-1)}
	checked, edge := 0, 0
	check := func(e *Edges, result, firstF float64, isRate bool, rangeSeconds float64) {
		t.Helper()
		got := e.Extrapolate(result, firstF, isRate, rangeSeconds)
		want := extrapolateDividing(e, result, firstF, isRate, rangeSeconds)
		if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Fatalf("edges %+v, result %v, first %v: %v, the division %v", *e, result, firstF, got, want)
		}
		checked++
	}
	for range 20000 {
		e := NewEdges()
		rangeMs := int64(1 + rng.IntN(600_000))
		firstT := int64(rng.IntN(int(rangeMs) + 1))
		lastT := firstT + int64(rng.IntN(int(rangeMs-firstT)+1))
		n := 1 + rng.IntN(200)
		if lastT == firstT {
			n = 1 // samples strictly in time order: one interval
		}
		isRate := rng.IntN(2) == 0
		rangeSeconds := float64(rangeMs) / 1000
		e.At(firstT, lastT, n, 0, rangeMs, isRate, rangeSeconds)
		// Around the edge: firstF / result = durationToStart / sampledInterval.
		for range 8 {
			result := []float64{rng.Float64() * 1000, math.Ldexp(rng.Float64(), rng.IntN(2000)-1000), odd[rng.IntN(len(odd))]}[rng.IntN(3)]
			ratio := e.durationToStart / e.sampledInterval
			firstF := result * ratio
			for k := rng.IntN(40); k > 0; k-- {
				if rng.IntN(2) == 0 {
					firstF = math.Nextafter(firstF, math.Inf(1))
				} else {
					firstF = math.Nextafter(firstF, math.Inf(-1))
				}
			}
			if e.sampledInterval*(firstF/result) < e.durationToStart != (e.sampledInterval*(math.Nextafter(firstF, math.Inf(1))/result) < e.durationToStart) {
				edge++ // the division's answer changes within an ulp of firstF
			}
			check(&e, result, firstF, isRate, rangeSeconds)
			check(&e, result, odd[rng.IntN(len(odd))], isRate, rangeSeconds)
			check(&e, odd[rng.IntN(len(odd))], firstF, isRate, rangeSeconds)
		}
	}
	if edge < 1000 {
		t.Fatalf("only %d of %d checks at the zero point's edge", edge, checked)
	}
}
