package rules

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Threshold is the short form of an alert for the common case "this metric of
// this service crosses a value":
//
//   - name: OrderRejectsHigh
//     metric: gmc_order_rejects_ratio
//     op: ">"
//     value: 0.01
//     for: 30s
//     service: matching-engine
//     severity: page
//
// It compiles to one alerting rule named Name, in a rule group of its own
// named "threshold:<name>", whose expression is
//
//	<metric>{service="<service>"} <op> <value>
//
// (just `<metric> <op> <value>` when Service is empty), with the value
// printed in Go's shortest form ('g'), the service quoted as a PromQL string,
// `for` as given, labels severity (default "warning"), service (when set) and
// Labels (which win on conflict), and annotations summary and description
// unless Annotations sets them.
type Threshold struct {
	Name        string            `yaml:"name"`
	Metric      string            `yaml:"metric"`
	Op          string            `yaml:"op"`
	Value       float64           `yaml:"value"`
	For         duration.Duration `yaml:"for,omitempty"`
	Service     string            `yaml:"service,omitempty"`
	Severity    string            `yaml:"severity,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

var alertNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Normalise fills the threshold's default severity (warning).
func (t *Threshold) Normalise() {
	if t.Severity == "" {
		t.Severity = "warning"
	}
}

// Validate checks the threshold; errors name the field.
func (t *Threshold) Validate() error {
	if !alertNameRE.MatchString(t.Name) {
		return fmt.Errorf("name: %q must match %s", t.Name, alertNameRE)
	}
	if !model.LegacyValidation.IsValidMetricName(t.Metric) {
		return fmt.Errorf("metric: %q is not a metric name", t.Metric)
	}
	switch t.Op {
	case ">", ">=", "<", "<=", "==", "!=":
	default:
		return fmt.Errorf("op: %q is not one of > >= < <= == !=", t.Op)
	}
	if math.IsNaN(t.Value) || math.IsInf(t.Value, 0) {
		return fmt.Errorf("value: %v must be a finite number", t.Value)
	}
	if t.For < 0 {
		return fmt.Errorf("for: %s must not be negative", t.For)
	}
	for k := range t.Labels {
		if !model.LegacyValidation.IsValidLabelName(k) {
			return fmt.Errorf("labels: %q is not a label name", k)
		}
	}
	for k := range t.Annotations {
		if !model.LegacyValidation.IsValidLabelName(k) {
			return fmt.Errorf("annotations: %q is not an annotation name", k)
		}
	}
	return nil
}

// Expr is the PromQL the threshold compiles to.
func (t Threshold) Expr() string {
	sel := t.Metric
	if t.Service != "" {
		sel += "{service=" + strconv.Quote(t.Service) + "}"
	}
	return sel + " " + t.Op + " " + strconv.FormatFloat(t.Value, 'g', -1, 64)
}

// unitOfMetric is the base unit a metric's name ends in, by Prometheus's
// naming conventions (_seconds, _bytes, _ratio, _percent), as the "unit"
// annotation names it; "" when the name has none.
func unitOfMetric(metric string) string {
	for _, u := range []struct{ suffix, unit string }{
		{"_seconds", "seconds"}, {"_bytes", "bytes"}, {"_ratio", "ratio"}, {"_percent", "percent"},
	} {
		if strings.HasSuffix(metric, u.suffix) {
			return u.unit
		}
	}
	return ""
}

// Rule is the alerting rule the threshold compiles to.
func (t Threshold) Rule() rulefmt.Rule {
	sev := t.Severity
	if sev == "" {
		sev = "warning"
	}
	lbls := map[string]string{"severity": sev}
	if t.Service != "" {
		lbls["service"] = t.Service
	}
	for k, v := range t.Labels {
		lbls[k] = v
	}
	value := strconv.FormatFloat(t.Value, 'g', -1, 64)
	ann := map[string]string{
		"summary":     fmt.Sprintf("%s %s %s", t.Metric, t.Op, value),
		"description": fmt.Sprintf("%s is {{ $value }} on {{ $labels.instance }}{{ with $labels.service }} (service {{ . }}){{ end }}, threshold %s %s.", t.Metric, t.Op, value),
	}
	if u := unitOfMetric(t.Metric); u != "" {
		ann["unit"] = u
	}
	for k, v := range t.Annotations {
		ann[k] = v
	}
	return rulefmt.Rule{Alert: t.Name, Expr: t.Expr(), For: model.Duration(t.For), Labels: lbls, Annotations: ann}
}

// thresholdGroups puts each threshold in a rule group of its own, so that a
// push re-evaluates only the thresholds on the pushed metric.
func thresholdGroups(ts []Threshold) rulefmt.RuleGroups {
	var out rulefmt.RuleGroups
	for _, t := range ts {
		out.Groups = append(out.Groups, rulefmt.RuleGroup{Name: "threshold:" + t.Name, Rules: []rulefmt.Rule{t.Rule()}})
	}
	return out
}
