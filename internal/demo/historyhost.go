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

// HostReading is the host's counters at one time, read through the agent's
// collectors (ReadHost): two readings give each counter's rate now.
type HostReading struct {
	at     time.Time
	values map[string]float64 // by the counter's labels (hostCounter.lset.String())
}

// ReadHost reads the host's counters through g (agent.HostGatherer) now.
func ReadHost(g prometheus.Gatherer) *HostReading {
	counters, _ := gatherHostCounters(g)
	r := &HostReading{at: time.Now(), values: make(map[string]float64, len(counters))}
	for _, c := range counters {
		r.values[c.lset.String()] = c.value
	}
	return r
}

// hostRates is each counter's rate (per second) from the reading before to
// the counters now (at now), by its index; -1 where it is not known (not
// read before, or it went back: a reset). Each core's CPU modes are scaled
// to add up to one second a second (the two readings are not taken at one
// instant). Nil without a reading before, or one too close to now.
func hostRates(before *HostReading, counters []hostCounter, now time.Time) []float64 {
	if before == nil || now.Sub(before.at) < time.Second {
		return nil
	}
	dt := now.Sub(before.at).Seconds()
	rates := make([]float64, len(counters))
	perCore := map[string]float64{}
	for i, c := range counters {
		v0, ok := before.values[c.lset.String()]
		if !ok || c.value < v0 {
			rates[i] = -1
			continue
		}
		rates[i] = (c.value - v0) / dt
		if c.lset.Get(model.MetricNameLabel) == "node_cpu_seconds_total" {
			perCore[c.lset.Get("cpu")] += rates[i]
		}
	}
	for i, c := range counters {
		if c.lset.Get(model.MetricNameLabel) == "node_cpu_seconds_total" && rates[i] > 0 {
			if sum := perCore[c.lset.Get("cpu")]; sum > 0 {
				rates[i] /= sum
			}
		}
	}
	return rates
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

// hostGauges are the host's memory and load average now as the agent
// reads them (node_memory_MemAvailable_bytes, node_memory_MemTotal_bytes,
// node_load1), by name; those it could not read are left out.
func hostGauges(g prometheus.Gatherer) map[string]float64 {
	mfs, _ := g.Gather()
	out := map[string]float64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_load1":
			if len(mf.GetMetric()) == 1 {
				out[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
	}
	return out
}

// hostShape is how a counter's rate follows the trading load L: c0 + c1·L,
// scaled so that it is 1 at the reference load lref (c0 + c1·lref = 1):
// the mean load since boot, when the counter's rate is its mean since
// boot, or the load now, when it is its rate now.
type hostShape struct{ c0, c1 float64 }

// cpuBusyRef is the most of a core's second the history's CPU is busy at
// the reference load (the load now, or the mean since boot), and
// cpuBusyMax the most at any load. The weights the CPU modes split each
// core's second by (their rates now, or their values since boot) are
// capped to cpuBusyRef busy (cpuCapped): on a machine busy with other work
// when the history was written its idle counter's rate now was 0, so every
// hour of the 30 days read 100 % busy, flat, with nothing for the load to
// shape (t-user18 F7). Capped, the busy share swings with the desk's load
// like the other host counters (at most cpuBusyMax at the busiest hour).
const (
	cpuBusyRef = 0.5
	cpuBusyMax = 0.8
)

// cpuCapped is w (each counter's rate now or value since boot) with each
// core's CPU modes rescaled so that the busy ones (all but idle and
// iowait) hold at most cpuBusyRef of the core's total: the busy modes
// scaled down alike and the rest given to idle and iowait as they split
// it (all to idle when both are 0). The core's total is kept, so it still
// counts one second a second. Unknown weights (< 0) stay as they are.
func cpuCapped(counters []hostCounter, w []float64) []float64 {
	out := slices.Clone(w)
	type core struct{ busy, idle, wait, total float64 }
	cores := map[string]*core{}
	isCPU := func(c hostCounter) bool { return c.lset.Get(model.MetricNameLabel) == "node_cpu_seconds_total" }
	for i, c := range counters {
		if !isCPU(c) || w[i] < 0 {
			continue
		}
		k := c.lset.Get("cpu")
		if cores[k] == nil {
			cores[k] = &core{}
		}
		cr := cores[k]
		cr.total += w[i]
		switch c.lset.Get("mode") {
		case "idle":
			cr.idle += w[i]
		case "iowait":
			cr.wait += w[i]
		default:
			cr.busy += w[i]
		}
	}
	hasIdle := map[string]bool{}
	for _, c := range counters {
		if isCPU(c) && c.lset.Get("mode") == "idle" {
			hasIdle[c.lset.Get("cpu")] = true
		}
	}
	for i, c := range counters {
		if !isCPU(c) || w[i] < 0 {
			continue
		}
		k := c.lset.Get("cpu")
		cr := cores[k]
		if cr.total <= 0 || cr.busy <= cpuBusyRef*cr.total || !hasIdle[k] {
			continue
		}
		room := (1 - cpuBusyRef) * cr.total
		switch m := c.lset.Get("mode"); {
		case m == "idle" && cr.idle+cr.wait == 0:
			out[i] = room
		case m == "idle" || m == "iowait":
			out[i] = w[i] / (cr.idle + cr.wait) * room
		default:
			out[i] = w[i] * cpuBusyRef * cr.total / cr.busy
		}
	}
	return out
}

// hostShapes gives each counter its shape; weights are the counters'
// values since boot or their rates now (each proportional to its rate at
// lref). CPU modes split each core's second as the weights do, busy modes
// rising with the load and idle falling as much, so every core still
// counts one second a second; network traffic follows the load over a
// floor; disk writes more than reads.
func hostShapes(counters []hostCounter, weights []float64, lavg float64) []hostShape {
	shapes := make([]hostShape, len(counters))
	byLoad := func(floor float64) hostShape { return hostShape{floor, (1 - floor) / lavg} }
	type core struct{ busy, total float64 }
	cores := map[string]*core{}
	for i, c := range counters {
		if c.lset.Get(model.MetricNameLabel) != "node_cpu_seconds_total" {
			continue
		}
		k := c.lset.Get("cpu")
		if cores[k] == nil {
			cores[k] = &core{}
		}
		w := math.Max(0, weights[i])
		cores[k].total += w
		if m := c.lset.Get("mode"); m != "idle" && m != "iowait" {
			cores[k].busy += w
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
			// inside 0 to cpuBusyMax busy at any load.
			alpha := math.Min(2, 1/lavg)
			if fb > 0 {
				alpha = math.Min(alpha, math.Max(0, (cpuBusyMax/fb-1)/(1-lavg)))
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
//
// With rates (hostRates: each counter's rate now), the history joins the
// live host's levels instead: over its last hours (joinHours, at most half
// the history since boot) each counter runs at its rate now, shaped by the
// load, back from its value now. Before that, back to the boot: at its
// rate now too when the host booted before the history and the counter
// holds that much; else (a boot inside the history, or a counter holding
// less) steadily at its mean rate from the boot to where the last hours
// begin, so it is 0 at the boot (the traffic of a busier or quieter time
// since boot: 16-41 KiB/s of network over the host's uptime where it
// carries ~300 B/s now, t-user12 F11); a core's CPU modes all so when one
// is. Before a boot inside the history, from 0 at its start at the rate
// now. A counter whose rate now is unknown, or whose value now is less
// than its last hours need, runs as without rates (a core's modes all).
func (g *historyGen) addHostCounters(node func(name string, kv ...string) labels.Labels, counters []hostCounter, boot, now time.Time, rates []float64) {
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
	weights := make([]float64, len(counters))
	for i, c := range counters {
		weights[i] = c.value
	}
	shapes := hostShapes(counters, weights, lavg)
	// Before a boot inside the history, the CPU modes split as capped
	// below saturation (cpuCapped): nothing bounds them there, while
	// after the boot the counters' values since boot do.
	capped := cpuCapped(counters, weights)
	cappedShapes := hostShapes(counters, capped, lavg)
	// With the rates now: the shapes are 1 at the load now, and ∫ load
	// (from the history's start) at the times the pieces meet.
	var nowShapes []hostShape
	var lnow float64
	loadTo := func(to time.Time) float64 {
		var sum float64
		for t := start; t.Before(to); t = t.Add(o.Interval) {
			sum += deskLoad(t, end) * dt
		}
		return sum
	}
	a := start // where the counters begin: the boot, or the history's start
	if boot.After(start) {
		a = boot
	}
	cut := end.Add(-min(time.Duration(joinHours)*time.Hour, end.Sub(a)/2))
	var iA, iCut float64
	if rates != nil && end.After(a) {
		lnow = deskLoad(now, end)
		rates = cpuCapped(counters, rates)
		nowShapes = hostShapes(counters, rates, lnow)
		iA, iCut = loadTo(a), loadTo(cut)
	}
	// Each counter joined (joinedCounter), if it can be; a core whose CPU
	// modes need to run steady all do.
	joined := make([]func(bool) func(time.Time, float64, float64) float64, len(counters))
	steady := make([]bool, len(counters))
	steadyCore := map[string]bool{}
	cpu := func(c hostCounter) bool { return c.lset.Get(model.MetricNameLabel) == "node_cpu_seconds_total" }
	for i, c := range counters {
		if nowShapes == nil {
			continue
		}
		if rates[i] < 0 {
			if cpu(c) {
				steadyCore["!"+c.lset.Get("cpu")] = true
			}
			continue
		}
		need, ok, f := g.joinedCounter(c.value, rates[i], nowShapes[i], a, cut, now, boot, iA, iCut, total, &integral, step)
		if !ok && cpu(c) {
			// A core joins whole or not at all.
			steadyCore["!"+c.lset.Get("cpu")] = true
		}
		if ok {
			joined[i], steady[i] = f, need
			if need && cpu(c) {
				steadyCore[c.lset.Get("cpu")] = true
			}
		}
	}
	for i, c := range counters {
		if joined[i] != nil && !(cpu(c) && steadyCore["!"+c.lset.Get("cpu")]) {
			g.series = append(g.series, histSeries{node(c.lset.Get(model.MetricNameLabel), labelPairs(c.lset)...),
				joined[i](steady[i] || (cpu(c) && steadyCore[c.lset.Get("cpu")]))})
			continue
		}
		sh, v := shapes[i], c.value
		perSec := v / uptime // the counter's mean rate since boot
		// Before a boot inside the history nothing bounds the counter:
		// its CPU modes split as capped (cpuCapped), so a core busy since
		// the boot is not busy for the whole history.
		shB, perSecB := cappedShapes[i], capped[i]/uptime
		g.series = append(g.series, histSeries{node(c.lset.Get(model.MetricNameLabel), labelPairs(c.lset)...), func(t time.Time, _, _ float64) float64 {
			step(t)
			if t.Before(boot) {
				// Before the reboot: from 0 at the history's start.
				return math.Max(0, perSecB*(shB.c0*t.Sub(start).Seconds()+shB.c1*integral))
			}
			// Since boot: what is left to count until now, taken off v.
			return math.Max(0, v-perSec*(sh.c0*now.Sub(t).Seconds()+sh.c1*(total-integral)))
		}})
	}
}

// joinHours is how long the history's host counters run at their rates
// now before its end (at most half the history since boot).
const joinHours = 6

// labelPairs are lset's labels but the metric name, as name, value pairs.
func labelPairs(lset labels.Labels) []string {
	kv := make([]string, 0, 4)
	lset.Range(func(l labels.Label) {
		if l.Name != model.MetricNameLabel {
			kv = append(kv, l.Name, l.Value)
		}
	})
	return kv
}

// joinedCounter is the history of a counter worth v now, its rate now r
// (per second at the load now, sh its shape), see addHostCounters: a the
// counters' beginning (the boot, or the history's start), cut where the
// last hours begin; iA, iCut and total ∫ load from the history's start to
// a, cut and now; integral ∫ load to the step's time, kept by step. It
// says how much the counter holds at cut and whether the time from a to
// cut must run steady (at the mean rate since boot up to cut: it holds
// less than the rate now would count); ok false when v is less than the
// last hours need. make gives the series' function, steady or not (a
// core's CPU modes run steady together, so each core still counts one
// second a second).
func (g *historyGen) joinedCounter(v, r float64, sh hostShape, a, cut, now, boot time.Time, iA, iCut, total float64, integral *float64, step func(time.Time)) (needSteady, ok bool, build func(steady bool) func(time.Time, float64, float64) float64) {
	start := g.o.End.Truncate(g.o.Interval).Add(-g.o.Span)
	// counted is what the counter counts from t1 to t2 at its rate now,
	// shaped by the load (i1, i2: ∫ load to them).
	counted := func(t1, t2 time.Time, i1, i2 float64) float64 {
		return r * (sh.c0*t2.Sub(t1).Seconds() + sh.c1*(i2-i1))
	}
	atCut := v - counted(cut, now, iCut, total)
	if atCut < 0 {
		return false, false, nil
	}
	// From a to cut: at the rate now when the counter holds that much
	// and its counting began before the history (it need not be 0 at a),
	// else steady: from 0 at the boot to atCut at cut.
	needSteady = boot.After(start) || atCut-counted(a, cut, iA, iCut) < 0
	perSec := atCut / math.Max(cut.Sub(boot).Seconds(), 1)
	return needSteady, true, func(steady bool) func(time.Time, float64, float64) float64 {
		return func(t time.Time, _, _ float64) float64 {
			step(t)
			switch {
			case t.Before(a):
				// Before a boot inside the history: from 0 at its start.
				return math.Max(0, counted(start, t, 0, *integral))
			case !t.Before(cut) || !steady:
				return math.Max(0, v-counted(t, now, *integral, total))
			default:
				return math.Min(atCut, perSec*t.Sub(boot).Seconds())
			}
		}
	}
}
