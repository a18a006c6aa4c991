package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// point is one sample as the Prometheus HTTP API returns it: a float, or a
// native histogram when H is set.
type point struct {
	T int64 // milliseconds
	V float64
	H *histPoint
}

// histPoint is a native histogram sample in the API's JSON form.
type histPoint struct {
	Count, Sum float64
	Buckets    []histBucket
}

// histBucket is one bucket: boundary rule (0 open left, 1 open right,
// 2 open both, 3 closed both), bounds and count.
type histBucket struct {
	Rule         int
	Lower, Upper float64
	Count        float64
}

func (p point) String() string {
	if p.H != nil {
		return fmt.Sprintf("(%d, %+v)", p.T, *p.H)
	}
	return fmt.Sprintf("(%d, %v)", p.T, p.V)
}

// series is one labelled series of a query result: one point for a vector,
// several for a matrix.
type series struct {
	Labels map[string]string
	Points []point
}

// key is the series' label set in a canonical text form, for sorting and maps.
func (s series) key() string { return labelsKey(s.Labels) }

func labelsKey(m map[string]string) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", n, m[n])
	}
	b.WriteByte('}')
	return b.String()
}

// result is a parsed /api/v1/query or /api/v1/query_range answer.
type result struct {
	Type   string   // vector, matrix, scalar or string
	Series []series // sorted by label set; a scalar is one series without labels
}

// apiAnswer is the Prometheus HTTP API envelope.
type apiAnswer struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

// queryData is the data of a query answer.
type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type apiSeries struct {
	Metric     map[string]string   `json:"metric"`
	Value      []json.RawMessage   `json:"value"`
	Values     [][]json.RawMessage `json:"values"`
	Histogram  []json.RawMessage   `json:"histogram"`
	Histograms [][]json.RawMessage `json:"histograms"`
}

// instantQuery runs GET /api/v1/query at time tMs.
func instantQuery(ctx context.Context, base, query string, tMs int64) (result, error) {
	v := url.Values{"query": {query}, "time": {msTime(tMs)}}
	return getQuery(ctx, base+"/api/v1/query?"+v.Encode())
}

// rangeQuery runs GET /api/v1/query_range over [startMs, endMs] with stepMs.
func rangeQuery(ctx context.Context, base, query string, startMs, endMs, stepMs int64) (result, error) {
	v := url.Values{
		"query": {query},
		"start": {msTime(startMs)},
		"end":   {msTime(endMs)},
		"step":  {strconv.FormatFloat(float64(stepMs)/1000, 'f', 3, 64)},
	}
	return getQuery(ctx, base+"/api/v1/query_range?"+v.Encode())
}

func getQuery(ctx context.Context, u string) (result, error) {
	data, err := apiGet(ctx, u)
	if err != nil {
		return result{}, err
	}
	var qd queryData
	if err := json.Unmarshal(data, &qd); err != nil {
		return result{}, fmt.Errorf("decode data of %s: %w", u, err)
	}
	return parseResult(qd)
}

// apiGet fetches u and returns the data of a successful API answer.
func apiGet(ctx context.Context, u string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request %s: %w", u, err)
	}
	resp, err := httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", u, err)
	}
	var a apiAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decode answer of %s (HTTP %d): %w: %.300s", u, resp.StatusCode, err, body)
	}
	if a.Status != "success" || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("query %s: HTTP %d, status %q, %s: %s", u, resp.StatusCode, a.Status, a.ErrorType, a.Error)
	}
	return a.Data, nil
}

func parseResult(qd queryData) (result, error) {
	r := result{Type: qd.ResultType}
	switch qd.ResultType {
	case "vector", "matrix":
		var raw []apiSeries
		if err := json.Unmarshal(qd.Result, &raw); err != nil {
			return r, fmt.Errorf("decode %s: %w", qd.ResultType, err)
		}
		for _, rs := range raw {
			s := series{Labels: rs.Metric}
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			if qd.ResultType == "vector" {
				var p point
				var err error
				if rs.Histogram != nil {
					p, err = parseHistPoint(rs.Histogram)
				} else {
					p, err = parsePoint(rs.Value)
				}
				if err != nil {
					return r, err
				}
				s.Points = []point{p}
			} else {
				for _, v := range rs.Values {
					p, err := parsePoint(v)
					if err != nil {
						return r, err
					}
					s.Points = append(s.Points, p)
				}
				for _, v := range rs.Histograms {
					p, err := parseHistPoint(v)
					if err != nil {
						return r, err
					}
					s.Points = append(s.Points, p)
				}
				slices.SortStableFunc(s.Points, func(a, b point) int { return cmp.Compare(a.T, b.T) })
			}
			r.Series = append(r.Series, s)
		}
	case "scalar", "string":
		var raw []json.RawMessage
		if err := json.Unmarshal(qd.Result, &raw); err != nil {
			return r, fmt.Errorf("decode %s: %w", qd.ResultType, err)
		}
		p, err := parsePoint(raw)
		if err != nil {
			return r, err
		}
		r.Series = []series{{Labels: map[string]string{}, Points: []point{p}}}
	default:
		return r, fmt.Errorf("unknown resultType %q", qd.ResultType)
	}
	slices.SortFunc(r.Series, func(a, b series) int { return strings.Compare(a.key(), b.key()) })
	return r, nil
}

