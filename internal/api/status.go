package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/auth"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/tier"
)

// Service states.
const (
	StateUp    = "up"
	StateStale = "stale"
	StateDown  = "down"
	// StatePushed is a service whose series come from a Pushgateway group
	// (/metrics/job/…): the group's last push stays current until it is
	// deleted or replaced, as with the Pushgateway, and a batch job pushes
	// once, so its silence says nothing: it is not judged by down_after.
	StatePushed = "pushed"
	// StateUnknown is a service gmc cannot judge now: its newest sample is
	// older than its stale_after, but gmc has not been taking samples for
	// its down_after (it restarted, or its own ingest stalled), so the
	// silence may be gmc's. The ServiceSilent and TargetDown alerts hold
	// alike (Options.SilenceHold); Hold says why and until when.
	StateUnknown = "unknown"
)

// HoldCause is what keeps gmc from judging a silence, in /system/status:
// Cause "restart" or "ingest_stall"; SinceMs when gmc started or its
// ingest stall began; UntilMs when the stall ended (absent while it goes
// on, and for a restart). Milliseconds since the epoch.
type HoldCause struct {
	Cause   string `json:"cause"`
	SinceMs int64  `json:"since_ms"`
	UntilMs *int64 `json:"until_ms,omitempty"`
}

// holdCause is h's cause and times.
func holdCause(h Hold) HoldCause {
	return HoldCause{Cause: h.Cause, SinceMs: h.Since.UnixMilli(), UntilMs: unixMilli(h.Until)}
}

