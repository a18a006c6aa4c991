package ingest

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"google.golang.org/protobuf/encoding/protowire"
)

// Remote-write 1.0 (https://prometheus.io/docs/specs/prw/remote_write_spec/):
// a snappy-compressed protobuf prometheus.WriteRequest.
//
// The hot path, measured by BenchmarkRemoteWrite: the body and its decoded
// form live in pooled buffers; the protobuf is walked in place with protowire
// (no message structs, no per-label strings); each series is looked up in
// the Ingester's cache by the raw bytes of its label fields, so a series
// seen before goes straight to AppenderV2.Append with its head reference.
// Only unknown series have their labels built and validated.

// rwRequest is the per-request state of a remote write, pooled.
type rwRequest struct {
	body    []byte
	data    []byte
	series  []rwSeries
	samples []rwSample
	hists   []rwHistogram
	spans   [][2]int
	names   map[string]struct{}
	sb      labels.ScratchBuilder
	seen    requestSamples
	meta    []rwMetadata
}

// rwMetadata is one MetricMetadata of the request.
type rwMetadata struct {
	name string
	md   metadata.Metadata
}

// rwSeries is one TimeSeries of the request.
type rwSeries struct {
	key    []byte // the label fields' bytes, as sent
	s0, s1 int    // its samples: rwRequest.samples[s0:s1]
	h0, h1 int    // its histograms: rwRequest.hists[h0:h1]
	ent    cacheEntry
	known  bool // ent came from the cache
	learn  bool // ent (or its ref) is new: store in the cache after commit
}

type rwSample struct {
	v float64
	t int64
}