// parsePoint decodes [<seconds>, "<value>"].
func parsePoint(raw []json.RawMessage) (point, error) {
	if len(raw) != 2 {
		return point{}, fmt.Errorf("decode point: %d elements, want 2", len(raw))
	}
	var ts float64
	if err := json.Unmarshal(raw[0], &ts); err != nil {
		return point{}, fmt.Errorf("decode point timestamp %s: %w", raw[0], err)
	}
	var vs string
	if err := json.Unmarshal(raw[1], &vs); err != nil {
		return point{}, fmt.Errorf("decode point value %s: %w", raw[1], err)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return point{}, fmt.Errorf("decode point value %q: %w", vs, err)
	}
	return point{T: int64(math.Round(ts * 1000)), V: v}, nil
}

// parseHistPoint decodes [<seconds>, {"count": "<n>", "sum": "<s>",
// "buckets": [[<rule>, "<lower>", "<upper>", "<count>"], ...]}].
func parseHistPoint(raw []json.RawMessage) (point, error) {
	if len(raw) != 2 {
		return point{}, fmt.Errorf("decode histogram point: %d elements, want 2", len(raw))
	}
	var ts float64
	if err := json.Unmarshal(raw[0], &ts); err != nil {
		return point{}, fmt.Errorf("decode histogram timestamp %s: %w", raw[0], err)
	}
	var h struct {
		Count   string              `json:"count"`
		Sum     string              `json:"sum"`
		Buckets [][]json.RawMessage `json:"buckets"`
	}
	if err := json.Unmarshal(raw[1], &h); err != nil {
		return point{}, fmt.Errorf("decode histogram %s: %w", raw[1], err)
	}
	hp := &histPoint{}
	var err error
	if hp.Count, err = strconv.ParseFloat(h.Count, 64); err != nil {
		return point{}, fmt.Errorf("decode histogram count %q: %w", h.Count, err)
	}
	if hp.Sum, err = strconv.ParseFloat(h.Sum, 64); err != nil {
		return point{}, fmt.Errorf("decode histogram sum %q: %w", h.Sum, err)
	}
	for _, b := range h.Buckets {
		if len(b) != 4 {
			return point{}, fmt.Errorf("decode histogram bucket: %d elements, want 4", len(b))
		}
		var hb histBucket
		var lo, hi, n string
		err1 := json.Unmarshal(b[0], &hb.Rule)
		err2 := json.Unmarshal(b[1], &lo)
		err3 := json.Unmarshal(b[2], &hi)
		err4 := json.Unmarshal(b[3], &n)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return point{}, fmt.Errorf("decode histogram bucket %s: %w", b, err)
		}
		if hb.Lower, err = strconv.ParseFloat(lo, 64); err != nil {
			return point{}, fmt.Errorf("decode histogram bucket bound %q: %w", lo, err)
		}
		if hb.Upper, err = strconv.ParseFloat(hi, 64); err != nil {
			return point{}, fmt.Errorf("decode histogram bucket bound %q: %w", hi, err)
		}
		if hb.Count, err = strconv.ParseFloat(n, 64); err != nil {
			return point{}, fmt.Errorf("decode histogram bucket count %q: %w", n, err)
		}
		hp.Buckets = append(hp.Buckets, hb)
	}
	return point{T: int64(math.Round(ts * 1000)), H: hp}, nil
}

// remoteWrite sends req as a remote-write 1.0 request (protobuf + snappy) to
// base/api/v1/write and returns the HTTP status and answer body.
func remoteWrite(ctx context.Context, client *http.Client, base string, req *prompb.WriteRequest) (int, string, error) {
	data, err := req.Marshal()
	if err != nil {
		return 0, "", fmt.Errorf("marshal write request: %w", err)
	}
	return post(ctx, client, base+"/api/v1/write", "application/x-protobuf", map[string]string{
		"Content-Encoding":                  "snappy",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
	}, snappy.Encode(nil, data))
}

// promLabels turns alternating name, value pairs into sorted prompb labels.
func promLabels(nameValues ...string) []prompb.Label {
	ls := make([]prompb.Label, 0, len(nameValues)/2)
	for i := 0; i+1 < len(nameValues); i += 2 {
		ls = append(ls, prompb.Label{Name: nameValues[i], Value: nameValues[i+1]})
	}
	slices.SortFunc(ls, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}
