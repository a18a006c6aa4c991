// Package promeval is the PromQL engine's arithmetic that gmc's direct
// evaluations (internal/query's sum by rate over raw data, internal/tier's
// panels over the tiers) repeat outside the engine, written once for both:
// the query shape they take (ParseShape), the engine's grouping of series
// (Groups), its aggregation per step (Agg: sum, avg, max, min) and the
// matrix it answers (Matrix), rate's extrapolation (Edges), its
// counter-name note (CounterName, NoteCounter) and the engine's errors for
// an ended context. The same operations in the same order as the engine's
// (Prometheus v0.316's aggregation and extrapolatedRate), so the same
// bits; checked against the engine by both callers' tests
// (TestDirectEqualsEngine, TestPanelEqualsEngine).
package promeval

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/prometheus/prometheus/promql"
)

// Edges is a rate window's extrapolation: the spans from the window's start
// to its first sample and from its last sample to its end (each capped at
// half the mean interval when longer than 1.1 of it), the interval the
// samples span, and the factor the increase is multiplied by unless the
// counter's zero point is nearer than the window's start. Kept from window
// to window while they are the same (regularly spaced samples), which
// leaves a division per window, and none where the counter's zero point is
// far before the window's start (zeroRatio). The zero Edges is not valid:
// use NewEdges.
type Edges struct {
	toStart, toEnd, toFirst int64 // ms: the window's start to its first sample, last sample to its end; samples - 1
	durationToStart         float64
	durationToEnd           float64
	sampledInterval         float64
	factor                  float64
	// zeroRatio: a first value at or above the increase times this (an
	// increase of minZeroIncrease or more) puts the counter's zero point
	// at or before the window's start, as the engine's division would
	// find it; NaN where no value does (Extrapolate divides).
	zeroRatio float64
}

// minZeroIncrease: a smaller increase divides. With zeroRatio at least
// 2⁻⁹⁰⁰, their product is at least 2⁻¹⁰⁰⁰, a normal float (rounding in
// the subnormal range is not relative).
const minZeroIncrease = 0x1p-100

// NewEdges returns Edges set for no window.
func NewEdges() Edges { return Edges{toFirst: -1} }

// Same says whether At for these edges would leave e as it is (the last
// window's edges: a window's edges most often are). Inlined, where At is
// a call (3.6 % of the raw 1 s query's CPU profile in BenchmarkRawHourPath,
// most of it for edges it left as they were).
func (e *Edges) Same(firstT, lastT int64, numSamplesMinusOne int, rangeStart, rangeEnd int64) bool {
	return e.toStart == firstT-rangeStart && e.toEnd == rangeEnd-lastT && e.toFirst == int64(numSamplesMinusOne)
}

// At sets e for a window (rangeStart, rangeEnd] whose first sample is at
// firstT and last at lastT, numSamplesMinusOne after the first.
func (e *Edges) At(firstT, lastT int64, numSamplesMinusOne int, rangeStart, rangeEnd int64, isRate bool, rangeSeconds float64) {
	if e.Same(firstT, lastT, numSamplesMinusOne, rangeStart, rangeEnd) {
		return
	}
	e.toStart, e.toEnd, e.toFirst = firstT-rangeStart, rangeEnd-lastT, int64(numSamplesMinusOne)
	durationToStart := float64(firstT-rangeStart) / 1000
	durationToEnd := float64(rangeEnd-lastT) / 1000
	sampledInterval := float64(lastT-firstT) / 1000
	averageDurationBetweenSamples := sampledInterval / float64(numSamplesMinusOne)
	extrapolationThreshold := averageDurationBetweenSamples * 1.1
	if durationToStart >= extrapolationThreshold {
		durationToStart = averageDurationBetweenSamples / 2
	}
	if durationToEnd >= extrapolationThreshold {
		durationToEnd = averageDurationBetweenSamples / 2
	}
	e.durationToStart, e.durationToEnd, e.sampledInterval = durationToStart, durationToEnd, sampledInterval
	e.factor = factor(sampledInterval, durationToStart, durationToEnd, isRate, rangeSeconds)
	e.zeroRatio = zeroRatio(durationToStart, sampledInterval)
}

