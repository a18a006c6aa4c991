package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	otlptranslator "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// OTLP/HTTP metrics (https://opentelemetry.io/docs/specs/otlp/#otlphttp):
// POST /v1/metrics (and /api/v1/otlp/v1/metrics, Prometheus's path) with an
// ExportMetricsServiceRequest as protobuf (application/x-protobuf) or JSON
// (application/json), optionally gzip-compressed.
//
// The mapping to series is Prometheus's own: the request is handed to the
// translator of Prometheus's OTLP receiver
// (storage/remote/otlptranslator/prometheusremotewrite) with Prometheus's
// default settings, so job and instance come from service.namespace/
// service.name and service.instance.id, the other resource attributes go to
// target_info, names get their unit and _total suffixes, explicit-bucket
// histograms become classic _bucket/_sum/_count series and exponential
// histograms native histograms. Delta temporality is refused, as Prometheus
// refuses it by default. Like the Pushgateway text push, gmc adds a service
// label equal to job when the series has none, so that the service shows in
// gmc's views. Every sample then passes the same Limits as the other paths;
// exemplars are not stored. Each metric's type, unit and description are
// kept as its metadata (metadata.go).
//
// Answers follow the OTLP spec: 200 with an ExportMetricsServiceResponse,
// whose partial_success counts and names what was refused when part of the
// request was; 400 with a google.rpc.Status for a body that does not
// decode; 413, 415 and 429 likewise with a Status. Responses use the
// request's encoding.

// OTLP configures OTLP ingest: the `otlp:` section of gmc.yml. Its fields
// are those of Prometheus's `otlp:` section of the same name.
type OTLP struct {
	// PromoteResourceAttributes are resource attributes copied onto every
	// series of the resource, besides target_info.
	PromoteResourceAttributes []string `yaml:"promote_resource_attributes"`
	// KeepIdentifyingResourceAttributes keeps service.name,
	// service.namespace and service.instance.id on target_info too.
	KeepIdentifyingResourceAttributes bool `yaml:"keep_identifying_resource_attributes"`
}

// Validate checks the section; errors name the field under `otlp.`.
func (o OTLP) Validate() error {
	seen := map[string]bool{}
	for i, a := range o.PromoteResourceAttributes {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			return fmt.Errorf("otlp.promote_resource_attributes[%d]: must not be empty", i)
		case seen[a]:
			return fmt.Errorf("otlp.promote_resource_attributes[%d]: %q is listed twice", i, a)
		}
		seen[a] = true
	}
	return nil
}

// settings are the translator's settings for o: Prometheus's defaults
// (underscore escaping with suffixes, target_info on) plus o.
func (o OTLP) settings() otlptranslator.Settings {
	pc := promconfig.DefaultOTLPConfig
	pc.PromoteResourceAttributes = o.PromoteResourceAttributes
	pc.KeepIdentifyingResourceAttributes = o.KeepIdentifyingResourceAttributes
	return otlptranslator.Settings{
		AddMetricSuffixes:                    pc.TranslationStrategy.ShouldAddSuffixes(),
		AllowUTF8:                            !pc.TranslationStrategy.ShouldEscape(),
		PromoteResourceAttributes:            otlptranslator.NewPromoteResourceAttributes(pc),
		KeepIdentifyingResourceAttributes:    pc.KeepIdentifyingResourceAttributes,
		LookbackDelta:                        5 * time.Minute,
		LabelNameUnderscoreSanitization:      pc.LabelNameUnderscoreSanitization,
		LabelNamePreserveMultipleUnderscores: pc.LabelNamePreserveMultipleUnderscores,
	}
}

const (
	otlpProtobuf = "application/x-protobuf"
	otlpJSON     = "application/json"
)

// otlpConverters pools the translator's converters (they cache label names).
type otlpConverters struct{ p sync.Pool }

func (c *otlpConverters) get(app storage.AppenderV2) *otlptranslator.PrometheusConverter {
	conv, ok := c.p.Get().(*otlptranslator.PrometheusConverter)
	if !ok {
		return otlptranslator.NewPrometheusConverter(app)
	}
	conv.Reset(app)
	return conv
}

func (c *otlpConverters) put(conv *otlptranslator.PrometheusConverter) {
	conv.Reset(nil)
	c.p.Put(conv)
}

// OTLPMetrics serves POST /v1/metrics: OTLP/HTTP metrics (see above).
func (in *Ingester) OTLPMetrics() http.Handler {
	return http.HandlerFunc(in.serveOTLP)
}

