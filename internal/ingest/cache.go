package ingest

import (
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// defaultCacheEntries bounds the remote-write series cache. At ~400 bytes an
// entry (key, labels, name) 2M entries is ~800 MiB at worst; 1M series of
// 10 labels stays under ~400 MiB. When full the cache is cleared and refills
// from the next requests (the TSDB head still has every series).
const defaultCacheEntries = 1 << 21

// cacheEntry is what the Ingester remembers about a series it has written:
// the head's reference, the validated labels (the head uses them only when the
// reference is gone after head GC) and the metric name.
type cacheEntry struct {
	ref  storage.SeriesRef
	ls   labels.Labels
	name string
	hash uint64 // ls.Hash(), for requestSamples
}

// seriesCache maps the raw protobuf bytes of a series' labels to its entry,
// so a series seen before skips decoding, label building and validation.
// Lookups take the read lock once per request; inserts the write lock once
// per request, after the commit.
type seriesCache struct {
	mu  sync.RWMutex
	m   map[string]cacheEntry
	max int
}

func newSeriesCache(max int) *seriesCache {
	return &seriesCache{m: make(map[string]cacheEntry), max: max}
}

func (c *seriesCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
