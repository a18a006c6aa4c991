package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/jsonutil"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// engineError maps an error of the engine or of storage to its API type, as
// Prometheus does.
func engineError(err error) *httpapi.Error {
	var (
		eqc   promql.ErrQueryCanceled
		eqt   promql.ErrQueryTimeout
		es    promql.ErrStorage
		etms  promql.ErrTooManySeries
		etmsr promql.ErrTooManySamplesRead
	)
	switch {
	case errors.As(err, &eqc):
		return &httpapi.Error{Type: httpapi.ErrCanceled, Err: err}
	case errors.As(err, &eqt):
		return &httpapi.Error{Type: httpapi.ErrTimeout, Err: err}
	case errors.As(err, &etms), errors.As(err, &etmsr):
		return &httpapi.Error{Type: httpapi.ErrCostLimit, Err: err}
	case errors.As(err, &es):
		return &httpapi.Error{Type: httpapi.ErrInternal, Err: err}
	case errors.Is(err, context.Canceled):
		return &httpapi.Error{Type: httpapi.ErrCanceled, Err: err}
	}
	return &httpapi.Error{Type: httpapi.ErrExec, Err: err}
}

// queryData is the data of a query or query_range answer.
type queryData struct {
	resultType parser.ValueType
	result     parser.Value
}

