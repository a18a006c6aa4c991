package rules

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// TestSilenceHeldAfterIngestStall: gmc's own ingest stalls from 21 s to 34 s
// (t-user7: at load 42 the demo's pushes timed out for ~5 s and five healthy
// services were paged as silent, each resolved a second later when their
// spooled samples landed). Service a pushes throughout, but its samples of
// the stall reach gmc only when it ends; b stops at 20 s for good; c stopped
// at 2 s and pages before the stall. a is never called silent; b is called
// silent only once gmc has watched it for its down_after since the stall
// ended, with its true age; c's page stays firing through the stall.
func TestSilenceHeldAfterIngestStall(t *testing.T) {
	db := openTSDB(t, t.TempDir())
	series := func(svc string) labels.Labels {
		return labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", svc+"-1")
	}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	const stallFrom, stallTo = 21, 34
	var clock atomic.Int64
	clock.Store(at(0).UnixNano())
	stall := func(now time.Time) (time.Time, time.Time) {
		switch {
		case now.Before(at(stallFrom)):
			return time.Time{}, time.Time{}
		case now.Before(at(stallTo)):
			return at(stallFrom), now
		}
		return at(stallFrom), at(stallTo)
	}
	var s sink
	m := newManager(t, db, Options{DefaultRules: true, EvalInterval: 20 * time.Millisecond, Sink: s.send,
		Started: at(0), IngestStall: stall,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	first := map[string]time.Time{} // service → first firing
	var value float64
	var valueAt time.Time // the step at which value was read
	for sec := 0; sec <= 50; sec++ {
		clock.Store(at(sec).UnixNano())
		switch {
		case sec < stallFrom:
			appendFloat(t, db, series("a"), at(sec), float64(sec))
		case sec == stallTo: // the stall's samples land at its end
			for ss := stallFrom; ss <= stallTo; ss++ {
				appendFloat(t, db, series("a"), at(ss), float64(ss))
			}
		case sec > stallTo:
			appendFloat(t, db, series("a"), at(sec), float64(sec))
		}
		if sec <= 20 {
			appendFloat(t, db, series("b"), at(sec), float64(sec))
		}
		if sec <= 2 {
			appendFloat(t, db, series("c"), at(sec), float64(sec))
		}
		waitEvaluated(t, m, at(sec), serviceSilentGroupName)
		firing := map[string]bool{}
		for _, r := range m.group(serviceSilentGroupName).AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				if a.State.String() != "firing" {
					continue
				}
				svc := a.Labels.Get("service")
				firing[svc] = true
				if _, ok := first[svc]; !ok {
					first[svc] = a.FiredAt
					if svc == "b" {
						value, valueAt = a.Value, at(sec)
					}
				}
			}
		}
		if _, ok := first["c"]; ok && !firing["c"] {
			t.Errorf("c's page stopped firing at %ds (c has sent nothing since 2s)", sec)
		}
	}
	if ts, ok := first["a"]; ok {
		t.Errorf("a called silent at %v: its samples were held up by gmc's stall (%ds to %ds)", ts.Sub(t0), stallFrom, stallTo)
	}
	check := func(svc string, after time.Time) {
		ts, ok := first[svc]
		switch {
		case !ok:
			t.Errorf("%s never called silent", svc)
		case !ts.After(after) || ts.After(after.Add(2*time.Second)):
			t.Errorf("%s called silent at %v, want just after %v", svc, ts.Sub(t0), after.Sub(t0))
		}
	}
	down := int(DefaultDownAfter / time.Second)
	check("c", at(2+down))
	check("b", at(stallTo+down))
	// The value is of the latest evaluation before it was read (see
	// TestSilenceHeldAfterRestart).
	if lo, hi := first["b"].Sub(at(20)).Seconds(), valueAt.Sub(at(20)).Seconds(); value < lo-0.01 || value > hi+0.01 {
		t.Errorf("b's value %v, want its newest sample's true age when evaluated, %v to %v", value, lo, hi)
	}
	for _, b := range s.take() {
		for _, a := range b {
			if a.Labels["alertname"] == "ServiceSilent" && a.Labels["service"] == model.LabelValue("a") {
				t.Errorf("sent %v", a.Labels)
			}
		}
	}
}
