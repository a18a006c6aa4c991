package ingest

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
)

// Metric metadata (type, help, unit) as senders give it: remote-write 1.0's
// MetricMetadata, remote-write 2.0's per-series metadata and the # TYPE and
// # HELP lines of text pushes. It is kept in memory only, as Prometheus keeps
// its scrape targets' metadata: after a restart /api/v1/metadata knows a
// metric again once its sender re-sends it (Prometheus's remote-write does
// every metadata_config.send_interval, 1m by default).

// Bounds on the metadata kept, so a sender inventing metric names cannot
// grow it without end.
const (
	// maxMetadataNames is how many metric names keep metadata; beyond it a
	// new name's metadata is not kept (the samples still are).
	maxMetadataNames = 100_000
	// maxMetadataPerName is how many distinct (type, help, unit) one metric
	// name keeps, newest first (senders disagreeing, or a help text changed).
	maxMetadataPerName = 4
)

// metadataStore is the metadata senders gave, by metric name. Safe for
// concurrent use.
type metadataStore struct {
	mu sync.RWMutex
	m  map[string][]metadata.Metadata // newest first
}

func newMetadataStore() *metadataStore {
	return &metadataStore{m: map[string][]metadata.Metadata{}}
}

// add records md for the metric name; an empty md (no type, help or unit)
// is not kept.
func (s *metadataStore) add(name string, md metadata.Metadata) {
	if name == "" || md.IsEmpty() {
		return
	}
	s.mu.RLock()
	cur, ok := s.m[name]
	fresh := ok && cur[0] == md
	s.mu.RUnlock()
	if fresh {
		return // the common case: the same metadata again
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok = s.m[name]
	if !ok && len(s.m) >= maxMetadataNames {
		return
	}
	next := make([]metadata.Metadata, 0, min(len(cur)+1, maxMetadataPerName))
	next = append(next, md)
	for _, m := range cur {
		if m != md && len(next) < maxMetadataPerName {
			next = append(next, m)
		}
	}
	s.m[name] = next
}

// snapshot is a copy of the store.
func (s *metadataStore) snapshot() map[string][]metadata.Metadata {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]metadata.Metadata, len(s.m))
	for _, name := range slices.Collect(maps.Keys(s.m)) {
		out[name] = slices.Clone(s.m[name])
	}
	return out
}

// Metadata is the metric metadata senders gave, by metric name, newest first
// (for /api/v1/metadata).
func (in *Ingester) Metadata() map[string][]metadata.Metadata { return in.meta.snapshot() }

// metricType is a remote-write 1.0 metadata type as Prometheus names it
// (counter, gauge, histogram, gaugehistogram, summary, info, stateset,
// unknown).
func metricType(t prompb.MetricMetadata_MetricType) model.MetricType {
	return model.MetricType(strings.ToLower(t.String()))
}