// unixMilli is t in milliseconds since the epoch; nil for the zero time.
func unixMilli(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

// HoldStatus is why a service's state is unknown, in /system/status:
// its hold's cause, and JudgedFromMs, when the service's state is judged
// again (absent while a stall goes on).
type HoldStatus struct {
	HoldCause
	JudgedFromMs *int64 `json:"judged_from_ms,omitempty"`
}

// ServiceStatus is one known service in /system/status.
type ServiceStatus struct {
	Service string `json:"service"`
	// State is up (its newest own sample is within stale_after), stale
	// (within down_after), down (older; for a scraped service: no scrape
	// succeeded within down_after), pushed (it has a Pushgateway group:
	// not judged, see StatePushed) or unknown (it would be stale or down,
	// but gmc itself was not taking samples for its down_after: see
	// StateUnknown).
	State string `json:"state"`
	// Reason says why a service is down ("silent" or "scrape failing"),
	// what pushed means, or why it is unknown.
	Reason string `json:"reason,omitempty"`
	// Hold is why an unknown service is not judged, and until when.
	Hold *HoldStatus `json:"hold,omitempty"`
	// LastSeen* are the newest sample the service sent itself (for a
	// scraped one: its newest successful scrape; for a pushed one: its
	// group's last push); null when none is within the last LivenessLookback.
	LastSeenMs *int64   `json:"last_seen_ms"`
	LastSeen   *string  `json:"last_seen"`
	AgeSeconds *float64 `json:"age_seconds"`
	// Series counts its own series with samples in the last 2×down_after.
	Series int `json:"series"`
	// Targets and TargetsUp count a scraped service's targets and those
	// whose latest scrape succeeded; absent for a pushed service.
	Targets   *int `json:"targets,omitempty"`
	TargetsUp *int `json:"targets_up,omitempty"`
	// Twice names the metrics of the service that arrive both scraped (in
	// series with the job of one of its up series) and by another path
	// (pushed, or another job): each path's series count apart, so sums
	// over them double. Absent when none does.
	Twice *TwiceStatus `json:"twice,omitempty"`
	// StaleAfterSeconds and DownAfterSeconds are this service's thresholds.
	StaleAfterSeconds float64 `json:"stale_after_seconds"`
	DownAfterSeconds  float64 `json:"down_after_seconds"`
}

// TwiceStatus is a service's metrics that arrive by two paths.
type TwiceStatus struct {
	// Metrics are the metric names, ScrapeJobs the jobs scraping them.
	Metrics    []string `json:"metrics"`
	ScrapeJobs []string `json:"scrape_jobs"`
	// AlsoAs are the other services the same metrics arrive as (the
	// scraped series' exported_service); empty when the same service.
	AlsoAs  []string `json:"also_as"`
	Message string   `json:"message"`
}

// IngestStatus is the write side's throughput.
type IngestStatus struct {
	SamplesTotal uint64 `json:"samples_total"`
	// SamplesPerSecond is the average over the last WindowSeconds: from
	// the newest reading at least a minute old to now (readings are taken
	// every second by Run and when /system/status is asked for, the first
	// at start-up), or from the oldest when none is that old. (It was from
	// the previous call by any client, 4.7 to 74 s: 792 samples/s on the
	// tile where the raw counter gave 592/s, t-user8 #6; then, with
	// readings only at calls, over 1m10s to 3m45s, t-user12 F1.)
	SamplesPerSecond float64 `json:"samples_per_second"`
	WindowSeconds    float64 `json:"window_seconds"`
}

// status is the body of /system/status.
type status struct {
	Status            string          `json:"status"`
	Version           string          `json:"version"`
	Time              string          `json:"time"`
	StartedAt         string          `json:"started_at"`
	UptimeSeconds     float64         `json:"uptime_seconds"`
	StaleAfterSeconds float64         `json:"stale_after_seconds"`
	DownAfterSeconds  float64         `json:"down_after_seconds"`
	Storage           any             `json:"storage,omitempty"`
	Ingest            *IngestStatus   `json:"ingest,omitempty"`
	Services          []ServiceStatus `json:"services"`
	// SLAs are the SLAs' states; null when the server has no SLA source.
	SLAs []sla.Status `json:"slas"`
	// Access says how requests are authenticated; absent without a source.
	Access *auth.Status `json:"access,omitempty"`
	// StorageTiers are the downsampled tiers; null without a source.
	StorageTiers []tier.Stats `json:"storage_tiers"`
	// Watching is since when gmc has been watching the services; absent
	// without a source.
	Watching *WatchingStatus `json:"watching,omitempty"`
	// Config is what the last reload of gmc.yml left; absent without a
	// source.
	Config *ConfigStatus `json:"config,omitempty"`
	// Outages are the times gmc itself was down (between a stop and the
	// next start) within the storage's retention, oldest first; null
	// without a source, empty when none is recorded.
	Outages []Outage `json:"outages"`
}

// Outage is a time gmc was down: from its stop (Clean: its shutdown
// began then) or, after a crash, its last heartbeat (it stopped within
// StoppedWithinSeconds after From), until it served again. gmc took in
// nothing between.
type Outage struct {
	From                 time.Time `json:"from"`
	Until                time.Time `json:"until"`
	Clean                bool      `json:"clean_stop"`
	StoppedWithinSeconds float64   `json:"stopped_within_seconds,omitempty"`
}

// ConfigStatus is what the last reload of gmc.yml left: when it was
// (absent before one), its error if it failed (then nothing changed), and
// the settings (YAML paths) that differ in the file from those in force,
// which only a restart applies, with a sentence saying so.
type ConfigStatus struct {
	LastReload      string   `json:"last_reload,omitempty"`
	LastReloadError string   `json:"last_reload_error,omitempty"`
	PendingRestart  []string `json:"pending_restart"`
	Message         string   `json:"message,omitempty"`
	// Why says, per pending setting, why a reload does not apply it.
	Why map[string]string `json:"why,omitempty"`
}

// WatchingStatus is since when gmc has been taking samples without a
// break: FromMs is its start or its latest ingest stall's end (now while
// the stall goes on), and the hold's cause says which. A silence shorter
// than now − FromMs may be gmc's own: the alerts and service states do
// not judge one within a down_after of it.
type WatchingStatus struct {
	FromMs int64 `json:"from_ms"`
	HoldCause
}

// ServiceState is one service in /system/status?view=states: only what
// changes when its state does.
type ServiceState struct {
	Service string      `json:"service"`
	State   string      `json:"state"`
	Reason  string      `json:"reason,omitempty"`
	Hold    *HoldStatus `json:"hold,omitempty"`
	// LastSeenMs is the newest sample of a service that is not up (it stays
	// put while the service is silent); absent for an up service and when
	// nothing arrived in the last 2×down_after.
	LastSeenMs        *int64  `json:"last_seen_ms,omitempty"`
	StaleAfterSeconds float64 `json:"stale_after_seconds"`
	DownAfterSeconds  float64 `json:"down_after_seconds"`
}

// statesView is the body of /system/status?view=states.
type statesView struct {
	View     string         `json:"view"`
	Services []ServiceState `json:"services"`
}

// SystemStatus is GET /system/status: gmc's own health (storage, ingest
// rate, head series, uptime, version) and every known service with its
// last-seen time and up / stale / down state. With view=states it is only
// each service's state (and, when not up, its last sample's time), with
// an ETag: the body changes only when a state does, so a dashboard polling
// every second mostly gets 304 Not Modified.
func (a *API) SystemStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := a.opts.Now()
	view := r.URL.Query().Get("view")
	if view != "" && view != "states" {
		badParam(w, "view", fmt.Errorf("want states or nothing, got %q", view))
		return
	}
	services, err := a.services(ctx, now)
	if err != nil {
		internalError(w, "read services", err)
		return
	}
	if view == "states" {
		a.writeStates(w, r, services)
		return
	}
	lv := a.live.Load().Liveness
	st := status{
		Status:            "ok",
		Version:           a.opts.Version,
		Time:              now.UTC().Format(time.RFC3339Nano),
		StartedAt:         a.opts.Started.UTC().Format(time.RFC3339Nano),
		UptimeSeconds:     now.Sub(a.opts.Started).Seconds(),
		StaleAfterSeconds: lv.StaleAfter.Seconds(),
		DownAfterSeconds:  lv.DownAfter.Seconds(),
		Services:          services,
	}
	if a.opts.StorageStats != nil {
		st.Storage = a.opts.StorageStats()
	}
	if a.opts.SamplesIngested != nil {
		st.Ingest = a.ingest(now, a.opts.SamplesIngested())
	}
	if a.opts.StorageTiers != nil {
		st.StorageTiers = a.opts.StorageTiers()
	}
	if a.opts.Watching != nil {
		from, h := a.opts.Watching(now)
		if !from.IsZero() {
			st.Watching = &WatchingStatus{FromMs: from.UnixMilli(), HoldCause: holdCause(h)}
		}
	}
	if a.opts.Config != nil {
		c := a.opts.Config()
		st.Config = &c
	}
	if a.opts.Outages != nil {
		st.Outages = a.opts.Outages()
		if st.Outages == nil {
			st.Outages = []Outage{}
		}
	}
	if a.opts.Access != nil {
		access := a.opts.Access()
		st.Access = &access
	}
	if a.opts.SLAs != nil {
		st.SLAs = a.opts.SLAs(ctx)
		if st.SLAs == nil {
			st.SLAs = []sla.Status{}
		}
	}
	a.writeJSON(w, st)
}

