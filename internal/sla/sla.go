// Package sla models gmc's service level agreements as pure functions, the way
// Pyrra's slo package does: an SLA in YAML becomes Prometheus recording rules
// (per-window error ratios) and the multi-window multi-burn-rate alerts of the
// Google SRE workbook; achievement, error budget and burn rate are computed
// from the recorded error ratios.
package sla

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gmc-dev/gmc/internal/duration"
)

// Names of the metrics gmc's SDK emits, which an SLA uses when its indicator
// names no metric of its own.
const (
	// DefaultLatencyMetric is the SDK's order latency histogram (a native
	// histogram, seconds), labelled service.
	DefaultLatencyMetric = "gmc_order_latency_seconds"
	// DefaultOrdersMetric is the SDK's order counter, labelled service and
	// result ("success", "reject" or "error").
	DefaultOrdersMetric = "gmc_orders_total"
)

// SLA is one service level agreement, e.g. "99.9% of matching-engine orders
// under 500µs over 1h, 1d, 7d and 30d".
type SLA struct {
	// Name identifies the SLA (label sla="<name>" on every generated series).
	Name string `yaml:"name" json:"name"`
	// Service is the value of the service label the indicator selects.
	Service     string `yaml:"service" json:"service"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Objective is the target in percent, e.g. 99.9.
	Objective float64 `yaml:"objective" json:"objective"`
	// Windows are the rolling windows achievement is reported over; empty
	// means 1h, 1d, 7d and 30d.
	Windows   []Duration `yaml:"windows,omitempty" json:"-"`
	Indicator Indicator  `yaml:"indicator" json:"indicator"`
}

// Indicator says what counts as a good and a bad event; exactly one of its
// fields is set.
type Indicator struct {
	Latency *Latency `yaml:"latency,omitempty" json:"latency,omitempty"`
	Ratio   *Ratio   `yaml:"ratio,omitempty" json:"ratio,omitempty"`
	Custom  *Custom  `yaml:"custom,omitempty" json:"custom,omitempty"`
}

// Latency counts an event good when it took at most Threshold, read from a
// histogram.
type Latency struct {
	// Metric is the histogram's name; default gmc_order_latency_seconds.
	Metric string `yaml:"metric,omitempty" json:"metric"`
	// Threshold is the latency bound, e.g. 500us.
	Threshold Duration `yaml:"threshold" json:"threshold"`
	// Buckets is "native" (default: histogram_fraction on a native
	// histogram) or "classic" (the <metric>_bucket series with le equal to
	// the threshold in seconds, and <metric>_count).
	Buckets string `yaml:"buckets,omitempty" json:"buckets"`
}

// Ratio counts errors against a total, both counter selectors. Both empty
// means the SDK's order success rate: errors are
// gmc_orders_total{service="<service>",result!="success"}, the total is
// gmc_orders_total{service="<service>"}.
type Ratio struct {
	Errors string `yaml:"errors,omitempty" json:"errors"`
	Total  string `yaml:"total,omitempty" json:"total"`
}

// Custom counts good events against a total, both counter selectors.
type Custom struct {
	Good  string `yaml:"good" json:"good"`
	Total string `yaml:"total" json:"total"`
}

// Duration is a duration in YAML and JSON ("500us", "1.5ms", "2s").
type Duration = duration.Duration

// DefaultWindows are the rolling windows reported when an SLA names none.
func DefaultWindows() []Duration {
	const day = Duration(24 * time.Hour)
	return []Duration{Duration(time.Hour), day, 7 * day, 30 * day}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$`)

// Normalise fills the SLA's defaults: the windows, the latency indicator's
// metric and bucket kind. It is idempotent; config.Load calls it before
// Validate.
func (s *SLA) Normalise() {
	if len(s.Windows) == 0 {
		s.Windows = DefaultWindows()
	}
	if l := s.Indicator.Latency; l != nil {
		if l.Metric == "" {
			l.Metric = DefaultLatencyMetric
		}
		if l.Buckets == "" {
			l.Buckets = "native"
		}
	}
}

// Validate checks a normalised SLA; errors name the field. It never changes
// the SLA.
func (s *SLA) Validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("name: %q must match %s", s.Name, nameRE)
	}
	if !(s.Objective > 0 && s.Objective < 100) {
		return fmt.Errorf("objective: %v must be a percentage strictly between 0 and 100 (e.g. 99.9)", s.Objective)
	}
	if len(s.Windows) == 0 {
		return errors.New("windows: must not be empty")
	}
	seen := map[Duration]bool{}
	for i, w := range s.Windows {
		if w < Duration(5*time.Minute) || time.Duration(w)%time.Minute != 0 {
			return fmt.Errorf("windows[%d]: %s must be a whole number of minutes, at least 5m", i, w)
		}
		if seen[w] {
			return fmt.Errorf("windows[%d]: %s is listed twice", i, w)
		}
		seen[w] = true
	}
	n := 0
	ind := &s.Indicator
	if ind.Latency != nil {
		n++
	}
	if ind.Ratio != nil {
		n++
	}
	if ind.Custom != nil {
		n++
	}
	if n != 1 {
		return errors.New("indicator: exactly one of latency, ratio and custom must be set")
	}
	switch {
	case ind.Latency != nil:
		l := ind.Latency
		if !model.LegacyValidation.IsValidMetricName(l.Metric) {
			return fmt.Errorf("indicator.latency.metric: %q is not a metric name", l.Metric)
		}
		if l.Threshold <= 0 {
			return fmt.Errorf("indicator.latency.threshold: %s must be positive", time.Duration(l.Threshold))
		}
		if l.Buckets != "native" && l.Buckets != "classic" {
			return fmt.Errorf("indicator.latency.buckets: %q is neither native nor classic", l.Buckets)
		}
	case ind.Ratio != nil:
		r := ind.Ratio
		if (r.Errors == "") != (r.Total == "") {
			return errors.New("indicator.ratio: set both errors and total, or neither for the SDK's gmc_orders_total success rate")
		}
		if r.Errors == "" && s.Service == "" {
			return errors.New("service: must be set when indicator.ratio uses the SDK's gmc_orders_total")
		}
		if err := checkSelector("indicator.ratio.errors", r.Errors); err != nil {
			return err
		}
		if err := checkSelector("indicator.ratio.total", r.Total); err != nil {
			return err
		}
	case ind.Custom != nil:
		c := ind.Custom
		if c.Good == "" || c.Total == "" {
			return errors.New("indicator.custom: good and total must both be set")
		}
		if err := checkSelector("indicator.custom.good", c.Good); err != nil {
			return err
		}
		if err := checkSelector("indicator.custom.total", c.Total); err != nil {
			return err
		}
	}
	// Every generated expression must parse.
	for _, g := range s.RuleGroups() {
		for _, r := range g.Rules {
			if _, err := newParser().ParseExpr(r.Expr); err != nil {
				return fmt.Errorf("indicator: generated rule %s%s does not parse: %w", r.Record, r.Alert, err)
			}
		}
	}
	return nil
}

// Target is the objective as a fraction (99.9 → 0.999), rounded to 12
// significant digits so that it prints as written.
func (s SLA) Target() float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(s.Objective/100, 'g', 12, 64), 64)
	return v
}

// Kind is the indicator's kind: latency, ratio or custom.
func (s SLA) Kind() string {
	switch {
	case s.Indicator.Latency != nil:
		return "latency"
	case s.Indicator.Ratio != nil:
		return "ratio"
	case s.Indicator.Custom != nil:
		return "custom"
	}
	return ""
}
