package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Remote read has no call for label names and values, and Prometheus's
// remote-read querier answers them "not implemented". The remote mode asks
// the remote's Prometheus HTTP API instead (/api/v1/labels and
// /api/v1/label/{name}/values), which Prometheus, Mimir, Cortex and Thanos
// serve beside their read endpoint: the API base is the read URL without
// its final "/read" (…/api/v1/read → …/api/v1).

// The Prometheus API's time range (years 0 and 9999), in milliseconds.
const (
	minAPITime = -62135596800000
	maxAPITime = 253402300799000
)

// labelsQuerier is a remote-read querier whose label calls go to the API.
type labelsQuerier struct {
	storage.Querier
	api        *labelsAPI
	mint, maxt int64
}

// labelsAPI calls the remote's label endpoints.
type labelsAPI struct {
	base   string // …/api/v1
	client *http.Client
	header map[string]string
}

// LabelValues implements storage.LabelQuerier.
func (q *labelsQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, matchers ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	vs, err := q.api.get(ctx, "/label/"+url.PathEscape(name)+"/values", q.mint, q.maxt, hints, matchers)
	return vs, nil, err
}

// LabelNames implements storage.LabelQuerier.
func (q *labelsQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, matchers ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	ns, err := q.api.get(ctx, "/labels", q.mint, q.maxt, hints, matchers)
	return ns, nil, err
}

func (a *labelsAPI) get(ctx context.Context, path string, mint, maxt int64, hints *storage.LabelHints, matchers []*labels.Matcher) ([]string, error) {
	v := url.Values{}
	// An unbounded side (math.MinInt64, math.MaxInt64) is left to the
	// remote's own default: all time.
	if mint > minAPITime {
		v.Set("start", strconv.FormatFloat(float64(mint)/1000, 'f', 3, 64))
	}
	if maxt < maxAPITime {
		v.Set("end", strconv.FormatFloat(float64(maxt)/1000, 'f', 3, 64))
	}
	if len(matchers) > 0 {
		ms := make([]string, len(matchers))
		for i, m := range matchers {
			ms[i] = m.String()
		}
		v.Set("match[]", "{"+strings.Join(ms, ",")+"}")
	}
	if hints != nil && hints.Limit > 0 {
		v.Set("limit", strconv.Itoa(hints.Limit))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path+"?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	for k, hv := range a.header {
		req.Header.Set(k, hv)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", path, err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("remote %s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("remote %s: %s: %s", path, resp.Status, body.Error)
	}
	return body.Data, nil
}