type rwHistogram struct {
	t  int64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

type rwPools struct{ req sync.Pool }

// maxPooledBytes keeps unusually large buffers out of the pool.
const maxPooledBytes = 8 << 20

func (p *rwPools) get() *rwRequest {
	if r, ok := p.req.Get().(*rwRequest); ok {
		return r
	}
	return &rwRequest{names: map[string]struct{}{}}
}

func (p *rwPools) put(r *rwRequest) {
	if cap(r.body) > maxPooledBytes || cap(r.data) > maxPooledBytes {
		return
	}
	clear(r.series) // drop references to labels and histograms
	clear(r.hists)
	r.series, r.samples, r.hists, r.spans, r.meta = r.series[:0], r.samples[:0], r.hists[:0], r.spans[:0], r.meta[:0]
	clear(r.names)
	p.req.Put(r)
}

// requestError is a failure of a whole request: nothing was appended.
type requestError struct {
	code int
	msg  string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// RemoteWrite serves POST /api/v1/write: Prometheus remote-write 1.0, and
// 2.0 when the Content-Type says proto=io.prometheus.write.v2.Request
// (remotewrite2.go). It answers 204 when every sample was committed, 400
// naming the rejected samples when some were not (the others are
// committed), 400 for a malformed body, 413 for an oversize one and 415 for
// a protobuf message it does not know.
func (in *Ingester) RemoteWrite() http.Handler {
	return http.HandlerFunc(in.serveRemoteWrite)
}

func (in *Ingester) serveRemoteWrite(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer in.observe(protoRemoteWrite, start)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		in.respond(w, protoRemoteWrite, http.StatusMethodNotAllowed, "remote write needs POST, got "+r.Method)
		return
	}
	msg, err := protoMessage(r.Header.Get("Content-Type"))
	if err != nil {
		in.respond(w, protoRemoteWrite, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "snappy") {
		in.respond(w, protoRemoteWrite, http.StatusUnsupportedMediaType, "Content-Encoding "+ce+" is not supported; remote write needs snappy")
		return
	}
	req := in.rw.get()
	defer in.rw.put(req)
	req.body, err = in.readBody(w, r, req.body)
	if err != nil {
		if msg == msgV2 {
			writtenHeaders(w, rw2Written{})
		}
		in.respond(w, protoRemoteWrite, bodyErrorCode(err), err.Error())
		return
	}
	if msg == msgV2 {
		in.serveRemoteWrite2(w, r, req)
		return
	}
	accepted, rej, names, err := in.writeRemote(r.Context(), req)
	if err != nil {
		in.fail(w, protoRemoteWrite, err)
		return
	}
	in.finish(w, protoRemoteWrite, accepted, rej, names, http.StatusNoContent)
}

// decode snappy-decodes req.body into req.data within the limits: the
// decoded size (max_body_bytes × decodedBodyFactor) and the decoded bytes in
// flight. On success the caller calls release once it is done with req.data.
func (in *Ingester) decode(ctx context.Context, req *rwRequest) (release func(), err error) {
	n, err := snappy.DecodedLen(req.body)
	if err != nil {
		return nil, badRequest("decode snappy body: %v", err)
	}
	if limit := in.limits.Load().MaxBodyBytes * decodedBodyFactor; int64(n) > limit {
		return nil, &requestError{code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("decoded body of %d bytes exceeds %d (limits.max_body_bytes × %d)", n, limit, decodedBodyFactor)}
	}
	if release, err = in.inflight.acquire(ctx, int64(n)); err != nil {
		return nil, err
	}
	if cap(req.data) < n {
		req.data = make([]byte, n)
	}
	req.data, err = snappy.Decode(req.data[:cap(req.data)], req.body)
	if err != nil {
		release()
		return nil, badRequest("decode snappy body: %v", err)
	}
	return release, nil
}

// writeRemote decodes req.body and writes it. A *requestError means nothing
// was written; another error is a storage failure.
func (in *Ingester) writeRemote(ctx context.Context, req *rwRequest) (int, *rejections, []string, error) {
	release, err := in.decode(ctx, req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer release()
	// The cache is read while parsing so that a known series' labels are
	// not even walked: their bytes equal ones validated before.
	in.cache.mu.RLock()
	err = req.parse(in.limits.Load().MaxSeriesPerRequest, in.cache.m)
	in.cache.mu.RUnlock()
	if err != nil {
		return 0, nil, nil, err
	}
	return in.appendRemote(ctx, req)
}

// parse walks the WriteRequest in req.data into req.series, looking each
// series up in known (read-locked by the caller).
func (req *rwRequest) parse(maxSeries int, known map[string]cacheEntry) error {
	b := req.data
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return badRequest("decode protobuf WriteRequest: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 {
			if typ != protowire.BytesType {
				return badRequest("decode protobuf WriteRequest: timeseries[%d]: wrong wire type %d", len(req.series), typ)
			}
			ts, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return badRequest("decode protobuf WriteRequest: timeseries[%d]: %v", len(req.series), protowire.ParseError(n))
			}
			b = b[n:]
			if len(req.series) >= maxSeries {
				return badRequest("request has more than limits.max_series_per_request %d series", maxSeries)
			}
			if err := req.parseSeries(ts, known); err != nil {
				return badRequest("decode protobuf WriteRequest: timeseries[%d]: %v", len(req.series), err)
			}
			continue
		}
		if num == 3 { // metadata: stored once the request is written
			if typ != protowire.BytesType {
				return badRequest("decode protobuf WriteRequest: metadata: wrong wire type %d", typ)
			}
			m, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return badRequest("decode protobuf WriteRequest: metadata: %v", protowire.ParseError(n))
			}
			var md prompb.MetricMetadata
			if err := md.Unmarshal(m); err != nil {
				return badRequest("decode protobuf WriteRequest: metadata: %v", err)
			}
			req.meta = append(req.meta, rwMetadata{name: md.MetricFamilyName, md: metadata.Metadata{Type: metricType(md.Type), Help: md.Help, Unit: md.Unit}})
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b) // unknown fields are skipped
		if n < 0 {
			return badRequest("decode protobuf WriteRequest: field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil
}

// parseSeries walks one TimeSeries message and appends it to req.series.
func (req *rwRequest) parseSeries(b []byte, known map[string]cacheEntry) error {
	s := rwSeries{s0: len(req.samples), h0: len(req.hists)}
	req.spans = req.spans[:0]
	for off := 0; off < len(b); {
		start := off
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return protowire.ParseError(n)
		}
		off += n
		switch num {
		case 1, 2, 4:
			if typ != protowire.BytesType {
				return fmt.Errorf("field %d: wrong wire type %d", num, typ)
			}
			m, n := protowire.ConsumeBytes(b[off:])
			if n < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			off += n
			switch num {
			case 1:
				if k := len(req.spans); k > 0 && req.spans[k-1][1] == start {
					req.spans[k-1][1] = off
				} else {
					req.spans = append(req.spans, [2]int{start, off})
				}
			case 2:
				v, t, err := parseSample(m)
				if err != nil {
					return fmt.Errorf("samples[%d]: %w", len(req.samples)-s.s0, err)
				}
				req.samples = append(req.samples, rwSample{v: v, t: t})
			case 4:
				var hp prompb.Histogram
				if err := hp.Unmarshal(m); err != nil {
					return fmt.Errorf("histograms[%d]: %w", len(req.hists)-s.h0, err)
				}
				rh := rwHistogram{t: hp.Timestamp}
				if hp.IsFloatHistogram() {
					rh.fh = hp.ToFloatHistogram()
				} else {
					rh.h = hp.ToIntHistogram()
				}
				req.hists = append(req.hists, rh)
			}
		case 3: // exemplars: checked, not stored
			if typ != protowire.BytesType {
				return fmt.Errorf("exemplars: wrong wire type %d", typ)
			}
			m, n := protowire.ConsumeBytes(b[off:])
			if n < 0 {
				return fmt.Errorf("exemplars: %w", protowire.ParseError(n))
			}
			var ex prompb.Exemplar
			if err := ex.Unmarshal(m); err != nil {
				return fmt.Errorf("exemplars: %w", err)
			}
			off += n
		default: // unknown fields
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
			if n < 0 {
				return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
			}
			off += n
		}
	}
	switch len(req.spans) {
	case 0:
	case 1:
		s.key = b[req.spans[0][0]:req.spans[0][1]]
	default: // labels interleaved with other fields: rare, copy them together
		for _, sp := range req.spans {
			s.key = append(s.key, b[sp[0]:sp[1]]...)
		}
	}
	if e, ok := known[string(s.key)]; ok && len(s.key) > 0 {
		s.ent, s.known = e, true
	} else {
		for i, rest := 0, s.key; len(rest) > 0; i++ {
			_, _, n := protowire.ConsumeTag(rest)
			m, k := protowire.ConsumeBytes(rest[n:])
			rest = rest[n+k:]
			if _, _, err := parseLabel(m); err != nil {
				return fmt.Errorf("labels[%d]: %w", i, err)
			}
		}
	}
	s.s1, s.h1 = len(req.samples), len(req.hists)
	req.series = append(req.series, s)
	return nil
}

// parseLabel walks a Label message.
func parseLabel(b []byte) (name, value []byte, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, nil, protowire.ParseError(n)
			}
			b = b[n:]
			if num == 1 {
				name = v
			} else {
				value = v
			}
			continue
		}
		if num == 1 || num == 2 {
			return nil, nil, fmt.Errorf("field %d: wrong wire type %d", num, typ)
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, nil, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return name, value, nil
}

// parseSample walks a Sample message.
func parseSample(b []byte) (v float64, t int64, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return 0, 0, protowire.ParseError(n)
			}
			b = b[n:]
			v = math.Float64frombits(x)
		case num == 2 && typ == protowire.VarintType:
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, protowire.ParseError(n)
			}
			b = b[n:]
			t = int64(x)
		case num == 1 || num == 2:
			return 0, 0, fmt.Errorf("field %d: wrong wire type %d", num, typ)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, 0, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return v, t, nil
}

