package query

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/index"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// Status is what the status and discovery endpoints (/api/v1/status/config,
// status/flags, status/tsdb, targets, targets/metadata, alertmanagers,
// metadata) report, as Prometheus's do. Every field may be nil: the
// endpoint then answers as a Prometheus with none of that (no scrape
// targets, no Alertmanagers), except status/tsdb, which says it has no TSDB.
type Status struct {
	// Config is the running configuration as YAML, secrets as <secret>.
	Config func() (string, error)
	// Flags are the command-line flags and their values, defaults included.
	Flags map[string]string
	// HeadStats is the TSDB head's cardinality statistics (the top limit
	// entries of each list); nil when there is no local TSDB.
	HeadStats func(limit int) *tsdb.Stats
	// Gatherer holds the TSDB's own metrics; status/tsdb reads the head's
	// chunk count from prometheus_tsdb_head_chunks, as Prometheus does.
	Gatherer prometheus.Gatherer
	// Targets are the scrape manager's targets (a *scrape.Manager).
	Targets Targets
	// Alertmanagers are the Alertmanager endpoints alerts are sent to.
	Alertmanagers func() []*url.URL
	// Metadata is the metric metadata senders gave (remote-write, pushes),
	// by metric name; /api/v1/metadata adds the scrape targets' own.
	Metadata func() map[string][]metadata.Metadata
}

// Targets is the part of Prometheus's scrape manager the target endpoints read.
type Targets interface {
	TargetsActive() map[string][]*scrape.Target
	TargetsDropped() map[string][]*scrape.Target
	TargetsDroppedCounts() map[string]int
}

var _ Targets = (*scrape.Manager)(nil)

// statusRoutes are the status and discovery endpoints.
func (a *API) statusRoutes() []httpapi.Route {
	get := func(path string, f func(*http.Request) result) httpapi.Route {
		return httpapi.Route{Method: http.MethodGet, Path: path, Handler: func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, f) }}
	}
	return []httpapi.Route{
		get("/api/v1/status/config", a.statusConfig),
		get("/api/v1/status/flags", a.statusFlags),
		get("/api/v1/status/tsdb", a.statusTSDB),
		get("/api/v1/targets", a.targets),
		get("/api/v1/targets/metadata", a.targetMetadata),
		get("/api/v1/alertmanagers", a.alertmanagers),
		get("/api/v1/metadata", a.metricMetadata),
	}
}

func (a *API) statusConfig(*http.Request) result {
	type configYAML struct {
		YAML string `json:"yaml"`
	}
	if a.status.Config == nil {
		return result{data: configYAML{}}
	}
	y, err := a.status.Config()
	if err != nil {
		return fail(&httpapi.Error{Type: httpapi.ErrInternal, Err: err})
	}
	return result{data: configYAML{YAML: y}}
}

func (a *API) statusFlags(*http.Request) result {
	flags := a.status.Flags
	if flags == nil {
		flags = map[string]string{}
	}
	return result{data: flags}
}

// tsdbStatus and headStats are Prometheus's TSDBStatus and HeadStats.
type tsdbStatus struct {
	HeadStats                   headStats  `json:"headStats"`
	SeriesCountByMetricName     []tsdbStat `json:"seriesCountByMetricName"`
	LabelValueCountByLabelName  []tsdbStat `json:"labelValueCountByLabelName"`
	MemoryInBytesByLabelName    []tsdbStat `json:"memoryInBytesByLabelName"`
	SeriesCountByLabelValuePair []tsdbStat `json:"seriesCountByLabelValuePair"`
}

type headStats struct {
	NumSeries     uint64 `json:"numSeries"`
	NumLabelPairs int    `json:"numLabelPairs"`
	ChunkCount    int64  `json:"chunkCount"`
	MinTime       int64  `json:"minTime"`
	MaxTime       int64  `json:"maxTime"`
}

type tsdbStat struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// maxTSDBLimit is Prometheus's bound on status/tsdb's limit.
const maxTSDBLimit = 10000

