package storage

import (
	"bytes"
	"context"
	"math"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// DecodedCache keeps the decoded samples of raw float chunks across
// queries: a range query over an hour of 1 s data spends 110–170 ms of CPU
// decoding it, again at every refresh or repeat (bench/history repeats
// its queries with nocache=1; the step cache keeps answers, not samples).
//
// A chunk of gmc's TSDB is found by reference before it is read (its
// block, its reference and time range: refchunks.go); any other (a chunk
// the querier re-encoded, another store's) by its content: the hash of
// its bytes, then the bytes themselves compared (a copy is kept beside
// its samples). Whatever changes what a query would read changes the
// chunks the TSDB's ChunkQuerier hands out, so nothing is ever
// invalidated by hand: an append changes the open head chunk's bytes
// (its entry is handed out for the same bytes only: samplesOpen), an
// out-of-order write is merged into a chunk re-encoded for the
// query, a delete (tombstones) has the querier re-encode the chunks it
// cuts, and compaction writes the same samples into new blocks. Chunks no
// longer read age out (second-chance eviction: evict). Found by content,
// two series whose chunks hold the same bytes share their entry (the same
// bytes decode to the same samples).
//
// The cache is bounded in bytes (the samples' and the chunk's bytes by
// the slices' capacities, and an entry's overhead); SetMaxBytes changes the bound while
// queries run (0 turns it off: queries read as before).
//
// Its entries are spread over decodedShards shards by hash, each with its
// own lock, clock and a 1/decodedShards share of the bound: a query
// decoding on two goroutines (query.direct) spent a tenth of its CPU
// waiting for one lock.
type DecodedCache struct {
	max    atomic.Int64
	shards [decodedShards]decodedShard

	hits, misses atomic.Uint64
}

// decodedShards is how many shards a DecodedCache's entries are spread over.
const decodedShards = 16

// decodedShard is a share of a DecodedCache's entries.
type decodedShard struct {
	mu      sync.Mutex
	bytes   int64
	entries map[uint64]*decodedChunk // by content hash, or key hash (refchunks.go)
	// ring: the entries in the order the clock's hand passes them (an
	// entry dropped has the last one moved to its place); hand: the next
	// the hand looks at.
	ring []*decodedChunk
	hand int
}

// shard is the shard of the entry of hash h.
func (c *DecodedCache) shard(h uint64) *decodedShard { return &c.shards[h>>60] }

// shareOf is a shard's share of the bound n.
func shareOf(n int64) int64 { return n / decodedShards }

// decodedChunk is one chunk's samples. Never changed once in the cache
// (iterators of queries in flight read it after its eviction).
type decodedChunk struct {
	hash   uint64   // of raw, or of key when found by reference (byRef)
	key    chunkKey // when found by reference
	raw    []byte
	t      []int64
	f      []float64
	slot   int // in its shard's ring
	byRef  bool
	rising bool        // rising(f)
	fresh  bool        // a closed chunk of the last minute: handed out by samplesFresh only
	every  int64       // interval(t)
	used   atomic.Bool // read since the clock's hand passed it (evict)
	// dead: removed from its shard. next, prev: a reader's hint
	// (refChunkReader.find), the entry it found after this one and the
	// entry it found before.
	dead       atomic.Bool
	next, prev atomic.Pointer[decodedChunk]
}

// decodedEntryOverhead approximates an entry's memory besides its slices:
// the struct (168 bytes), its ring slot (8) and map slot (16 bytes in a
// map kept at most 7/8 full and grown by doubling).
const decodedEntryOverhead = 192

// size is what d holds: its slices by their capacity, which the
// allocations are rounded up to (slices.Grow, bytes.Clone: the heap's
// size classes; 120 samples' 960 bytes are 1,024), and the overhead.
// (By their lengths it was 7.4 % under the heap the entries held:
// BenchmarkDecodedCacheHeld.)
func (d *decodedChunk) size() int64 {
	return int64(cap(d.raw) + 8*cap(d.t) + 8*cap(d.f) + decodedEntryOverhead)
}

// NewDecodedCache is a cache of at most maxBytes (0: off until
// SetMaxBytes). reg, when not nil, gets gmc_query_decoded_cache_hits_total,
// _misses_total and _bytes.
func NewDecodedCache(maxBytes int64, reg prometheus.Registerer) *DecodedCache {
	c := &DecodedCache{}
	for i := range c.shards {
		c.shards[i].entries = map[uint64]*decodedChunk{}
	}
	c.max.Store(max(maxBytes, 0))
	if reg != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gmc_query_decoded_cache_hits_total",
				Help: "Raw float chunks whose samples queries read from the decoded-sample cache."},
				func() float64 { return float64(c.hits.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gmc_query_decoded_cache_misses_total",
				Help: "Raw float chunks queries decoded (and put in the decoded-sample cache) while it was on."},
				func() float64 { return float64(c.misses.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gmc_query_decoded_cache_bytes",
				Help: "Bytes the decoded-sample cache holds (query.decoded_cache_max_bytes bounds them)."},
				func() float64 { return float64(c.Bytes()) }))
	}
	return c
}

