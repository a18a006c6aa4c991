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
	"github.com/prometheus/prometheus/model/histogram"
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
// Series whose newest sample is a staleness marker are left out, and so are
// native histograms unless the protobuf format is negotiated (the text
// format has none).
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
	// No Func: "series" hint: the TSDB then reads no chunks (it is for
	// label-only lookups), and every sample would be missing.
	hints := &storage.SelectHints{Start: mint, End: now}
	var ss []storage.SeriesSet
	for _, ms := range sets {
		ss = append(ss, q.Select(r.Context(), true, hints, ms...))
	}
	set := storage.NewMergeSeriesSet(ss, 0, storage.ChainedSeriesMerge)
	format := expfmt.Negotiate(r.Header) //nolint:staticcheck // Prometheus's /federate negotiates the same way (escaping scheme included)
	// Native histograms have no text exposition; in the protobuf one (a
	// scraper with native histograms on asks for it) they are federated,
	// as by Prometheus's /federate since 2.42 (PR #11830).
	withHistograms := format.FormatType() == expfmt.TypeProtoDelim
	families := map[string]*dto.MetricFamily{}
	histFamilies := map[string]*dto.MetricFamily{}
	var (
		it chunkenc.Iterator
		h  *histogram.Histogram
		fh *histogram.FloatHistogram
	)
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		t, v, last := int64(0), 0.0, chunkenc.ValNone
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			last = vt
			switch vt {
			case chunkenc.ValFloat:
				t, v = it.At()
			case chunkenc.ValHistogram:
				if withHistograms {
					t, h = it.AtHistogram(h)
				}
			case chunkenc.ValFloatHistogram:
				if withHistograms {
					t, fh = it.AtFloatHistogram(fh)
				}
			}
		}
		var m *dto.Metric
		byName := families
		switch last {
		case chunkenc.ValFloat:
			if value.IsStaleNaN(v) {
				continue
			}
			m = &dto.Metric{Untyped: &dto.Untyped{Value: proto.Float64(v)}}
		case chunkenc.ValHistogram:
			if !withHistograms || value.IsStaleNaN(h.Sum) || h.UsesCustomBuckets() {
				continue
			}
			m, byName = &dto.Metric{Histogram: nativeHistogram(h.ToFloat(nil), h)}, histFamilies
		case chunkenc.ValFloatHistogram:
			if !withHistograms || value.IsStaleNaN(fh.Sum) || fh.UsesCustomBuckets() {
				continue
			}
			m, byName = &dto.Metric{Histogram: nativeHistogram(fh, nil)}, histFamilies
		default:
			continue
		}
		m.TimestampMs = proto.Int64(t)
		lset := s.Labels()
		name := lset.Get(model.MetricNameLabel)
		mf := byName[name]
		if mf == nil {
			typ := dto.MetricType_UNTYPED
			if m.Histogram != nil {
				typ = dto.MetricType_HISTOGRAM
			}
			mf = &dto.MetricFamily{Name: proto.String(name), Type: typ.Enum()}
			byName[name] = mf
		}
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
	// By name; a name with float series and histograms gives two families
	// (floats first), as Prometheus's /federate starts a family per type.
	var out []*dto.MetricFamily
	for _, fs := range []map[string]*dto.MetricFamily{families, histFamilies} {
		for _, mf := range fs {
			out = append(out, mf)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].GetName() != out[j].GetName() {
			return out[i].GetName() < out[j].GetName()
		}
		return out[i].GetType() == dto.MetricType_UNTYPED && out[j].GetType() != dto.MetricType_UNTYPED
	})
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range out {
		if err := enc.Encode(mf); err != nil {
			a.logger.Warn("federation encode failed", "err", err)
			return
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
}

// nativeHistogram is a native histogram in the exposition's protobuf form.
// An integer histogram (ih, with fh its float copy for the sum) keeps its
// integer counts and delta-encoded buckets, as the client libraries expose
// them; a float histogram (ih nil) gives float counts. A histogram without
// buckets gets an empty span, so the scraper does not take it for a classic
// one (client_golang does the same).
func nativeHistogram(fh *histogram.FloatHistogram, ih *histogram.Histogram) *dto.Histogram {
	spans := func(in []histogram.Span) []*dto.BucketSpan {
		out := make([]*dto.BucketSpan, len(in))
		for i, sp := range in {
			out[i] = &dto.BucketSpan{Offset: proto.Int32(sp.Offset), Length: proto.Uint32(sp.Length)}
		}
		return out
	}
	d := &dto.Histogram{
		SampleSum:     proto.Float64(fh.Sum),
		Schema:        proto.Int32(fh.Schema),
		ZeroThreshold: proto.Float64(fh.ZeroThreshold),
		PositiveSpan:  spans(fh.PositiveSpans),
		NegativeSpan:  spans(fh.NegativeSpans),
	}
	if ih != nil {
		d.SampleCount = proto.Uint64(ih.Count)
		d.ZeroCount = proto.Uint64(ih.ZeroCount)
		d.PositiveDelta = ih.PositiveBuckets
		d.NegativeDelta = ih.NegativeBuckets
	} else {
		d.SampleCountFloat = proto.Float64(fh.Count)
		d.ZeroCountFloat = proto.Float64(fh.ZeroCount)
		d.PositiveCount = fh.PositiveBuckets
		d.NegativeCount = fh.NegativeBuckets
	}
	if len(d.PositiveSpan) == 0 && len(d.NegativeSpan) == 0 {
		d.PositiveSpan = []*dto.BucketSpan{{Offset: proto.Int32(0), Length: proto.Uint32(0)}}
	}
	return d
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
