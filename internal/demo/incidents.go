package demo

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Incident is a kind of injected incident.
type Incident string

// Incident kinds.
const (
	// IncidentLatency makes one order in ten sleep 2ms inside the matching
	// engine's timed path: p99 order latency rises above 1ms
	// (ServiceLatencyHigh fires) and the matching-latency SLA burns.
	IncidentLatency Incident = "latency"
	// IncidentErrors fails 5% of the gateway's orders: the order success
	// rate drops and the order-success SLA's burn-rate alerts fire.
	IncidentErrors Incident = "errors"
	// IncidentDown takes a service down (in turn market-data, which gmc
	// scrapes, and the backtester, which pushes): it stops working and stops
	// serving or pushing, so TargetDown (for the scraped one) and
	// ServiceSilent fire once it has been silent for the server's
	// down_after (8s by default; they fired 8-10s in, t-user2), and resolve
	// when it is back. Its length must exceed down_after plus a scrape and an
	// evaluation interval for the alerts to fire.
	IncidentDown Incident = "down"
)

// DefaultIncidents is the order incidents are injected in, cycling.
func DefaultIncidents() []Incident {
	return []Incident{IncidentLatency, IncidentErrors, IncidentDown}
}

// ParseIncidents parses a comma-separated list such as "down,latency".
func ParseIncidents(s string) ([]Incident, error) {
	var out []Incident
	for f := range strings.SplitSeq(s, ",") {
		switch k := Incident(strings.TrimSpace(f)); k {
		case IncidentLatency, IncidentErrors, IncidentDown:
			out = append(out, k)
		default:
			return nil, fmt.Errorf("incident %q: want latency, errors or down", f)
		}
	}
	return out, nil
}

// injectIncidents starts an incident every IncidentEvery after the previous
// one ended, cycling through the kinds, and logs each start and end.
func (d *Demo) injectIncidents(ctx context.Context) {
	if d.opts.IncidentEvery < 0 || len(d.opts.Incidents) == 0 {
		return
	}
	downTargets := []*service{d.marketData.svc, d.backtester.svc}
	downs := 0
	wait := func(t time.Duration) bool {
		tm := time.NewTimer(t)
		defer tm.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-tm.C:
			return true
		}
	}
	length := d.opts.IncidentLength
	for i := 0; ; i++ {
		if !wait(d.opts.IncidentEvery) {
			return
		}
		kind := d.opts.Incidents[i%len(d.opts.Incidents)]
		log := d.logger.With("incident", string(kind), "length", length.String())
		switch kind {
		case IncidentLatency:
			log.Info("incident started: matching engine slowed, 1 order in 10 takes 2ms", "service", d.engine.svc.name)
			d.engine.slow.Store(true)
			ok := wait(length)
			d.engine.slow.Store(false)
			if !ok {
				return
			}
			log.Info("incident ended: matching engine back to normal", "service", d.engine.svc.name)
		case IncidentErrors:
			log.Info("incident started: order gateway fails 5% of orders", "service", d.gateway.svc.name)
			d.gateway.failing.Store(true)
			ok := wait(length)
			d.gateway.failing.Store(false)
			if !ok {
				return
			}
			log.Info("incident ended: order gateway errors stopped", "service", d.gateway.svc.name)
		case IncidentDown:
			s := downTargets[downs%len(downTargets)]
			downs++
			if !s.takeDown(length) {
				continue
			}
			log.Info("incident started: service down, it stops working and reporting", "service", s.name)
			if !wait(length) {
				return
			}
			log.Info("incident ended: service back up", "service", s.name)
		}
	}
}
