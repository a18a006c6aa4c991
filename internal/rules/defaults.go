package rules

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/gmc-dev/gmc/internal/sla"
)

// ServiceSilentFile is the rule source of the generated ServiceSilent rule.
const ServiceSilentFile = "gmc:defaults:service-silent"

// DefaultDownAfter is Options.DownAfter's default: a service pushing every
// second is silent after eight missed pushes (api.DefaultDownAfter).
const DefaultDownAfter = 8 * time.Second

// AgentProcessPrefix begins the names of the series `gmc agent --process
// SERVICE=…` writes about a service's processes (internal/agent's
// gmc_process_*{service}): the agent's report about the service, written
// also after the process died (gmc_process_count 0), never a sample the
// service sent (t-user14b F1: a stopped service stayed up).
const AgentProcessPrefix = "gmc_process_"

// gmcSeriesRE matches the names of series gmc writes itself: alerts,
// benchmark results (bench.SeriesPrefix, written out here: bench's tests
// import rules; bench.TestSeriesAreGmcs holds the two together), its
// agent's process reports, and recording rules by Prometheus's naming
// convention (level:metric:operations), which gmc's own (sla:…) follow.
// They never show that a service is alive: the ServiceSilent rules leave
// them out (ownSeriesRE), /system/status too (GmcSeries).
const gmcSeriesRE = `ALERTS|ALERTS_FOR_STATE|gmc_bench_.+|` + AgentProcessPrefix + `.+|.+:.+`

// ownSeriesRE is gmcSeriesRE and the series a scrape writes whatever the
// target does (up, scrape_*): the rules' selectors of a service's own
// samples leave them out. /system/status reads up itself (a scraped
// service is up by it).
const ownSeriesRE = gmcSeriesRE + `|up|scrape_.+`

var gmcSeries = regexp.MustCompile(`^(?:` + gmcSeriesRE + `)$`)

// GmcSeries reports whether a metric name is one gmc writes itself
// (gmcSeriesRE), by its name alone: Manager.Writes adds the recording
// rules loaded whatever their names.
func GmcSeries(metricName string) bool { return gmcSeries.MatchString(metricName) }

// NewestSampleRecord is the recording of each service's newest own sample
// time over the last hour (Unix seconds), which ServiceSilent reads for a
// service silent past PromQL's lookback.
const NewestSampleRecord = "gmc:service_newest_sample_timestamp:max1h"

// serviceSilentGroupName is the group of the default ServiceSilent alert.
const serviceSilentGroupName = "gmc-service-silent"

// targetDownGroupName is the group of the default TargetDown alert.
const targetDownGroupName = "gmc-target-down"

// newestSampleGroupName is the timer-only group recording NewestSampleRecord.
const newestSampleGroupName = "gmc-service-newest-sample"

// newestSampleInterval is how often NewestSampleRecord is recorded.
const newestSampleInterval = time.Minute

// isTimerOnly reports whether a group runs on its interval only, never
// re-evaluated by pushes: an SLA's slow group (days of raw data) and the
// newest-sample recording (an hour of every service's samples).
func isTimerOnly(name string) bool {
	return sla.IsSlowGroup(name) || name == newestSampleGroupName
}

// newestSampleGroup records, every minute, each service's newest own sample
// over the last hour: a subquery stepping by the 5m lookback, so that its
// steps tile the hour and their maximum is the newest sample in it; for a
// service silent longer, its own last value. It
// reads an hour of every service's samples (~0.3 s for 200 series at 1s on
// a busy machine), which is why it is not part of ServiceSilent itself,
// re-evaluated on every push.
func newestSampleGroup() rulefmt.RuleGroup {
	return rulefmt.RuleGroup{
		Name:     newestSampleGroupName,
		Interval: model.Duration(newestSampleInterval),
		Rules: []rulefmt.Rule{{
			Record: NewestSampleRecord,
			// Services with a Pushgateway group in the hour are left out:
			// a group's values are rewritten by gmc (their times are not
			// the sender's), and a deleted group must not page.
			// A service silent past the hour keeps its newest sample
			// from the recording's own last value (over a day, so that a
			// gmc stopped for less keeps it too): /system/status lists
			// it down as long as its series are stored, and ServiceSilent
			// fires as long (t-user13 F12: it resolved an hour after the
			// service went quiet, a RESOLVED for a service still down).
			// Scraped services (an up series in the hour) are TargetDown's
			// and left out, so a target dropped from the configuration is
			// not carried on.
			Expr: fmt.Sprintf(`(max by (service) (max_over_time(timestamp({service!="", __name__!~%q})[1h:5m])) or max by (service) (last_over_time(%s{service!=""}[1d]))) unless on (service) max_over_time(%s{service!=""}[1h]) unless on (service) max_over_time(up{service!=""}[1h])`,
				ownSeriesRE, NewestSampleRecord, pushTimeMetric),
		}},
	}
}

