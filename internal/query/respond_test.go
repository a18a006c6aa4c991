package query

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/jsonutil"
)

// TestAppendPointAsPrometheus: appendPoint writes every timestamp and value
// byte for byte as Prometheus's jsonutil does: whole numbers around 2^53,
// zeros of both signs, the exponent form's bounds, NaN, infinities,
// subnormals, and a million random bit patterns and integers.
func TestAppendPointAsPrometheus(t *testing.T) {
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -2.5, 1e-6, 1e-7, 9.999999e-7, 1e20, 1e21, -1e21, 1e22,
		1 << 52, 1<<52 + 1, 1<<53 - 1, 1 << 53, 1<<53 + 2, -(1<<53 - 1), -(1 << 53), 1e15, 123456789012345678, 1e300,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1),
		math.MaxInt64, math.MinInt64, 36.896694913069155, 1234.5678}
	times := []int64{0, 1, -1, 999, 1000, 1001, -1001, 1500, 1_796_424_600_000, 1_796_424_600_010, -1_796_424_600_005,
		math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		switch rnd.IntN(4) {
		case 0:
			floats = append(floats, math.Float64frombits(rnd.Uint64()))
		case 1:
			floats = append(floats, float64(rnd.Int64N(1<<54)-1<<53))
		case 2:
			floats = append(floats, float64(rnd.IntN(100_000))/float64(1+rnd.IntN(1000)))
		default:
			floats = append(floats, rnd.NormFloat64()*math.Pow(10, float64(rnd.IntN(50)-25)))
		}
		times = append(times, int64(rnd.Uint64()))
	}
	stream := jsoniter.NewStream(jsoniter.ConfigCompatibleWithStandardLibrary, nil, 64)
	bad := 0
	for i, f := range floats {
		ts := times[i%len(times)]
		stream.SetBuffer(stream.Buffer()[:0])
		stream.WriteArrayStart()
		jsonutil.MarshalTimestamp(ts, stream)
		stream.WriteMore()
		jsonutil.MarshalFloat(f, stream)
		stream.WriteArrayEnd()
		if got := appendPoint(nil, ts, f); !bytes.Equal(got, stream.Buffer()) {
			if bad++; bad <= 10 {
				t.Errorf("t=%d f=%v (bits %#x): wrote %s, Prometheus %s", ts, f, math.Float64bits(f), got, stream.Buffer())
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d points differ", bad, len(floats))
	}
}

// TestRespondInPieces: an answer of many pieces (chunkBytes each) is the
// same document as Prometheus's encoding of it in one buffer, and
// query.max_response_bytes holds to the byte across the pieces.
func TestRespondInPieces(t *testing.T) {
	m := make(promql.Matrix, 400)
	for i := range m {
		m[i].Metric = labels.FromStrings("__name__", "pieces", "series", strconv.Itoa(i), "quote", `a"b\c`)
		for ts := range 700 {
			f := float64(i*ts) / 7
			if i%3 == 0 {
				f = float64(i + ts)
			}
			m[i].Floats = append(m[i].Floats, promql.FPoint{T: int64(ts)*1000 + int64(i%5), F: f})
		}
	}
	want := referenceMatrixJSON(m)
	if len(want) < 5*chunkBytes {
		t.Fatalf("the answer is %d bytes, want several pieces of %d", len(want), chunkBytes)
	}
	get := func(maxBytes int) *httptest.ResponseRecorder {
		a, err := New(Options{Queryable: openStore(t, nil), Registerer: prometheus.NewRegistry(), MaxResponseBytes: maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		a.respond(rec, queryData{resultType: m.Type(), result: m}, nil, "")
		return rec
	}
	// The bound counts the envelope up to its data: all but the closing brace.
	for _, max := range []int{0, len(want) - 1} {
		rec := get(max)
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Fatalf("max_response_bytes %d: %d, %d bytes, want 200 and Prometheus's %d bytes", max, rec.Code, rec.Body.Len(), len(want))
		}
	}
	if rec := get(len(want) - 2); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("max_response_bytes one byte under the answer: %d %.200s, want 422", rec.Code, rec.Body)
	}
}

// referenceMatrixJSON is a matrix's success envelope as Prometheus's
// jsonutil writes it, in one buffer.
func referenceMatrixJSON(m promql.Matrix) []byte {
	s := jsoniter.NewStream(jsoniter.ConfigCompatibleWithStandardLibrary, nil, 1<<20)
	s.WriteRaw(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for i, ser := range m {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteRaw(`{"metric":`)
		s.WriteVal(ser.Metric.Map())
		s.WriteRaw(`,"values":[`)
		for j, p := range ser.Floats {
			if j > 0 {
				s.WriteMore()
			}
			s.WriteArrayStart()
			jsonutil.MarshalTimestamp(p.T, s)
			s.WriteMore()
			jsonutil.MarshalFloat(p.F, s)
			s.WriteArrayEnd()
		}
		s.WriteRaw(`]}`)
	}
	s.WriteRaw(`]}}`)
	return s.Buffer()
}

// TestStepTimesAsAppendTimestamp: a matrix written with its step times
// formatted once (stepTimes) is byte for byte the matrix written with every
// timestamp formatted on its own: series on one grid, starting and ending at
// different steps, with gaps, points off the grid, negative and sub-second
// times, and grids too long for a table.
func TestStepTimesAsAppendTimestamp(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 5))
	for round := range 300 {
		step := []int64{1, 15, 1000, 1500, 60_000, 7}[rnd.IntN(6)]
		from := rnd.Int64N(4_000_000_000_000) - 1_000_000_000_000
		n := 1 + rnd.IntN(20)
		if round%50 == 0 {
			n = maxStepTimes + 10 // too long: every point formatted alone
		}
		m := make(promql.Matrix, 1+rnd.IntN(5))
		for i := range m {
			m[i].Metric = labels.FromStrings("i", strconv.Itoa(i))
			t0 := from + step*int64(rnd.IntN(5))
			for k := 0; k < n; k++ {
				ts := t0 + step*int64(k)
				if rnd.IntN(10) == 0 {
					continue // a gap
				}
				if rnd.IntN(20) == 0 {
					ts += 1 + rnd.Int64N(step) // off the grid, still in order
					if k+1 < n {
						ts = min(ts, t0+step*int64(k+1)-1)
					}
				}
				if len(m[i].Floats) > 0 && ts <= m[i].Floats[len(m[i].Floats)-1].T {
					continue
				}
				m[i].Floats = append(m[i].Floats, promql.FPoint{T: ts, F: rnd.NormFloat64()})
			}
		}
		steps := newStepTimes(m)
		for _, s := range m {
			a := jsoniter.NewStream(jsoniter.ConfigCompatibleWithStandardLibrary, nil, 64)
			b := jsoniter.NewStream(jsoniter.ConfigCompatibleWithStandardLibrary, nil, 64)
			writeSeries(a, s, steps)
			writeSeries(b, s, nil)
			if !bytes.Equal(a.Buffer(), b.Buffer()) {
				t.Fatalf("round %d (step %d): with the table %s\nwithout %s", round, step, a.Buffer(), b.Buffer())
			}
		}
	}
}