func (a *API) statusTSDB(r *http.Request) result {
	limit := 10
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: errors.New("limit must be a positive number")})
		}
		if limit > maxTSDBLimit {
			return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: fmt.Errorf("limit must not exceed %d", maxTSDBLimit)})
		}
	}
	if a.status.HeadStats == nil {
		return fail(&httpapi.Error{Type: httpapi.ErrInternal, Err: errors.New("no local TSDB: gmc runs in storage.mode remote; ask the remote store")})
	}
	s := a.status.HeadStats(limit)
	chunks := int64(math.NaN()) // unknown, as Prometheus reports it
	if a.status.Gatherer != nil {
		mfs, err := a.status.Gatherer.Gather()
		if err != nil {
			return fail(&httpapi.Error{Type: httpapi.ErrInternal, Err: fmt.Errorf("error gathering runtime status: %w", err)})
		}
		for _, mf := range mfs {
			if mf.GetName() == "prometheus_tsdb_head_chunks" && len(mf.Metric) > 0 && mf.Metric[0].Gauge != nil {
				chunks = int64(mf.Metric[0].Gauge.GetValue())
				break
			}
		}
	}
	return result{data: tsdbStatus{
		HeadStats: headStats{
			NumSeries:     s.NumSeries,
			NumLabelPairs: s.IndexPostingStats.NumLabelPairs,
			ChunkCount:    chunks,
			MinTime:       s.MinTime,
			MaxTime:       s.MaxTime,
		},
		SeriesCountByMetricName:     tsdbStats(s.IndexPostingStats.CardinalityMetricsStats),
		LabelValueCountByLabelName:  tsdbStats(s.IndexPostingStats.CardinalityLabelStats),
		MemoryInBytesByLabelName:    tsdbStats(s.IndexPostingStats.LabelValueStats),
		SeriesCountByLabelValuePair: tsdbStats(s.IndexPostingStats.LabelValuePairsStats),
	}}
}

func tsdbStats(in []index.Stat) []tsdbStat {
	out := make([]tsdbStat, 0, len(in))
	for _, s := range in {
		out = append(out, tsdbStat{Name: s.Name, Value: s.Count})
	}
	return out
}

// target, droppedTarget and targetDiscovery are Prometheus's Target,
// DroppedTarget and TargetDiscovery.
type target struct {
	DiscoveredLabels   labels.Labels       `json:"discoveredLabels"`
	Labels             labels.Labels       `json:"labels"`
	ScrapePool         string              `json:"scrapePool"`
	ScrapeURL          string              `json:"scrapeUrl"`
	GlobalURL          string              `json:"globalUrl"`
	LastError          string              `json:"lastError"`
	LastScrape         time.Time           `json:"lastScrape"`
	LastScrapeDuration float64             `json:"lastScrapeDuration"`
	Health             scrape.TargetHealth `json:"health"`
	ScrapeInterval     string              `json:"scrapeInterval"`
	ScrapeTimeout      string              `json:"scrapeTimeout"`
}

type droppedTarget struct {
	DiscoveredLabels labels.Labels `json:"discoveredLabels"`
	ScrapePool       string        `json:"scrapePool"`
}

type targetDiscovery struct {
	ActiveTargets       []*target        `json:"activeTargets"`
	DroppedTargets      []*droppedTarget `json:"droppedTargets"`
	DroppedTargetCounts map[string]int   `json:"droppedTargetCounts"`
}

// sortedPools is the pools of targets in name order and how many targets they hold.
func sortedPools(targets map[string][]*scrape.Target) ([]string, int) {
	n := 0
	pools := make([]string, 0, len(targets))
	for p, ts := range targets {
		pools = append(pools, p)
		n += len(ts)
	}
	slices.Sort(pools)
	return pools, n
}

// targets is GET /api/v1/targets (state=active|dropped|any, scrapePool).
func (a *API) targets(r *http.Request) result {
	pool := r.FormValue("scrapePool")
	state := strings.ToLower(r.FormValue("state"))
	showActive := state == "" || state == "any" || state == "active"
	showDropped := state == "" || state == "any" || state == "dropped"
	res := &targetDiscovery{ActiveTargets: []*target{}, DroppedTargets: []*droppedTarget{}, DroppedTargetCounts: map[string]int{}}
	if a.status.Targets == nil {
		return result{data: res}
	}
	b := labels.NewBuilder(labels.EmptyLabels())
	if showActive {
		active := a.status.Targets.TargetsActive()
		pools, n := sortedPools(active)
		res.ActiveTargets = make([]*target, 0, n)
		for _, p := range pools {
			if pool != "" && p != pool {
				continue
			}
			for _, t := range active[p] {
				lastErr := ""
				if err := t.LastError(); err != nil {
					lastErr = err.Error()
				}
				res.ActiveTargets = append(res.ActiveTargets, &target{
					DiscoveredLabels:   t.DiscoveredLabels(b),
					Labels:             t.Labels(b),
					ScrapePool:         p,
					ScrapeURL:          t.URL().String(),
					GlobalURL:          t.URL().String(), // gmc scrapes what it is given: no localhost rewriting
					LastError:          lastErr,
					LastScrape:         t.LastScrape(),
					LastScrapeDuration: t.LastScrapeDuration().Seconds(),
					Health:             t.Health(),
					ScrapeInterval:     t.GetValue(model.ScrapeIntervalLabel),
					ScrapeTimeout:      t.GetValue(model.ScrapeTimeoutLabel),
				})
			}
		}
	}
	if showDropped {
		res.DroppedTargetCounts = a.status.Targets.TargetsDroppedCounts()
		dropped := a.status.Targets.TargetsDropped()
		pools, n := sortedPools(dropped)
		res.DroppedTargets = make([]*droppedTarget, 0, n)
		for _, p := range pools {
			if pool != "" && p != pool {
				continue
			}
			for _, t := range dropped[p] {
				res.DroppedTargets = append(res.DroppedTargets, &droppedTarget{DiscoveredLabels: t.DiscoveredLabels(b), ScrapePool: p})
			}
		}
	}
	return result{data: res}
}