// serviceSilentGroup is the default ServiceSilent alert: a pushed service
// whose newest own sample is older than its down_after (defaultAfter, or
// its entry in perService), the same threshold /system/status shows it
// down at. Scraped services (those with an up series) are left to
// TargetDown; series gmc writes itself (alerts, recording rules, benchmark
// results) are not the service's.
//
// Each branch reads the newest sample from the raw series while they are
// within PromQL's 5m lookback; past it the series drop out of instant
// vectors and NewestSampleRecord (recorded every minute by
// newestSampleGroup, used only for services absent from the raw series: the
// `or`) keeps the alert firing for as long as the service is silent, with
// its true age (nothing newer came since the recording). It needs the engine's delayed name removal: series of one
// service that differ only by name (a histogram's _sum and _count) must not
// collide inside timestamp() before max by (service) is taken.
func serviceSilentGroup(defaultAfter time.Duration, perService map[string]time.Duration) rulefmt.RuleGroup {
	names := slices.Sorted(maps.Keys(perService))
	var branches []string
	if len(names) == 0 {
		branches = append(branches, silentBranch(`service!=""`, defaultAfter))
	} else {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = regexp.QuoteMeta(n)
		}
		branches = append(branches, silentBranch(`service!="", service!~`+strconv.Quote(strings.Join(quoted, "|")), defaultAfter))
		for _, n := range names {
			branches = append(branches, silentBranch(`service=`+strconv.Quote(n), perService[n]))
		}
	}
	expr := "(\n" + strings.Join(branches, "\nor\n") + "\n)\nunless on (service) up{service!=\"\"}\nunless on (service) " + pushTimeMetric + "{service!=\"\"}"
	return rulefmt.RuleGroup{
		Name: serviceSilentGroupName,
		Rules: []rulefmt.Rule{{
			Alert:  "ServiceSilent",
			Expr:   expr,
			Labels: map[string]string{"severity": "page"},
			Annotations: map[string]string{
				// Durations by the one rule (sla.DurationTemplate: "2m5s",
				// "2m"), as /sla and the dashboard write them; plain
				// humanizeDuration wrote "2m 5s" and "2m 0s".
				"summary":     "service {{ $labels.service }} is down: it sent nothing for " + sla.DurationTemplate("$value"),
				"description": "The newest sample {{ $labels.service }} sent is " + sla.DurationTemplate("$value") + " old.",
				// Rendered when the alert resolves (resolvedSummary): a
				// RESOLVED says the service came back, or plainly that it
				// did not (the alert ended otherwise: its rule removed by
				// a reload, a gmc stopped for over a day).
				"resolved_summary": fmt.Sprintf(`{{ $age := -1.0 }}{{ with printf `+"`"+`time() - max(timestamp({service=%%q, __name__!~%s}))`+"`"+` $labels.service | query }}{{ $age = . | first | value }}{{ end }}`,
					strconv.Quote(ownSeriesRE)) +
					`{{ if and (ge $age 0.0) (lt $age $value) }}service {{ $labels.service }} is back: it sent a sample ` + sla.DurationTemplate("$age") + ` ago, after ` + sla.DurationTemplate("$value") + ` or more of silence` +
					`{{ else }}ServiceSilent no longer fires for service {{ $labels.service }}, but it has sent nothing since: this is not a recovery (silent for ` + sla.DurationTemplate("$value") + ` at the last evaluation; /system/status says whether it is still down){{ end }}`,
				// The dashboard formats the value by it.
				"unit": "seconds",
			},
		}},
	}
}

// pushTimeMetric is the per-group gauge of Pushgateway groups: a service
// that has one is not judged by down_after (Pushgateway semantics: a
// group's last push stays current, a batch job pushes once). Alert on
// time() - push_time_seconds for a job that must push regularly.
const pushTimeMetric = "push_time_seconds"

// targetDownGroup is the default TargetDown alert: a scraped target none of
// whose scrapes succeeded for its service's down_after (defaultAfter, or
// its entry in perService), the threshold /system/status shows it down at:
// one failed scrape is not an outage.
func targetDownGroup(defaultAfter time.Duration, perService map[string]time.Duration) rulefmt.RuleGroup {
	names := slices.Sorted(maps.Keys(perService))
	branch := func(svc string, after time.Duration) string {
		return fmt.Sprintf(`max_over_time(up{%s}[%s]) == 0`, svc, model.Duration(after))
	}
	var branches []string
	if len(names) == 0 {
		branches = append(branches, branch("", defaultAfter))
	} else {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = regexp.QuoteMeta(n)
		}
		branches = append(branches, branch(`service!~`+strconv.Quote(strings.Join(quoted, "|")), defaultAfter))
		for _, n := range names {
			branches = append(branches, branch(`service=`+strconv.Quote(n), perService[n]))
		}
	}
	return rulefmt.RuleGroup{
		Name: targetDownGroupName,
		Rules: []rulefmt.Rule{{
			Alert:  "TargetDown",
			Expr:   strings.Join(branches, "\nor\n"),
			Labels: map[string]string{"severity": "page"},
			Annotations: map[string]string{
				"summary":     "{{ $labels.job }} target {{ $labels.instance }} is down",
				"description": "No scrape of {{ $labels.instance }} succeeded for its service's down_after.",
			},
		}},
	}
}

// silentBranch is the age of the newest own sample of the services matched
// by svc, when older than after: from the raw series while they are within
// the lookback, else from NewestSampleRecord.
func silentBranch(svc string, after time.Duration) string {
	sel := fmt.Sprintf(`{%s, __name__!~%q}`, svc, ownSeriesRE)
	th := strconv.FormatFloat(after.Seconds(), 'g', -1, 64)
	return fmt.Sprintf(`  time() - (
    max by (service) (timestamp(%[1]s))
    or
    max by (service) (%[3]s{%[4]s})
  ) > %[2]s`, sel, th, NewestSampleRecord, svc)
}
