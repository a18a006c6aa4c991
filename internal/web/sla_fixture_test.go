package web_test

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/sla"
)

// slaStack starts one service's stack holding the SLA s of t-svc's success
// at 99.9 % (s gives its name and state), taking samples up to ooo behind
// the newest: the SLA tests write its recorded ratio into the past.
func slaStack(t *testing.T, s sla.Status, ooo time.Duration) *stack {
	s.Service, s.Indicator, s.Objective = "t-svc", "success", 99.9
	return startStackWith(t, 1, false, func(c *config.Config) { c.Storage.OutOfOrderWindow = config.Duration(ooo) },
		withSLAs(t, []sla.Status{s}))
}

// slaRatio is the SLA name's recorded 1h error ratio of t-svc
// (sla:error_ratio:rate1h, what the SLA page draws), without samples.
func slaRatio(name string) prompb.TimeSeries {
	return prompb.TimeSeries{Labels: []prompb.Label{
		{Name: "__name__", Value: "sla:error_ratio:rate1h"}, {Name: "service", Value: "t-svc"}, {Name: "sla", Value: name},
	}}
}
