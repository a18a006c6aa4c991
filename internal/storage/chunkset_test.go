package storage

import (
	"context"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestNextFloatsReadsWhatNextReads: a series read a run at a time
// (NextFloats, then Next where it hands out none, as internal/query's
// direct evaluation reads) holds the samples Next reads one by one, over
// ranges ending inside a chunk, on a chunk's last sample, a millisecond
// before and after it, and past the data, starting likewise; the chunks
// decoded into the cache, then read from it. It fails with a chunk's
// samples handed out whole wherever its first is in range.
func TestNextFloatsReadsWhatNextReads(t *testing.T) {
	ctx := context.Background()
	st, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lsets := []labels.Labels{labels.FromStrings("__name__", "a_total", "i", "0"), labels.FromStrings("__name__", "a_total", "i", "1")}
	app := st.AppenderV2(ctx)
	for ts := int64(0); ts < 1_500_000; ts += 1000 {
		for i, l := range lsets {
			v := float64(ts/1000) * float64(i+1)
			if i == 1 && ts%700_000 < 100_000 {
				v = float64(ts % 7) // drops: not rising
			}
			if _, err := app.Append(0, l, 0, ts, v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	st.MmapHeadChunks()
	c := NewDecodedCache(64<<20, nil)
	// Chunks of 120 samples: the first ends at 119 s, the second at 239 s.
	edges := []int64{0, 1, 59_000, 118_999, 119_000, 119_001, 120_000, 239_000, 600_500, 1_499_000, 1_600_000}
	for _, mint := range []int64{0, 1, 119_000, 119_001, 200_000} {
		for _, maxt := range edges {
			if maxt/1000*1000 < mint { // no sample in range
				continue
			}
			plain, err := st.Querier(mint, maxt)
			if err != nil {
				t.Fatal(err)
			}
			want := readAll(t, plain, mint, maxt)
			plain.Close()
			for range 2 { // decoded, then from the cache
				cached, err := c.Queryable(st).Querier(mint, maxt)
				if err != nil {
					t.Fatal(err)
				}
				got := readRuns(t, cached, mint, maxt)
				cached.Close()
				if !slices.Equal(got, want) {
					t.Fatalf("over %d..%d: %d samples read a run at a time, %d one by one", mint, maxt, len(got), len(want))
				}
			}
		}
	}
}

// readRuns is readAll, each series read a run at a time (NextFloats)
// where its iterator hands runs out, else by Next.
func readRuns(t *testing.T, q storage.Querier, mint, maxt int64) []sampleAt {
	t.Helper()
	runs := 0
	out := readEach(t, q, mint, maxt, []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "a_total")},
		func(series string, it chunkenc.Iterator, out []sampleAt) []sampleAt {
			r, ok := it.(interface {
				NextFloats() ([]int64, []float64, bool, bool)
			})
			if !ok {
				t.Fatalf("%T hands out no runs", it)
			}
			for {
				if ts, fs, _, _ := r.NextFloats(); len(ts) > 0 {
					runs++
					for i := range ts {
						out = append(out, sampleAt{series: series, t: ts[i], v: fs[i]})
					}
					continue
				}
				if it.Next() != chunkenc.ValFloat {
					return out
				}
				ts, v := it.At()
				out = append(out, sampleAt{series: series, t: ts, v: v})
			}
		})
	if runs == 0 {
		t.Fatalf("over %d..%d: no run read", mint, maxt)
	}
	return out
}
