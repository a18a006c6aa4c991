package bench

import (
	"math"
	"math/rand/v2"
	"testing"
)

// U counts the (base, new) pairs where the base value is greater, ties ½.
func TestCompareUStatistic(t *testing.T) {
	tests := []struct {
		name      string
		base, cur []float64
		wantU     float64
		wantP     float64 // -1: not checked
	}{
		// 3>2; 5>2, 5>4 → 3.
		{"interleaved", []float64{1, 3, 5}, []float64{2, 4, 6, 8}, 3, -1},
		// 1: 0; 2 vs 2: ½; 2 vs 2: ½; 5 > 2, 3, 4: 3 → 4.
		{"ties", []float64{1, 2, 2, 5}, []float64{2, 3, 4}, 4, -1},
		// Complete separation of 3+3: exact two-sided p = 2 / C(6,3) = 2/20.
		{"separated 3+3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.1},
		{"separated 3+3 mirrored", []float64{4, 5, 6}, []float64{1, 2, 3}, 9, 0.1},
		// 4+4: p = 2 / C(8,4) = 2/70.
		{"separated 4+4", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 0, 2.0 / 70},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare(tt.base, tt.cur, LowerIsBetter, 0.05, 0.05)
			if c.U != tt.wantU {
				t.Errorf("U = %v, want %v", c.U, tt.wantU)
			}
			if tt.wantP >= 0 && math.Abs(c.P-tt.wantP) > 1e-9 {
				t.Errorf("p = %v, want %v", c.P, tt.wantP)
			}
		})
	}
}

func TestCompareVerdicts(t *testing.T) {
	base := []float64{100, 101, 99, 100, 102, 98, 100, 101}
	slower := []float64{120, 121, 119, 120, 122, 118, 120, 121}
	c := Compare(base, slower, LowerIsBetter, 0.05, 0.05)
	if !c.Significant || !c.Regression || c.Improvement {
		t.Errorf("latency +20%%: %+v, want a significant regression", c)
	}
	if math.Abs(c.Change-0.2) > 1e-9 || c.Base.Median != 100 || c.New.Median != 120 {
		t.Errorf("change %v medians %v %v, want 0.2 100 120", c.Change, c.Base.Median, c.New.Median)
	}
	if !(c.ChangeLo > 0 && c.ChangeLo <= 0.2 && c.ChangeHi >= 0.2) {
		t.Errorf("change CI [%v, %v] does not bracket 0.2 above 0", c.ChangeLo, c.ChangeHi)
	}
	// Higher is better: the same move is an improvement.
	if c := Compare(base, slower, HigherIsBetter, 0.05, 0.05); c.Regression || !c.Improvement {
		t.Errorf("throughput +20%%: %+v, want an improvement", c)
	}
	// Significant but within the threshold: not flagged.
	slight := []float64{102, 103, 101, 102, 104, 100, 102, 103}
	if c := Compare(base, slight, LowerIsBetter, 0.05, 0.05); c.Regression {
		t.Errorf("+2%% with a 5%% threshold flagged: %+v", c)
	}
	// Too few samples can never be significant.
	if c := Compare([]float64{1, 2}, []float64{10, 20}, LowerIsBetter, 0.05, 0); c.Significant || c.Warning == "" {
		t.Errorf("2+2 samples: %+v, want not significant with a warning", c)
	}
	// Identical samples: no difference, no error.
	if c := Compare([]float64{5, 5, 5, 5, 5, 5}, []float64{5, 5, 5, 5, 5, 5}, LowerIsBetter, 0.05, 0); c.Significant || c.P != 1 {
		t.Errorf("identical: %+v", c)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{10, 1, 9, 2, 8, 3, 7, 4, 6, 5})
	if s.N != 10 || s.Median != 5.5 || !s.HasCI() || s.Lo > 5.5 || s.Hi < 5.5 || s.Lo < 1 || s.Hi > 10 {
		t.Errorf("Summarize(1..10) = %+v", s)
	}
	if s := Summarize([]float64{1, 2, 3, 4, 5}); s.HasCI() || s.PctRange() != "∞" {
		t.Errorf("5 samples have no finite CI at 95%%, got %+v", s)
	}
}

// sample draws n log-normal values around 100 with ~5% noise, scaled.
func sample(r *rand.Rand, n int, scale float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = scale * 100 * math.Exp(0.05*r.NormFloat64())
	}
	return xs
}

// A/A: samples from one distribution are flagged in < 5% of trials even with
// no threshold; a 10% shift is flagged in ≥ 95% of trials with the default
// 5% threshold.
func TestCompareFalseAndTruePositives(t *testing.T) {
	const trials, n = 200, 10
	r := rand.New(rand.NewPCG(1, 2))
	var aaFlagged, aaSignificant, shiftFlagged, tpsFlagged int
	for range trials {
		if c := Compare(sample(r, n, 1), sample(r, n, 1), LowerIsBetter, 0.05, 0); c.Regression {
			aaFlagged++
		}
		if c := Compare(sample(r, n, 1), sample(r, n, 1), LowerIsBetter, 0.05, 0); c.Significant {
			aaSignificant++
		}
		if c := Compare(sample(r, n, 1), sample(r, n, 1.10), LowerIsBetter, 0.05, 0.05); c.Regression {
			shiftFlagged++
		}
		if c := Compare(sample(r, n, 1), sample(r, n, 0.90), HigherIsBetter, 0.05, 0.05); c.Regression {
			tpsFlagged++
		}
	}
	t.Logf("A/A flagged %d/%d, A/A significant either way %d/%d, +10%% latency flagged %d/%d, -10%% TPS flagged %d/%d",
		aaFlagged, trials, aaSignificant, trials, shiftFlagged, trials, tpsFlagged, trials)
	if aaFlagged > trials*5/100 {
		t.Errorf("A/A: %d of %d trials flagged a regression, want ≤ 5%%", aaFlagged, trials)
	}
	if aaSignificant > trials*8/100 {
		t.Errorf("A/A: %d of %d trials significant at α=0.05, want about 5%%", aaSignificant, trials)
	}
	if shiftFlagged < trials*95/100 || tpsFlagged < trials*95/100 {
		t.Errorf("10%% shift flagged in %d and %d of %d trials, want ≥ 95%%", shiftFlagged, tpsFlagged, trials)
	}
}