// Hits and Misses count the float chunks read from the cache and decoded.
func (c *DecodedCache) Hits() uint64   { return c.hits.Load() }
func (c *DecodedCache) Misses() uint64 { return c.misses.Load() }

// SetMaxBytes changes the bound, evicting what is over it (0: off, the
// cache emptied).
func (c *DecodedCache) SetMaxBytes(n int64) {
	c.max.Store(max(n, 0))
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.evict(shareOf(max(n, 0)))
		sh.mu.Unlock()
	}
}

// Bytes is what the cache holds.
func (c *DecodedCache) Bytes() int64 {
	var n int64
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.bytes
		sh.mu.Unlock()
	}
	return n
}

// entries is how many chunks the cache holds.
func (c *DecodedCache) entries() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

// evict drops entries until the shard holds at most limit bytes: those
// the clock's hand finds not read since it last passed (second chance: a
// hit marks an entry used, the hand clears the mark as it passes). A hit
// moved an entry to the front of a list before: three more cache lines
// to touch per chunk read, a tenth of the 15 s query's CPU with the
// lookup. sh.mu is held.
func (sh *decodedShard) evict(limit int64) {
	for sh.bytes > limit && len(sh.ring) > 0 {
		if sh.hand >= len(sh.ring) {
			sh.hand = 0
		}
		if d := sh.ring[sh.hand]; d.used.Load() {
			d.used.Store(false)
			sh.hand++
			continue
		}
		sh.remove(sh.ring[sh.hand])
	}
}

// remove drops entry d, and its links. sh.mu is held.
func (sh *decodedShard) remove(d *decodedChunk) {
	delete(sh.entries, d.hash)
	last := sh.ring[len(sh.ring)-1]
	sh.ring[d.slot], last.slot = last, d.slot
	sh.ring[len(sh.ring)-1] = nil
	sh.ring = sh.ring[:len(sh.ring)-1]
	sh.bytes -= d.size()
	d.dead.Store(true)
	if n := d.next.Swap(nil); n != nil {
		n.prev.CompareAndSwap(d, nil)
	}
	if p := d.prev.Swap(nil); p != nil {
		p.next.CompareAndSwap(d, nil)
	}
}

// mark marks d read (evict).
func (d *decodedChunk) mark() {
	if !d.used.Load() {
		d.used.Store(true)
	}
}

// link makes d p's next and p d's prev (refChunkReader.find), unless
// either is removed: links are dropped with the entry at either end, so
// no removed entry is kept alive by a live one's link (its samples and
// bytes outside the cache's bound). Other links to p or d are dropped.
// Links are atomic, not under a shard's lock: p and d are most often in
// two shards. (Sequentially consistent: a removal that does not see the
// link has set dead before link reads it, and link undoes it.)
func link(p, d *decodedChunk) {
	if old := d.prev.Swap(p); old != nil && old != p {
		old.next.CompareAndSwap(d, nil)
	}
	if old := p.next.Swap(d); old != nil && old != d {
		old.prev.CompareAndSwap(p, nil)
	}
	if p.dead.Load() || d.dead.Load() {
		p.next.CompareAndSwap(d, nil)
		d.prev.CompareAndSwap(p, nil)
	}
}

// keep puts d in the shard under its hash, in place of an entry there,
// and evicts what is over limit.
func (sh *decodedShard) keep(d *decodedChunk, limit int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.entries[d.hash]; ok { // another query's, or a colliding chunk's
		sh.remove(old)
	}
	d.slot = len(sh.ring)
	sh.ring = append(sh.ring, d)
	sh.entries[d.hash] = d
	sh.bytes += d.size()
	sh.evict(limit)
}

