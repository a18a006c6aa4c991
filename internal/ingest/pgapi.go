package ingest

import (
	"maps"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// The Pushgateway's JSON API (/api/v1/status, /api/v1/metrics), in the
// shapes the Pushgateway 1.x answers, so its web UI's clients and scripts
// reading the API work against gmc.

// PushgatewayStatus serves GET /api/v1/status: gmc's version, start time and
// the settings of its push groups, where the Pushgateway shows its flags.
func (in *Ingester) PushgatewayStatus(w http.ResponseWriter, _ *http.Request) {
	flags := maps.Clone(*in.flags.Load())
	flags["limits.max_body_bytes"] = strconv.FormatInt(in.limits.Load().MaxBodyBytes, 10)
	httpapi.WriteSuccess(w, map[string]any{
		"build_information": map[string]string{
			"version":   in.version,
			"revision":  "",
			"branch":    "",
			"buildUser": "",
			"buildDate": "",
			"goVersion": runtime.Version(),
		},
		"flags":      flags,
		"start_time": in.started.UTC().Format(time.RFC3339Nano),
	})
}

// PushgatewayMetrics serves GET /api/v1/metrics: every group with its
// families, push_time_seconds and push_failure_time_seconds.
func (in *Ingester) PushgatewayMetrics(w http.ResponseWriter, _ *http.Request) {
	groups := in.push.snapshot()
	data := make([]map[string]any, 0, len(groups))
	for _, grp := range groups {
		g := map[string]any{
			"labels":               grp.Labels,
			"last_push_successful": !grp.PushTime.IsZero() && !grp.FailTime.After(grp.PushTime),
		}
		for name, f := range grp.Families {
			g[name] = pgwFamily(f)
		}
		for _, m := range []struct {
			name, help string
			at         time.Time
		}{
			{pushTimeMetric, "Last Unix time when changing this group in the Pushgateway succeeded.", grp.PushTime},
			{pushFailureTimeMetric, "Last Unix time when changing this group in the Pushgateway failed.", grp.FailTime},
		} {
			g[m.name] = map[string]any{
				"time_stamp": grp.Changed.UTC().Format(time.RFC3339Nano),
				"type":       "GAUGE",
				"help":       m.help,
				"metrics":    []map[string]any{{"labels": timeSeries(&grp, m.name).DropReserved(isMetricName).Map(), "value": pgwFloat(pushTimeValue(m.at))}},
			}
		}
		data = append(data, g)
	}
	httpapi.WriteSuccess(w, data)
}

// pgwFamily renders one family as the Pushgateway does: plain series with a
// value; classic histograms and summaries reassembled with buckets or
// quantiles, count and sum.
func pgwFamily(f *pushFamily) map[string]any {
	typ := strings.ToUpper(f.Type)
	if typ == "" || typ == "UNKNOWN" {
		typ = "UNTYPED"
	}
	out := map[string]any{"time_stamp": f.Time.UTC().Format(time.RFC3339Nano), "type": typ}
	if f.Help != "" {
		out["help"] = f.Help
	}
	var metrics []map[string]any
	switch typ {
	case "HISTOGRAM", "SUMMARY":
		metrics = pgwComposite(f, typ)
	default:
		for _, s := range f.Samples {
			m := map[string]any{"labels": s.lset().DropReserved(isMetricName).Map()}
			switch {
			case s.H != nil:
				m["count"], m["sum"] = strconv.FormatUint(s.H.Count, 10), pgwFloat(s.H.Sum)
			case s.FH != nil:
				m["count"], m["sum"] = pgwFloat(s.FH.Count), pgwFloat(s.FH.Sum)
			default:
				m["value"] = pgwFloat(s.Value)
			}
			metrics = append(metrics, m)
		}
	}
	out["metrics"] = metrics
	return out
}

// pgwComposite reassembles a classic histogram or summary family.
func pgwComposite(f *pushFamily, typ string) []map[string]any {
	type entry struct {
		labels map[string]string
		parts  map[string]string // le or quantile → value
		count  string
		sum    string
		native bool
	}
	byKey := map[string]*entry{}
	var keys []string
	partLabel, partsKey := "le", "buckets"
	if typ == "SUMMARY" {
		partLabel, partsKey = "quantile", "quantiles"
	}
	for _, s := range f.Samples {
		ls := s.lset()
		name := ls.Get(model.MetricNameLabel)
		base := labels.NewBuilder(ls).Del(model.MetricNameLabel, partLabel).Labels()
		k := base.String()
		e := byKey[k]
		if e == nil {
			e = &entry{labels: base.Map(), parts: map[string]string{}}
			byKey[k] = e
			keys = append(keys, k)
		}
		switch {
		case s.H != nil:
			e.count, e.sum, e.native = strconv.FormatUint(s.H.Count, 10), pgwFloat(s.H.Sum), true
		case s.FH != nil:
			e.count, e.sum, e.native = pgwFloat(s.FH.Count), pgwFloat(s.FH.Sum), true
		case name == f.Name+"_count":
			e.count = pgwFloat(s.Value)
		case name == f.Name+"_sum":
			e.sum = pgwFloat(s.Value)
		case ls.Has(partLabel):
			bound := ls.Get(partLabel)
			if f, err := strconv.ParseFloat(bound, 64); err == nil {
				bound = pgwFloat(f) // "1.0" from the protobuf parser is "1" on the Pushgateway
			}
			e.parts[bound] = pgwFloat(s.Value)
		}
	}
	sort.Strings(keys)
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		e := byKey[k]
		m := map[string]any{"labels": e.labels, "count": e.count, "sum": e.sum}
		if !e.native || len(e.parts) > 0 {
			delete(e.parts, "+Inf") // the Pushgateway leaves the +Inf bucket out
			m[partsKey] = e.parts
		}
		out = append(out, m)
	}
	return out
}

// pgwFloat formats a value as the Pushgateway does (Go's %v of a float64).
func pgwFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// isMetricName selects __name__ for Labels.DropReserved.
func isMetricName(name string) bool { return name == model.MetricNameLabel }
