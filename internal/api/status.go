package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Service states.
const (
	StateUp    = "up"
	StateStale = "stale"
	StateDown  = "down"
)

// ServiceStatus is one known service in /system/status.
type ServiceStatus struct {
	Service string `json:"service"`
	// State is up (seen within stale_after), stale (within down_after) or
	// down (older, or no sample within the last 2×down_after).
	State string `json:"state"`
	// LastSeen* are the newest sample of any of its series; null when none
	// is within the last 2×down_after.
	LastSeenMs *int64   `json:"last_seen_ms"`
	LastSeen   *string  `json:"last_seen"`
	AgeSeconds *float64 `json:"age_seconds"`
	// Series counts its series with samples in the last 2×down_after.
	Series int `json:"series"`
}

// IngestStatus is the write side's throughput.
type IngestStatus struct {
	SamplesTotal uint64 `json:"samples_total"`
	// SamplesPerSecond is the average over the last WindowSeconds: the
	// interval between the two latest readings, taken when /system/status
	// is asked for, at least 1s apart (the first reading is at start-up).
	SamplesPerSecond float64 `json:"samples_per_second"`
	WindowSeconds    float64 `json:"window_seconds"`
}

// status is the body of /system/status before Extra is merged in.
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
}

// SystemStatus is GET /system/status: gmc's own health (storage, ingest
// rate, head series, uptime, version) and every known service with its
// last-seen time and up / stale / down state.
func (a *API) SystemStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := a.opts.Now()
	services, err := a.services(ctx, now)
	if err != nil {
		internalError(w, "read services", err)
		return
	}
	st := status{
		Status:            "ok",
		Version:           a.opts.Version,
		Time:              now.UTC().Format(time.RFC3339Nano),
		StartedAt:         a.opts.Started.UTC().Format(time.RFC3339Nano),
		UptimeSeconds:     now.Sub(a.opts.Started).Seconds(),
		StaleAfterSeconds: a.opts.StaleAfter.Seconds(),
		DownAfterSeconds:  a.opts.DownAfter.Seconds(),
		Services:          services,
	}
	if a.opts.StorageStats != nil {
		st.Storage = a.opts.StorageStats()
	}
	if a.opts.SamplesIngested != nil {
		st.Ingest = a.ingest(now, a.opts.SamplesIngested())
	}
	if a.opts.Extra == nil {
		a.writeJSON(w, st)
		return
	}
	// Merge: built-in fields win over Extra's.
	out := a.opts.Extra(ctx)
	if out == nil {
		out = map[string]any{}
	}
	b, err := jsonObject(st)
	if err != nil {
		internalError(w, "encode status", err)
		return
	}
	for k, v := range b {
		out[k] = v
	}
	a.writeJSON(w, out)
}

// ingest records the reading n at now and returns the rate.
func (a *API) ingest(now time.Time, n uint64) *IngestStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	if el := now.Sub(a.prevAt); el >= minRateWindow {
		d := n - a.prevN
		if n < a.prevN { // the counter restarted
			d = n
		}
		a.rate = float64(d) / el.Seconds()
		a.rateOver = el
		a.prevAt, a.prevN = now, n
	}
	return &IngestStatus{SamplesTotal: n, SamplesPerSecond: a.rate, WindowSeconds: a.rateOver.Seconds()}
}

// services lists every service over the retention with its state.
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

	// The newest sample of each service within the last 2×DownAfter.
	nowMs := now.UnixMilli()
	q, err = a.opts.Queryable.Querier(nowMs-2*a.opts.DownAfter.Milliseconds(), nowMs)
	if err != nil {
		return nil, fmt.Errorf("open querier: %w", err)
	}
	defer q.Close()
	lastSeen := map[string]int64{}
	series := map[string]int{}
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchNotEqual, ServiceLabel, ""))
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		svc := s.Labels().Get(ServiceLabel)
		series[svc]++
		it = s.Iterator(it)
		if t, ok := lastTimestamp(it); ok {
			if prev, seen := lastSeen[svc]; !seen || t > prev {
				lastSeen[svc] = t
			}
		}
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("read recent series: %w", err)
	}

	out := make([]ServiceStatus, 0, len(names))
	for _, svc := range names {
		ss := ServiceStatus{Service: svc, State: StateDown, Series: series[svc]}
		if t, ok := lastSeen[svc]; ok {
			ts := rfc3339(t)
			age := now.Sub(time.UnixMilli(t))
			ageSecs := age.Seconds()
			ss.LastSeenMs, ss.LastSeen, ss.AgeSeconds = &t, &ts, &ageSecs
			switch {
			case age <= a.opts.StaleAfter:
				ss.State = StateUp
			case age <= a.opts.DownAfter:
				ss.State = StateStale
			}
		}
		out = append(out, ss)
	}
	return out, nil
}

// lastTimestamp is the time of the newest sample that is not a staleness
// marker.
func lastTimestamp(it chunkenc.Iterator) (int64, bool) {
	var (
		last int64
		ok   bool
	)
	for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
		switch typ {
		case chunkenc.ValFloat:
			t, v := it.At()
			if !value.IsStaleNaN(v) {
				last, ok = t, true
			}
		case chunkenc.ValHistogram, chunkenc.ValFloatHistogram:
			t, fh := it.AtFloatHistogram(nil)
			if !value.IsStaleNaN(fh.Sum) {
				last, ok = t, true
			}
		}
	}
	return last, ok
}
