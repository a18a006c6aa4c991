package query

import (
	"log/slog"
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"google.golang.org/protobuf/proto"
)

// Federation and remote read: the two ways another Prometheus reads gmc.

// Remote-read limits, Prometheus's defaults (--storage.remote.read-*).
const (
	remoteReadSampleLimit      = 5e7
	remoteReadConcurrencyLimit = 10
	remoteReadMaxBytesInFrame  = 1 << 20
)

// newRemoteRead is Prometheus's own remote-read handler over q: SAMPLES
// and STREAMED_XOR_CHUNKS responses, as a Prometheus remote_read client
// negotiates.
func newRemoteRead(logger *slog.Logger, reg prometheus.Registerer, q storage.SampleAndChunkQueryable) http.Handler {
	return remote.NewReadHandler(logger, reg, q, func() promconfig.Config { return promconfig.Config{} },
		remoteReadSampleLimit, remoteReadConcurrencyLimit, remoteReadMaxBytesInFrame)
}

// Federate serves GET /federate?match[]=…: the newest sample (within the
// lookback delta) of every series the selectors match, with its timestamp,
// in the exposition format the scraper negotiates, as Prometheus's /federate.
// Series whose newest sample is a staleness marker are left out.
func (a *API) Federate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "parse form: "+err.Error(), http.StatusBadRequest)
		return
	}
	var sets [][]*labels.Matcher
	for _, s := range r.Form["match[]"] {
		ms, err := a.parser.ParseMetricSelector(s)
		if err != nil {
			http.Error(w, "match[] "+s+": "+err.Error(), http.StatusBadRequest)
			return
		}
		sets = append(sets, ms)
	}
	if len(sets) == 0 {
		http.Error(w, "federate needs at least one match[]", http.StatusBadRequest)
		return
	}
	now := a.now().UnixMilli()
	mint := now - a.lookback.Milliseconds()
	q, err := a.queryable.Querier(mint, now)
	if err != nil {
		http.Error(w, "open querier: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer q.Close()
	hints := &storage.SelectHints{Start: mint, End: now, Func: "series"}
	var ss []storage.SeriesSet
	for _, ms := range sets {
		ss = append(ss, q.Select(r.Context(), true, hints, ms...))
	}
	set := storage.NewMergeSeriesSet(ss, 0, storage.ChainedSeriesMerge)
	families := map[string]*dto.MetricFamily{}
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		t, v, ok := int64(0), 0.0, false
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt == chunkenc.ValFloat {
				t, v = it.At()
				ok = true
			} else {
				ok = false // native histograms are not federated in the text format
			}
		}
		if !ok || value.IsStaleNaN(v) {
			continue
		}
		lset := s.Labels()
		name := lset.Get(model.MetricNameLabel)
		mf := families[name]
		if mf == nil {
			mf = &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_UNTYPED.Enum()}
			families[name] = mf
		}
		m := &dto.Metric{Untyped: &dto.Untyped{Value: proto.Float64(v)}, TimestampMs: proto.Int64(t)}
		lset.Range(func(l labels.Label) {
			if l.Name != model.MetricNameLabel {
				m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
			}
		})
		mf.Metric = append(mf.Metric, m)
	}
	if err := set.Err(); err != nil {
		http.Error(w, "read series: "+err.Error(), http.StatusInternalServerError)
		return
	}
	names := make([]string, 0, len(families))
	for n := range families {
		names = append(names, n)
	}
	sort.Strings(names)
	format := expfmt.Negotiate(r.Header) //nolint:staticcheck // Prometheus's /federate negotiates the same way (escaping scheme included)
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, n := range names {
		if err := enc.Encode(families[n]); err != nil {
			a.logger.Warn("federation encode failed", "err", err)
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
}

// RemoteRead serves POST /api/v1/read; 501 when the storage cannot hand out
// chunk queriers.
func (a *API) RemoteRead(w http.ResponseWriter, r *http.Request) {
	if a.remoteRead == nil {
		http.Error(w, "remote read needs a storage with chunk queriers", http.StatusNotImplemented)
		return
	}
	a.remoteRead.ServeHTTP(w, r)
}