// writeStates writes the states view of services with a strong ETag (a
// hash of the body), answering 304 when If-None-Match names it.
func (a *API) writeStates(w http.ResponseWriter, r *http.Request, services []ServiceStatus) {
	v := statesView{View: "states", Services: make([]ServiceState, len(services))}
	for i, s := range services {
		v.Services[i] = ServiceState{Service: s.Service, State: s.State, Reason: s.Reason, Hold: s.Hold,
			StaleAfterSeconds: s.StaleAfterSeconds, DownAfterSeconds: s.DownAfterSeconds}
		if s.State != StateUp {
			v.Services[i].LastSeenMs = s.LastSeenMs
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		internalError(w, "encode states", err)
		return
	}
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	// Kept by the browser, but asked again (If-None-Match) every time.
	h.Set("Cache-Control", "no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// etagMatch reports whether an If-None-Match header names etag (weakly: a
// W/ prefix is ignored, as RFC 9110 says for If-None-Match).
func etagMatch(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// Run takes an ingest reading every second until ctx is done, so the
// rate /system/status gives is over a minute whenever it is asked for.
func (a *API) Run(ctx context.Context) {
	if a.opts.SamplesIngested == nil {
		return
	}
	t := time.NewTicker(a.readEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.ingest(a.opts.Now(), a.opts.SamplesIngested())
		}
	}
}

// ingest records the reading n at now and returns the rate.
func (a *API) ingest(now time.Time, n uint64) *IngestStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	if last := a.readings[len(a.readings)-1]; now.Sub(last.at) >= minRateWindow || n < last.n {
		if n < last.n { // the counter restarted: readings before are of another count
			a.readings = a.readings[:0]
		}
		a.readings = append(a.readings, reading{now, n})
	}
	// The base: the newest reading at least rateWindow old, else the
	// oldest; older ones are dropped.
	base := 0
	for i, r := range a.readings {
		if now.Sub(r.at) >= rateWindow {
			base = i
		}
	}
	a.readings = a.readings[base:]
	from := a.readings[0]
	st := &IngestStatus{SamplesTotal: n}
	if el := now.Sub(from.at); el >= minRateWindow && n >= from.n {
		st.SamplesPerSecond = float64(n-from.n) / el.Seconds()
		st.WindowSeconds = el.Seconds()
	}
	return st
}

// services lists every service over the retention with its state.
//
// A service's liveness comes only from samples it sent itself: series gmc
// writes on its behalf (ALERTS, ALERTS_FOR_STATE, recording rules, gmc_bench_*
// results — see Options.OwnSeries) and the scraper's own series (up,
// scrape_*) never refresh it. A scraped service whose targets all failed
// their latest scrape (up == 0 newer than any of its samples) is down at
// once.
func (a *API) services(ctx context.Context, now time.Time) ([]ServiceStatus, error) {
	q, err := a.opts.Queryable.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return nil, fmt.Errorf("open querier: %w", err)
	}
	names, _, err := q.LabelValues(ctx, ServiceLabel, nil)
	q.Close()
	if err != nil {
		return nil, fmt.Errorf("read label values of %s: %w", ServiceLabel, err)
	}
	names = slices.Clone(names)
	slices.Sort(names)

	// The newest sample of each service within the last 2×(longest down_after).
	nowMs := now.UnixMilli()
	q, err = a.opts.Queryable.Querier(nowMs-2*a.maxDownAfter().Milliseconds(), nowMs)
	if err != nil {
		return nil, fmt.Errorf("open querier: %w", err)
	}
	defer q.Close()
	type seen struct {
		last   int64 // newest sample of its own; 0 none
		series int
		// live counts the series whose newest sample is not a staleness
		// marker: a service whose every series ended with one was removed
		// (a deleted Pushgateway group, a target dropped from the config).
		live int
		// pushed: it has a Pushgateway group; pushedMs its last push.
		pushed   bool
		pushedMs int64
		// targets: newest up sample per target, for scraped services.
		targets              int
		targetsUp            int
		newestFailedScrapeMs int64
		// upJobs are the jobs of its up series; jobs the jobs (""
		// for none) each other metric name arrives with.
		upJobs map[string]bool
		jobs   map[string]map[string]bool
		// exported: the exported_service values (a scraped series'
		// own service label, renamed) each metric name arrives with.
		exported map[string]map[string]bool
	}
	svcs := map[string]*seen{}
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchNotEqual, ServiceLabel, ""))
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		lset := s.Labels()
		name := lset.Get(model.MetricNameLabel)
		if a.opts.OwnSeries != nil && a.opts.OwnSeries(name) {
			continue
		}
		svc := lset.Get(ServiceLabel)
		st := svcs[svc]
		if st == nil {
			st = &seen{upJobs: map[string]bool{}, jobs: map[string]map[string]bool{}, exported: map[string]map[string]bool{}}
			svcs[svc] = st
		}
		if a.opts.PushedAt != nil {
			if t, ok := a.opts.PushedAt(lset); ok {
				st.series++
				st.live++
				st.pushed = true
				st.pushedMs = max(st.pushedMs, t)
				continue
			}
		}
		it = s.Iterator(it)
		switch {
		case name == "up":
			t, v, ok, ended := newestFloat(it)
			if !ended {
				st.live++
			}
			if !ok {
				continue
			}
			st.upJobs[lset.Get(model.JobLabel)] = true
			st.targets++
			if v == 1 {
				st.targetsUp++
				st.last = max(st.last, t)
			} else {
				st.newestFailedScrapeMs = max(st.newestFailedScrapeMs, t)
			}
		case strings.HasPrefix(name, "scrape_"):
			// Written by the scraper on failed scrapes too.
		default:
			st.series++
			if st.jobs[name] == nil {
				st.jobs[name] = map[string]bool{}
			}
			st.jobs[name][lset.Get(model.JobLabel)] = true
			if x := lset.Get("exported_" + ServiceLabel); x != "" {
				if st.exported[name] == nil {
					st.exported[name] = map[string]bool{}
				}
				st.exported[name][x] = true
			}
			t, ok, ended := lastTimestamp(it)
			if !ended {
				st.live++
			}
			if ok {
				st.last = max(st.last, t)
			}
		}
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("read recent series: %w", err)
	}

	out := make([]ServiceStatus, 0, len(names))
	for _, svc := range names {
		lv := a.liveness(svc)
		ss := ServiceStatus{Service: svc, State: StateDown, StaleAfterSeconds: lv.StaleAfter.Seconds(), DownAfterSeconds: lv.DownAfter.Seconds()}
		st := svcs[svc]
		if st == nil {
			if a.opts.OwnSeries != nil && a.onlyOwnSeries(ctx, svc) {
				continue // not a service: only gmc's own series name it
			}
			// Silent for longer than the window read above: its newest
			// sample within the liveness lookback, so that a down
			// service's page says since when.
			seen := a.lastSeen(ctx, svc, now)
			if seen.removed {
				continue
			}
			if seen.pushedMs > 0 {
				ss.Series = seen.pushedSeries
				// A Pushgateway group whose values were last written
				// (refreshed every GroupRefresh) before the window above.
				ss.State = StatePushed
				ss.Reason = pushedReason
				setLastSeen(&ss, seen.pushedMs, now)
				out = append(out, a.held(ss, now))
				continue
			}
			ss.Reason = "silent"
			if seen.last > 0 {
				setLastSeen(&ss, seen.last, now)
			}
			out = append(out, a.held(ss, now))
			continue
		}
		if st.live == 0 {
			continue // every series ended with a staleness marker: removed
		}
		ss.Series = st.series
		if st.targets > 0 {
			tu := st.targetsUp
			ss.Targets, ss.TargetsUp = &st.targets, &tu
			var also map[string]map[string]bool // metric names of the services it exports, by service
			for _, xs := range st.exported {
				for x := range xs {
					if o := svcs[x]; o != nil && x != svc {
						if also == nil {
							also = map[string]map[string]bool{}
						}
						also[x] = map[string]bool{}
						for n := range o.jobs {
							also[x][n] = true
						}
					}
				}
			}
			ss.Twice = a.twice(svc, st.upJobs, st.jobs, st.exported, also)
		}
		switch {
		case st.pushed:
			ss.State = StatePushed
			ss.Reason = pushedReason
			setLastSeen(&ss, st.pushedMs, now)
		case st.last > 0:
			age := setLastSeen(&ss, st.last, now)
			// A scraped service is down only once no scrape succeeded for
			// its down_after, as TargetDown: one failed scrape is not an
			// outage.
			switch {
			case age <= lv.StaleAfter:
				ss.State = StateUp
			case age <= lv.DownAfter:
				ss.State = StateStale
			case st.targets > 0 && st.newestFailedScrapeMs >= st.last:
				ss.Reason = "scrape failing"
			default:
				ss.Reason = "silent"
			}
		case st.targets > 0:
			ss.Reason = "scrape failing"
			if last := a.lastSeen(ctx, svc, now).last; last > 0 {
				setLastSeen(&ss, last, now)
			}
		default:
			ss.Reason = "silent"
		}
		out = append(out, a.held(ss, now))
	}
	return out, nil
}