// samples returns chk's samples (an XOR chunk's), from the cache or
// decoded into it, and whether they are rising; dec is reused for
// decoding and returned for the next.
func (c *DecodedCache) samples(chk chunkenc.Chunk, dec chunkenc.Iterator) ([]int64, []float64, bool, int64, chunkenc.Iterator, error) {
	raw := chk.Bytes()
	h := xxhash.Sum64(raw)
	sh := c.shard(h)
	sh.mu.Lock()
	if d, ok := sh.entries[h]; ok {
		if !d.byRef && bytes.Equal(d.raw, raw) {
			d.mark()
			sh.mu.Unlock()
			c.hits.Add(1)
			return d.t, d.f, d.rising, d.every, dec, nil
		}
	}
	sh.mu.Unlock()
	d := &decodedChunk{hash: h}
	dec, err := c.decode(d, chk, dec, sh)
	return d.t, d.f, d.rising, d.every, dec, err
}

// lookup is the entry of key k, or nil.
func (c *DecodedCache) lookup(k chunkKey) *decodedChunk {
	h := k.hash()
	sh := c.shard(h)
	sh.mu.Lock()
	if d, ok := sh.entries[h]; ok {
		if d.byRef && d.key == k && !d.fresh {
			d.mark()
			sh.mu.Unlock()
			c.hits.Add(1)
			return d
		}
	}
	sh.mu.Unlock()
	return nil
}

// samplesByRef is samples for chk (an XOR chunk's) of key k (a chunk
// refChunkReader read: not in the cache when it was read).
func (c *DecodedCache) samplesByRef(k chunkKey, chk chunkenc.Chunk, dec chunkenc.Iterator) ([]int64, []float64, bool, int64, chunkenc.Iterator, error) {
	if d := c.lookup(k); d != nil { // another query's since
		return d.t, d.f, d.rising, d.every, dec, nil
	}
	d := &decodedChunk{hash: k.hash(), key: k, byRef: true}
	dec, err := c.decode(d, chk, dec, c.shard(d.hash))
	return d.t, d.f, d.rising, d.every, dec, err
}

// decode decodes chk into d and keeps d in shard sh when the bound allows
// and every sample of chk was read: a head chunk's iterator stops before
// the samples of appends in flight when the query began (isolation), and
// what a later query reads of the chunk holds them.
func (c *DecodedCache) decode(d *decodedChunk, chk chunkenc.Chunk, dec chunkenc.Iterator, sh *decodedShard) (chunkenc.Iterator, error) {
	dec = chk.Iterator(dec)
	return dec, c.decodeFrom(d, chk.Bytes(), chk.NumSamples(), dec, sh)
}

// decodeFrom is decode of the chunk of bytes raw and n samples, read
// through its iterator it.
func (c *DecodedCache) decodeFrom(d *decodedChunk, raw []byte, n int, it chunkenc.Iterator, sh *decodedShard) error {
	c.misses.Add(1)
	d.raw = bytes.Clone(raw)
	var err error
	if d.t, d.f, err = appendSamples(it, slices.Grow([]int64(nil), n), slices.Grow([]float64(nil), n)); err != nil {
		return err
	}
	d.rising, d.every = rising(d.f), interval(d.t)
	if limit := shareOf(c.max.Load()); len(d.t) == n && d.size() <= limit {
		sh.keep(d, limit)
	}
	return nil
}

// xorIteratorType is the type of an XOR chunk's own iterator.
var xorIteratorType = reflect.TypeOf(chunkenc.NewXORChunk().Iterator(nil))

