package ingest

import (
	"bytes"
	"cmp"
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
	"github.com/prometheus/prometheus/model/metadata"
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
// quantile) series, as Prometheus stores them.
//
// Group semantics are the Pushgateway's (pushgroups.go): PUT replaces the
// group, POST replaces the families it pushes, DELETE removes the group;
// the group's last values stay queryable until then (or until its TTL, from
// the Gmc-Group-Ttl header or pushgateway.group_ttl). Status codes are the
// Pushgateway's: 200 for a push, 202 for a delete, 400 for bad input.
//
// Unlike the Pushgateway, which refuses a whole push over one bad line, gmc
// keeps what is valid: a text-format body with bad lines has its other lines
// written and the answer is 400 naming each bad line. Such a push never
// removes anything from the group (it is merged series by series, even for
// PUT) and counts as failed for push_failure_time_seconds.

// groupTTLHeader sets the TTL of the pushed group (a Prometheus duration).
const groupTTLHeader = "Gmc-Group-Ttl"

// TextPush serves PUT|POST|DELETE /metrics/job/{job}{/label/value}*. It reads
// the grouping labels from r.URL's path, so it may be mounted at "/metrics/job/".
func (in *Ingester) TextPush() http.Handler {
	return http.HandlerFunc(in.serveTextPush)
}

func (in *Ingester) serveTextPush(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer in.observe(protoText, start)
	switch r.Method {
	case http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		w.Header().Set("Allow", "PUT, POST, DELETE")
		in.respond(w, protoText, http.StatusMethodNotAllowed, "text push needs PUT, POST or DELETE, got "+r.Method)
		return
	}
	group, err := parseGroupingPath(r.URL.EscapedPath())
	if err != nil {
		in.respond(w, protoText, http.StatusBadRequest, err.Error())
		return
	}
	if r.Method == http.MethodDelete {
		in.deleteGroup(w, r, group)
		return
	}
	var ttl time.Duration
	if h := r.Header.Get(groupTTLHeader); h != "" {
		d, err := model.ParseDuration(h)
		if err != nil || d <= 0 {
			in.respond(w, protoText, http.StatusBadRequest, fmt.Sprintf("header %s: %q is not a positive duration", groupTTLHeader, h))
			return
		}
		ttl = time.Duration(d)
	}
	body, err := in.readBody(w, r, nil)
	if err != nil {
		in.pushFailed(r, group)
		in.respond(w, protoText, bodyErrorCode(err), err.Error())
		return
	}
	accepted, rej, names, err := in.writeText(r, group, body, r.Header.Get("Content-Type"), ttl)
	if err != nil {
		in.pushFailed(r, group)
		in.fail(w, protoText, err)
		return
	}
	in.finish(w, protoText, accepted, rej, names, http.StatusOK)
}

// deleteGroup removes a group: 202, as the Pushgateway answers, whether or
// not the group existed.
func (in *Ingester) deleteGroup(w http.ResponseWriter, r *http.Request, group labels.Labels) {
	key := groupKey(group)
	unlock := in.push.lock(key)
	defer unlock()
	app := in.app.AppenderV2(r.Context())
	if !in.push.deleted(app, group, in.now()) {
		_ = app.Rollback()
		in.respond(w, protoText, http.StatusAccepted, "")
		return
	}
	if err := app.Commit(); err != nil {
		in.fail(w, protoText, fmt.Errorf("commit staleness markers: %w", err))
		return
	}
	in.push.install(key, nil)
	if err := in.push.persist(key, nil); err != nil {
		in.fail(w, protoText, err)
		return
	}
	in.respond(w, protoText, http.StatusAccepted, "")
}

// pushFailed records a push rejected as a whole in its group's
// push_failure_time_seconds.
func (in *Ingester) pushFailed(r *http.Request, group labels.Labels) {
	key := groupKey(group)
	unlock := in.push.lock(key)
	defer unlock()
	app := in.app.AppenderV2(r.Context())
	grp, err := in.push.failed(app, group, in.now())
	if err != nil || grp == nil {
		_ = app.Rollback()
		if err != nil {
			in.logger.Error("record push failure", "err", err)
		}
		return
	}
	if err := app.Commit(); err != nil {
		in.logger.Error("record push failure", "err", err)
		return
	}
	in.push.install(key, grp)
	if err := in.push.persist(key, grp); err != nil {
		in.logger.Error("record push failure", "err", err)
	}
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
// when asked for. text reports whether it is the text format.
func textParser(body []byte, contentType string, st *labels.SymbolTable) (p textparse.Parser, text bool, err error) {
	if text = isTextFormat(contentType); text {
		contentType, body = "text/plain; version=0.0.4", tidyText(body)
	}
	p, err = textparse.New(body, contentType, st, textparse.ParserOptions{FallbackContentType: "text/plain"})
	if p == nil {
		return nil, false, badRequest("parse body: Content-Type %q: %v", contentType, err)
	}
	return p, text, nil
}

// isTextFormat reports whether a push with this Content-Type is read as the
// text format: anything but OpenMetrics and protobuf (curl sends form encoding).
func isTextFormat(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt != "application/openmetrics-text" && mt != "application/vnd.google.protobuf"
}

// tidyText reads a text-format body as the Pushgateway and VictoriaMetrics
// do where Prometheus's parser is stricter: CRLF line ends become LF
// (Windows batch jobs) and blanks before a line's first token go (the
// Pushgateway's parser skips them; Prometheus's would make them part of the
// metric name). A body with neither is returned as it is, without a copy.
// Splitting on \n is safe: a label value cannot hold a raw line feed.
func tidyText(body []byte) []byte {
	if !bytes.Contains(body, []byte("\r\n")) && !indented(body) {
		return body
	}
	out := make([]byte, 0, len(body))
	for i, line := range bytes.Split(body, []byte("\n")) {
		if i > 0 {
			out = append(out, '\n')
		}
		out = append(out, bytes.TrimSuffix(bytes.TrimLeft(line, " \t"), []byte("\r"))...)
	}
	return out
}

// indented reports whether a line of body starts with a blank or a tab.
func indented(body []byte) bool {
	return len(body) > 0 && (body[0] == ' ' || body[0] == '\t') ||
		bytes.Contains(body, []byte("\n ")) || bytes.Contains(body, []byte("\n\t"))
}

// parsedSample is one sample of a push body, before the grouping labels.
type parsedSample struct {
	family, typ, help string
	ls                labels.Labels
	t                 *int64
	v                 float64
	h                 *histogram.Histogram
	fh                *histogram.FloatHistogram
}

// familyTracker follows # TYPE and # HELP to tell which family a series
// belongs to (a histogram's _bucket, _sum and _count are its family's).
type familyTracker struct{ name, typ, help string }

func (f *familyTracker) meta(name string) {
	if name != f.name {
		*f = familyTracker{name: name}
	}
}

// familyOf is the family of a series named metric.
func (f *familyTracker) familyOf(metric string) (name, typ, help string) {
	if f.name != "" {
		if metric == f.name {
			return f.name, f.typ, f.help
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count", "_created", "_total", "_gcount", "_gsum"} {
			if base, ok := strings.CutSuffix(metric, suffix); ok && base == f.name {
				return f.name, f.typ, f.help
			}
		}
	}
	return metric, "", ""
}

// parseEntries reads every sample of p into out, following families in f.
func parseEntries(p textparse.Parser, f *familyTracker, out []parsedSample) ([]parsedSample, error) {
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		var s parsedSample
		switch entry {
		case textparse.EntryType:
			name, typ := p.Type()
			f.meta(string(name))
			f.typ = string(typ)
			continue
		case textparse.EntryHelp:
			name, help := p.Help()
			f.meta(string(name))
			f.help = string(help)
			continue
		case textparse.EntrySeries:
			_, s.t, s.v = p.Series()
		case textparse.EntryHistogram:
			_, s.t, s.h, s.fh = p.Histogram()
		default:
			continue
		}
		if s.t != nil {
			t := *s.t
			s.t = &t
		}
		p.Labels(&s.ls)
		s.family, s.typ, s.help = f.familyOf(s.ls.Get(model.MetricNameLabel))
		out = append(out, s)
	}
}

// parsePush parses a push body. A body in the text format with bad lines
// yields the samples of its good lines, and each bad line in rej; any other
// malformed body is an error (nothing written).
func parsePush(body []byte, contentType string, rej *rejections) ([]parsedSample, error) {
	if isTextFormat(contentType) {
		body = tidyText(body) // also for the line-by-line reading below
	}
	p, text, err := textParser(body, contentType, labels.NewSymbolTable())
	if err != nil {
		return nil, err
	}
	samples, err := parseEntries(p, &familyTracker{}, nil)
	if err == nil {
		return samples, nil
	}
	if !text {
		return nil, badRequest("parse body (nothing was written): %v", err)
	}
	// Line by line: each line of the text format stands alone, but for the
	// # TYPE and # HELP before it.
	samples = samples[:0]
	f := &familyTracker{}
	st := labels.NewSymbolTable()
	for i, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lp, err := textparse.New(append(line[:len(line):len(line)], '\n'), "text/plain; version=0.0.4", st, textparse.ParserOptions{})
		if err != nil && lp == nil {
			return nil, badRequest("parse body: %v", err)
		}
		n := len(samples)
		if samples, err = parseEntries(lp, f, samples); err != nil {
			samples = samples[:n]
			rej.addLine(i+1, string(line), err)
		}
	}
	return samples, nil
}