// seriesLabels builds and validates the labels of a series from its raw
// label fields. Labels with an empty value are dropped (an empty value is
// the absence of the label in Prometheus). Labels out of order are sorted,
// as Prometheus and VictoriaMetrics accept them (the spec says senders
// must sort; docs/ingest.md, "Liberal input"). On rejection it returns the
// reason and the labels as sent, for the message.
func (in *Ingester) seriesLabels(key []byte, sb *labels.ScratchBuilder) (labels.Labels, string, string) {
	sb.Reset()
	var pairs [][2]string
	prev := ""
	reason := ""
	sorted := true
	for len(key) > 0 {
		_, _, n := protowire.ConsumeTag(key)
		m, k := protowire.ConsumeBytes(key[n:])
		key = key[n+k:]
		nb, vb, _ := parseLabel(m)
		name, value := string(nb), string(vb)
		pairs = append(pairs, [2]string{name, value})
		if len(pairs) > 1 && name == prev && reason == "" {
			reason = fmt.Sprintf("label %q appears twice", name)
		}
		if len(pairs) > 1 && name < prev {
			sorted = false
		}
		prev = name
		if value != "" {
			sb.Add(name, value)
		}
	}
	if reason == "" {
		if !sorted {
			sb.Sort()
		}
		ls := sb.Labels()
		if reason = in.checkSeries(ls); reason == "" {
			return ls, "", ""
		}
	}
	return labels.EmptyLabels(), reason, quoteLabels(pairs)
}

