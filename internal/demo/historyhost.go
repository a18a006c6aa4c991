package demo

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// The host counters the history backfills, by the agent's metric names
// (internal/agent): CPU seconds by cpu and mode, network and disk I/O by
// device. Each runs, like the agent's, since the host's boot.
var histHostCounter = regexp.MustCompile(`^node_(cpu_seconds_total|network_(receive|transmit)_(bytes|packets|errs|drop)_total|disk_(reads_completed|writes_completed|read_bytes|written_bytes|read_time_seconds|write_time_seconds|io_time_seconds)_total)$`)

// maxHistDevices bounds the network and disk devices backfilled (the
// busiest since boot): a host with dozens of container interfaces would
// otherwise multiply the history.
const maxHistDevices = 6

// hostCounter is one of the host's counters now.
type hostCounter struct {
	lset  labels.Labels // the agent's metric name and labels (cpu, mode, device)
	value float64
}

// gatherHostCounters reads the backfilled counters and the boot time from
// g (the agent's host collector).
func gatherHostCounters(g prometheus.Gatherer) (counters []hostCounter, boot time.Time) {
	mfs, _ := g.Gather() // a part that fails is left out, as the agent does
	byDevice := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "node_boot_time_seconds" && len(mf.GetMetric()) == 1 {
			boot = time.Unix(0, int64(mf.GetMetric()[0].GetGauge().GetValue()*1e9))
		}
		if !histHostCounter.MatchString(mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			b := labels.NewScratchBuilder(len(m.GetLabel()) + 1)
			b.Add(model.MetricNameLabel, mf.GetName())
			dev := ""
			for _, l := range m.GetLabel() {
				b.Add(l.GetName(), l.GetValue())
				if l.GetName() == "device" {
					dev = l.GetValue()
				}
			}
			b.Sort()
			c := hostCounter{lset: b.Labels(), value: m.GetCounter().GetValue()}
			counters = append(counters, c)
			if dev != "" && (mf.GetName() == "node_network_receive_bytes_total" || mf.GetName() == "node_disk_read_bytes_total" || mf.GetName() == "node_disk_written_bytes_total") {
				byDevice[mf.GetName()[:9]+dev] += c.value
			}
		}
	}
	// Keep the busiest devices of each kind ("node_netw", "node_disk").
	keep := map[string]bool{}
	for _, kind := range []string{"node_netw", "node_disk"} {
		var devs []string
		for k := range byDevice {
			if k[:9] == kind {
				devs = append(devs, k)
			}
		}
		slices.SortFunc(devs, func(a, b string) int { return cmp.Or(cmp.Compare(byDevice[b], byDevice[a]), cmp.Compare(a, b)) })
		for _, d := range devs[:min(len(devs), maxHistDevices)] {
			keep[d] = true
		}
	}
	counters = slices.DeleteFunc(counters, func(c hostCounter) bool {
		dev := c.lset.Get("device")
		return dev != "" && !keep[c.lset.Get(model.MetricNameLabel)[:9]+dev]
	})
	return counters, boot
}

// hostShape is how a counter's rate follows the trading load L: c0 + c1·L,
// scaled so that its mean since boot is 1 (c0 + c1·Lavg = 1).
type hostShape struct{ c0, c1 float64 }