// held makes a stale or down service unknown while gmc does not judge its
// silence (Options.SilenceHold), with the hold's reason.
func (a *API) held(ss ServiceStatus, now time.Time) ServiceStatus {
	if a.opts.SilenceHold == nil || ss.State != StateStale && ss.State != StateDown {
		return ss
	}
	h, ok := a.opts.SilenceHold(now, ss.Service)
	if !ok {
		return ss
	}
	hs := &HoldStatus{HoldCause: holdCause(h), JudgedFromMs: unixMilli(h.JudgedFrom)}
	clock := func(t time.Time) string { return t.UTC().Format("15:04:05Z") }
	was := ss.State
	if ss.Reason != "" {
		was += " (" + ss.Reason + ")"
	}
	switch {
	case h.Cause != "ingest_stall":
		ss.Reason = fmt.Sprintf("not judged: gmc restarted at %s and judges a silence only from its down_after (%s) later, %s; by its samples it would be %s",
			clock(h.Since), model.Duration(time.Duration(ss.DownAfterSeconds*float64(time.Second))), clock(h.JudgedFrom), was)
	case h.Until.IsZero():
		ss.Reason = fmt.Sprintf("not judged: gmc's ingest is stalled since %s (a write request is taking seconds), so samples sent since may not be stored yet; by its samples it would be %s",
			clock(h.Since), was)
	default:
		ss.Reason = fmt.Sprintf("not judged: gmc's ingest stalled from %s to %s and judges a silence only from its down_after (%s) after, %s; by its samples it would be %s",
			clock(h.Since), clock(h.Until), model.Duration(time.Duration(ss.DownAfterSeconds*float64(time.Second))), clock(h.JudgedFrom), was)
	}
	ss.State, ss.Hold = StateUnknown, hs
	return ss
}

