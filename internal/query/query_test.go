package query

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/storage"
)

// sample is one sample to write; h set means a native histogram.
type sample struct {
	lset labels.Labels
	t    int64 // ms
	v    float64
	h    *histogram.Histogram
}

// seededRand is a random source of stream whose seed, new each run, is
// logged ("data seed"): a failure's data can be made again from it.
func seededRand(t testing.TB, stream uint64) *rand.Rand {
	t.Helper()
	seed := rand.New(rand.NewPCG(stream, uint64(time.Now().UnixNano()))).Uint64()
	t.Logf("data seed %d", seed)
	return rand.New(rand.NewPCG(stream, seed))
}

// openStore opens a real TSDB in a temp dir holding samples.
func openStore(t testing.TB, samples []sample) *storage.TSDB {
	t.Helper()
	st, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := st.AppenderV2(context.Background())
	for _, s := range samples {
		if _, err := app.Append(0, s.lset, 0, s.t, s.v, s.h, nil, promstorage.AOptions{}); err != nil {
			t.Fatalf("append %s@%d: %v", s.lset, s.t, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return st
}

// testHistogram has a zero bucket [-0.001,0.001] of 1 and buckets
// (0.5,1] and (1,2] of 2 each.
func testHistogram() *histogram.Histogram {
	return &histogram.Histogram{
		Count:           5,
		Sum:             10,
		Schema:          0,
		ZeroThreshold:   0.001,
		ZeroCount:       1,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []int64{2, 0},
	}
}

func fixture(t *testing.T) *storage.TSDB {
	var ss []sample
	for i := int64(0); i <= 8; i++ {
		ts := i * 15_000
		ss = append(ss,
			sample{lset: labels.FromStrings("__name__", "up", "job", "a", "instance", "x"), t: ts, v: 1},
			sample{lset: labels.FromStrings("__name__", "up", "job", "b", "instance", "y"), t: ts, v: 0},
			sample{lset: labels.FromStrings("__name__", "req_total", "job", "a"), t: ts, v: float64(i * 10)},
		)
	}
	ss = append(ss,
		sample{lset: labels.FromStrings("__name__", "lat", "job", "a"), t: 60_000, h: testHistogram()},
		sample{lset: labels.FromStrings("__name__", "big", "job", "<&>"), t: 60_000, v: 1e21},
		sample{lset: labels.FromStrings("__name__", "tiny", "job", "a"), t: 60_500, v: 1e-7},
		sample{lset: labels.FromStrings("__name__", "inf", "job", "a"), t: 60_000, v: math.Inf(1)},
	)
	return openStore(t, ss)
}

func newAPI(t *testing.T, st promstorage.Queryable, maxSamples int) *API {
	t.Helper()
	a, err := New(Options{
		Queryable:  st,
		Registerer: prometheus.NewRegistry(),
		Version:    "1.2.3",
		Now:        func() time.Time { return time.Unix(120, 0) },
		MaxSamples: maxSamples,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// call sends method to handler h with params (query string for GET,
// form body for POST) and path values.
func call(t *testing.T, h http.HandlerFunc, method string, params url.Values, pathValues map[string]string) (int, string) {
	t.Helper()
	var req *http.Request
	if method == http.MethodPost {
		req = httptest.NewRequest(method, "/api", strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, "/api?"+params.Encode(), nil)
	}
	for k, v := range pathValues {
		req.SetPathValue(k, v)
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	body, _ := io.ReadAll(rec.Body)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return rec.Code, string(body)
}

func TestQueryAPI(t *testing.T) {
	st := fixture(t)
	a := newAPI(t, st, 0)
	v := func(kv ...string) url.Values {
		u := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			u.Add(kv[i], kv[i+1])
		}
		return u
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		method  string
		params  url.Values
		path    map[string]string
		code    int
		want    string
	}{
		{
			name: "instant vector at default time (now)", handler: a.Query, method: "GET",
			params: v("query", `up{job="a"}`),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"x","job":"a"},"value":[120,"1"]}]}}`,
		},
		{
			name: "instant vector by POST form, fractional unix time", handler: a.Query, method: "POST",
			params: v("query", `sum by (job) (up)`, "time", "100.5"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[100.500,"1"]},{"metric":{"job":"b"},"value":[100.500,"0"]}]}}`,
		},
		{
			name: "RFC3339 time", handler: a.Query, method: "GET",
			params: v("query", `req_total`, "time", "1970-01-01T00:01:00Z"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"req_total","job":"a"},"value":[60,"40"]}]}}`,
		},
		{
			name: "scalar", handler: a.Query, method: "GET",
			params: v("query", `1.5`, "time", "10"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"scalar","result":[10,"1.5"]}}`,
		},
		{
			name: "scalar +Inf and NaN strings", handler: a.Query, method: "GET",
			params: v("query", `vector(1/0) or vector(0/0)`, "time", "10"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[10,"+Inf"]}]}}`,
		},
		{
			name: "NaN value", handler: a.Query, method: "GET",
			params: v("query", `0/0`, "time", "10"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"scalar","result":[10,"NaN"]}}`,
		},
		{
			name: "string", handler: a.Query, method: "GET",
			params: v("query", `"hello"`, "time", "10"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"string","result":[10,"hello"]}}`,
		},
		{
			// Label values inside metrics are not HTML-escaped (Prometheus writes
			// them with jsoniter's Stream.WriteString); string lists are.
			name: "large and tiny values in exponent form, labels unescaped", handler: a.Query, method: "GET",
			params: v("query", `{__name__=~"big|tiny|inf"}`, "time", "61"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"big","job":"<&>"},"value":[61,"1e+21"]},{"metric":{"__name__":"tiny","job":"a"},"value":[61,"1e-07"]},{"metric":{"__name__":"inf","job":"a"},"value":[61,"+Inf"]}]}}`,
		},
		{
			name: "native histogram", handler: a.Query, method: "GET",
			params: v("query", `lat`, "time", "60"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"lat","job":"a"},"histogram":[60,{"count":"5","sum":"10","buckets":[[3,"-0.001","0.001","1"],[0,"0.5","1","2"],[0,"1","2","2"]]}]}]}}`,
		},
		{
			name: "range query, step in seconds", handler: a.QueryRange, method: "GET",
			params: v("query", `req_total`, "start", "0", "end", "45", "step", "15"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"req_total","job":"a"},"values":[[0,"0"],[15,"10"],[30,"20"],[45,"30"]]}]}}`,
		},
		{
			name: "range query by POST, duration step, fractional step", handler: a.QueryRange, method: "POST",
			params: v("query", `req_total`, "start", "0", "end", "1", "step", "0.5"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"req_total","job":"a"},"values":[[0,"0"],[0.500,"0"],[1,"0"]]}]}}`,
		},
		{
			name: "range query, rate with duration step", handler: a.QueryRange, method: "GET",
			params: v("query", `rate(req_total[1m])`, "start", "1970-01-01T00:01:00Z", "end", "1970-01-01T00:02:00Z", "step", "1m"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[60,"0.6666666666666666"],[120,"0.6666666666666666"]]}]}}`,
		},
		{
			name: "range query of a histogram", handler: a.QueryRange, method: "GET",
			params: v("query", `lat`, "start", "60", "end", "60", "step", "1"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"lat","job":"a"},"histograms":[[60,{"count":"5","sum":"10","buckets":[[3,"-0.001","0.001","1"],[0,"0.5","1","2"],[0,"1","2","2"]]}]]}]}}`,
		},
		{
			name: "empty result", handler: a.Query, method: "GET",
			params: v("query", `nothing_here`),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[]}}`,
		},
		{
			name: "info annotation", handler: a.Query, method: "GET",
			params: v("query", `rate(up[1m])`, "time", "60"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"x","job":"a"},"value":[60,"0"]},{"metric":{"instance":"y","job":"b"},"value":[60,"0"]}]},"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"up\" (1:6)"]}`,
		},
		{
			name: "limit truncates with a warning", handler: a.Query, method: "GET",
			params: v("query", `up`, "limit", "1"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"x","job":"a"},"value":[120,"1"]}]},"warnings":["results truncated due to limit"]}`,
		},
		{
			name: "bad query", handler: a.Query, method: "GET",
			params: v("query", `sum(`),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`,
		},
		{
			name: "bad time", handler: a.Query, method: "GET",
			params: v("query", `up`, "time", "yesterday"),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": invalid time value for 'time': cannot parse \"yesterday\" to a valid timestamp"}`,
		},
		{
			name: "bad timeout", handler: a.Query, method: "GET",
			params: v("query", `up`, "timeout", "0"),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"timeout\": timeout must be positive, got 0s"}`,
		},
		{
			name: "execution error", handler: a.Query, method: "GET",
			params: v("query", `label_replace(label_replace(up, "job", "j", "", ""), "instance", "i", "", "")`),
			code:   422,
			want:   `{"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"}`,
		},
		{
			name: "range: missing step", handler: a.QueryRange, method: "GET",
			params: v("query", `up`, "start", "0", "end", "10"),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": cannot parse \"\" to a valid duration"}`,
		},
		{
			name: "range: end before start", handler: a.QueryRange, method: "GET",
			params: v("query", `up`, "start", "10", "end", "0", "step", "1"),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end timestamp must not be before start time"}`,
		},
		{
			name: "range: too many points", handler: a.QueryRange, method: "GET",
			params: v("query", `up`, "start", "0", "end", "11001", "step", "1"),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}`,
		},
		{
			name: "range: 11000 points is fine", handler: a.QueryRange, method: "GET",
			params: v("query", `nothing_here`, "start", "0", "end", "11000", "step", "1"),
			code:   200,
			want:   `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		},
		{
			name: "series", handler: a.Series, method: "GET",
			params: v("match[]", `up`),
			code:   200,
			want:   `{"status":"success","data":[{"__name__":"up","instance":"x","job":"a"},{"__name__":"up","instance":"y","job":"b"}]}`,
		},
		{
			name: "series by POST, two matchers, time range", handler: a.Series, method: "POST",
			params: v("match[]", `up{job="b"}`, "match[]", `{__name__=~"req_total|lat"}`, "start", "0", "end", "120"),
			code:   200,
			want:   `{"status":"success","data":[{"__name__":"lat","job":"a"},{"__name__":"req_total","job":"a"},{"__name__":"up","instance":"y","job":"b"}]}`,
		},
		{
			name: "series without match[]", handler: a.Series, method: "GET",
			params: v(),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}`,
		},
		{
			name: "series with an empty matcher", handler: a.Series, method: "GET",
			params: v("match[]", `{job=~".*"}`),
			code:   400,
			want:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"match[]\": match[] must contain at least one non-empty matcher"}`,
		},
		{
			name: "labels", handler: a.Labels, method: "GET",
			params: v(),
			code:   200,
			want:   `{"status":"success","data":["__name__","instance","job"]}`,
		},
		{
			name: "labels of matched series by POST", handler: a.Labels, method: "POST",
			params: v("match[]", `req_total`),
			code:   200,
			want:   `{"status":"success","data":["__name__","job"]}`,
		},
		{
			name: "label values", handler: a.LabelValues, method: "GET",
			params: v(), path: map[string]string{"name": "job"},
			code: 200,
			want: `{"status":"success","data":["\u003c\u0026\u003e","a","b"]}`,
		},
		{
			// As in Prometheus: storage stops at limit+1 values (in series
			// order: up, req_total, lat), which are then sorted and cut.
			name: "metric names with match[] and limit", handler: a.LabelValues, method: "GET",
			params: v("match[]", `{job="a"}`, "limit", "2"), path: map[string]string{"name": "__name__"},
			code: 200,
			want: `{"status":"success","data":["lat","req_total"],"warnings":["results truncated due to limit"]}`,
		},
		{
			name: "label values of an unknown label", handler: a.LabelValues, method: "GET",
			params: v(), path: map[string]string{"name": "nope"},
			code: 200,
			want: `{"status":"success","data":[]}`,
		},
		{
			name: "label values, bad label name", handler: a.LabelValues, method: "GET",
			params: v(), path: map[string]string{"name": ""},
			code: 400,
			want: `{"status":"error","errorType":"bad_data","error":"invalid label name: \"\""}`,
		},
		{
			name: "buildinfo", handler: a.BuildInfo, method: "GET",
			params: v(),
			code:   200,
			want:   `{"status":"success","data":{"version":"3.16.0","revision":"gmc-1.2.3","branch":"gmc","buildUser":"","buildDate":"","goVersion":"` + runtime.Version() + `"}}`,
		},
		{
			name: "metadata", handler: func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, a.metricMetadata) }, method: "GET",
			params: v(),
			code:   200,
			want:   `{"status":"success","data":{}}`,
		},
		{
			name: "exemplars", handler: a.QueryExemplars, method: "GET",
			params: v("query", "up", "start", "0", "end", "100"),
			code:   200,
			want:   `{"status":"success","data":[]}`,
		},
		{
			name: "format query", handler: a.FormatQuery, method: "GET",
			params: v("query", `sum  by(job)(rate(req_total[5m]))`),
			code:   200,
			want:   `{"status":"success","data":"sum by (job) (rate(req_total[5m]))"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, tc.handler, tc.method, tc.params, tc.path)
			if code != tc.code || body != tc.want {
				t.Errorf("got %d %s\nwant %d %s", code, body, tc.code, tc.want)
			}
		})
	}
}

func TestQueryTooManySamples(t *testing.T) {
	a := newAPI(t, fixture(t), 2)
	code, body := call(t, a.QueryRange, "GET", url.Values{"query": {"up"}, "start": {"0"}, "end": {"120"}, "step": {"15"}}, nil)
	want := `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}`
	if code != 422 || body != want {
		t.Errorf("got %d %s\nwant 422 %s", code, body, want)
	}
}

func TestQueryCanceled(t *testing.T) {
	a := newAPI(t, fixture(t), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/api/v1/query?query=up", nil)
	rec := httptest.NewRecorder()
	a.Query(rec, req)
	if rec.Code != 499 || !strings.HasPrefix(rec.Body.String(), `{"status":"error","errorType":"canceled","error":`) {
		t.Errorf("got %d %s, want 499 canceled", rec.Code, rec.Body)
	}
}

func TestNewRequiresQueryable(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without a queryable: no error")
	}
}
