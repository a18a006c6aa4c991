package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"

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
//
// The answer is encoded into pieces of chunkBytes taken from a pool, kept
// until the whole answer is known to fit query.max_response_bytes, then
// written. One buffer of the answer's size (5aa081a) cost a fresh
// allocation per heavy answer, zeroed page by page: 28 % of
// BenchmarkRespondHeavy's CPU in memclr.
func (a *API) respond(w http.ResponseWriter, data any, annos annotations.Annotations, query string) {
	buf := a.newAnswer()
	defer buf.free()
	stream := buf.stream
	stream.WriteObjectStart()
	stream.WriteObjectField("status")
	stream.WriteString("success")
	stream.WriteMore()
	stream.WriteObjectField("data")
	// A bound of 0 is none; the stream stops growing once past it.
	lim := sizeLimit{answer: buf, max: int(a.maxBytes.Load()), yield: !a.noYield}
	if !writeData(&lim, data) {
		httpapi.WriteError(w, httpapi.ErrExec, fmt.Errorf(
			"response exceeds query.max_response_bytes %d bytes of JSON: narrow the selector, widen the step or pass limit=", lim.max))
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
	buf.spill()
	for _, c := range buf.chunks {
		if a.noYield {
			if _, err := w.Write(c); err != nil {
				return
			}
			continue
		}
		if writeYielding(w, c) != nil {
			return
		}
	}
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
func writeYielding(w io.Writer, b []byte) error {
	for len(b) > yieldBytes {
		if _, err := w.Write(b[:yieldBytes]); err != nil {
			return err
		}
		b = b[yieldBytes:]
		runtime.Gosched()
	}
	_, err := w.Write(b)
	return err
}

// chunkBytes is the size of an answer's pieces.
const chunkBytes = 1 << 20

// answer is an answer being encoded: a stream writing into a pooled piece,
// and the full pieces before it.
type answer struct {
	stream *jsoniter.Stream
	chunks [][]byte
	size   int // bytes in chunks
	pool   *sync.Pool
}

func (a *API) newAnswer() *answer {
	ans := &answer{pool: &a.chunks, stream: jsoniter.NewStream(jsoniter.ConfigCompatibleWithStandardLibrary, nil, 0)}
	ans.stream.SetBuffer(ans.take())
	return ans
}

// take returns an empty piece from the pool.
func (ans *answer) take() []byte {
	if p, ok := ans.pool.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, chunkBytes+chunkBytes/8)
}

// next moves the stream to a new piece once its piece holds chunkBytes.
func (ans *answer) next() {
	if ans.stream.Buffered() >= chunkBytes {
		ans.spill()
		ans.stream.SetBuffer(ans.take())
	}
}

// spill moves what the stream holds to the full pieces.
func (ans *answer) spill() {
	if b := ans.stream.Buffer(); len(b) > 0 {
		ans.chunks = append(ans.chunks, b)
		ans.size += len(b)
		ans.stream.SetBuffer(nil)
	}
}

// len is the answer's size so far.
func (ans *answer) len() int { return ans.size + ans.stream.Buffered() }

// free returns the pieces to the pool (those that grew far past chunkBytes
// for one long series are left to the collector).
func (ans *answer) free() {
	ans.spill()
	for _, c := range ans.chunks {
		if cap(c) <= 4*chunkBytes {
			ans.pool.Put(&c)
		}
	}
	ans.chunks = nil
}

// sizeLimit is an answer with a bound on its size (max 0: none).
type sizeLimit struct {
	answer *answer
	max    int
	yield  bool // yield the processor every yieldPoints points
}

// over reports whether the answer has grown past the bound; it also moves
// the stream to a new piece when its piece is full.
func (l *sizeLimit) over() bool {
	l.answer.next()
	return l.max > 0 && l.answer.len() > l.max
}

// writeData writes data; false when the answer grew past the bound (the
// stream then holds a partial answer, not to be sent).
func writeData(lim *sizeLimit, data any) bool {
	stream := lim.answer.stream
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
	stream := lim.answer.stream
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
		steps := newStepTimes(v)
		for i, s := range v {
			if i > 0 {
				stream.WriteMore()
			}
			writeSeries(stream, s, steps)
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
		stream.SetBuffer(appendPoint(stream.Buffer(), s.T, s.F))
		stream.WriteObjectEnd()
		return
	}
	stream.WriteObjectField("histogram")
	stream.WriteArrayStart()
	jsonutil.MarshalTimestamp(s.T, stream)
	stream.WriteMore()
	jsonutil.MarshalHistogram(s.H, stream)
	stream.WriteArrayEnd()
	stream.WriteObjectEnd()
}

func writeSeries(stream *jsoniter.Stream, s promql.Series, steps *stepTimes) {
	stream.WriteObjectStart()
	stream.WriteObjectField("metric")
	writeLabels(stream, s.Metric)
	if len(s.Floats) > 0 {
		stream.WriteMore()
		stream.WriteObjectField("values")
		b := append(stream.Buffer(), '[')
		for i, p := range s.Floats {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = steps.append(b, p.T)
			b = append(b, ',', '"')
			b = appendFloat(b, p.F)
			b = append(b, '"', ']')
		}
		stream.SetBuffer(append(b, ']'))
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

// appendPoint appends [t,"f"] as jsonutil's MarshalTimestamp and
// MarshalFloat write them, byte for byte (TestAppendPointAsPrometheus),
// without a call into the stream per byte written.
func appendPoint(b []byte, t int64, f float64) []byte {
	b = append(b, '[')
	b = appendTimestamp(b, t)
	b = append(b, ',', '"')
	b = appendFloat(b, f)
	return append(b, '"', ']')
}

// stepTimes holds the written form of a range answer's step times, each
// formatted once for all its series rather than once per point (formatting
// the timestamps of bench/soak's heavy answer, 1.7M points on 601 steps,
// was 9 % of gmc's CPU under its heavy queries). The grid is read from the
// answer: from its earliest point, at the least gap between two points of
// its first series with two; a point off the grid is formatted as before.
type stepTimes struct {
	from, step int64
	text       [][]byte // by step index; nil until first written
}

// maxStepTimes bounds the table: a range query has at most 11,000 steps.
const maxStepTimes = maxPointsPerSeries + 1

// newStepTimes is the table of m's step times; nil (every point formatted
// on its own) when m has no series with two points.
func newStepTimes(m promql.Matrix) *stepTimes {
	var from, to, step int64
	found := false
	for _, s := range m {
		if len(s.Floats) == 0 {
			continue
		}
		first, last := s.Floats[0].T, s.Floats[len(s.Floats)-1].T
		if !found || first < from {
			from = first
		}
		if !found || last > to {
			to = last
		}
		found = true
		if step == 0 && len(s.Floats) > 1 {
			step = s.Floats[1].T - first
			for i := 2; i < len(s.Floats); i++ {
				step = min(step, s.Floats[i].T-s.Floats[i-1].T)
			}
		}
	}
	if step <= 0 || to < from || (to-from)/step >= maxStepTimes {
		return nil // no grid, too many steps, or times too far apart for int64
	}
	return &stepTimes{from: from, step: step, text: make([][]byte, (to-from)/step+1)}
}

// append writes t as appendTimestamp does, from the table when t is on
// its grid.
func (st *stepTimes) append(b []byte, t int64) []byte {
	if st == nil || t < st.from {
		return appendTimestamp(b, t)
	}
	d := t - st.from // may overflow for t far from the grid: negative then
	if d < 0 || d%st.step != 0 || d/st.step >= int64(len(st.text)) {
		return appendTimestamp(b, t)
	}
	i := d / st.step
	if st.text[i] == nil {
		st.text[i] = appendTimestamp(nil, t)
	}
	return append(b, st.text[i]...)
}

// appendTimestamp writes milliseconds t as seconds with the milliseconds'
// three digits when they are not 0 (jsonutil.MarshalTimestamp).
func appendTimestamp(b []byte, t int64) []byte {
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1000, 10)
	if frac := t % 1000; frac != 0 {
		b = append(b, '.')
		if frac < 100 {
			b = append(b, '0')
		}
		if frac < 10 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, frac, 10)
	}
	return b
}

// appendFloat writes f as jsonutil.MarshalFloat does between its quotes:
// the shortest decimal that reads back as f, in exponent form below 1e-6
// and from 1e21. A whole number below 2^53 is its integer's digits (the
// floats around it are at most 1 apart, so no shorter decimal reads back
// as it), written as an integer: counters and bucket counts, 9 values in
// 10 of bench/soak's heavy answer, skip the float formatting.
func appendFloat(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}
