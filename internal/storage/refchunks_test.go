package storage

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// TestDecodedCacheByRefReadsWhatTheStoreHolds: chunks found in the
// decoded-sample cache by reference (refchunks.go) are the chunks the
// store holds now, read through one cache as the server reads:
//   - the same store's head read again (hits: nothing decoded twice), and
//     after appends;
//   - a block rewritten without deleted samples (CleanTombstones): its
//     first chunk has the old block's reference and time range, and other
//     samples, under a new ULID;
//   - a second store in the same process holding other samples under the
//     same series references, chunk ids and times (as a restart reads its
//     WAL again).
//
// Each read is compared with the store's own Querier, sample by sample.
// It fails with a key without the block (stale samples after the
// rewrite), without the store's id (the first store's samples for the
// second's) or with the open head chunk kept (stale after the appends).
func TestDecodedCacheByRefReadsWhatTheStoreHolds(t *testing.T) {
	ctx := context.Background()
	c := NewDecodedCache(64<<20, nil)
	lsets := []labels.Labels{labels.FromStrings("__name__", "a_total", "i", "0"), labels.FromStrings("__name__", "a_total", "i", "1")}
	both := []int{0, 1}
	write := func(st *TSDB, from, to int64, series []int, val func(i int, t int64) float64) {
		t.Helper()
		app := st.AppenderV2(ctx)
		for ts := from; ts < to; ts += 1000 {
			for _, i := range series {
				if _, err := app.Append(0, lsets[i], 0, ts, val(i, ts), nil, nil, storage.AOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(st *TSDB, what string, mint, maxt int64) {
		t.Helper()
		want, got := storeAndCache(t, c, st, mint, maxt, func(q storage.Querier) []sampleAt { return readAll(t, q, mint, maxt) })
		if !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("%s: the cache's read differs from the store's at sample %d of %d (%d read): %v, want %v",
				what, i, len(want), len(got), got[i:min(i+3, len(got))], want[i:min(i+3, len(want))])
		}
	}

	first, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// Chunks of 120 samples; a chunk ending in the head's last minute is
	// not kept (decodedFreshMs). Series 1 stops three minutes before series
	// 0 with 30 samples in its open chunk, which it is appended to later.
	val := func(i int, t int64) float64 { return float64(i*1_000_000) + float64(t)/1000 }
	write(first, 0, 1_110_000, both, val)
	write(first, 1_110_000, 1_300_000, []int{0}, val)
	first.MmapHeadChunks()
	check(first, "the head", 0, 1_300_000)
	hits, misses := c.Hits(), c.Misses()
	check(first, "the head again", 0, 1_300_000)
	if c.Misses() != misses || c.Hits() == hits {
		t.Fatalf("the head read again: %d chunks from the cache, %d decoded; want all from the cache", c.Hits()-hits, c.Misses()-misses)
	}
	write(first, 1_110_000, 1_150_000, []int{1}, val)
	check(first, "the head after appends to an open chunk", 0, 1_500_000)
	write(first, 1_300_000, 1_330_000, both, func(i int, t int64) float64 { return float64(i*1_000_000) + float64(t)/500 })
	check(first, "the head after appends", 0, 1_500_000)

	// A block, then the block rewritten without samples inside its
	// series' first chunk.
	if err := first.FlushHead(ctx); err != nil {
		t.Fatal(err)
	}
	check(first, "the block", 0, 1_500_000)
	hits = c.Hits()
	check(first, "the block again", 0, 1_500_000)
	if c.Hits() == hits {
		t.Fatal("the block read again: nothing from the cache")
	}
	if err := first.Delete(ctx, 30_000, 40_000, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a_total")); err != nil {
		t.Fatal(err)
	}
	check(first, "the block with tombstones", 0, 1_500_000)
	if err := first.CleanTombstones(); err != nil {
		t.Fatal(err)
	}
	check(first, "the block rewritten", 0, 1_500_000)

	// Another store: the same series in the same order, the same times,
	// other values.
	second, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	write(second, 0, 1_200_000, both, func(i int, t int64) float64 { return val(i, t) + 7 })
	second.MmapHeadChunks()
	check(second, "another store's head", 0, 1_200_000)
}

// sampleAt is a series' sample as readAll reads it.
type sampleAt struct {
	series string
	t      int64
	v      float64
}

// storeAndCache reads st over mint..maxt with read, once from the store and
// once through c (want, got), each querier closed after its read.
func storeAndCache(t *testing.T, c *DecodedCache, st *TSDB, mint, maxt int64, read func(storage.Querier) []sampleAt) (want, got []sampleAt) {
	t.Helper()
	var out [2][]sampleAt
	for i, qa := range []storage.Queryable{st, c.Queryable(st)} {
		q, err := qa.Querier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = read(q)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out[0], out[1]
}

// readAll is every float sample q holds over mint..maxt, series by series.
func readAll(t *testing.T, q storage.Querier, mint, maxt int64) []sampleAt {
	t.Helper()
	return readMatching(t, q, mint, maxt, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a_total"))
}

// readMatching is readAll of the series ms select.
func readMatching(t *testing.T, q storage.Querier, mint, maxt int64, ms ...*labels.Matcher) []sampleAt {
	t.Helper()
	out := readEach(t, q, mint, maxt, ms, func(series string, it chunkenc.Iterator, out []sampleAt) []sampleAt {
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			out = append(out, sampleAt{series: series, t: ts, v: v})
		}
		return out
	})
	if len(out) == 0 {
		t.Fatal(fmt.Errorf("nothing read over %d..%d", mint, maxt))
	}
	return out
}

// readEach selects the series ms match over mint..maxt and appends what
// read takes from each one's iterator, series by series, failing on an
// iterator's or the set's error.
func readEach(t *testing.T, q storage.Querier, mint, maxt int64, ms []*labels.Matcher,
	read func(series string, it chunkenc.Iterator, out []sampleAt) []sampleAt) []sampleAt {
	t.Helper()
	set := q.Select(context.Background(), true, &storage.SelectHints{Start: mint, End: maxt, Step: 1000}, ms...)
	var out []sampleAt
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		out = read(s.Labels().String(), it, out)
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecodedCacheLinksAreHints: the entry a chunk reader found after
// another (refChunkReader.find's link) is a hint only. Reads linked by
// earlier ones, then reads of other series in another order, over other
// ranges, and of a series with a chunk more between two linked entries,
// hold what the store holds; and once the cache evicts, no entry it holds
// is linked to one it dropped (whose samples would stay on the heap,
// outside the bound). It fails with a link followed without its key
// compared, or entries dropped with their links.
func TestDecodedCacheLinksAreHints(t *testing.T) {
	ctx := context.Background()
	c := NewDecodedCache(64<<20, nil)
	st, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	write := func(from, to int64, series ...int) {
		t.Helper()
		app := st.AppenderV2(ctx)
		for ts := from; ts < to; ts += 1000 {
			for _, i := range series {
				l := labels.FromStrings("__name__", "a_total", "i", fmt.Sprint(i))
				if _, err := app.Append(0, l, 0, ts, float64(i*1_000_000)+float64(ts)/1000, nil, nil, storage.AOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		st.MmapHeadChunks()
	}
	check := func(what string, mint, maxt int64, ms ...*labels.Matcher) {
		t.Helper()
		read := func(q storage.Querier) []sampleAt { return readMatching(t, q, mint, maxt, ms...) }
		if want, got := storeAndCache(t, c, st, mint, maxt, read); !slices.Equal(got, want) {
			t.Fatalf("%s: the cache's read (%d samples) differs from the store's (%d)", what, len(got), len(want))
		}
	}
	name := labels.MustNewMatcher(labels.MatchEqual, "__name__", "a_total")
	all := make([]int, 16)
	for i := range all {
		all[i] = i
	}
	write(0, 1_300_000, all...)
	for _, what := range []string{"decoded", "found and linked", "found by links"} {
		check(what, 0, 1_300_000, name)
	}
	misses := c.Misses()
	check("found by links again", 0, 1_300_000, name)
	if c.Misses() != misses {
		t.Fatalf("read again: %d chunks decoded", c.Misses()-misses)
	}
	check("other series", 0, 1_300_000, labels.MustNewMatcher(labels.MatchRegexp, "i", "1|3|12"))
	check("one series", 0, 1_300_000, labels.MustNewMatcher(labels.MatchEqual, "i", "2"))
	check("another range", 500_000, 900_000, labels.MustNewMatcher(labels.MatchRegexp, "i", "0|2"))
	check("all once more", 0, 1_300_000, name)
	write(1_300_000, 1_700_000, 0)
	check("a chunk more in series 0", 0, 1_700_000, name)
	check("a chunk more, read again", 0, 1_700_000, name)

	c.SetMaxBytes(c.Bytes() * 2 / 3)
	held, linked := 0, 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for _, d := range sh.ring {
			held++
			for _, l := range []*decodedChunk{d.next.Load(), d.prev.Load()} {
				if l == nil {
					continue
				}
				linked++
				if l.dead.Load() {
					sh.mu.Unlock()
					t.Fatalf("an entry held is linked to one dropped (key %+v)", l.key)
				}
			}
		}
		sh.mu.Unlock()
	}
	if held == 0 || linked == 0 {
		t.Fatalf("%d entries held, %d links: nothing checked", held, linked)
	}
}

// TestDecodedCacheOpenChunkIsolation: the head's open chunk, kept in the
// decoded-sample cache (DecodedCache.samplesOpen), is read as the store
// reads it by queriers opened before and after an append to it (the chunk
// kept before it), in either order: a querier opened before the append does not see its sample (nor
// keeps a chunk without it for later queriers), a later one does (not the
// samples kept before the append), and a read with nothing appended since
// takes the cache's entry. Each read is compared with the store's own
// Querier opened at the same moment. It fails with the entry handed out
// whatever the querier's isolation (the first querier reads the appended
// sample), with an entry kept from a read its isolation stopped short, or
// with the entry handed out without its bytes compared (the sample
// appended is missing).
func TestDecodedCacheOpenChunkIsolation(t *testing.T) {
	ctx := context.Background()
	lset := labels.FromStrings("__name__", "a_total", "i", "0")
	for _, firstReadsFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("first-reads-first=%v", firstReadsFirst), func(t *testing.T) {
			c := NewDecodedCache(64<<20, nil)
			st, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			write := func(from, to int64) {
				t.Helper()
				app := st.AppenderV2(ctx)
				for ts := from; ts < to; ts += 1000 {
					if _, err := app.Append(0, lset, 0, ts, float64(ts)/1000, nil, nil, storage.AOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			// open is a querier of the store and one through the cache,
			// opened now; read reads both and compares them.
			type pair struct{ store, cached storage.Querier }
			open := func() pair {
				t.Helper()
				var p pair
				var err error
				if p.store, err = st.Querier(0, 1<<40); err != nil {
					t.Fatal(err)
				}
				if p.cached, err = c.Queryable(st).Querier(0, 1<<40); err != nil {
					t.Fatal(err)
				}
				return p
			}
			read := func(what string, p pair, wantN int) {
				t.Helper()
				want, got := readAll(t, p.store, 0, 1<<40), readAll(t, p.cached, 0, 1<<40)
				if len(want) != wantN {
					t.Fatalf("%s: the store read %d samples, want %d", what, len(want), wantN)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: the cache's read holds %d samples (last %v), the store's %d (last %v)",
						what, len(got), got[len(got)-1], len(want), want[len(want)-1])
				}
			}
			write(0, 30_000) // 30 samples, all in the open chunk
			first := open()
			read("the open chunk", first, 30) // kept
			first.store.Close()
			first.cached.Close()
			before := open()
			defer before.store.Close()
			defer before.cached.Close()
			write(30_000, 31_000)
			after := open()
			defer after.store.Close()
			defer after.cached.Close()
			if firstReadsFirst {
				read("opened before the append", before, 30)
				read("opened after it", after, 31)
			} else {
				read("opened after the append", after, 31)
				read("opened before it", before, 30)
			}
			again := open()
			defer again.store.Close()
			defer again.cached.Close()
			hits, misses := c.Hits(), c.Misses()
			read("opened later", again, 31)
			if c.Hits() != hits+1 || c.Misses() != misses {
				t.Fatalf("the open chunk read again: %d hits, %d misses; want 1 hit", c.Hits()-hits, c.Misses()-misses)
			}
		})
	}
}

// TestDecodedCacheFreshChunkIsolation: a closed chunk ending in the last
// minute (decodedFreshMs) is kept, and handed out only to a querier that
// may read all of it. One commit appends a series' sample to its open
// chunk and the next sample, which cuts it (a 2 h range's edge): a querier
// opened before that commit may read neither, though the chunk holding
// the first is closed by the time it reads. Queriers opened before and
// after the commit are read in either order, each compared with the
// store's own querier opened at the same moment, and a querier opened
// later reads the chunk from the cache. It fails with the entry handed
// out whatever the querier's isolation (samplesFresh without the
// iterator's check, or a lookup by reference that does not pass fresh
// entries by: the early querier reads the sample), and on the code before
// samplesFresh (the chunk decoded again, not a hit).
func TestDecodedCacheFreshChunkIsolation(t *testing.T) {
	ctx := context.Background()
	lset := labels.FromStrings("__name__", "a_total", "i", "0")
	const edge = 2 * 3600 * 1000 // a 2 h range's end: the head cuts a chunk there
	for _, firstReadsFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("first-reads-first=%v", firstReadsFirst), func(t *testing.T) {
			c := NewDecodedCache(64<<20, nil)
			st, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			write := func(ts ...int64) {
				t.Helper()
				app := st.AppenderV2(ctx)
				for _, at := range ts {
					if _, err := app.Append(0, lset, 0, at, float64(at)/1000, nil, nil, storage.AOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			type pair struct{ store, cached storage.Querier }
			open := func() pair {
				t.Helper()
				var p pair
				var err error
				if p.store, err = st.Querier(0, 1<<40); err != nil {
					t.Fatal(err)
				}
				if p.cached, err = c.Queryable(st).Querier(0, 1<<40); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.store.Close(); p.cached.Close() })
				return p
			}
			read := func(what string, p pair, wantN int) {
				t.Helper()
				want, got := readAll(t, p.store, 0, 1<<40), readAll(t, p.cached, 0, 1<<40)
				if len(want) != wantN {
					t.Fatalf("%s: the store read %d samples, want %d", what, len(want), wantN)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: the cache's read holds %d samples (last %v), the store's %d (last %v)",
						what, len(got), got[len(got)-1], len(want), want[len(want)-1])
				}
			}
			var ts []int64
			for at := int64(edge - 200_000); at < edge; at += 1000 {
				ts = append(ts, at)
			}
			write(ts...) // 200 samples, the open chunk's
			before := open()
			write(edge-500, edge) // the first into that chunk, the second cuts it
			after := open()
			// The premise: the chunk holding edge-500 is closed, and ends
			// within the last minute.
			if maxts := chunkEnds(t, st); len(maxts) != 2 || maxts[0] != edge-500 || edge-maxts[0] >= decodedFreshMs {
				t.Fatalf("chunk ends %v, want a closed chunk ending at %d and the open one", maxts, edge-500)
			}
			if firstReadsFirst {
				read("opened before the commit", before, 200)
				read("opened after it", after, 202)
			} else {
				read("opened after the commit", after, 202)
				read("opened before it", before, 200)
			}
			again := open()
			hits, misses := c.Hits(), c.Misses()
			read("opened later", again, 202)
			// The closed chunk and the open one, from the cache.
			if c.Hits() != hits+2 || c.Misses() != misses {
				t.Fatalf("read again: %d hits, %d misses; want 2 hits", c.Hits()-hits, c.Misses()-misses)
			}
		})
	}
}

// chunkEnds is the MaxTime of each chunk of a_total's series as st's
// chunk querier lists them (the head's open chunk: math.MaxInt64).
func chunkEnds(t *testing.T, st *TSDB) []int64 {
	t.Helper()
	cq, err := st.ChunkQuerier(0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	defer cq.Close()
	set := cq.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a_total"))
	var out []int64
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() {
			out = append(out, it.At().MaxTime)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