// samplesOpen returns the samples of o (a copy of the head's open chunk)
// this querier reads, and whether they are the cache's (kept: never
// changed) or were decoded into st and sf (reused: returned for the next
// call); dec is reused for decoding and returned for the next.
//
// The head's open chunk was decoded at every query, an eighth of
// BenchmarkRawHourPath's 15 s query: the cache kept no chunk of the last
// minute. Its entry (one per open chunk: under the chunk's key, the
// samples of the copy read last) is handed out for a copy of the same
// bytes (the same samples: a chunk is decoded from its bytes alone, and
// its first two bytes count its samples), and only where the querier may
// read every sample of the copy. Whether it may is its isolation's: the
// head's chunk iterator (memSeries.iterator, Prometheus v0.316) is the
// copy's own XOR iterator when every sample of the copy is of an append
// complete when the querier was opened, and a stopIterator (or none)
// where it stops before the last; a copy read through any other iterator
// is decoded for the query and not kept. The querier's time range cuts
// the samples after it as for any chunk (chunksIterator). An append
// changes the copy's bytes (its count): the next read decodes the chunk
// again and keeps it in place of the entry.
func (c *DecodedCache) samplesOpen(o *openChunk, dec chunkenc.Iterator, st []int64, sf []float64) (t []int64, f []float64, up bool, every int64, kept bool, _ []int64, _ []float64, _ chunkenc.Iterator, err error) {
	n := o.NumSamples()
	dec = o.Chunk.Iterator(dec)
	if reflect.TypeOf(dec) != xorIteratorType {
		st, sf, err = appendSamples(dec, st[:0], sf[:0])
		return st, sf, rising(sf), interval(st), false, st, sf, dec, err
	}
	raw := o.Bytes()
	h := o.key.hash()
	sh := c.shard(h)
	sh.mu.Lock()
	if d, ok := sh.entries[h]; ok && d.byRef && d.key == o.key && len(d.t) == n && bytes.Equal(d.raw, raw) {
		d.mark()
		sh.mu.Unlock()
		c.hits.Add(1)
		return d.t, d.f, d.rising, d.every, true, st, sf, dec, nil
	}
	sh.mu.Unlock()
	d := &decodedChunk{hash: h, key: o.key, byRef: true}
	err = c.decodeFrom(d, raw, n, dec, sh)
	return d.t, d.f, d.rising, d.every, true, st, sf, dec, err
}

// samplesFresh is samplesOpen for k, a closed chunk read by reference
// that ends within decodedFreshMs of the store's newest sample (a
// series' last closed chunk, most often): its samples this querier reads,
// and whether they are the cache's (kept) or were decoded into st and sf.
//
// Such a chunk was decoded at every query and never kept (a 1000-series
// hour of 1 s data: 1000 chunks of 120 samples a query, whenever the
// open chunk held under a minute of samples). A closed chunk's bytes no
// longer change, but a querier opened before the append that cut it may
// not read its last samples (an append of several samples of a series,
// complete after the querier was opened, writes the old chunk's last and
// the new chunk's first), so its entry is handed out as the open chunk's
// is: only where the head's iterator for the chunk is the chunk's own XOR
// iterator (every sample visible to this querier), and never by a lookup
// (lookup and refChunkReader.find pass it by: they hand out an entry
// whatever the querier's isolation). Once the chunk is older than the
// minute, its first read by reference decodes it again and keeps it in
// place of this entry, as before.
func (c *DecodedCache) samplesFresh(k *keyedChunk, dec chunkenc.Iterator, st []int64, sf []float64) (t []int64, f []float64, up bool, every int64, kept bool, _ []int64, _ []float64, _ chunkenc.Iterator, err error) {
	n := k.NumSamples()
	dec = k.Chunk.Iterator(dec)
	if reflect.TypeOf(dec) != xorIteratorType {
		st, sf, err = appendSamples(dec, st[:0], sf[:0])
		return st, sf, rising(sf), interval(st), false, st, sf, dec, err
	}
	h := k.key.hash()
	sh := c.shard(h)
	sh.mu.Lock()
	if d, ok := sh.entries[h]; ok && d.byRef && d.fresh && d.key == k.key && len(d.t) == n {
		d.mark()
		sh.mu.Unlock()
		c.hits.Add(1)
		return d.t, d.f, d.rising, d.every, true, st, sf, dec, nil
	}
	sh.mu.Unlock()
	d := &decodedChunk{hash: h, key: k.key, byRef: true, fresh: true}
	err = c.decodeFrom(d, k.Bytes(), n, dec, sh)
	return d.t, d.f, d.rising, d.every, true, st, sf, dec, err
}

// rising says whether every value of f is a number (no NaN: no staleness
// marker either) at or above the one before it, as a counter's are between
// resets: a reader of such a run needs to look at its first value only.
func rising(f []float64) bool {
	for i, v := range f {
		if math.IsNaN(v) || i > 0 && v < f[i-1] {
			return false
		}
	}
	return true
}

// interval is the spacing of t's times where they are evenly spaced (two
// samples or more), else 0.
func interval(t []int64) int64 {
	if len(t) < 2 {
		return 0
	}
	d := t[1] - t[0]
	for i := 2; i < len(t); i++ {
		if t[i]-t[i-1] != d {
			return 0
		}
	}
	return max(d, 0)
}

