package query

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// TestYieldQueryableSameAnswers runs range and instant queries over the raw
// store and over yieldQueryable (whose iterators the engine reuses from
// series to series): the answers must be the same, and a query longer than
// yieldEvery must have yielded.
func TestYieldQueryableSameAnswers(t *testing.T) {
	var ss []sample
	for i := range 300 {
		ls := labels.FromStrings("__name__", "yield_test", "series", strconv.Itoa(i))
		for ts := int64(0); ts < 3_600_000; ts += 10_000 {
			ss = append(ss, sample{lset: ls, t: ts, v: float64(i*1000) + float64(ts)/1000})
		}
	}
	st := openStore(t, ss)
	eng, _, err := NewEngine(EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yields := 0
	yq := yieldQueryable{q: st, yield: func() { yields++ }}
	ctx := context.Background()
	start, end := time.UnixMilli(0), time.UnixMilli(3_590_000)
	for _, expr := range []string{"yield_test", "rate(yield_test[5m])", "sum(max_over_time(yield_test[30m]))"} {
		run := func(q promql.Query, err error) promql.Matrix {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			res := q.Exec(ctx)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			m, err := res.Matrix()
			if err != nil {
				t.Fatal(err)
			}
			return ownedMatrix(m)
		}
		want := run(eng.NewRangeQuery(ctx, st, nil, expr, start, end, time.Second))
		got := run(eng.NewRangeQuery(ctx, yq, nil, expr, start, end, time.Second))
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d series through yieldQueryable, %d over the store, or they differ", expr, len(got), len(want))
		}
	}
	if yields == 0 {
		t.Error("three range queries over 300 series x 3,600 steps never yielded")
	}
	t.Logf("%d yields", yields)
}

// TestWriteYieldingWritesAll: an answer written in yieldBytes pieces
// arrives whole, whatever its size against the piece.
func TestWriteYieldingWritesAll(t *testing.T) {
	for _, n := range []int{0, 1, yieldBytes - 1, yieldBytes, yieldBytes + 1, 5*yieldBytes + 17} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		var got bytes.Buffer
		writeYielding(&got, b)
		if !bytes.Equal(got.Bytes(), b) {
			t.Errorf("%d bytes: wrote %d, not the same", n, got.Len())
		}
	}
}

// ownedMatrix copies a query's matrix out of the engine's pools (Close
// recycles them).
func ownedMatrix(m promql.Matrix) promql.Matrix {
	out := make(promql.Matrix, len(m))
	for i, s := range m {
		out[i] = promql.Series{Metric: s.Metric, DropName: s.DropName, Floats: slices.Clone(s.Floats)}
		if len(s.Histograms) > 0 {
			out[i].Histograms = make([]promql.HPoint, len(s.Histograms))
			for j, p := range s.Histograms {
				out[i].Histograms[j] = promql.HPoint{T: p.T, H: p.H.Copy()}
			}
		}
	}
	return out
}
