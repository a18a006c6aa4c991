package ingest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/storage"
)

// Text push, Pushgateway-style: PUT or POST /metrics/job/{job}{/label/value}*
// with a body in the Prometheus text format 0.0.4 (OpenMetrics when the
// Content-Type is application/openmetrics-text; protobuf when it is
// application/vnd.google.protobuf).
//
// Path rules: label/value pairs follow "/metrics/"; the first must be job. A
// name ending in "@base64" (job@base64, label@base64) takes a base64url value
// (RFC 4648 §5, padding optional, "=" for the empty value), which is how a
// value containing "/" is pushed. Label names must be valid and not start
// with "__"; a name may appear once; job must not be empty; other labels
// with an empty value are omitted.
//
// Every sample gets job=<job> and the path's labels (they win over labels of
// the same name in the body) and service=<job> unless the path or the
// sample sets service. Samples without a timestamp get the time of arrival.
// Classic histograms and summaries become their _bucket/_sum/_count (and
// quantile) series, as Prometheus stores them. Unlike the Pushgateway, PUT
// and POST both just append samples (gmc keeps history; nothing is replaced)
// and DELETE is not supported (405).

// TextPush serves PUT|POST /metrics/job/{job}{/label/value}*. It reads the
// grouping labels from r.URL's path, so it may be mounted at "/metrics/job/".
// It answers 204 when every sample was committed.
func (in *Ingester) TextPush() http.Handler {
	return http.HandlerFunc(in.serveTextPush)
}

func (in *Ingester) serveTextPush(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer in.observe(protoText, start)
	switch r.Method {
	case http.MethodPut, http.MethodPost:
	case http.MethodDelete:
		w.Header().Set("Allow", "PUT, POST")
		in.respond(w, protoText, http.StatusMethodNotAllowed,
			"DELETE is not supported: gmc keeps pushed samples as history in its TSDB; they leave with the retention")
		return
	default:
		w.Header().Set("Allow", "PUT, POST")
		in.respond(w, protoText, http.StatusMethodNotAllowed, "text push needs PUT or POST, got "+r.Method)
		return
	}
	group, err := parseGroupingPath(r.URL.EscapedPath())
	if err != nil {
		in.respond(w, protoText, http.StatusBadRequest, err.Error())
		return
	}
	body, err := in.readBody(w, r, nil)
	if err != nil {
		in.respond(w, protoText, bodyErrorCode(err), err.Error())
		return
	}
	accepted, rej, names, err := in.writeText(r, group, body, r.Header.Get("Content-Type"))
	if err != nil {
		in.fail(w, protoText, err)
		return
	}
	in.finish(w, protoText, accepted, rej, names, http.StatusNoContent)
}

// parseGroupingPath reads the grouping labels from a path
// /metrics/job/<job>{/<label>/<value>}* (still escaped).
func parseGroupingPath(escaped string) (labels.Labels, error) {
	i := strings.Index(escaped, "/metrics/")
	if i < 0 {
		return labels.EmptyLabels(), fmt.Errorf("path %q: want /metrics/job/<job>{/<label>/<value>}", escaped)
	}
	rest := strings.TrimSuffix(escaped[i+len("/metrics/"):], "/")
	segs := strings.Split(rest, "/")
	if len(segs)%2 != 0 {
		return labels.EmptyLabels(), fmt.Errorf("path %q: label %q has no value", escaped, segs[len(segs)-1])
	}
	b := labels.NewBuilder(labels.EmptyLabels())
	seen := map[string]bool{}
	for k := 0; k < len(segs); k += 2 {
		name, raw := segs[k], segs[k+1]
		name, err := url.PathUnescape(name)
		if err != nil {
			return labels.EmptyLabels(), fmt.Errorf("path: label name %q: %w", segs[k], err)
		}
		var value string
		if base, ok := strings.CutSuffix(name, "@base64"); ok {
			name = base
			v, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
			if err != nil {
				return labels.EmptyLabels(), fmt.Errorf("path: value of %s@base64 %q is not base64url: %w", name, raw, err)
			}
			value = string(v)
		} else if value, err = url.PathUnescape(raw); err != nil {
			return labels.EmptyLabels(), fmt.Errorf("path: value of %s %q: %w", name, raw, err)
		}
		switch {
		case k == 0 && name != "job":
			return labels.EmptyLabels(), fmt.Errorf("path %q: must start with /metrics/job/<job>", escaped)
		case k == 0 && value == "":
			return labels.EmptyLabels(), errors.New("path: job must not be empty")
		case !model.LegacyValidation.IsValidLabelName(name) || strings.HasPrefix(name, "__"):
			return labels.EmptyLabels(), fmt.Errorf("path: label name %q is invalid (want [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", name)
		case seen[name]:
			return labels.EmptyLabels(), fmt.Errorf("path: label %q appears twice", name)
		case !utf8.ValidString(value):
			return labels.EmptyLabels(), fmt.Errorf("path: value of label %q is not valid UTF-8", name)
		}
		seen[name] = true
		if value != "" {
			b.Set(name, value)
		}
	}
	return b.Labels(), nil
}