// decodeInto appends chk's samples (an XOR chunk's) to t and f; dec is
// reused for decoding and returned for the next.
func decodeInto(chk chunkenc.Chunk, dec chunkenc.Iterator, t []int64, f []float64) ([]int64, []float64, chunkenc.Iterator, error) {
	dec = chk.Iterator(dec)
	t, f, err := appendSamples(dec, t, f)
	return t, f, dec, err
}

// appendSamples appends the float samples it reads to t and f.
func appendSamples(it chunkenc.Iterator, t []int64, f []float64) ([]int64, []float64, error) {
	for it.Next() == chunkenc.ValFloat {
		ts, v := it.At()
		t = append(t, ts)
		f = append(f, v)
	}
	return t, f, it.Err()
}

// Queryable reads q's samples as q's own Querier would, the float
// chunks' samples through the cache. q is a ChunkQueryable whose
// ChunkQuerier hands out a series' chunks in time order without overlaps
// (the TSDB's: it merges overlapping chunks into one, re-encoded).
// A TSDB's chunk readers then find its chunks in the cache by reference
// (refchunks.go) for every reader of it.
func (c *DecodedCache) Queryable(q storage.SampleAndChunkQueryable) storage.Queryable {
	if t, ok := q.(*TSDB); ok {
		t.decoded.Store(c)
	}
	return decodedQueryable{c: c, q: q}
}

type decodedQueryable struct {
	c *DecodedCache
	q storage.SampleAndChunkQueryable
}

func (d decodedQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	if d.c.max.Load() == 0 {
		return d.q.Querier(mint, maxt)
	}
	cq, err := d.q.ChunkQuerier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &decodedQuerier{c: d.c, cq: cq, q: d.q, mint: mint, maxt: maxt, fresh: freshAfter(d.q)}, nil
}

// freshAfter is the time after which a chunk of q ends too close to q's
// newest sample to be kept (decodedFreshMs; math.MaxInt64: none is).
func freshAfter(q any) int64 {
	if h, ok := q.(interface{ HeadMaxTime() int64 }); ok {
		if t := h.HeadMaxTime(); t != math.MinInt64 {
			return t - decodedFreshMs
		}
	}
	return math.MaxInt64
}

// decodedFreshMs: a chunk whose last sample is this close to the store's
// newest (ms) is decoded for the query but not kept. It is most likely a
// series' open head chunk, whose bytes change with the series' next
// sample: kept, every refresh of a live dashboard and every rule
// evaluation would put a new copy in the cache that no later query reads
// and that pushes out chunks that are read again.
// (The head's open chunk of gmc's TSDB is kept apart, one entry for it
// replaced as it grows: DecodedCache.samplesOpen; and so is a closed chunk
// of gmc's TSDB, found by reference, whose bytes no longer change:
// DecodedCache.samplesFresh.)
const decodedFreshMs = 60_000

type decodedQuerier struct {
	c          *DecodedCache
	cq         storage.ChunkQuerier
	q          storage.Queryable
	plain      storage.Querier // opened for a "series" select only
	mint, maxt int64
	fresh      int64 // chunks ending after it are not kept (decodedFreshMs)
}

// Select reads the chunks untrimmed (the TSDB's querier trims a chunk that
// crosses the range's edge by re-encoding it: a new key at every query
// over another range) and keeps the samples in [Start, End] of the hints
// (the Querier's range without them), as the TSDB's querier does.
func (q *decodedQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	h := storage.SelectHints{Start: q.mint, End: q.maxt}
	if hints != nil {
		h = *hints
	}
	if h.Func == "series" { // no samples read
		if q.plain == nil {
			p, err := q.q.Querier(q.mint, q.maxt)
			if err != nil {
				return storage.ErrSeriesSet(err)
			}
			q.plain = p
		}
		return q.plain.Select(ctx, sortSeries, hints, ms...)
	}
	mint, maxt := h.Start, h.End
	h.DisableTrimming = true
	return &chunkSet{ChunkSeriesSet: q.cq.Select(ctx, sortSeries, &h, ms...), c: q.c, mint: mint, maxt: maxt, fresh: q.fresh}
}

func (q *decodedQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.cq.LabelValues(ctx, name, hints, ms...)
}

func (q *decodedQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.cq.LabelNames(ctx, hints, ms...)
}

func (q *decodedQuerier) Close() error {
	err := q.cq.Close()
	if q.plain != nil {
		if perr := q.plain.Close(); err == nil {
			err = perr
		}
	}
	return err
}
