package tier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"

	"github.com/gmc-dev/gmc/internal/storage"
)

// A tier is read chunk by chunk (storage.ChunkSet over the ChunkQuerier):
// the same samples as the TSDB's Querier gives, over blocks, the head,
// out-of-order samples overlapping a block, deleted spans, and ranges that
// cut chunks; Seek as chunkenc.Iterator's. The tier's part and the raw
// part past the watermark are read one after the other (concatSet).
func TestChunkReadAsQuerier(t *testing.T) {
	ctx := context.Background()
	db, _ := openRaw(t, storage.Options{OutOfOrderWindow: 24 * time.Hour})
	put := func(from, to, every time.Duration, v float64) {
		t.Helper()
		app := db.AppenderV2(ctx)
		for i := range 3 {
			l := labels.FromStrings("__name__", "x", "i", fmt.Sprint(i))
			for ts := t0.Add(from); ts.Before(t0.Add(to)); ts = ts.Add(every) {
				if _, err := app.Append(0, l, 0, ts.UnixMilli()+int64(i), v+float64(ts.Unix()%97), nil, nil, promstorage.AOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put(0, 6*time.Hour, time.Minute, 0)
	if err := db.FlushHead(ctx); err != nil { // a block
		t.Fatal(err)
	}
	put(6*time.Hour, 9*time.Hour, time.Minute, 0)                     // the head
	put(5*time.Hour+30*time.Second, 7*time.Hour, 7*time.Minute, 1000) // out of order, over the block and the head
	x1 := labels.MustNewMatcher(labels.MatchEqual, "i", "1")
	if err := db.Delete(ctx, t0.Add(2*time.Hour).UnixMilli(), t0.Add(3*time.Hour).UnixMilli(), x1); err != nil {
		t.Fatal(err)
	}
	type pt struct {
		t int64
		f float64
	}
	read := func(set promstorage.SeriesSet) map[string][]pt {
		t.Helper()
		out := map[string][]pt{}
		for set.Next() {
			s := set.At()
			it := s.Iterator(nil)
			for it.Next() == chunkenc.ValFloat {
				ts, f := it.At()
				if it.AtT() != ts {
					t.Fatalf("AtT %d, At %d", it.AtT(), ts)
				}
				out[s.Labels().String()] = append(out[s.Labels().String()], pt{ts, f})
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := set.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ms := labels.MustNewMatcher(labels.MatchEqual, "__name__", "x")
	for _, r := range [][2]time.Duration{{0, 10 * time.Hour}, {90*time.Minute + time.Second, 5*time.Hour + 31*time.Second}, {2*time.Hour + 30*time.Minute, 6*time.Hour + 17*time.Minute}} {
		mint, maxt := t0.Add(r[0]).UnixMilli(), t0.Add(r[1]).UnixMilli()
		hints := &promstorage.SelectHints{Start: mint, End: maxt}
		q, err := db.Querier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		want := read(q.Select(ctx, true, hints, ms))
		q.Close()
		cq, err := db.ChunkQuerier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		ch := *hints
		ch.DisableTrimming = true
		got := read(storage.ChunkSet(cq.Select(ctx, true, &ch, ms), mint, maxt))
		if len(want) != 3 || len(got) != len(want) {
			t.Fatalf("%v: %d series chunk by chunk, %d from the Querier", r, len(got), len(want))
		}
		for l, w := range want {
			g := got[l]
			if len(g) != len(w) {
				t.Fatalf("%v %s: %d samples chunk by chunk, %d from the Querier", r, l, len(g), len(w))
			}
			for i := range w {
				if g[i] != w[i] {
					t.Fatalf("%v %s: sample %d %v chunk by chunk, %v from the Querier", r, l, i, g[i], w[i])
				}
			}
		}
		// Seek, as on every chunkenc.Iterator: the first sample at or after
		// t, not moving back.
		set := storage.ChunkSet(cq.Select(ctx, true, &ch, ms), mint, maxt)
		for set.Next() {
			w := want[set.At().Labels().String()]
			it := set.At().Iterator(nil)
			for _, k := range []int{3, 3, 50, len(w) - 1} {
				if it.Seek(w[k].t-1) != chunkenc.ValFloat || it.AtT() != w[k].t {
					t.Fatalf("%v: Seek(%d) at %d, want %d", r, w[k].t-1, it.AtT(), w[k].t)
				}
			}
			if it.Seek(w[0].t) != chunkenc.ValFloat || it.AtT() != w[len(w)-1].t {
				t.Fatalf("%v: a Seek back moved to %d", r, it.AtT())
			}
			if it.Seek(maxt+1) != chunkenc.ValNone || it.Next() != chunkenc.ValNone {
				t.Fatalf("%v: a Seek past the end found a sample", r)
			}
		}
		cq.Close()
	}
	// concatSet: series in both sets are a's samples, then b's after them.
	s := func(l string, ts ...int64) promstorage.Series {
		var ss []chunks.Sample
		for _, x := range ts {
			ss = append(ss, sample{t: x, f: float64(x)})
		}
		return promstorage.NewListSeries(labels.FromStrings("i", l), ss)
	}
	c := &concatSet{
		a: &listSet{series: []promstorage.Series{s("a", 1, 2), s("c", 1, 5)}, i: -1},
		b: &listSet{series: []promstorage.Series{s("b", 3), s("c", 5, 6, 7), s("d", 9)}, i: -1},
	}
	got := read(c)
	want := map[string][]pt{`{i="a"}`: {{1, 1}, {2, 2}}, `{i="b"}`: {{3, 3}}, `{i="c"}`: {{1, 1}, {5, 5}, {6, 6}, {7, 7}}, `{i="d"}`: {{9, 9}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("concatSet read %v, want %v", got, want)
	}
}