func (in *Ingester) serveOTLP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer in.observe(protoOTLP, start)
	ct := otlpProtobuf
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == otlpJSON {
		ct = otlpJSON
	} else if err != nil || mt != otlpProtobuf {
		in.otlpStatus(w, ct, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("Content-Type %q is not supported; OTLP/HTTP needs %s or %s", r.Header.Get("Content-Type"), otlpProtobuf, otlpJSON))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		in.otlpStatus(w, ct, http.StatusMethodNotAllowed, codes.Unimplemented, "OTLP export needs POST, got "+r.Method)
		return
	}
	ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if ce != "" && ce != "gzip" && ce != "identity" {
		in.otlpStatus(w, ct, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			"Content-Encoding "+ce+" is not supported; OTLP/HTTP bodies are gzip or uncompressed")
		return
	}
	body, err := in.readBody(w, r, nil)
	if err != nil {
		in.otlpStatus(w, ct, bodyErrorCode(err), codes.InvalidArgument, err.Error())
		return
	}
	res, err := in.writeOTLP(r.Context(), body, ce == "gzip", ct == otlpJSON)
	if err != nil {
		code, grpcCode := http.StatusInternalServerError, codes.Internal
		var re *requestError
		if errors.As(err, &re) {
			code, grpcCode = re.code, codes.InvalidArgument
			switch code {
			case http.StatusTooManyRequests:
				w.Header().Set("Retry-After", "1")
				grpcCode = codes.ResourceExhausted
			case http.StatusRequestEntityTooLarge:
				grpcCode = codes.ResourceExhausted
			}
		} else {
			in.logger.Error("write failed", "protocol", protoOTLP, "err", err)
		}
		in.otlpStatus(w, ct, code, grpcCode, err.Error())
		return
	}
	if res.accepted > 0 {
		in.accepted.Add(uint64(res.accepted))
		in.m.samples.WithLabelValues(protoOTLP).Add(float64(res.accepted))
		if len(res.names) > 0 {
			in.listener.MetricsWritten(res.names)
		}
	}
	in.countRejections(res.rej)
	resp := pmetricotlp.NewExportResponse()
	if msg := res.message(); msg != "" {
		resp.PartialSuccess().SetRejectedDataPoints(int64(res.rejected()))
		resp.PartialSuccess().SetErrorMessage(strings.ToValidUTF8(msg, "\uFFFD")) // may quote bad input
	}
	var out []byte
	if ct == otlpJSON {
		out, err = resp.MarshalJSON()
	} else {
		out, err = resp.MarshalProto()
	}
	if err != nil { // cannot happen with pdata's own types; say so if it does
		in.otlpStatus(w, ct, http.StatusInternalServerError, codes.Internal, "encode response: "+err.Error())
		return
	}
	in.m.requests.WithLabelValues(protoOTLP, "200").Inc()
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// otlpStatus answers a failed export with a google.rpc.Status in the
// request's encoding, as OTLP/HTTP requires.
func (in *Ingester) otlpStatus(w http.ResponseWriter, ct string, code int, grpcCode codes.Code, msg string) {
	in.m.requests.WithLabelValues(protoOTLP, strconv.Itoa(code)).Inc()
	// Protobuf strings must be UTF-8, and msg may quote the bad input.
	st := &statuspb.Status{Code: int32(grpcCode), Message: strings.ToValidUTF8(msg, "\uFFFD")} //nolint:gosec // gRPC codes are small
	var out []byte
	if ct == otlpJSON {
		out, _ = protojson.Marshal(st)
	} else {
		out, _ = proto.Marshal(st)
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(out)
}

// otlpResult is what one export committed and refused.
type otlpResult struct {
	accepted int
	rej      *rejections
	names    []string
	// translate is what the translator refused whole (a metric with delta
	// temporality, an attribute it cannot name), with the data points lost.
	translate       error
	translateLosses int
	// warnings say what was written differently, with nothing refused.
	warnings []string
}

// rejected is the number of rejected data points for partial_success:
// refused samples (a classic histogram data point is several) plus the data
// points of metrics the translator refused.
func (r otlpResult) rejected() int { return r.rej.n + r.translateLosses }

// message is partial_success.error_message, "" when all was accepted.
func (r otlpResult) message() string {
	parts := slices.Clone(r.warnings)
	if r.translate != nil {
		parts = append(parts, strings.ReplaceAll(r.translate.Error(), "\n", "; "))
	}
	if r.rej.n > 0 {
		parts = append(parts, r.rej.message(r.accepted))
	}
	return strings.Join(parts, "; ")
}

// decodeOTLP decodes an export request body (after gunzip, bounded by
// limit decoded bytes).
func decodeOTLP(body []byte, gz, isJSON bool, limit int64) (pmetricotlp.ExportRequest, int, error) {
	data := body
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return pmetricotlp.ExportRequest{}, 0, badRequest("decode gzip body: %v", err)
		}
		data, err = io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return pmetricotlp.ExportRequest{}, 0, badRequest("decode gzip body: %v", err)
		}
		if int64(len(data)) > limit {
			return pmetricotlp.ExportRequest{}, 0, &requestError{code: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("decoded body exceeds %d bytes (limits.max_body_bytes × %d)", limit, decodedBodyFactor)}
		}
	}
	req := pmetricotlp.NewExportRequest()
	if isJSON {
		if err := req.UnmarshalJSON(data); err != nil {
			return req, len(data), badRequest("decode OTLP JSON ExportMetricsServiceRequest: %v", err)
		}
	} else if err := req.UnmarshalProto(data); err != nil {
		return req, len(data), badRequest("decode OTLP protobuf ExportMetricsServiceRequest: %v", err)
	}
	return req, len(data), nil
}