// hostShapes gives each counter its shape. CPU modes split each core's
// second as the core did on average since boot, busy modes rising with the
// load and idle falling as much, so every core still counts one second a
// second; network traffic follows the load over a floor; disk writes more
// than reads.
func hostShapes(counters []hostCounter, lavg float64) []hostShape {
	shapes := make([]hostShape, len(counters))
	byLoad := func(floor float64) hostShape { return hostShape{floor, (1 - floor) / lavg} }
	type core struct{ busy, total float64 }
	cores := map[string]*core{}
	for _, c := range counters {
		if c.lset.Get(model.MetricNameLabel) != "node_cpu_seconds_total" {
			continue
		}
		k := c.lset.Get("cpu")
		if cores[k] == nil {
			cores[k] = &core{}
		}
		cores[k].total += c.value
		if m := c.lset.Get("mode"); m != "idle" && m != "iowait" {
			cores[k].busy += c.value
		}
	}
	for i, c := range counters {
		name := c.lset.Get(model.MetricNameLabel)
		switch {
		case name == "node_cpu_seconds_total":
			cr := cores[c.lset.Get("cpu")]
			fb := 0.0
			if cr.total > 0 {
				fb = cr.busy / cr.total
			}
			// alpha: how much the busy share swings with the load, kept
			// inside 0-95 % busy at any load.
			alpha := math.Min(2, 1/lavg)
			if fb > 0 {
				alpha = math.Min(alpha, math.Max(0, (0.95/fb-1)/(1-lavg)))
			}
			a := alpha
			if m := c.lset.Get("mode"); m == "idle" || m == "iowait" {
				a = 0
				if fb < 1 {
					a = -alpha * fb / (1 - fb)
				}
			}
			shapes[i] = hostShape{1 - a*lavg, a}
		case name == "node_network_receive_errs_total" || name == "node_network_transmit_errs_total" ||
			name == "node_network_receive_drop_total" || name == "node_network_transmit_drop_total":
			shapes[i] = hostShape{1, 0}
		case strings.HasPrefix(name, "node_network_"):
			shapes[i] = byLoad(0.3)
		// The time counters follow the load more than the operations do,
		// so a read or write takes longer when the host is busy: the
		// disk latency (time / operations) was a flat 2.1 ms read and
		// 1 ms write over the history (t-user4 #6).
		// (A lower floor: more of the count follows the load.)
		case name == "node_disk_read_time_seconds_total":
			shapes[i] = byLoad(0.4)
		case name == "node_disk_write_time_seconds_total":
			shapes[i] = byLoad(0.15)
		case strings.HasPrefix(name, "node_disk_read"):
			shapes[i] = byLoad(0.7)
		default: // disk writes and busy time
			shapes[i] = byLoad(0.4)
		}
	}
	return shapes
}

// addHostCounters adds the host's CPU, network and disk counters, each
// ending, at the host's now, at its value now (since boot): the history's
// counters run from the host's boot (a reset at the boot, when the boot
// falls inside the history, as a reboot shows), at the rate the host
// averaged since boot shaped by the trading load, so the live agent's
// first values continue them with no jump at the history's end.
func (g *historyGen) addHostCounters(node func(name string, kv ...string) labels.Labels, counters []hostCounter, boot, now time.Time) {
	o := g.o
	end := o.End.Truncate(o.Interval)
	start := end.Add(-o.Span)
	if now.Before(end) {
		now = end
	}
	if boot.IsZero() || !boot.Before(now) {
		boot = start.Add(-24 * time.Hour)
	}
	// Lavg: the mean load since boot (at most the last 400 days).
	from := boot
	if lim := now.Add(-400 * 24 * time.Hour); from.Before(lim) {
		from = lim
	}
	var sum float64
	n := 0
	for t := from; t.Before(now); t = t.Add(o.Interval) {
		sum += deskLoad(t, end)
		n++
	}
	lavg := math.Max(sum/float64(max(n, 1)), 1e-3)
	// integral(t) is ∫ load from start to t (seconds), at the history's
	// grid; total is ∫ load from start to now.
	dt := o.Interval.Seconds()
	var total float64
	for t := start; t.Before(now); t = t.Add(o.Interval) {
		total += deskLoad(t, end) * dt
	}
	var lastT time.Time
	var integral float64
	step := func(t time.Time) {
		if !t.After(lastT) {
			return
		}
		if lastT.IsZero() {
			lastT = start
		}
		for ; lastT.Before(t); lastT = lastT.Add(o.Interval) {
			integral += deskLoad(lastT, end) * dt
		}
	}
	uptime := now.Sub(boot).Seconds()
	shapes := hostShapes(counters, lavg)
	for i, c := range counters {
		sh, v := shapes[i], c.value
		kv := make([]string, 0, 4)
		c.lset.Range(func(l labels.Label) {
			if l.Name != model.MetricNameLabel {
				kv = append(kv, l.Name, l.Value)
			}
		})
		perSec := v / uptime // the counter's mean rate since boot
		g.series = append(g.series, histSeries{node(c.lset.Get(model.MetricNameLabel), kv...), func(t time.Time, _, _ float64) float64 {
			step(t)
			if t.Before(boot) {
				// Before the reboot: from 0 at the history's start.
				return math.Max(0, perSec*(sh.c0*t.Sub(start).Seconds()+sh.c1*integral))
			}
			// Since boot: what is left to count until now, taken off v.
			return math.Max(0, v-perSec*(sh.c0*now.Sub(t).Seconds()+sh.c1*(total-integral)))
		}})
	}
}