// targetMetadataEntry is Prometheus's metricMetadata of targets/metadata.
type targetMetadataEntry struct {
	Target labels.Labels    `json:"target"`
	Metric string           `json:"metric,omitempty"`
	Type   model.MetricType `json:"type"`
	Help   string           `json:"help"`
	Unit   string           `json:"unit"`
}

// targetMetadata is GET /api/v1/targets/metadata (match_target, metric, limit).
func (a *API) targetMetadata(r *http.Request) result {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: errors.New("limit must be a number")})
		}
	}
	var matchers []*labels.Matcher
	if mt := r.FormValue("match_target"); mt != "" {
		var err error
		if matchers, err = a.parser.ParseMetricSelector(mt); err != nil {
			return fail(httpapi.BadParam("match_target", err))
		}
	}
	res := []targetMetadataEntry{}
	if a.status.Targets == nil {
		return result{data: res}
	}
	metric := r.FormValue("metric")
	b := labels.NewBuilder(labels.EmptyLabels())
	active := a.status.Targets.TargetsActive()
	pools, _ := sortedPools(active)
	for _, p := range pools {
		for _, t := range active[p] {
			if limit >= 0 && len(res) >= limit {
				break
			}
			tl := t.Labels(b)
			if !matchAll(tl, matchers) {
				continue
			}
			if metric == "" {
				for _, md := range t.ListMetadata() {
					res = append(res, targetMetadataEntry{Target: tl, Metric: md.MetricFamily, Type: md.Type, Help: md.Help, Unit: md.Unit})
				}
				continue
			}
			if md, ok := t.GetMetadata(metric); ok {
				res = append(res, targetMetadataEntry{Target: tl, Type: md.Type, Help: md.Help, Unit: md.Unit})
			}
		}
	}
	return result{data: res}
}

func matchAll(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// alertmanagers is GET /api/v1/alertmanagers.
func (a *API) alertmanagers(*http.Request) result {
	type am struct {
		URL string `json:"url"`
	}
	res := struct {
		Active  []am `json:"activeAlertmanagers"`
		Dropped []am `json:"droppedAlertmanagers"`
	}{Active: []am{}, Dropped: []am{}}
	if a.status.Alertmanagers != nil {
		for _, u := range a.status.Alertmanagers() {
			res.Active = append(res.Active, am{URL: u.String()})
		}
	}
	return result{data: res}
}

// metricMetadata is GET /api/v1/metadata (metric, limit, limit_per_metric):
// the metadata senders gave and the scrape targets' own.
func (a *API) metricMetadata(r *http.Request) result {
	limit, limitPerMetric := -1, -1
	for _, p := range []struct {
		name string
		v    *int
	}{{"limit", &limit}, {"limit_per_metric", &limitPerMetric}} {
		if s := r.FormValue(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return fail(&httpapi.Error{Type: httpapi.ErrBadData, Err: fmt.Errorf("%s must be a number", p.name)})
			}
			*p.v = n
		}
	}
	metric := r.FormValue("metric")
	sets := map[string]map[metadata.Metadata]struct{}{}
	add := func(name string, m metadata.Metadata) {
		if metric != "" && name != metric {
			return
		}
		set, ok := sets[name]
		if limitPerMetric > 0 && len(set) >= limitPerMetric {
			return
		}
		if !ok {
			set = map[metadata.Metadata]struct{}{}
			sets[name] = set
		}
		set[m] = struct{}{}
	}
	if a.status.Metadata != nil {
		for name, mds := range a.status.Metadata() {
			for _, m := range mds {
				add(name, m)
			}
		}
	}
	if a.status.Targets != nil {
		for _, ts := range a.status.Targets.TargetsActive() {
			for _, t := range ts {
				for _, md := range t.ListMetadata() {
					add(md.MetricFamily, metadata.Metadata{Type: md.Type, Help: md.Help, Unit: md.Unit})
				}
			}
		}
	}
	res := map[string][]metadata.Metadata{}
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		if limit >= 0 && len(res) >= limit {
			break
		}
		out := make([]metadata.Metadata, 0, len(sets[name]))
		for m := range sets[name] {
			out = append(out, m)
		}
		slices.SortFunc(out, func(x, y metadata.Metadata) int {
			return strings.Compare(string(x.Type)+"\x00"+x.Help+"\x00"+x.Unit, string(y.Type)+"\x00"+y.Help+"\x00"+y.Unit)
		})
		res[name] = out
	}
	return result{data: res}
}
