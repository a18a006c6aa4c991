package sdk

import (
	"math"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file encodes Prometheus remote-write 1.0 requests (prompb.WriteRequest)
// directly with protowire. The SDK does this by hand, not with the generated
// prompb types, so that services importing it do not pull in
// prometheus/prometheus; client_golang/exp/api/remote only carries the 2.0
// message types. Field numbers are those of prompb/types.proto.

// Field numbers of prompb messages.
const (
	fieldWriteRequestTimeseries = 1

	fieldSeriesLabels     = 1
	fieldSeriesSamples    = 2
	fieldSeriesHistograms = 4

	fieldLabelName  = 1
	fieldLabelValue = 2

	fieldSampleValue     = 1
	fieldSampleTimestamp = 2

	fieldHistCountInt       = 1
	fieldHistCountFloat     = 2
	fieldHistSum            = 3
	fieldHistSchema         = 4
	fieldHistZeroThreshold  = 5
	fieldHistZeroCountInt   = 6
	fieldHistZeroCountFloat = 7
	fieldHistNegativeSpans  = 8
	fieldHistNegativeDeltas = 9
	fieldHistNegativeCounts = 10
	fieldHistPositiveSpans  = 11
	fieldHistPositiveDeltas = 12
	fieldHistPositiveCounts = 13
	fieldHistResetHint      = 14
	fieldHistTimestamp      = 15

	fieldSpanOffset = 1
	fieldSpanLength = 2

	resetHintGauge = 3
)

// label is one label pair of a series.
type label struct{ name, value string }

// encoder builds one WriteRequest; its scratch buffers are reused between series.
type encoder struct {
	buf      []byte // the WriteRequest so far
	series   []byte // scratch: one TimeSeries
	msg      []byte // scratch: one nested message (label, sample, histogram)
	span     []byte // scratch: one BucketSpan
	packed   []byte // scratch: a packed repeated field
	labels   []label
	external []label // sorted; added to every series that lacks the name
	nSeries  int
	nSamples int
}

// reset starts a new request.
func (e *encoder) reset() {
	e.buf = e.buf[:0]
	e.nSeries, e.nSamples = 0, 0
}

// startSeries collects the labels of the next series: name, the metric's own
// labels, extra (le, quantile), then external labels the series lacks.
func (e *encoder) startSeries(name string, own []*dto.LabelPair, extra ...label) {
	e.labels = e.labels[:0]
	e.labels = append(e.labels, label{"__name__", name})
	for _, lp := range own {
		e.labels = append(e.labels, label{lp.GetName(), lp.GetValue()})
	}
	e.labels = append(e.labels, extra...)
	n := len(e.labels)
	for _, ext := range e.external {
		if !slices.ContainsFunc(e.labels[:n], func(l label) bool { return l.name == ext.name }) {
			e.labels = append(e.labels, ext)
		}
	}
	slices.SortFunc(e.labels, func(a, b label) int { return strings.Compare(a.name, b.name) })
	e.series = e.series[:0]
	for _, l := range e.labels {
		if l.value == "" {
			continue // an empty label is the same as no label
		}
		e.msg = e.msg[:0]
		e.msg = protowire.AppendTag(e.msg, fieldLabelName, protowire.BytesType)
		e.msg = protowire.AppendString(e.msg, l.name)
		e.msg = protowire.AppendTag(e.msg, fieldLabelValue, protowire.BytesType)
		e.msg = protowire.AppendString(e.msg, l.value)
		e.series = protowire.AppendTag(e.series, fieldSeriesLabels, protowire.BytesType)
		e.series = protowire.AppendBytes(e.series, e.msg)
	}
}

// endSeries appends the series being built to the request.
func (e *encoder) endSeries() {
	e.buf = protowire.AppendTag(e.buf, fieldWriteRequestTimeseries, protowire.BytesType)
	e.buf = protowire.AppendBytes(e.buf, e.series)
	e.nSeries++
	e.nSamples++
}

// floatSeries appends one float sample series.
func (e *encoder) floatSeries(name string, own []*dto.LabelPair, v float64, ts int64, extra ...label) {
	e.startSeries(name, own, extra...)
	e.msg = e.msg[:0]
	e.msg = protowire.AppendTag(e.msg, fieldSampleValue, protowire.Fixed64Type)
	e.msg = protowire.AppendFixed64(e.msg, math.Float64bits(v))
	e.msg = protowire.AppendTag(e.msg, fieldSampleTimestamp, protowire.VarintType)
	e.msg = protowire.AppendVarint(e.msg, uint64(ts))
	e.series = protowire.AppendTag(e.series, fieldSeriesSamples, protowire.BytesType)
	e.series = protowire.AppendBytes(e.series, e.msg)
	e.endSeries()
}

// nativeHistogramSeries appends one native histogram sample series.
func (e *encoder) nativeHistogramSeries(name string, own []*dto.LabelPair, h *dto.Histogram, gauge bool, ts int64) {
	e.startSeries(name, own)
	m := e.msg[:0]
	float := isFloatHistogram(h)
	if float {
		m = appendDouble(m, fieldHistCountFloat, h.GetSampleCountFloat())
	} else {
		m = protowire.AppendTag(m, fieldHistCountInt, protowire.VarintType)
		m = protowire.AppendVarint(m, h.GetSampleCount())
	}
	m = appendDouble(m, fieldHistSum, h.GetSampleSum())
	m = protowire.AppendTag(m, fieldHistSchema, protowire.VarintType)
	m = protowire.AppendVarint(m, protowire.EncodeZigZag(int64(h.GetSchema())))
	m = appendDouble(m, fieldHistZeroThreshold, h.GetZeroThreshold())
	if float {
		m = appendDouble(m, fieldHistZeroCountFloat, h.GetZeroCountFloat())
	} else {
		m = protowire.AppendTag(m, fieldHistZeroCountInt, protowire.VarintType)
		m = protowire.AppendVarint(m, h.GetZeroCount())
	}
	m = e.appendSpans(m, fieldHistNegativeSpans, h.GetNegativeSpan())
	m = e.appendSpans(m, fieldHistPositiveSpans, h.GetPositiveSpan())
	if float {
		m = e.appendPackedDoubles(m, fieldHistNegativeCounts, h.GetNegativeCount())
		m = e.appendPackedDoubles(m, fieldHistPositiveCounts, h.GetPositiveCount())
	} else {
		m = e.appendPackedSint64(m, fieldHistNegativeDeltas, h.GetNegativeDelta())
		m = e.appendPackedSint64(m, fieldHistPositiveDeltas, h.GetPositiveDelta())
	}
	if gauge {
		m = protowire.AppendTag(m, fieldHistResetHint, protowire.VarintType)
		m = protowire.AppendVarint(m, resetHintGauge)
	}
	m = protowire.AppendTag(m, fieldHistTimestamp, protowire.VarintType)
	m = protowire.AppendVarint(m, uint64(ts))
	e.msg = m
	e.series = protowire.AppendTag(e.series, fieldSeriesHistograms, protowire.BytesType)
	e.series = protowire.AppendBytes(e.series, e.msg)
	e.endSeries()
}

// appendSpans appends bucket spans, folding spans of length zero (client_golang
// emits one for an empty native histogram) into the offset of the next one.
func (e *encoder) appendSpans(b []byte, field protowire.Number, spans []*dto.BucketSpan) []byte {
	var carry int32
	for _, s := range spans {
		if s.GetLength() == 0 {
			carry += s.GetOffset()
			continue
		}
		e.span = e.span[:0]
		e.span = protowire.AppendTag(e.span, fieldSpanOffset, protowire.VarintType)
		e.span = protowire.AppendVarint(e.span, protowire.EncodeZigZag(int64(s.GetOffset()+carry)))
		e.span = protowire.AppendTag(e.span, fieldSpanLength, protowire.VarintType)
		e.span = protowire.AppendVarint(e.span, uint64(s.GetLength()))
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendBytes(b, e.span)
		carry = 0
	}
	return b
}

func (e *encoder) appendPackedSint64(b []byte, field protowire.Number, vs []int64) []byte {
	if len(vs) == 0 {
		return b
	}
	e.packed = e.packed[:0]
	for _, v := range vs {
		e.packed = protowire.AppendVarint(e.packed, protowire.EncodeZigZag(v))
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, e.packed)
}

func (e *encoder) appendPackedDoubles(b []byte, field protowire.Number, vs []float64) []byte {
	if len(vs) == 0 {
		return b
	}
	e.packed = e.packed[:0]
	for _, v := range vs {
		e.packed = protowire.AppendFixed64(e.packed, math.Float64bits(v))
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, e.packed)
}

func appendDouble(b []byte, field protowire.Number, v float64) []byte {
	b = protowire.AppendTag(b, field, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

// isNativeHistogram reports whether h carries native buckets, with the rule
// Prometheus's protobuf parser uses.
func isNativeHistogram(h *dto.Histogram) bool {
	return len(h.GetPositiveSpan()) > 0 || len(h.GetNegativeSpan()) > 0 ||
		h.GetZeroThreshold() > 0 || h.GetZeroCount() > 0 || h.GetZeroCountFloat() > 0
}

func isFloatHistogram(h *dto.Histogram) bool {
	return len(h.GetPositiveCount()) > 0 || len(h.GetNegativeCount()) > 0 ||
		h.GetZeroCountFloat() > 0 || h.GetSampleCountFloat() > 0
}
