package ingest

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/prometheus/prometheus/storage"
)

// Remote-write 2.0 (https://prometheus.io/docs/specs/prw/remote_write_spec_2_0/):
// a snappy-compressed io.prometheus.write.v2.Request, chosen by the
// Content-Type's proto parameter on the same /api/v1/write. Series carry
// their labels as references into the request's symbols table, and their own
// metadata (type, help, unit), which is kept for /api/v1/metadata. The
// answer says what was written in the X-Prometheus-Remote-Write-*-Written
// headers; exemplars are accepted but not stored (0 written). Samples go
// through the same limits and checks as remote-write 1.0.

// The protobuf messages /api/v1/write accepts (the Content-Type's proto=).
const (
	msgV1 = "prometheus.WriteRequest"
	msgV2 = "io.prometheus.write.v2.Request"
)

// protoMessage is the protobuf message a Content-Type names: remote-write
// 1.0 when it names none (1.0 senders send no proto parameter, some no
// Content-Type at all) and an error for a message gmc does not know (415).
func protoMessage(contentType string) (string, error) {
	if contentType == "" {
		return msgV1, nil
	}
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return msgV1, nil // liberal, as before 2.0: only the body decides
	}
	switch p := params["proto"]; p {
	case "", msgV1:
		return msgV1, nil
	case msgV2:
		return msgV2, nil
	default:
		return "", fmt.Errorf("protobuf message %q (Content-Type %s) is not supported; gmc accepts %s (remote-write 1.0) and %s (2.0)", p, contentType, msgV1, msgV2)
	}
}

// rw2Written is what a remote-write 2.0 request wrote.
type rw2Written struct{ samples, histograms, exemplars int }

// writtenHeaders sets the remote-write 2.0 answer's written-counts headers.
func writtenHeaders(w http.ResponseWriter, n rw2Written) {
	h := w.Header()
	h.Set("X-Prometheus-Remote-Write-Samples-Written", strconv.Itoa(n.samples))
	h.Set("X-Prometheus-Remote-Write-Histograms-Written", strconv.Itoa(n.histograms))
	h.Set("X-Prometheus-Remote-Write-Exemplars-Written", strconv.Itoa(n.exemplars))
}

// serveRemoteWrite2 writes the remote-write 2.0 request in req.body.
func (in *Ingester) serveRemoteWrite2(w http.ResponseWriter, r *http.Request, req *rwRequest) {
	written, rej, names, err := in.writeRemote2(r.Context(), req)
	if err != nil {
		writtenHeaders(w, rw2Written{})
		in.fail(w, protoRemoteWrite, err)
		return
	}
	writtenHeaders(w, written)
	in.finish(w, protoRemoteWrite, written.samples+written.histograms, rej, names, http.StatusNoContent)
}