// textParser picks the parser for a text push body by Content-Type: the
// text format by default (curl sends form encoding), OpenMetrics or protobuf
// when asked for.
func textParser(body []byte, contentType string, st *labels.SymbolTable) (textparse.Parser, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/openmetrics-text", "application/vnd.google.protobuf":
	default:
		contentType = "text/plain; version=0.0.4"
	}
	p, err := textparse.New(body, contentType, st, textparse.ParserOptions{FallbackContentType: "text/plain"})
	if p == nil {
		return nil, badRequest("parse body: Content-Type %q: %v", contentType, err)
	}
	return p, nil
}

// writeText parses the body and appends every sample with the grouping
// labels; a parse error rolls everything back.
func (in *Ingester) writeText(r *http.Request, group labels.Labels, body []byte, contentType string) (int, *rejections, []string, error) {
	p, err := textParser(body, contentType, labels.NewSymbolTable())
	if err != nil {
		return 0, nil, nil, err
	}
	rej := &rejections{protocol: protoText}
	now := in.now().UnixMilli()
	win := in.window()
	app := in.app.AppenderV2(r.Context())
	var seen requestSamples // same series and time twice in this request
	names := map[string]struct{}{}
	accepted, n := 0, 0
	var lset labels.Labels
	b := labels.NewBuilder(labels.EmptyLabels())
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_ = app.Rollback()
			return 0, nil, nil, badRequest("parse body (nothing was written): %v", err)
		}
		var (
			t  = now
			tp *int64
			v  float64
			h  *histogram.Histogram
			fh *histogram.FloatHistogram
		)
		switch entry {
		case textparse.EntrySeries:
			_, tp, v = p.Series()
		case textparse.EntryHistogram:
			_, tp, h, fh = p.Histogram()
		default:
			continue
		}
		n++
		if n > in.limits.MaxSeriesPerRequest {
			_ = app.Rollback()
			return 0, nil, nil, badRequest("request has more than limits.max_series_per_request %d samples (nothing was written)", in.limits.MaxSeriesPerRequest)
		}
		if tp != nil {
			t = *tp
		}
		p.Labels(&lset)
		b.Reset(lset)
		group.Range(func(l labels.Label) { b.Set(l.Name, l.Value) })
		if b.Get("service") == "" {
			b.Set("service", group.Get("job"))
		}
		ls := b.Labels()
		if reason := in.checkSeries(ls); reason != "" {
			rej.add(reasonInvalidSeries, ls.String, t, reason)
			continue
		}
		if reason, why := win.check(in, t); reason != "" {
			rej.add(reason, ls.String, t, why)
			continue
		}
		if h == nil && fh == nil {
			if err := seen.conflict(ls.Hash(), t, v); err != nil {
				rej.add(reasonDuplicate, ls.String, t, err.Error())
				continue
			}
		}
		if _, err := app.Append(0, ls, 0, t, v, h, fh, storage.AOptions{}); err != nil {
			if err := in.appendFailed(rej, err, ls, t); err != nil {
				_ = app.Rollback()
				return 0, nil, nil, err
			}
			continue
		}
		accepted++
		names[ls.Get(labels.MetricName)] = struct{}{}
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