// writeText parses the body, appends every sample with the grouping labels
// and records the push in its group.
func (in *Ingester) writeText(r *http.Request, group labels.Labels, body []byte, contentType string, ttl time.Duration) (int, *rejections, []string, error) {
	rej := &rejections{protocol: protoText}
	parsed, err := parsePush(body, contentType, rej)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(parsed) > in.limits.Load().MaxSeriesPerRequest {
		return 0, nil, nil, badRequest("request has more than limits.max_series_per_request %d samples (nothing was written)", in.limits.Load().MaxSeriesPerRequest)
	}
	key := groupKey(group)
	unlock := in.push.lock(key) // pushes to this group one at a time, until its file is written
	defer unlock()
	at := in.now()
	now := at.UnixMilli()
	win := in.window()
	app := in.app.AppenderV2(r.Context())
	var seen requestSamples // same series and time twice in this request
	names := map[string]struct{}{}
	families := map[string]*pushFamily{}
	accepted := 0
	b := labels.NewBuilder(labels.EmptyLabels())
	for _, s := range parsed {
		t := now
		if s.t != nil {
			t = *s.t
		}
		b.Reset(s.ls)
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
		if s.h == nil && s.fh == nil {
			if err := seen.conflict(ls.Hash(), t, s.v); err != nil {
				rej.add(reasonDuplicate, ls.String, t, err.Error())
				continue
			}
		}
		ref, err := app.Append(0, ls, 0, t, s.v, s.h, s.fh, storage.AOptions{})
		if err != nil {
			if err := in.appendFailed(rej, err, ls, t); err != nil {
				_ = app.Rollback()
				return 0, nil, nil, err
			}
			continue
		}
		accepted++
		names[ls.Get(model.MetricNameLabel)] = struct{}{}
		if s.t != nil {
			continue // history, not the group's current value
		}
		f := families[s.family]
		if f == nil {
			f = &pushFamily{Name: s.family, Type: s.typ, Help: s.help, Time: at}
			families[s.family] = f
		}
		f.Samples = append(f.Samples, pushSample{Labels: ls.Map(), Value: s.v, H: s.h, FH: s.fh, ls: ls, ref: ref})
	}
	if accepted == 0 && rej.n > 0 && !in.push.exists(key) {
		// A rejected push creates nothing: no group, no service.
		_ = app.Rollback()
		return 0, rej, nil, nil
	}
	grp, err := in.push.next(app, pushUpdate{
		group:    group,
		replace:  r.Method == http.MethodPut,
		partial:  rej.n > 0,
		families: families,
		ttl:      ttl,
		at:       at,
	})
	if err != nil {
		_ = app.Rollback()
		return 0, nil, nil, err
	}
	if err := app.Commit(); err != nil {
		return 0, nil, nil, fmt.Errorf("commit samples: %w", err)
	}
	// The group changes only now that its samples are committed, and is on
	// disk before the push is answered.
	in.push.install(key, grp)
	if err := in.push.persist(key, grp); err != nil {
		return 0, nil, nil, err
	}
	prev := ""
	for _, s := range parsed {
		if s.family != prev {
			prev = s.family
			in.meta.add(s.family, metadata.Metadata{Type: cmp.Or(model.MetricType(s.typ), model.MetricTypeUnknown), Help: s.help})
		}
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	return accepted, rej, list, nil
}