// writeOTLP decodes, translates and commits one export request. A
// *requestError means nothing was written.
func (in *Ingester) writeOTLP(ctx context.Context, body []byte, gz, isJSON bool) (otlpResult, error) {
	limit := in.limits.Load().MaxBodyBytes * decodedBodyFactor
	release, err := in.inflight.acquire(ctx, int64(len(body)))
	if err != nil {
		return otlpResult{}, err
	}
	req, n, err := decodeOTLP(body, gz, isJSON, limit)
	release()
	if err != nil {
		return otlpResult{}, err
	}
	// The decoded form is held while it is translated: count it in flight.
	if release, err = in.inflight.acquire(ctx, int64(n)); err != nil {
		return otlpResult{}, err
	}
	defer release()
	md := req.Metrics()
	if points := md.DataPointCount(); points > in.limits.Load().MaxSeriesPerRequest {
		return otlpResult{}, badRequest("request has %d data points, more than limits.max_series_per_request %d", points, in.limits.Load().MaxSeriesPerRequest)
	}
	losses := refusedByTranslator(md)
	wide, warnings := splitWideResources(md)
	app := &otlpAppender{in: in, next: in.app.AppenderV2(ctx), win: in.window(),
		rej: &rejections{protocol: protoOTLP}, names: map[string]struct{}{}, sb: labels.NewBuilder(labels.EmptyLabels())}
	conv := in.otlp.get(app)
	otlpSettings := *in.otlpSettings.Load()
	_, terr := conv.FromMetrics(ctx, md, otlpSettings)
	if wide.ResourceMetrics().Len() > 0 && app.fatal == nil && ctx.Err() == nil {
		settings := otlpSettings
		settings.DisableTargetInfo = true
		_, werr := conv.FromMetrics(ctx, wide, settings)
		terr = errors.Join(terr, werr)
	}
	in.otlp.put(conv)
	if app.fatal != nil {
		_ = app.next.Rollback()
		return otlpResult{}, app.fatal
	}
	if err := ctx.Err(); err != nil {
		_ = app.next.Rollback()
		return otlpResult{}, fmt.Errorf("translate OTLP request: %w", err)
	}
	if err := app.next.Commit(); err != nil {
		return otlpResult{}, fmt.Errorf("commit samples: %w", err)
	}
	res := otlpResult{accepted: app.accepted, rej: app.rej, translate: terr, translateLosses: losses, warnings: warnings}
	if terr != nil && losses == 0 {
		res.translateLosses = 1 // refused something we could not count; never report 0 with an error
	}
	for name := range app.names {
		res.names = append(res.names, name)
	}
	return res, nil
}

// maxTargetInfoSpan bounds the time a resource's data points may span for
// its target_info to be written: the translator writes one target_info
// sample every 2.5 minutes (half the lookback) from the earliest data point
// to the latest, so one point at time 0 beside one at now would cost
// millions of appends.
const maxTargetInfoSpan = time.Hour

// splitWideResources moves out of md the resources whose data points span
// more than maxTargetInfoSpan; they are written without target_info, and
// the warnings say so.
func splitWideResources(md pmetric.Metrics) (pmetric.Metrics, []string) {
	wide := pmetric.NewMetrics()
	var warnings []string
	md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		first, last := resourceSpan(rm)
		if first > last || last.AsTime().Sub(first.AsTime()) <= maxTargetInfoSpan {
			return false
		}
		name := ""
		if v, ok := rm.Resource().Attributes().Get("service.name"); ok {
			name = v.AsString()
		}
		warnings = append(warnings, fmt.Sprintf("target_info of resource service.name=%q not written: its data points span %s, more than %s",
			name, last.AsTime().Sub(first.AsTime()).Round(time.Second), maxTargetInfoSpan))
		rm.CopyTo(wide.ResourceMetrics().AppendEmpty())
		return true
	})
	return wide, warnings
}

