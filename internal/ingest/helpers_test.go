package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/storage"
)

// ingestTestNow is the fixed clock of the tests: 2026-11-25T12:00:00Z.
func ingestTestNow() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

// nowMs is ingestTestNow in milliseconds.
var nowMs = ingestTestNow().UnixMilli()

// testEnv is an Ingester over a real TSDB in a temp dir.
type testEnv struct {
	in  *Ingester
	db  *storage.TSDB
	reg *prometheus.Registry
	// limiter enforces the cardinality limits in the head.
	limiter *SeriesLimiter

	mu        sync.Mutex
	committed [][]string
}

func newTestEnv(tb testing.TB, limits func(*Limits)) *testEnv {
	tb.Helper()
	reg := prometheus.NewRegistry()
	l := DefaultLimits()
	if limits != nil {
		limits(&l)
	}
	lim := NewSeriesLimiter(SeriesLimiterOptions{Limits: l, Registerer: reg, Now: ingestTestNow})
	db, err := storage.Open(storage.Options{Dir: tb.TempDir(), Retention: 24 * time.Hour, Registerer: reg, SeriesCallback: lim})
	if err != nil {
		tb.Fatal(err)
	}
	lim.Enforce()
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close tsdb: %v", err)
		}
	})
	e := &testEnv{db: db, reg: reg, limiter: lim}
	e.in, err = New(Options{
		Appendable: db,
		Limits:     l,
		Registerer: reg,
		Now:        ingestTestNow,
		Listener: MetricsListenerFunc(func(names []string) {
			e.mu.Lock()
			defer e.mu.Unlock()
			sorted := append([]string(nil), names...)
			sort.Strings(sorted)
			e.committed = append(e.committed, sorted)
		}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// do sends one request to h and returns the status and body.
func do(tb testing.TB, h http.Handler, method, path string, header map[string]string, body []byte) (int, string) {
	tb.Helper()
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// stored returns every sample in the TSDB, one line each: `{labels} t value`
// (a histogram's value is its String()), sorted by series then time.
func (e *testEnv) stored(tb testing.TB) []string {
	tb.Helper()
	q, err := e.db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		tb.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	var out []string
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				t, v := it.At()
				out = append(out, fmt.Sprintf("%s %d %g", s.Labels(), t, v))
			case chunkenc.ValHistogram:
				t, h := it.AtHistogram(nil)
				out = append(out, fmt.Sprintf("%s %d %s", s.Labels(), t, h))
			case chunkenc.ValFloatHistogram:
				t, h := it.AtFloatHistogram(nil)
				out = append(out, fmt.Sprintf("%s %d %s", s.Labels(), t, h))
			}
		}
		if err := it.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := ss.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// encodeWrite marshals and snappy-compresses a remote-write request.
func encodeWrite(tb testing.TB, ts ...prompb.TimeSeries) []byte {
	tb.Helper()
	b, err := (&prompb.WriteRequest{Timeseries: ts}).Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, b)
}

// series builds a TimeSeries from name/value pairs, kept in the given order.
func series(pairs []string, samples ...prompb.Sample) prompb.TimeSeries {
	ts := prompb.TimeSeries{Samples: samples}
	for i := 0; i+1 < len(pairs); i += 2 {
		ts.Labels = append(ts.Labels, prompb.Label{Name: pairs[i], Value: pairs[i+1]})
	}
	return ts
}

var rwHeaders = map[string]string{
	"Content-Type":                      "application/x-protobuf",
	"Content-Encoding":                  "snappy",
	"X-Prometheus-Remote-Write-Version": "0.1.0",
}