// pushedReason says what the pushed state means.
const pushedReason = "Pushgateway group: its last push stays current until deleted; not judged by down_after"

// LivenessLookback is how far back /system/status looks for a silent
// service's newest sample (last_seen), as the ServiceSilent rule's
// recording (rules.NewestSampleRecord) does.
const LivenessLookback = time.Hour

// setLastSeen sets ss's last-seen fields to t (ms) and returns its age.
func setLastSeen(ss *ServiceStatus, t int64, now time.Time) time.Duration {
	ts := rfc3339(t)
	age := now.Sub(time.UnixMilli(t))
	ageSecs := age.Seconds()
	ss.LastSeenMs, ss.LastSeen, ss.AgeSeconds = &t, &ts, &ageSecs
	return age
}

// seenBefore is what lastSeen finds of a service within LivenessLookback.
type seenBefore struct {
	// last is the newest sample it sent itself (ms; 0 none; for a scraped
	// one its newest successful scrape).
	last int64
	// removed: every series of it there ended with a staleness marker (a
	// deleted Pushgateway group, a dropped target), or, with nothing
	// there, it once had a Pushgateway group (push_time_seconds), long
	// deleted or expired.
	removed bool
	// pushedMs is the last push of its Pushgateway group when it has one
	// (0: none), pushedSeries the group's series.
	pushedMs     int64
	pushedSeries int
}

