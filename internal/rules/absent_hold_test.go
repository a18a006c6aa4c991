package rules

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// TestAbsentRulesHeld: a user's alert on absent() or absent_over_time()
// says a series stopped arriving, which right after gmc restarts, or while
// its own ingest stalls, may be gmc's doing: it fired at the first
// evaluation after a restart and during a stall while the built-in
// ServiceSilent held. Such alerts get the same hold. gmc stops at 60 s and
// is back at 180 s; a pushes again from 182 s, b never; from 200 s to 214 s
// gmc's ingest stalls and a's samples of that time land at its end.
// NoOrdersA and NoOrdersB (absent_over_time over 5 s) and GoneB (absent)
// fire only on a silence gmc watched: a never, b just after 188 s (its
// down_after since the restart); AlwaysB (no absent) is not held.
func TestAbsentRulesHeld(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(file, []byte(`groups:
- name: user
  rules:
  - alert: NoOrdersA
    expr: absent_over_time(gmc_orders_total{service="a"}[5s])
  - alert: NoOrdersB
    expr: absent_over_time(gmc_orders_total{service="b"}[5s])
  - alert: GoneB
    expr: absent(last_over_time(gmc_orders_total{service="b"}[10s]))
  - alert: AlwaysB
    expr: count(gmc_orders_total{service="b"} offset 5m) > 0 or vector(1)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	series := func(svc string) labels.Labels {
		return labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "instance", svc+"-1")
	}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	for sec := 0; sec <= 60; sec++ { // before gmc stopped
		appendFloat(t, db, series("a"), at(sec), float64(sec))
		appendFloat(t, db, series("b"), at(sec), float64(sec))
	}
	const stallFrom, stallTo = 200, 214
	stall := func(now time.Time) (time.Time, time.Time) {
		switch {
		case now.Before(at(stallFrom)):
			return time.Time{}, time.Time{}
		case now.Before(at(stallTo)):
			return at(stallFrom), now
		}
		return at(stallFrom), at(stallTo)
	}
	var clock atomic.Int64
	clock.Store(at(180).UnixNano())
	var s sink
	m := newManager(t, db, Options{Files: []string{file}, EvalInterval: 20 * time.Millisecond, Sink: s.send, IngestStall: stall,
		Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }() // gmc is back at 180s
	defer func() {
		cancel()
		<-done
	}()
	first := map[string]time.Time{} // alert → first firing
	var aFiring []int               // the steps at which NoOrdersA fired
	for sec := 180; sec <= 230; sec++ {
		clock.Store(at(sec).UnixNano())
		switch {
		case sec >= 182 && sec < stallFrom:
			appendFloat(t, db, series("a"), at(sec), float64(sec))
		case sec == stallTo: // the stall's samples land at its end
			for ss := stallFrom; ss <= stallTo; ss++ {
				appendFloat(t, db, series("a"), at(ss), float64(ss))
			}
		case sec > stallTo:
			appendFloat(t, db, series("a"), at(sec), float64(sec))
		}
		waitEvaluated(t, m, at(sec), "user")
		for _, r := range m.group("user").AlertingRules() {
			for _, a := range r.ActiveAlerts() {
				if a.State.String() != "firing" {
					continue
				}
				if _, ok := first[r.Name()]; !ok {
					first[r.Name()] = a.FiredAt
				}
				if r.Name() == "NoOrdersA" {
					aFiring = append(aFiring, sec)
				}
			}
		}
	}
	if len(aFiring) > 0 {
		t.Errorf("NoOrdersA fired at %v s: a pushed again 2 s after the restart (180 s), and its samples of the stall (%d-%d s) were held up by gmc", aFiring, stallFrom, stallTo)
	}
	for _, k := range []string{"NoOrdersB", "GoneB"} {
		ts, ok := first[k]
		switch {
		case !ok:
			t.Errorf("%s never fired (b silent since 60s)", k)
		case !ts.After(at(188)) || ts.After(at(189)):
			t.Errorf("%s fired at %v, want just after 188s, once gmc had watched b for its down_after (8s)", k, ts.Sub(t0))
		}
	}
	if ts, ok := first["AlwaysB"]; !ok || !ts.Before(at(181)) {
		t.Errorf("AlwaysB (no absent) fired at %v (%v), want at the first evaluation: only absent() alerts are held", ts.Sub(t0), ok)
	}
	// b's alerts, firing before the stall, are not ended by it.
	for _, r := range m.group("user").AlertingRules() {
		if r.Name() == "NoOrdersB" || r.Name() == "GoneB" {
			if len(r.ActiveAlerts()) == 0 {
				t.Errorf("%s not active at 230s (b silent since 60s)", r.Name())
			}
		}
	}
}