// respond writes the success envelope. Query results, series lists and
// labels are written the way Prometheus's JSON codec writes them:
// timestamps as seconds with millisecond decimals, sample values as strings
// ("1.5", "+Inf", "NaN"), native histograms as {"count","sum","buckets"}.
func (a *API) respond(w http.ResponseWriter, data any, annos annotations.Annotations, query string) {
	json := jsoniter.ConfigCompatibleWithStandardLibrary
	var stream *jsoniter.Stream
	if est := estimateJSON(data); est > pooledStreamBytes {
		// A large answer gets a buffer of about its size at once: grown by
		// doubling from the pool's, a 60 MB answer was copied ~16 times and
		// left twice its size as garbage (14 % of gmc's CPU in memmove under
		// bench/soak's heavy queries). Not pooled: the pool would keep it.
		if a.maxBytes > 0 {
			est = min(est, a.maxBytes+1)
		}
		stream = jsoniter.NewStream(json, nil, est)
	} else {
		stream = json.BorrowStream(nil)
		defer json.ReturnStream(stream)
	}
	stream.WriteObjectStart()
	stream.WriteObjectField("status")
	stream.WriteString("success")
	stream.WriteMore()
	stream.WriteObjectField("data")
	// A bound of 0 is none; the stream stops growing once past it.
	lim := sizeLimit{stream: stream, max: a.maxBytes, yield: !a.noYield}
	if !writeData(&lim, data) {
		httpapi.WriteError(w, httpapi.ErrExec, fmt.Errorf(
			"response exceeds query.max_response_bytes %d bytes of JSON: narrow the selector, widen the step or pass limit=", a.maxBytes))
		return
	}
	warnings, infos := annos.AsStrings(query, 10, 10)
	if len(warnings) > 0 {
		stream.WriteMore()
		stream.WriteObjectField("warnings")
		stream.WriteVal(warnings)
	}
	if len(infos) > 0 {
		stream.WriteMore()
		stream.WriteObjectField("infos")
		stream.WriteVal(infos)
	}
	stream.WriteObjectEnd()
	if stream.Error != nil {
		a.logger.Error("encode api response", "err", stream.Error)
		httpapi.WriteError(w, httpapi.ErrInternal, fmt.Errorf("encode response: %w", stream.Error))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if a.noYield {
		w.Write(stream.Buffer())
		return
	}
	writeYielding(w, stream.Buffer())
}

// Yielding: a heavy answer is encoded and compressed (gzip, by the server's
// wrapper) on one goroutine for hundreds of milliseconds. Go preempts a
// goroutine that has run 10 ms while others wait, so on two cores an ingest
// request arriving behind it waited up to 10 ms at each of its steps. The
// encoder and the writer yield the processor every yieldPoints points and
// yieldBytes bytes (well under a millisecond of work each).
const (
	yieldPoints = 4096
	yieldBytes  = 128 << 10
)

// writeYielding writes b to w in pieces of yieldBytes, yielding between them.
func writeYielding(w io.Writer, b []byte) {
	for len(b) > yieldBytes {
		if _, err := w.Write(b[:yieldBytes]); err != nil {
			return
		}
		b = b[yieldBytes:]
		runtime.Gosched()
	}
	w.Write(b)
}

// pooledStreamBytes is the largest answer encoded in a pooled stream.
const pooledStreamBytes = 1 << 20

// estimateJSON is about the size of data's JSON answer, from the points of
// a matrix (a point encodes as about [1796393891.123,"1234.5678"]); 0 for
// other answers.
func estimateJSON(data any) int {
	qd, ok := data.(queryData)
	if !ok {
		return 0
	}
	m, ok := qd.result.(promql.Matrix)
	if !ok {
		return 0
	}
	n := 64
	for _, s := range m {
		n += 64 + int(s.Metric.ByteSize()) + 6*s.Metric.Len() + 28*len(s.Floats) + 256*len(s.Histograms)
	}
	return n
}

// sizeLimit is a stream with a bound on its size (max 0: none).
type sizeLimit struct {
	stream *jsoniter.Stream
	max    int
	yield  bool // yield the processor every yieldPoints points
}

// over reports whether the stream has grown past the bound.
func (l *sizeLimit) over() bool { return l.max > 0 && l.stream.Buffered() > l.max }

// writeData writes data; false when the answer grew past the bound (the
// stream then holds a partial answer, not to be sent).
func writeData(lim *sizeLimit, data any) bool {
	stream := lim.stream
	switch v := data.(type) {
	case queryData:
		stream.WriteObjectStart()
		stream.WriteObjectField("resultType")
		stream.WriteString(string(v.resultType))
		stream.WriteMore()
		stream.WriteObjectField("result")
		if !writeValue(lim, v.result) {
			return false
		}
		stream.WriteObjectEnd()
	case []labels.Labels:
		stream.WriteArrayStart()
		for i, ls := range v {
			if i > 0 {
				stream.WriteMore()
			}
			writeLabels(stream, ls)
			if i%256 == 0 && lim.over() {
				return false
			}
		}
		stream.WriteArrayEnd()
	default:
		stream.WriteVal(v)
	}
	return !lim.over()
}

func writeValue(lim *sizeLimit, v parser.Value) bool {
	stream := lim.stream
	switch v := v.(type) {
	case promql.Vector:
		stream.WriteArrayStart()
		for i, s := range v {
			if i > 0 {
				stream.WriteMore()
			}
			writeSample(stream, s)
			if i%256 == 0 && lim.over() {
				return false
			}
		}
		stream.WriteArrayEnd()
	case promql.Matrix:
		stream.WriteArrayStart()
		points := 0
		for i, s := range v {
			if i > 0 {
				stream.WriteMore()
			}
			writeSeries(stream, s)
			if lim.over() {
				return false
			}
			if points += len(s.Floats) + 16*len(s.Histograms); lim.yield && points >= yieldPoints {
				runtime.Gosched()
				points = 0
			}
		}
		stream.WriteArrayEnd()
	default: // promql.Scalar and promql.String: Prometheus uses their MarshalJSON.
		stream.WriteVal(v)
	}
	return true
}

func writeLabels(stream *jsoniter.Stream, ls labels.Labels) {
	stream.WriteObjectStart()
	i := 0
	ls.Range(func(l labels.Label) {
		if i > 0 {
			stream.WriteMore()
		}
		i++
		stream.WriteString(l.Name)
		stream.WriteRaw(":")
		stream.WriteString(l.Value)
	})
	stream.WriteObjectEnd()
}

func writeSample(stream *jsoniter.Stream, s promql.Sample) {
	stream.WriteObjectStart()
	stream.WriteObjectField("metric")
	writeLabels(stream, s.Metric)
	stream.WriteMore()
	if s.H == nil {
		stream.WriteObjectField("value")
	} else {
		stream.WriteObjectField("histogram")
	}
	stream.WriteArrayStart()
	jsonutil.MarshalTimestamp(s.T, stream)
	stream.WriteMore()
	if s.H == nil {
		jsonutil.MarshalFloat(s.F, stream)
	} else {
		jsonutil.MarshalHistogram(s.H, stream)
	}
	stream.WriteArrayEnd()
	stream.WriteObjectEnd()
}

func writeSeries(stream *jsoniter.Stream, s promql.Series) {
	stream.WriteObjectStart()
	stream.WriteObjectField("metric")
	writeLabels(stream, s.Metric)
	if len(s.Floats) > 0 {
		stream.WriteMore()
		stream.WriteObjectField("values")
		stream.WriteArrayStart()
		for i, p := range s.Floats {
			if i > 0 {
				stream.WriteMore()
			}
			stream.WriteArrayStart()
			jsonutil.MarshalTimestamp(p.T, stream)
			stream.WriteMore()
			jsonutil.MarshalFloat(p.F, stream)
			stream.WriteArrayEnd()
		}
		stream.WriteArrayEnd()
	}
	if len(s.Histograms) > 0 {
		stream.WriteMore()
		stream.WriteObjectField("histograms")
		stream.WriteArrayStart()
		for i, p := range s.Histograms {
			if i > 0 {
				stream.WriteMore()
			}
			stream.WriteArrayStart()
			jsonutil.MarshalTimestamp(p.T, stream)
			stream.WriteMore()
			jsonutil.MarshalHistogram(p.H, stream)
			stream.WriteArrayEnd()
		}
		stream.WriteArrayEnd()
	}
	stream.WriteObjectEnd()
}
