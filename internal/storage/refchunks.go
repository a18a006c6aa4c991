package storage

import (
	"bytes"
	"encoding/binary"
	"math"
	"sync/atomic"

	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// Chunks found by reference. The decoded-sample cache found a chunk by its
// content (decoded.go): the TSDB's chunk reader read it first (for a head
// chunk: the series looked up, its chunk list collected again, the chunk
// wrapped), then its bytes were hashed and compared. That was a third of
// BenchmarkRawHourPath's served CPU at a 15 s step. The TSDB takes the
// ChunkQuerier of each of its blocks and of its head from a function of
// ours (tsdb.Options.BlockChunkQuerierFunc), which is its own
// NewBlockChunkQuerier over the block with its chunk reader wrapped:
// before reading a chunk, the wrapper asks the cache for it by
// (the TSDB, the block's ULID, the chunk's reference and time range) and,
// when it holds it, hands out the cache's entry as the chunk (a
// chunkenc.Chunk of its own, never changed); else it reads it and hands it
// out tagged with that key, under which chunksIterator keeps its samples.
//
// Why a key by reference names the same samples every time:
//   - a block is never changed once written (compaction writes new blocks
//     under new ULIDs), and a chunk reference is an offset in its block's
//     files;
//   - in the head a reference is the series' (never reused while the
//     process runs) and the chunk's id in it (kept through truncation; ids
//     wrap at 2^23 chunks a series, which the time range in the key tells
//     apart: a series' in-order chunks follow one another in time). A
//     head chunk other than the open one is never appended to again; the
//     open one, listed with MaxTime math.MaxInt64, is never looked up
//     here (its copy is found by its bytes: openChunk);
//   - deleted samples (tombstones) are cut by the TSDB's querier after the
//     reader: it reads a chunk with deleted samples through its iterator
//     and re-encodes the rest (a chunk without the key, found by content);
//     the out-of-order head is read through the TSDB's own reader, which
//     merges chunks into new ones (found by content too);
//   - the TSDB is opened again under another id (refTSDBs), so a restart
//     or a second TSDB in one process never reads another's entries.
//
// Whatever reads a TSDB with a cache (DecodedCache.Queryable) reads the
// cache's entries as chunks: their bytes are the chunk's own, kept beside
// the samples, and their iterators decode those bytes.

// refTSDBs numbers the TSDBs opened in this process (chunkKey.db).
var refTSDBs atomic.Uint64

// chunkKey names a chunk by reference: its TSDB, its block (the head's
// ULID for the head), its reference in the block and its time range.
type chunkKey struct {
	db         uint64
	block      [16]byte
	ref        chunks.ChunkRef
	mint, maxt int64
}

// hash is k's key in the cache (the entry's key compared to k's: another
// key of the same hash is not k's).
func (k chunkKey) hash() uint64 {
	h := mix64(k.db ^ binary.LittleEndian.Uint64(k.block[:8]))
	h = mix64(h ^ binary.LittleEndian.Uint64(k.block[8:]))
	h = mix64(h ^ uint64(k.ref))
	h = mix64(h ^ uint64(k.mint))
	return mix64(h ^ uint64(k.maxt))
}

// mix64 is MurmurHash3's 64-bit finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// blockChunkQuerier is the TSDB's BlockChunkQuerierFunc: its own querier
// over b, b's chunk reader wrapped when b is a block or the head.
func (s *TSDB) blockChunkQuerier(b tsdb.BlockReader, mint, maxt int64) (storage.ChunkQuerier, error) {
	switch b.(type) {
	case *tsdb.Block, *tsdb.RangeHead:
		return tsdb.NewBlockChunkQuerier(refBlock{BlockReader: b, s: s, id: [16]byte(b.Meta().ULID)}, mint, maxt)
	}
	return tsdb.NewBlockChunkQuerier(b, mint, maxt)
}

// refBlock is a block whose chunk reader finds chunks in s's cache.
type refBlock struct {
	tsdb.BlockReader
	s  *TSDB
	id [16]byte
}

func (b refBlock) Chunks() (tsdb.ChunkReader, error) {
	cr, err := b.BlockReader.Chunks()
	if err != nil {
		return nil, err
	}
	return &refChunkReader{ChunkReader: cr, s: b.s, id: b.id}, nil
}

// refChunkReader reads a block's chunks, those the cache holds from it
// (see above).
type refChunkReader struct {
	tsdb.ChunkReader
	s    *TSDB
	id   [16]byte
	last atomic.Pointer[decodedChunk] // what find found last (nil: none)
}

// find is the cache's entry of key k, or nil. A reader reads a series'
// chunks in time order and the series in the same order query after
// query: the entry it finds after another is most often the one it found
// after it last time, that entry's next (a link: a hint, its key
// compared). The map lookup of a chunk, on memory out of the processor's
// caches, was an eighth of BenchmarkRawHourPath's 15 s query.
func (r *refChunkReader) find(c *DecodedCache, k chunkKey) *decodedChunk {
	p := r.last.Load()
	if p != nil {
		if d := p.next.Load(); d != nil && d.key == k && !d.dead.Load() {
			d.mark()
			c.hits.Add(1)
			r.last.Store(d)
			return d
		}
	}
	d := c.lookup(k)
	if d != nil && p != nil {
		link(p, d)
	}
	r.last.Store(d)
	return d
}

// key is meta's key and whether it may be looked up (not the head's open
// chunk) in cache c (nil: none, or off).
func (r *refChunkReader) key(meta chunks.Meta) (chunkKey, *DecodedCache) {
	c := r.s.decoded.Load()
	if c == nil || meta.MaxTime == math.MaxInt64 || c.max.Load() == 0 {
		return chunkKey{}, nil
	}
	return chunkKey{db: r.s.id, block: r.id, ref: meta.Ref, mint: meta.MinTime, maxt: meta.MaxTime}, c
}

func (r *refChunkReader) ChunkOrIterable(meta chunks.Meta) (chunkenc.Chunk, chunkenc.Iterable, error) {
	k, c := r.key(meta)
	if c != nil {
		if d := r.find(c, k); d != nil {
			return d, nil, nil
		}
	}
	chk, iter, err := r.ChunkReader.ChunkOrIterable(meta)
	return keyed(chk, k, c), iter, err
}

// ChunkOrIterableWithCopy is the head's (tsdb.ChunkReaderWithCopy: its open
// chunk copied), or ChunkOrIterable and meta's MaxTime for a block's.
func (r *refChunkReader) ChunkOrIterableWithCopy(meta chunks.Meta) (chunkenc.Chunk, chunkenc.Iterable, int64, error) {
	cr, ok := r.ChunkReader.(tsdb.ChunkReaderWithCopy)
	if !ok {
		chk, iter, err := r.ChunkOrIterable(meta)
		return chk, iter, meta.MaxTime, err
	}
	if meta.MaxTime == math.MaxInt64 {
		chk, iter, maxt, err := cr.ChunkOrIterableWithCopy(meta)
		return r.open(chk, meta), iter, maxt, err
	}
	k, c := r.key(meta)
	if c != nil {
		if d := r.find(c, k); d != nil {
			return d, nil, meta.MaxTime, nil
		}
	}
	chk, iter, maxt, err := cr.ChunkOrIterableWithCopy(meta)
	return keyed(chk, k, c), iter, maxt, err
}

// open is chk, the head's open chunk of meta as ChunkOrIterableWithCopy
// copied it, tagged with its key when the cache is on and chk a float
// chunk (openChunk).
func (r *refChunkReader) open(chk chunkenc.Chunk, meta chunks.Meta) chunkenc.Chunk {
	c := r.s.decoded.Load()
	if c == nil || chk == nil || c.max.Load() == 0 || chk.Encoding() != chunkenc.EncXOR {
		return chk
	}
	return &openChunk{Chunk: chk, key: chunkKey{db: r.s.id, block: r.id, ref: meta.Ref, mint: meta.MinTime, maxt: math.MaxInt64}}
}

// EnableChunkCache is the head's (its chunk list kept from chunk to chunk
// of a series for a range query).
func (r *refChunkReader) EnableChunkCache() {
	if e, ok := r.ChunkReader.(interface{ EnableChunkCache() }); ok {
		e.EnableChunkCache()
	}
}

// keyed is chk tagged with k when c may keep it (a float chunk).
func keyed(chk chunkenc.Chunk, k chunkKey, c *DecodedCache) chunkenc.Chunk {
	if c == nil || chk == nil || chk.Encoding() != chunkenc.EncXOR {
		return chk
	}
	return &keyedChunk{Chunk: chk, key: k}
}

// keyedChunk is a chunk read from a block, with its key: chunksIterator
// keeps its samples under it.
type keyedChunk struct {
	chunkenc.Chunk
	key chunkKey
}

// openChunk is a copy of the head's open chunk (its bytes as they were
// when the querier read it; its iterator stops where the querier's
// isolation says), with its key: the series' chunk id and first time, and
// MaxTime math.MaxInt64 (no closed chunk's). The cache keeps one entry
// under it, the samples of the copy read last, and hands them out for a
// copy of the same bytes every sample of which the querier may read
// (DecodedCache.samplesOpen).
type openChunk struct {
	chunkenc.Chunk
	key chunkKey
}

// The cache's entry as a chunk (refChunkReader hands it out): never changed.

func (d *decodedChunk) Bytes() []byte               { return d.raw }
func (d *decodedChunk) Encoding() chunkenc.Encoding { return chunkenc.EncXOR }
func (d *decodedChunk) NumSamples() int             { return len(d.t) }
func (d *decodedChunk) Compact()                    {}
func (d *decodedChunk) Reset([]byte)                {} // never (chunkenc's pools skip chunks of other types)
func (d *decodedChunk) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	return d.chunk().Iterator(it)
}

// Appender appends to a copy.
func (d *decodedChunk) Appender() (chunkenc.Appender, error) {
	c, err := chunkenc.FromData(chunkenc.EncXOR, bytes.Clone(d.raw))
	if err != nil {
		return nil, err
	}
	return c.Appender()
}

// chunk is d's bytes as the TSDB's XOR chunk.
func (d *decodedChunk) chunk() chunkenc.Chunk {
	c, err := chunkenc.FromData(chunkenc.EncXOR, d.raw)
	if err != nil { // only for an unknown encoding
		panic(err)
	}
	return c
}
