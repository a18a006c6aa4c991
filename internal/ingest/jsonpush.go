package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// JSON push: POST /api/v1/push with one object or an array of objects:
//
//	{"service": "matching-engine", "instance": "me-1", "timestamp": 1732480000.123,
//	 "labels": {"venue": "xnas"}, "metrics": {"latency_us": 312, "tps": 41000}}
//
// Mapping to series: every key of "metrics" is one series whose metric name
// (__name__) is the key, which must be a valid Prometheus metric name
// ([a-zA-Z_:][a-zA-Z0-9_:]*). Its labels are service (required, non-empty),
// instance (when given and non-empty) and every entry of "labels" (names
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", not service or instance;
// empty values are dropped). Values must be JSON numbers. "timestamp" is Unix
// seconds as a number (milliseconds are kept, finer digits rounded); absent or
// null means the time of arrival. Unknown fields are an error.
//
// An object whose service, labels or timestamp are invalid has all its metrics
// rejected; a metric with a bad name or value is rejected alone; the rest is
// committed and the answer is 400 naming each rejected metric.

// jsonPoint is one object of a JSON push.
type jsonPoint struct {
	Service   string                     `json:"service"`
	Instance  string                     `json:"instance"`
	Timestamp *float64                   `json:"timestamp"`
	Labels    map[string]json.RawMessage `json:"labels"`
	Metrics   map[string]json.RawMessage `json:"metrics"`
}

// JSONPush serves POST /api/v1/push (see the mapping above). It answers 204
// when every metric was committed.
func (in *Ingester) JSONPush() http.Handler {
	return http.HandlerFunc(in.serveJSONPush)
}

func (in *Ingester) serveJSONPush(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer in.observe(protoJSON, start)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		in.respond(w, protoJSON, http.StatusMethodNotAllowed, "JSON push needs POST, got "+r.Method)
		return
	}
	body, err := in.readBody(w, r, nil)
	if err != nil {
		in.respond(w, protoJSON, bodyErrorCode(err), err.Error())
		return
	}
	points, err := decodeJSONPoints(body)
	if err != nil {
		in.respond(w, protoJSON, http.StatusBadRequest, err.Error())
		return
	}
	n := 0
	for _, p := range points {
		n += len(p.Metrics)
	}
	if err := in.checkSeriesCount(n); err != nil {
		in.respond(w, protoJSON, http.StatusBadRequest, fmt.Sprintf("%v (%d metrics)", err, n))
		return
	}
	accepted, rej, names, err := in.writeJSON(r, points)
	if err != nil {
		in.fail(w, protoJSON, err)
		return
	}
	in.finish(w, protoJSON, accepted, rej, names, http.StatusNoContent)
}

// decodeJSONPoints parses a body holding one object or an array of them.
func decodeJSONPoints(body []byte) ([]jsonPoint, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("decode JSON body: body is empty; want an object or an array of objects")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var points []jsonPoint
	var err error
	switch trimmed[0] {
	case '[':
		err = dec.Decode(&points)
	case '{':
		points = make([]jsonPoint, 1)
		err = dec.Decode(&points[0])
	default:
		return nil, fmt.Errorf("decode JSON body: starts with %q; want an object or an array of objects", trimmed[0])
	}
	if err != nil {
		return nil, fmt.Errorf("decode JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode JSON body: unexpected data after the first JSON value at offset %d", dec.InputOffset())
	}
	return points, nil
}