// resourceSpan is the earliest and latest data point time of rm, as the
// translator computes them for target_info (first > last when rm has none).
func resourceSpan(rm pmetric.ResourceMetrics) (first, last pcommon.Timestamp) {
	first = pcommon.Timestamp(math.MaxUint64)
	see := func(ts pcommon.Timestamp) { first, last = min(first, ts), max(last, ts) }
	sms := rm.ScopeMetrics()
	for j := range sms.Len() {
		ms := sms.At(j).Metrics()
		for k := range ms.Len() {
			m := ms.At(k)
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				for _, dp := range m.Gauge().DataPoints().All() {
					see(dp.Timestamp())
				}
			case pmetric.MetricTypeSum:
				for _, dp := range m.Sum().DataPoints().All() {
					see(dp.Timestamp())
				}
			case pmetric.MetricTypeHistogram:
				for _, dp := range m.Histogram().DataPoints().All() {
					see(dp.Timestamp())
				}
			case pmetric.MetricTypeExponentialHistogram:
				for _, dp := range m.ExponentialHistogram().DataPoints().All() {
					see(dp.Timestamp())
				}
			case pmetric.MetricTypeSummary:
				for _, dp := range m.Summary().DataPoints().All() {
					see(dp.Timestamp())
				}
			}
		}
	}
	return first, last
}

// refusedByTranslator counts the data points of metrics that Prometheus's
// translator refuses whole with its default settings: sums, histograms and
// exponential histograms with delta (or unspecified) temporality.
func refusedByTranslator(md pmetric.Metrics) int {
	n := 0
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				var temp pmetric.AggregationTemporality
				var points int
				switch m.Type() {
				case pmetric.MetricTypeSum:
					temp, points = m.Sum().AggregationTemporality(), m.Sum().DataPoints().Len()
				case pmetric.MetricTypeHistogram:
					temp, points = m.Histogram().AggregationTemporality(), m.Histogram().DataPoints().Len()
				case pmetric.MetricTypeExponentialHistogram:
					temp, points = m.ExponentialHistogram().AggregationTemporality(), m.ExponentialHistogram().DataPoints().Len()
				default:
					continue
				}
				if temp != pmetric.AggregationTemporalityCumulative {
					n += points
				}
			}
		}
	}
	return n
}

// otlpAppender stands between the translator and the storage: it applies
// the Limits to every sample the translator produces, records refusals
// instead of failing (so the rest of the request is still written) and
// remembers a storage failure, which fails the request.
type otlpAppender struct {
	in       *Ingester
	next     storage.AppenderV2
	win      timeWindow
	rej      *rejections
	seen     requestSamples
	names    map[string]struct{}
	sb       *labels.Builder
	accepted int
	fatal    error
}

var _ storage.AppenderV2 = (*otlpAppender)(nil)

// Append validates and appends one sample. It returns an error only for a
// storage failure; a refused sample is recorded and answered with ref 0.
func (a *otlpAppender) Append(_ storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AOptions) (storage.SeriesRef, error) {
	if a.fatal != nil {
		return 0, a.fatal
	}
	if ls.Get("service") == "" {
		if job := ls.Get(model.JobLabel); job != "" {
			a.sb.Reset(ls)
			a.sb.Set("service", job)
			ls = a.sb.Labels()
		}
	}
	if reason := a.in.checkSeries(ls); reason != "" {
		a.rej.add(reasonInvalidSeries, ls.String, t, reason)
		return 0, nil
	}
	if reason, why := a.win.check(a.in, t); reason != "" {
		a.rej.add(reason, ls.String, t, why)
		return 0, nil
	}
	if h == nil && fh == nil {
		if err := a.seen.conflict(ls.Hash(), t, v); err != nil {
			a.rej.add(reasonDuplicate, ls.String, t, err.Error())
			return 0, nil
		}
	}
	opts.Exemplars = nil // not stored, as with remote-write
	ref, err := a.next.Append(0, ls, st, t, v, h, fh, opts)
	if err != nil {
		reason, ok := classifyAppendErr(err)
		if !ok {
			a.fatal = fmt.Errorf("append sample of %s: %w", ls, err)
			return 0, a.fatal
		}
		a.rej.add(reason, ls.String, t, err.Error())
		return 0, nil
	}
	a.accepted++
	a.names[ls.Get(model.MetricNameLabel)] = struct{}{}
	a.in.meta.add(opts.MetricFamilyName, opts.Metadata) // served on /api/v1/metadata
	return ref, nil
}

// Commit and Rollback are the caller's (writeOTLP's), not the translator's.
func (a *otlpAppender) Commit() error   { return errors.New("otlp: commit belongs to writeOTLP") }
func (a *otlpAppender) Rollback() error { return errors.New("otlp: rollback belongs to writeOTLP") }