// writeRemote2 decodes and writes a remote-write 2.0 request. A
// *requestError means nothing was written; another error is a storage
// failure (nothing written either).
func (in *Ingester) writeRemote2(ctx context.Context, req *rwRequest) (rw2Written, *rejections, []string, error) {
	var none rw2Written
	release, err := in.decode(ctx, req)
	if err != nil {
		return none, nil, nil, err
	}
	defer release()
	var wr writev2.Request
	if err := wr.Unmarshal(req.data); err != nil {
		return none, nil, nil, badRequest("decode protobuf io.prometheus.write.v2.Request: %v", err)
	}
	if len(wr.Timeseries) > in.limits.Load().MaxSeriesPerRequest {
		return none, nil, nil, badRequest("request has more than limits.max_series_per_request %d series", in.limits.Load().MaxSeriesPerRequest)
	}
	type seriesMeta struct {
		name string
		md   metadata.Metadata
	}
	var (
		written rw2Written
		metas   []seriesMeta
		seen    requestSamples
		sb      labels.ScratchBuilder
		win     = in.window()
		rej     = &rejections{protocol: protoRemoteWrite}
		names   = map[string]struct{}{}
		app     = in.app.AppenderV2(ctx)
	)
	for i := range wr.Timeseries {
		ts := &wr.Timeseries[i]
		ls, reason, shown := in.seriesLabels2(&sb, ts.LabelsRefs, wr.Symbols)
		var md metadata.Metadata
		if reason == "" {
			if md, err = ts.ToMetadata(wr.Symbols); err != nil {
				reason, shown = "metadata: "+err.Error(), ls.String()
			}
		}
		if reason != "" {
			for _, s := range ts.Samples {
				rej.add(reasonInvalidSeries, func() string { return shown }, s.Timestamp, reason)
			}
			for _, h := range ts.Histograms {
				rej.add(reasonInvalidSeries, func() string { return shown }, h.Timestamp, reason)
			}
			continue
		}
		name := ls.Get(model.MetricNameLabel)
		if !md.IsEmpty() {
			metas = append(metas, seriesMeta{familyName(name, md.Type), md})
		}
		var ref storage.SeriesRef
		hash := ls.Hash()
		ok := false
		for _, s := range ts.Samples {
			if reason, why := win.check(in, s.Timestamp); reason != "" {
				rej.add(reason, ls.String, s.Timestamp, why)
				continue
			}
			if err := seen.conflict(hash, s.Timestamp, s.Value); err != nil {
				rej.add(reasonDuplicate, ls.String, s.Timestamp, err.Error())
				continue
			}
			r, err := app.Append(ref, ls, s.StartTimestamp, s.Timestamp, s.Value, nil, nil, storage.AOptions{})
			if err != nil {
				if err := in.appendFailed(rej, err, ls, s.Timestamp); err != nil {
					_ = app.Rollback()
					return none, nil, nil, err
				}
				continue
			}
			ref, ok = r, true
			written.samples++
		}
		for _, hp := range ts.Histograms {
			if reason, why := win.check(in, hp.Timestamp); reason != "" {
				rej.add(reason, ls.String, hp.Timestamp, why)
				continue
			}
			var (
				h  *histogram.Histogram
				fh *histogram.FloatHistogram
			)
			if hp.IsFloatHistogram() {
				fh = hp.ToFloatHistogram()
			} else {
				h = hp.ToIntHistogram()
			}
			r, err := app.Append(ref, ls, hp.StartTimestamp, hp.Timestamp, 0, h, fh, storage.AOptions{})
			if err != nil {
				if err := in.appendFailed(rej, err, ls, hp.Timestamp); err != nil {
					_ = app.Rollback()
					return none, nil, nil, err
				}
				continue
			}
			ref, ok = r, true
			written.histograms++
		}
		if ok {
			names[name] = struct{}{}
		}
	}
	if err := app.Commit(); err != nil {
		return none, nil, nil, fmt.Errorf("commit samples: %w", err)
	}
	for _, m := range metas {
		in.meta.add(m.name, m.md)
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	return written, rej, list, nil
}

// seriesLabels2 builds and validates a remote-write 2.0 series' labels from
// its references into symbols, as seriesLabels does for 1.0: empty values
// dropped, out-of-order names sorted, duplicates and invalid labels
// rejected. On rejection it returns the reason and the labels as sent.
func (in *Ingester) seriesLabels2(sb *labels.ScratchBuilder, refs []uint32, symbols []string) (labels.Labels, string, string) {
	if len(refs)%2 != 0 {
		return labels.EmptyLabels(), fmt.Sprintf("odd number of label references (%d)", len(refs)), fmt.Sprint(refs)
	}
	sb.Reset()
	pairs := make([][2]string, 0, len(refs)/2)
	for i := 0; i < len(refs); i += 2 {
		n, v := refs[i], refs[i+1]
		if int(n) >= len(symbols) || int(v) >= len(symbols) {
			return labels.EmptyLabels(), fmt.Sprintf("label reference %d=%d outside the symbols table (%d symbols)", n, v, len(symbols)), fmt.Sprint(refs)
		}
		pairs = append(pairs, [2]string{symbols[n], symbols[v]})
		if symbols[v] != "" {
			sb.Add(symbols[n], symbols[v])
		}
	}
	sb.Sort()
	ls := sb.Labels()
	if reason := in.checkSeries(ls); reason != "" {
		return labels.EmptyLabels(), reason, quoteLabels(pairs)
	}
	return ls, "", ""
}

// familyName is the metric family a series of type typ named name belongs
// to, as /api/v1/metadata lists it: a classic histogram's or summary's
// _bucket, _sum and _count series are their family's.
func familyName(name string, typ model.MetricType) string {
	switch typ {
	case model.MetricTypeHistogram, model.MetricTypeGaugeHistogram, model.MetricTypeSummary:
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				return base
			}
		}
	}
	return name
}