// zeroRatio is Edges.zeroRatio for a window whose first sample is
// durationToStart after its start and whose samples span sampledInterval.
//
// Extrapolate's engine arithmetic finds durationToZero =
// fl(sampledInterval · fl(firstF / result)) and compares it with
// durationToStart. Let D = fl(durationToStart / sampledInterval), and
// Q = fl(D · (1 + 2⁻⁴⁰)): as reals Q ≥ D (1 + 2⁻⁴⁰)(1 − 2⁻⁵³) ≥
// (durationToStart / sampledInterval)(1 + 2⁻⁴⁰)(1 − 2⁻⁵³)² > durationToStart /
// sampledInterval, so fl(sampledInterval · Q) ≥ durationToStart
// (rounding to nearest is monotonic and durationToStart is a float); and
// for every fl(firstF / result) ≥ Q, durationToZero ≥ that ≥
// durationToStart: no zero point inside. fl(firstF / result) ≥ Q holds
// where firstF ≥ Q · result as reals, which firstF ≥ fl(zeroRatio · result)
// with zeroRatio = fl(Q · (1 + 2⁻⁴⁰)) ensures (the product rounded down by
// 2⁻⁵³ at most, when normal: minZeroIncrease). A ratio under 2⁻⁹⁰⁰ or over
// 2⁹⁰⁰ is NaN: Extrapolate divides, as before.
func zeroRatio(durationToStart, sampledInterval float64) float64 {
	if !(durationToStart > 0 && sampledInterval > 0) {
		return math.NaN()
	}
	d := durationToStart / sampledInterval
	if !(d >= 0x1p-900 && d <= 0x1p900) {
		return math.NaN()
	}
	return d * (1 + 0x1p-40) * (1 + 0x1p-40)
}

// Extrapolate is the increase result between a window's first sample (of
// value firstF) and its last, extrapolated to the window's edges e as the
// engine's extrapolatedRate does.
func (e *Edges) Extrapolate(result, firstF float64, isRate bool, rangeSeconds float64) float64 {
	// The zero point well before the start (zeroRatio; then result > 0
	// and firstF > 0): no division (a seventh of the 1 s query's CPU in
	// BenchmarkRawHourPath), and inlined.
	if result >= minZeroIncrease && firstF >= result*e.zeroRatio {
		return result * e.factor
	}
	return e.extrapolate(result, firstF, isRate, rangeSeconds)
}

// extrapolate is Extrapolate with the engine's division (not inlined,
// which leaves Extrapolate small enough to be).
//
//go:noinline
func (e *Edges) extrapolate(result, firstF float64, isRate bool, rangeSeconds float64) float64 {
	if result > 0 && firstF >= 0 {
		if durationToZero := e.sampledInterval * (firstF / result); durationToZero < e.durationToStart {
			return result * factor(e.sampledInterval, durationToZero, e.durationToEnd, isRate, rangeSeconds)
		}
	}
	return result * e.factor
}

// factor is what extrapolatedRate multiplies the increase by.
func factor(sampledInterval, durationToStart, durationToEnd float64, isRate bool, rangeSeconds float64) float64 {
	factor := 1.0
	if sampledInterval != 0 {
		factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval
	}
	if isRate {
		factor /= rangeSeconds
	}
	return factor
}

// CounterName says whether the engine takes a metric of this name for a
// counter (else rate and increase note that it might not be one).
func CounterName(name string) bool {
	return strings.HasSuffix(name, "_total") || strings.HasSuffix(name, "_sum") ||
		strings.HasSuffix(name, "_count") || strings.HasSuffix(name, "_bucket")
}

// ContextErr is the engine's error for a query whose context ended during
// env, or nil.
func ContextErr(ctx context.Context, env string) error {
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return promql.ErrQueryTimeout(env)
	default:
		return promql.ErrQueryCanceled(env)
	}
}