// lastSeen reads svc's series within LivenessLookback (seenBefore).
func (a *API) lastSeen(ctx context.Context, svc string, now time.Time) seenBefore {
	nowMs := now.UnixMilli()
	q, err := a.opts.Queryable.Querier(nowMs-LivenessLookback.Milliseconds(), nowMs)
	if err != nil {
		return seenBefore{}
	}
	defer q.Close()
	var (
		sb          seenBefore
		series, liv int
		it          chunkenc.Iterator
	)
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, ServiceLabel, svc))
	for set.Next() {
		s := set.At()
		name := s.Labels().Get(model.MetricNameLabel)
		if a.opts.OwnSeries != nil && a.opts.OwnSeries(name) || strings.HasPrefix(name, "scrape_") {
			continue
		}
		if a.opts.PushedAt != nil {
			if t, ok := a.opts.PushedAt(s.Labels()); ok {
				sb.pushedMs = max(sb.pushedMs, t)
				sb.pushedSeries++
				continue
			}
		}
		it = s.Iterator(it)
		series++
		var (
			t         int64
			ok, ended bool
			v         float64
		)
		if name == "up" {
			t, v, ok, ended = newestFloat(it)
			ok = ok && v == 1
		} else {
			t, ok, ended = lastTimestamp(it)
		}
		if !ended {
			liv++
		}
		if ok {
			sb.last = max(sb.last, t)
		}
	}
	switch {
	case set.Err() != nil:
		return seenBefore{}
	case sb.pushedMs > 0:
		return sb
	case series > 0:
		sb.removed = liv == 0
		return sb
	}
	return seenBefore{removed: a.hadPushGroup(ctx, svc)}
}

// hadPushGroup reports whether svc ever had a Pushgateway group.
func (a *API) hadPushGroup(ctx context.Context, svc string) bool {
	q, err := a.opts.Queryable.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return false
	}
	defer q.Close()
	names, _, err := q.LabelValues(ctx, model.MetricNameLabel, nil, labels.MustNewMatcher(labels.MatchEqual, ServiceLabel, svc))
	return err == nil && slices.Contains(names, "push_time_seconds")
}