// appendRemote appends the parsed request and commits it.
func (in *Ingester) appendRemote(ctx context.Context, req *rwRequest) (int, *rejections, []string, error) {
	win := in.window()
	rej := &rejections{protocol: protoRemoteWrite}
	app := in.app.AppenderV2(ctx)
	accepted := 0
	defer req.seen.reset()
	for i := range req.series {
		s := &req.series[i]
		if s.s0 == s.s1 && s.h0 == s.h1 {
			continue
		}
		if !s.known {
			ls, reason, shown := in.seriesLabels(s.key, &req.sb)
			if reason != "" {
				for j := s.s0; j < s.s1; j++ {
					rej.add(reasonInvalidSeries, func() string { return shown }, req.samples[j].t, reason)
				}
				for j := s.h0; j < s.h1; j++ {
					rej.add(reasonInvalidSeries, func() string { return shown }, req.hists[j].t, reason)
				}
				continue
			}
			s.ent = cacheEntry{ls: ls, name: ls.Get(model.MetricNameLabel), hash: ls.Hash()}
		}
		ok := false
		for j := s.s0; j < s.s1; j++ {
			sm := req.samples[j]
			if reason, why := win.check(in, sm.t); reason != "" {
				rej.add(reason, s.ent.ls.String, sm.t, why)
				continue
			}
			if err := req.seen.conflict(s.ent.hash, sm.t, sm.v); err != nil {
				rej.add(reasonDuplicate, s.ent.ls.String, sm.t, err.Error())
				continue
			}
			ref, err := app.Append(s.ent.ref, s.ent.ls, 0, sm.t, sm.v, nil, nil, storage.AOptions{})
			if err != nil {
				if err := in.appendFailed(rej, err, s.ent.ls, sm.t); err != nil {
					_ = app.Rollback()
					return 0, nil, nil, err
				}
				continue
			}
			if ref != s.ent.ref {
				s.ent.ref, s.learn = ref, true
			}
			ok = true
			accepted++
		}
		for j := s.h0; j < s.h1; j++ {
			hs := req.hists[j]
			if reason, why := win.check(in, hs.t); reason != "" {
				rej.add(reason, s.ent.ls.String, hs.t, why)
				continue
			}
			ref, err := app.Append(s.ent.ref, s.ent.ls, 0, hs.t, 0, hs.h, hs.fh, storage.AOptions{})
			if err != nil {
				if err := in.appendFailed(rej, err, s.ent.ls, hs.t); err != nil {
					_ = app.Rollback()
					return 0, nil, nil, err
				}
				continue
			}
			if ref != s.ent.ref {
				s.ent.ref, s.learn = ref, true
			}
			ok = true
			accepted++
		}
		if ok {
			req.names[s.ent.name] = struct{}{}
		}
	}
	if err := app.Commit(); err != nil {
		return 0, nil, nil, fmt.Errorf("commit samples: %w", err)
	}
	in.learn(req)
	for _, m := range req.meta {
		in.meta.add(m.name, m.md)
	}
	var names []string // fresh: the listener may keep it
	if len(req.names) > 0 {
		names = make([]string, 0, len(req.names))
		for name := range req.names {
			names = append(names, name)
		}
	}
	return accepted, rej, names, nil
}

// appendFailed records a sample the appender refused; it returns an error
// only when the failure is the storage's, not the sample's.
func (in *Ingester) appendFailed(rej *rejections, err error, ls labels.Labels, t int64) error {
	reason, ok := classifyAppendErr(err)
	if !ok {
		return fmt.Errorf("append sample of %s: %w", ls, err)
	}
	rej.add(reason, ls.String, t, err.Error())
	return nil
}

// learn stores the series whose reference is new in the cache.
func (in *Ingester) learn(req *rwRequest) {
	n := 0
	for i := range req.series {
		if req.series[i].learn {
			n++
		}
	}
	if n == 0 {
		return
	}
	c := in.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range req.series {
		s := &req.series[i]
		if !s.learn {
			continue
		}
		if _, ok := c.m[string(s.key)]; !ok && len(c.m) >= c.max {
			clear(c.m) // bounded: start over; the head still has every series
		}
		c.m[string(s.key)] = s.ent
	}
}
