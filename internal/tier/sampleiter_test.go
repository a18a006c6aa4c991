package tier

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestSampleIteratorAsListIterator: sampleIterator answers every call as
// storage.NewListSeriesIterator over the same samples (floats, staleness
// markers, float histograms, repeated times), over random sequences of
// Next and Seek (back, onto a sample, between samples, past the end; near
// and far, past its linear probe), and on an empty list.
func TestSampleIteratorAsListIterator(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for round := range 300 {
		var s sampleList
		tm := int64(rng.IntN(100))
		for range rng.IntN(60) {
			tm += int64(rng.IntN(3)) * 10 // a step of 0: a repeated time
			x := sample{t: tm, f: rng.Float64() * 100}
			switch rng.IntN(10) {
			case 0:
				x.f = math.Float64frombits(value.StaleNaN)
			case 1:
				x.fh = &histogram.FloatHistogram{Count: x.f, Sum: x.f}
			}
			s = append(s, x)
		}
		want, got := storage.NewListSeriesIterator(s), newSampleIterator(s)
		for step := range 80 {
			var wv, gv chunkenc.ValueType
			if rng.IntN(2) == 0 {
				wv, gv = want.Next(), got.Next()
			} else {
				to := int64(rng.IntN(int(tm) + 50))
				wv, gv = want.Seek(to), got.Seek(to)
			}
			if wv != gv {
				t.Fatalf("round %d step %d: value type %v, want %v", round, step, gv, wv)
			}
			if wv == chunkenc.ValNone {
				continue
			}
			wt, wf := want.At()
			gt, gf := got.At()
			if wt != gt || math.Float64bits(wf) != math.Float64bits(gf) || want.AtT() != got.AtT() || want.AtST() != got.AtST() {
				t.Fatalf("round %d step %d: At %d %v (AtT %d), want %d %v (AtT %d)", round, step, gt, gf, got.AtT(), wt, wf, want.AtT())
			}
			_, wfh := want.AtFloatHistogram(nil)
			_, gfh := got.AtFloatHistogram(nil)
			_, wh := want.AtHistogram(nil)
			_, gh := got.AtHistogram(nil)
			if wfh != gfh || wh != gh {
				t.Fatalf("round %d step %d: histograms %p %p, want %p %p", round, step, gfh, gh, wfh, wh)
			}
		}
		if want.Err() != nil || got.Err() != nil {
			t.Fatalf("round %d: errors %v, %v", round, got.Err(), want.Err())
		}
	}
}