// onlyOwnSeries reports whether every series naming svc, over the whole
// retention, is one gmc writes itself (e.g. a benchmark's results labelled
// with a service that sends nothing): such a label value is no service.
func (a *API) onlyOwnSeries(ctx context.Context, svc string) bool {
	q, err := a.opts.Queryable.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return false
	}
	defer q.Close()
	names, _, err := q.LabelValues(ctx, model.MetricNameLabel, nil, labels.MustNewMatcher(labels.MatchEqual, ServiceLabel, svc))
	if err != nil || len(names) == 0 {
		return false
	}
	for _, n := range names {
		if !a.opts.OwnSeries(n) {
			return false
		}
	}
	return true
}

// liveness is svc's thresholds: its own override, else the defaults.
func (a *API) liveness(svc string) Liveness {
	l := a.live.Load()
	lv := l.Liveness
	if o, ok := l.service[svc]; ok {
		if o.StaleAfter > 0 {
			lv.StaleAfter = o.StaleAfter
		}
		if o.DownAfter > 0 {
			lv.DownAfter = o.DownAfter
		}
	}
	return lv
}

// maxDownAfter is the longest down_after of any service.
func (a *API) maxDownAfter() time.Duration {
	l := a.live.Load()
	m := l.DownAfter
	for _, o := range l.service {
		m = max(m, o.DownAfter)
	}
	return m
}

// newestFloat is the newest float sample that is not a staleness marker,
// and whether the series ended with one.
func newestFloat(it chunkenc.Iterator) (last int64, val float64, ok, ended bool) {
	for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
		if typ != chunkenc.ValFloat {
			continue
		}
		t, v := it.At()
		ended = value.IsStaleNaN(v)
		if !ended {
			last, val, ok = t, v, true
		}
	}
	return last, val, ok, ended
}

// lastTimestamp is the time of the newest sample that is not a staleness
// marker, and whether the series ended with one.
func lastTimestamp(it chunkenc.Iterator) (last int64, ok, ended bool) {
	for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
		switch typ {
		case chunkenc.ValFloat:
			t, v := it.At()
			ended = value.IsStaleNaN(v)
			if !ended {
				last, ok = t, true
			}
		case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
			t, fh := it.AtFloatHistogram(nil)
			ended = value.IsStaleNaN(fh.Sum)
			if !ended {
				last, ok = t, true
			}
		}
	}
	return last, ok, ended
}

// twice is what of a scraped service's metrics also arrives by another
// path, nil when nothing does: a metric name in series with one of its
// scrape jobs (upJobs) and in series with no such job (pushed, or
// remote-written from elsewhere), or scraped with exported_service=X (the
// target's service label renamed the process's own) while service X has
// series of that name too (the same process pushed and scraped: t-user14b
// F7). Its first finding per service is logged once.
func (a *API) twice(svc string, upJobs map[string]bool, jobs, exported, also map[string]map[string]bool) *TwiceStatus {
	names := map[string]bool{}
	others := map[string]bool{}
	for name, js := range jobs {
		scraped, other := false, false
		for j := range js {
			if upJobs[j] {
				scraped = true
			} else {
				other = true
			}
		}
		if scraped && other {
			names[name] = true
		}
		for x := range exported[name] {
			if also[x][name] {
				names[name], others[x] = true, true
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	tw := &TwiceStatus{Metrics: slices.Sorted(maps.Keys(names)), ScrapeJobs: slices.Sorted(maps.Keys(upJobs)),
		AlsoAs: append([]string{}, slices.Sorted(maps.Keys(others))...)}
	as := ""
	if len(tw.AlsoAs) > 0 {
		as = " (also as service " + strings.Join(tw.AlsoAs, ", ") + ", which the scrape's exported_service names)"
	}
	tw.Message = fmt.Sprintf("%d metrics of %s arrive both scraped (job %s) and by another path%s: each path's series count apart, so sums over them double; report one way, push or scrape (docs/sdk.md)",
		len(tw.Metrics), svc, strings.Join(tw.ScrapeJobs, ", "), as)
	if _, logged := a.twiceLogged.LoadOrStore(svc, true); !logged {
		a.opts.Logger.Warn("a service's metrics arrive both scraped and by another path: sums over them double",
			"service", svc, "metrics", tw.Metrics, "scrape_jobs", tw.ScrapeJobs, "also_as", tw.AlsoAs)
	}
	return tw
}