// writeJSON validates and appends the points and commits them.
func (in *Ingester) writeJSON(r *http.Request, points []jsonPoint) (int, *rejections, []string, error) {
	rej := &rejections{protocol: protoJSON}
	now := in.now().UnixMilli()
	win := in.window()
	app := in.app.AppenderV2(r.Context())
	var seen requestSamples // same series and time twice in this request
	accepted := 0
	names := map[string]struct{}{}
	b := labels.NewBuilder(labels.EmptyLabels())
	for i, p := range points {
		keys := make([]string, 0, len(p.Metrics))
		for k := range p.Metrics {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		where := func(metric string) func() string {
			return func() string {
				return fmt.Sprintf("object %d (service %q) metric %q", i, p.Service, metric)
			}
		}
		t := now
		if p.Timestamp != nil {
			ms := math.Round(*p.Timestamp * 1000)
			if math.IsNaN(ms) || ms > math.MaxInt64/2 || ms < math.MinInt64/2 {
				for _, k := range keys {
					rej.add(reasonInvalidValue, where(k), noTimestamp, fmt.Sprintf("timestamp %v is out of range", *p.Timestamp))
				}
				continue
			}
			t = int64(ms)
		}
		if reason := in.jsonObjectLabels(p, b); reason != "" {
			for _, k := range keys {
				rej.add(reasonInvalidSeries, where(k), t, reason)
			}
			continue
		}
		if reason, why := win.check(in, t); reason != "" {
			if reason == reasonTooNew && p.Timestamp != nil && *p.Timestamp > 1e11 {
				why += " (timestamp is Unix seconds, not milliseconds)"
			}
			for _, k := range keys {
				rej.add(reason, where(k), t, why)
			}
			continue
		}
		for _, k := range keys {
			v, why := jsonNumber(p.Metrics[k])
			if why != "" {
				rej.add(reasonInvalidValue, where(k), t, why)
				continue
			}
			b.Set(model.MetricNameLabel, k)
			ls := b.Labels()
			if reason := in.checkSeries(ls); reason != "" {
				rej.add(reasonInvalidSeries, where(k), t, reason)
				continue
			}
			if err := seen.conflict(ls.Hash(), t, v); err != nil {
				rej.add(reasonDuplicate, ls.String, t, err.Error())
				continue
			}
			if _, err := app.Append(0, ls, 0, t, v, nil, nil, storage.AOptions{}); err != nil {
				if err := in.appendFailed(rej, err, ls, t); err != nil {
					_ = app.Rollback()
					return 0, nil, nil, err
				}
				continue
			}
			accepted++
			names[k] = struct{}{}
		}
	}
	if err := app.Commit(); err != nil {
		return 0, nil, nil, fmt.Errorf("commit samples: %w", err)
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	return accepted, rej, list, nil
}

// jsonObjectLabels resets b to the labels every metric of p shares, or
// returns why they are invalid.
func (in *Ingester) jsonObjectLabels(p jsonPoint, b *labels.Builder) string {
	b.Reset(labels.EmptyLabels())
	if p.Service == "" {
		return `field "service" is missing or empty`
	}
	b.Set("service", p.Service)
	if p.Instance != "" {
		b.Set("instance", p.Instance)
	}
	names := make([]string, 0, len(p.Labels))
	for k := range p.Labels {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		switch {
		case k == "service" || k == "instance":
			return fmt.Sprintf("labels.%s: set %s with the top-level field %q", k, k, k)
		case strings.HasPrefix(k, "__"):
			return fmt.Sprintf("labels.%s: label names starting with __ are reserved", k)
		case !model.LegacyValidation.IsValidLabelName(k):
			return fmt.Sprintf("labels.%s: label name %q is invalid (want [a-zA-Z_][a-zA-Z0-9_]*)", k, k)
		}
		var v string
		if err := json.Unmarshal(p.Labels[k], &v); err != nil {
			return fmt.Sprintf("labels.%s: value %s is not a string", k, truncate(string(p.Labels[k])))
		}
		b.Set(k, v)
	}
	return ""
}

// jsonNumber reads a metric value; why says what is wrong with it.
func jsonNumber(raw json.RawMessage) (float64, string) {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "null":
		return 0, "value is null; want a number"
	case strings.HasPrefix(s, `"`):
		return 0, "value is a string; want a number"
	case s == "true" || s == "false":
		return 0, "value is a boolean; want a number"
	case strings.HasPrefix(s, "{") || strings.HasPrefix(s, "["):
		return 0, "value is an object or array; want a number"
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Sprintf("value %s is not a number", truncate(s))
	}
	return v, ""
}
