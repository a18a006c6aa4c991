package ingest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// This file is the one place where Limits are enforced.

// decodedBodyFactor bounds the size of a decompressed remote-write body:
// MaxBodyBytes × decodedBodyFactor. Snappy rarely compresses metrics more
// than 10×; this stops a small body from claiming gigabytes.
const decodedBodyFactor = 8

// errTooLarge is returned by readBody when the body exceeds MaxBodyBytes.
var errTooLarge = errors.New("request body too large")

// readBody reads the whole request body into buf (reused, may be nil),
// enforcing MaxBodyBytes. It returns errTooLarge (answer 413) when over.
func (in *Ingester) readBody(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, error) {
	limit := in.limits.Load().MaxBodyBytes
	if r.ContentLength > limit {
		return buf, fmt.Errorf("%w: Content-Length %d exceeds limits.max_body_bytes %d", errTooLarge, r.ContentLength, limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	buf = buf[:0]
	if r.ContentLength > 0 && int64(cap(buf)) < r.ContentLength {
		buf = make([]byte, 0, r.ContentLength)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return buf, fmt.Errorf("%w: exceeds limits.max_body_bytes %d", errTooLarge, limit)
			}
			return buf, fmt.Errorf("read request body: %w", err)
		}
	}
}

// bodyErrorCode is the HTTP status for an error from readBody.
func bodyErrorCode(err error) int {
	if errors.Is(err, errTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// timeWindow is the range of sample timestamps (ms) a request may carry.
type timeWindow struct{ minT, maxT int64 }

// window computes the accepted timestamp range at the moment of a request.
func (in *Ingester) window() timeWindow {
	now := in.now()
	w := timeWindow{minT: -1 << 63, maxT: now.Add(time.Duration(in.limits.Load().MaxFutureSkew)).UnixMilli()}
	if age := time.Duration(in.limits.Load().MaxSampleAge); age > 0 {
		w.minT = now.Add(-age).UnixMilli()
	}
	return w
}

// check returns the rejection reason and explanation for a timestamp outside
// the window, or "" when it is inside.
func (w timeWindow) check(in *Ingester, t int64) (reason, why string) {
	if t > w.maxT {
		return reasonTooNew, "timestamp is more than limits.max_future_skew (" + time.Duration(in.limits.Load().MaxFutureSkew).String() + ") in the future"
	}
	if t < w.minT {
		return reasonTooOld, "timestamp is older than limits.max_sample_age (" + time.Duration(in.limits.Load().MaxSampleAge).String() + ")"
	}
	return "", ""
}

// checkSeries validates a series' labels: a valid metric name, valid label
// names, no duplicates, at most MaxLabelsPerSeries labels, names and values
// within their length limits, values valid UTF-8. ls must be sorted (as
// labels.Labels always is). It returns "" when the series is acceptable.
func (in *Ingester) checkSeries(ls labels.Labels) string {
	if n := ls.Len(); n > in.limits.Load().MaxLabelsPerSeries {
		return fmt.Sprintf("has %d labels, more than limits.max_labels_per_series %d", n, in.limits.Load().MaxLabelsPerSeries)
	}
	name := ls.Get(model.MetricNameLabel)
	if name == "" {
		return "has no metric name (label __name__)"
	}
	if !model.LegacyValidation.IsValidMetricName(name) {
		return fmt.Sprintf("metric name %q is invalid (want [a-zA-Z_:][a-zA-Z0-9_:]*)", name)
	}
	if dup, has := ls.HasDuplicateLabelNames(); has {
		return fmt.Sprintf("label %q appears twice", dup)
	}
	var reason string
	ls.Range(func(l labels.Label) {
		if reason != "" {
			return
		}
		reason = in.checkLabel(l.Name, l.Value)
	})
	return reason
}

// checkLabel validates one label (the metric name's syntax is checked by
// checkSeries). It returns "" when the label is acceptable.
func (in *Ingester) checkLabel(name, value string) string {
	if len(name) > in.limits.Load().MaxLabelNameLength && name != model.MetricNameLabel {
		return fmt.Sprintf("label name %q is longer than limits.max_label_name_length %d", truncate(name), in.limits.Load().MaxLabelNameLength)
	}
	if name != model.MetricNameLabel && !model.LegacyValidation.IsValidLabelName(name) {
		return fmt.Sprintf("label name %q is invalid (want [a-zA-Z_][a-zA-Z0-9_]*)", name)
	}
	if len(value) > in.limits.Load().MaxLabelValueLength {
		return fmt.Sprintf("value of label %q is %d bytes, longer than limits.max_label_value_length %d", name, len(value), in.limits.Load().MaxLabelValueLength)
	}
	if !utf8.ValidString(value) {
		return fmt.Sprintf("value of label %q is not valid UTF-8", name)
	}
	return ""
}

// checkSeriesCount enforces MaxSeriesPerRequest.
func (in *Ingester) checkSeriesCount(n int) error {
	if n > in.limits.Load().MaxSeriesPerRequest {
		return fmt.Errorf("request has more than limits.max_series_per_request %d series", in.limits.Load().MaxSeriesPerRequest)
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// quoteLabels renders name/value pairs as {a="b", c="d"} for messages, even
// when they are not a valid label set.
func quoteLabels(pairs [][2]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(truncate(p[0]))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(truncate(p[1])))
	}
	b.WriteByte('}')
	return b.String()
}
