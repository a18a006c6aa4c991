package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/api"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/forward"
	"github.com/gmc-dev/gmc/internal/rules"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/tier"
)

// ReloadResult says what a reload did with gmc.yml: the settings (YAML
// paths, as reloadable names them) that changed and are now in force,
// and those that changed but apply at the next start.
type ReloadResult struct {
	// Config: the configuration was read again (Options.LoadConfig set).
	Config  bool
	Applied []string
	Restart []string
}

// String is the reload's answer: what applied, and plainly what did not.
func (r ReloadResult) String() string {
	if !r.Config {
		return "credentials reloaded.\n"
	}
	var b strings.Builder
	b.WriteString("configuration and credentials reloaded.\n")
	if len(r.Applied) > 0 {
		fmt.Fprintf(&b, "applied: %s\n", strings.Join(r.Applied, ", "))
	} else {
		b.WriteString("applied: nothing changed that a reload applies\n")
	}
	if len(r.Restart) > 0 {
		fmt.Fprintf(&b, "NOT applied, changed but in force only after a restart: %s\n", strings.Join(r.Restart, ", "))
		for _, p := range r.Restart {
			fmt.Fprintf(&b, "  %s: %s\n", p, restartWhy(p))
		}
	}
	return b.String()
}

// restartWhy says why a reload does not apply the setting at path.
func restartWhy(path string) string {
	section, _, _ := strings.Cut(path, ".")
	switch {
	case path == "server.data_dir":
		return "the data directory is opened at start"
	case section == "server":
		return "the listener and its HTTP server are set up at start (Prometheus: the --web.* flags)"
	case path == "storage.block_duration":
		return "the TSDB's block size is fixed when it opens"
	case strings.HasPrefix(path, "storage.downsampling."):
		return "the tiers' TSDBs are opened at start (tiers on or off, a tier added, removed or of another resolution)"
	case section == "storage":
		return "the store (the embedded TSDB or the remote) is opened at start"
	case path == "query.timeout" || path == "query.max_samples":
		return "fixed in the PromQL engine when it is built (Prometheus: --query.timeout, --query.max-samples)"
	case section == "query":
		return "the lanes' slots are the engine's active query log entries, made at start (Prometheus: --query.max-concurrency)"
	case path == "auth.allowed_hosts":
		return "the Host check is built at start"
	case section == "cluster":
		return "the peer joins its HA group at start (Alertmanager: the --cluster.* flags)"
	case section == "remote_write":
		return "the remote storage mode has no local WAL to forward from, or the queues did not start (see the log)"
	case section == "benchmarks":
		return "the pinned baseline could not be read (see the log)"
	}
	return "read at start only"
}

// reloadable are the settings a reload applies, by YAML path: a whole
// top-level section, or one field of a section split in the others.
var reloadable = map[string]bool{
	"server.stale_after": true, "server.down_after": true, "server.service_liveness": true, "server.write_timeout": true,
	"alerting.evaluation_interval": true, "alerting.default_rules": true, "alerting.rule_files": true, "alerting.thresholds": true,
	"notify":         true,
	"slas":           true,
	"scrape_configs": true,
	"limits":         true,
	"pushgateway":    true,
	"silences":       true,
	"otlp":           true,
	// The query section's settings the API and the lanes own (query.API.SetConfig,
	// query.Lanes.SetConfig); the engine's (timeout, max_samples) and the
	// lanes' slots are fixed when built, as Prometheus's --query.* flags.
	"query.max_series": true, "query.max_response_bytes": true, "query.compress_loopback": true,
	"query.heavy_query_nice": true, "query.cache_max_points": true, "query.rate_max_decoded_bytes": true,
	"query.decoded_cache_max_bytes": true, "query.small_query_max_series": true, "query.small_query_max_points": true,
	"auth.tokens": true, "auth.basic_auth_users": true, "auth.web_config_user_roles": true,
}

// split are the sections of which a reload applies some fields only: they
// are compared field by field (a nested one by its path).
var split = map[string]bool{
	"server": true, "alerting": true, "auth": true,
	"storage": true, "storage.downsampling": true, "query": true,
}

// reloadConfig reads the configuration again (Options.LoadConfig) and
// applies what a reload changes while gmc runs (reloadable), as
// Prometheus applies its rule files: a configuration or a rule file that
// does not load or validate changes nothing and its error (naming the
// line, the field or the rule) is returned; else the rules manager swaps
// the groups of the default rules (with the services' down_after), rule
// files and thresholds, those that set no interval with the evaluation
// interval (rules.Manager.UpdateRules), the notification
// routes and receivers are replaced (notify.Dispatcher.Prepare:
// Alertmanager's reload), the scrape jobs and the remote_write queues
// (started from none, stopped when none is left: prepareForward) are put
// in force as Prometheus's reload does (ingest.Scraper.Prepare,
// forward.Forwarder.Prepare), the SLAs' rule groups are swapped
// (rules.Manager.UpdateSLAs: an unchanged SLA's groups and alerts run on
// untouched unless the evaluation interval changed, a changed one's alerts keep their state, a removed one's are
// resolved and its series marked stale), /sla serves the new SLAs, an
// added SLA's recordings are backfilled over the data stored before it in
// the background, as at start, /system/status judges the services by the
// new stale_after, down_after and service_liveness, the credentials
// of the new auth section are read, and the ingest limits apply to the
// requests and new series that come after (ingest.Ingester.SetLimits,
// ingest.SeriesLimiter.SetLimits: series the head holds stay), and so do
// the storage's retention (prepareStorage), the query limits the API and
// the lanes own (applyQuery), the silences' limits, the pushgateway and
// otlp sections (ingest.Ingester.SetPushgateway, SetOTLP) and the
// benchmarks (bench.Runner.SetConfig). Every other setting that changed
// is named in the result, the log and /system/status (with why:
// restartWhy) as applying at the next start.
func (s *Server) reloadConfig() (ReloadResult, error) {
	start := time.Now()
	cfg, err := s.opts.LoadConfig()
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload config: %w", err)
	}
	// The notification routing is built first and put in force last: a
	// template or receiver that does not build changes nothing.
	applyNotify, err := s.notify.Prepare(cfg.Notify)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload config: notify: %w", err)
	}
	// So are the credentials (a token file that cannot be read).
	applyAuth, err := s.guard.Prepare(cfg.Auth)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload config: %w", err)
	}
	// remote_write's queues are reloaded as Prometheus's are: a reload
	// that configures the first entries starts them (sending what is
	// written from then on), one that removes the last stops them.
	applyForward, also, err := s.prepareForward(cfg.RemoteWrite)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload config: remote_write: %w", err)
	}
	// The retention (raw, per tier, the rules by matcher) and the
	// out-of-order window of the embedded TSDB and its tiers.
	applyStorage, storageAlso := s.prepareStorage(cfg)
	also = append(also, storageAlso...)
	// So are the scrape jobs.
	applyScrape, err := s.scraper.Prepare(cfg.ScrapeConfigs)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload config: scrape_configs: %w", err)
	}
	// The rule files: a file that does not load changes nothing.
	sums := ruleFileSums(cfg.Alerting.RuleFiles)
	rch, err := s.rules.UpdateRules(rules.RuleConfig{
		EvalInterval: time.Duration(cfg.Alerting.EvaluationInterval),
		Files:        cfg.Alerting.RuleFiles, Thresholds: cfg.Alerting.Thresholds,
		DefaultRules: cfg.Alerting.DefaultRules, DownAfter: time.Duration(cfg.Server.DownAfter),
		ServiceDownAfter: serviceDownAfter(cfg.Server.ServiceLiveness),
	})
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload config: %w", err)
	}
	ch, err := s.rules.UpdateSLAs(cfg.SLAs)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload config: %w", err)
	}
	applyNotify()
	s.sla.SetSLAs(cfg.SLAs)
	var added []sla.SLA
	for _, n := range cfg.SLAs {
		if !slices.ContainsFunc(s.slas, func(o sla.SLA) bool { return o.Name == n.Name }) {
			added = append(added, n)
		}
	}
	s.slas = cfg.SLAs
	if ctx := s.bgCtx; len(added) > 0 && s.slaBackfill != nil && ctx != nil {
		s.bg.Go(func() { s.slaBackfill(ctx, added) })
	}
	s.api.SetLiveness(time.Duration(cfg.Server.StaleAfter), time.Duration(cfg.Server.DownAfter),
		serviceLiveness(cfg.Server.ServiceLiveness))
	applyAuth()
	s.applyQuery(cfg)
	s.notify.Silences().SetConfig(cfg.Silences)
	s.ingester.SetLimits(cfg.Limits)
	if old := s.cfg.Load(); old.Pushgateway != cfg.Pushgateway {
		s.ingester.SetPushgateway(cfg.Pushgateway)
	}
	s.ingester.SetOTLP(cfg.OTLP)
	if s.limiter != nil {
		s.limiter.SetLimits(cfg.Limits)
	}
	if err := applyScrape(); err != nil {
		// As Prometheus's reload: the jobs that did apply scrape on.
		s.logger.Error("scrape_configs reloaded with an error", "err", err)
	}
	if err := applyStorage(); err != nil {
		s.logger.Error("storage retention reloaded with an error", "err", err)
	}
	if err := applyForward(); err != nil {
		// The queues that started send on; the file's remote_write is not
		// the one in force (named as not applied).
		s.logger.Error("remote_write reloaded with an error", "err", err)
		also = slices.DeleteFunc(also, func(p string) bool { return p == "remote_write" })
	}
	if !reflect.DeepEqual(cfg.Benchmarks, s.cfg.Load().Benchmarks) {
		if err := s.benchRunner.SetConfig(cfg.Benchmarks); err != nil {
			// The benchmarks in force run on (named as not applied).
			s.logger.Error("benchmarks reloaded with an error", "err", err)
		} else {
			also = append(also, "benchmarks")
		}
	}
	res := s.setConfig(cfg, also...)
	// The rule files whose content changed (or that came or went) and
	// whose groups were replaced, added or removed: the configuration
	// does not show them. A new evaluation interval replaces the groups
	// of unchanged files too; a comment changes no group.
	for _, f := range rch.Files {
		old, had := s.ruleSums[f]
		sum, has := sums[f]
		if (had || has) && (had != has || old != sum) { // not gmc's own groups (defaults, thresholds)
			res.Applied = append(res.Applied, "rule file "+f)
		}
	}
	s.ruleSums = sums
	s.logger.Info("configuration reloaded", "applied", res.Applied,
		"rule_groups_kept", len(rch.Kept), "rule_groups_replaced", rch.Replaced, "rule_groups_added", rch.Added,
		"rule_groups_removed", rch.Removed, "slas", len(cfg.SLAs),
		"sla_groups_kept", len(ch.Kept), "sla_groups_replaced", ch.Replaced, "sla_groups_added", ch.Added,
		"sla_groups_removed", ch.Removed, "took", time.Since(start))
	if len(res.Restart) > 0 {
		s.logger.Warn("configuration changed that a reload does not apply: in force only after a restart",
			"settings", res.Restart)
	}
	return res, nil
}

// applyQuery puts the query section's settings a reload applies in force
// (see reloadable): the API's limits and step cache, built anew only when
// cache_max_points changed (its entries are then dropped), the small
// lane's bounds and the decoded-sample cache's.
func (s *Server) applyQuery(cfg config.Config) {
	cache := s.query.StepCache()
	if cfg.Query.CacheMaxPoints != s.cfg.Load().Query.CacheMaxPoints {
		cache = s.stepCache(cfg)
	}
	s.query.SetConfig(cfg.Query, cache)
	s.lanes.SetConfig(cfg.Query)
	if s.decoded != nil {
		s.decoded.SetMaxBytes(int64(cfg.Query.DecodedCacheMaxBytes))
	}
}

// prepareForward returns what puts c, remote_write, in force while gmc
// runs, and "remote_write" when it does: in the embedded TSDB's mode, while
// Run runs (a forwarder started by a reload runs in its background group).
// With queues running, forward.Forwarder.Prepare (c may be empty: every
// queue stops, the watermark is removed); without, the first entries start
// a forwarder that replays nothing (forward.Options.Fresh), the TSDB's
// appends and WAL writes reaching it through s.forwarding.
// reloadMu is held.
func (s *Server) prepareForward(c forward.Config) (func() error, []string, error) {
	none := func() error { return nil }
	if s.forwarding == nil || s.bgCtx == nil {
		return none, nil, nil
	}
	if s.forward != nil {
		apply, err := s.forward.Prepare(c)
		return apply, []string{"remote_write"}, err
	}
	if len(c) == 0 {
		return none, []string{"remote_write"}, nil
	}
	return func() error {
		fwd, err := s.newForwarder(c, true)
		if err != nil {
			return err
		}
		s.forward = fwd
		s.forwarding.f.Store(fwd)
		ctx := s.bgCtx
		s.bg.Go(func() {
			if err := fwd.Run(ctx); err != nil {
				s.logger.Error("remote_write", "err", err)
			}
		})
		return nil
	}, []string{"remote_write"}, nil
}

// prepareStorage returns what puts cfg's storage retention in force and
// the settings it applies (their YAML paths), when they changed: the raw
// data's retention and out-of-order window (storage.TSDB.SetRetention, as
// Prometheus's reload applies storage.tsdb), the retention rules by matcher
// and each tier's retention (tier.Set.SetRetention: a sweep at once).
// Not in remote storage mode (no TSDB here), and a tier's retention only
// while the tiers are those opened (tier.SameTiers); a tier added,
// removed or of another resolution, and block_duration, need a restart.
func (s *Server) prepareStorage(cfg config.Config) (func() error, []string) {
	cur := s.cfg.Load().Storage
	next := cfg.Storage
	db, ok := s.store.(*storage.TSDB)
	if !ok || cur.Mode == "remote" || next.Mode == "remote" {
		return func() error { return nil }, nil
	}
	var also []string
	if cur.Retention != next.Retention {
		also = append(also, "storage.retention")
	}
	if cur.OutOfOrderWindow != next.OutOfOrderWindow {
		also = append(also, "storage.out_of_order_window")
	}
	if !reflect.DeepEqual(cur.Downsampling.Retention, next.Downsampling.Retention) {
		also = append(also, "storage.downsampling.retention")
	}
	same := tier.SameTiers(cur.Downsampling, next.Downsampling)
	if same && !reflect.DeepEqual(cur.Downsampling.Tiers, next.Downsampling.Tiers) {
		also = append(also, "storage.downsampling.tiers")
	}
	if len(also) == 0 {
		return func() error { return nil }, nil
	}
	// Tiers that differ from those opened keep their retention in force
	// (cur's); the rules and the raw data take the file's.
	ds := next.Downsampling
	if !same {
		ds.Disabled, ds.Tiers = cur.Downsampling.Disabled, cur.Downsampling.Tiers
	}
	return func() error {
		err := db.SetRetention(tier.RawRetention(ds, time.Duration(next.Retention)), time.Duration(next.OutOfOrderWindow))
		if err != nil {
			err = fmt.Errorf("raw data: %w", err)
		}
		return errors.Join(err, s.tiers.SetRetention(ds, time.Duration(next.Retention)))
	}, also
}

// setConfig records what of cfg is now in force: its reloadable
// settings and those named in also (reloadable this time). It returns the
// reloadable settings that changed and the others that differ from those
// in force (applied at the next start).
// reloadMu is held.
func (s *Server) setConfig(cfg config.Config, also ...string) ReloadResult {
	cur := *s.cfg.Load()
	res := ReloadResult{Config: true}
	next := cur
	// The inhibit rules gmc derives from the SLAs (notify.inhibit_rules
	// absent) change with them: they are put in force with the SLAs and
	// named as "slas", not as a change of notify (t-user14b F11).
	cmpCfg := cfg
	derived := reflect.DeepEqual(cur.Notify.InhibitRules, cur.DerivedInhibitRules()) &&
		reflect.DeepEqual(cfg.Notify.InhibitRules, cfg.DerivedInhibitRules())
	if derived {
		cmpCfg.Notify.InhibitRules = cur.Notify.InhibitRules
	}
	compareFields("", reflect.ValueOf(&cur).Elem(), reflect.ValueOf(cmpCfg), reflect.ValueOf(&next).Elem(), also, &res)
	if derived {
		next.Notify.InhibitRules = cfg.Notify.InhibitRules
	}
	s.cfg.Store(&next)
	now := s.opts.Now()
	s.lastReload.Store(&reloadState{at: now, restart: res.Restart, okAt: now})
	return res
}

// compareFields compares the struct in force a with the file's b field by
// field (path their parent's YAML path, "" at the top), puts each field
// that changed and is reloadable (or named in also) into dst and res.Applied,
// names each other one in res.Restart, and goes into the sections split
// names.
func compareFields(path string, a, b, dst reflect.Value, also []string, res *ReloadResult) {
	for i := range a.NumField() {
		key := yamlKey(a.Type().Field(i))
		if key == "" {
			continue
		}
		if path != "" {
			key = path + "." + key
		}
		fa, fb, fd := a.Field(i), b.Field(i), dst.Field(i)
		if reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		if split[key] && fa.Kind() == reflect.Struct {
			compareFields(key, fa, fb, fd, also, res)
			continue
		}
		if !reloadable[key] && !slices.Contains(also, key) {
			res.Restart = append(res.Restart, key)
			continue
		}
		res.Applied = append(res.Applied, key)
		fd.Set(fb)
	}
}

// reloadState is what the last reload left: when it was, its error, and
// the settings that differ in gmc.yml from those in force (a restart
// applies them), for /system/status.
type reloadState struct {
	at      time.Time
	err     string
	restart []string
	// okAt is when the configuration last loaded: this reload's time, a
	// failed one's predecessor's, the start before any.
	okAt time.Time
}

// registerReloadMetrics registers what Prometheus and Alertmanager users
// alert on (prometheus_config_last_reload_successful and its timestamp),
// under gmc's names, and the count of settings waiting for a restart.
func (s *Server) registerReloadMetrics() {
	last := func() reloadState {
		if r := s.lastReload.Load(); r != nil {
			return *r
		}
		return reloadState{okAt: s.started}
	}
	s.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gmc_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1 before any).",
		}, func() float64 {
			if last().err != "" {
				return 0
			}
			return 1
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gmc_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration last loaded (at start, or the last successful reload).",
		}, func() float64 { return float64(last().okAt.UnixMilli()) / 1000 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gmc_config_pending_restart_settings",
			Help: "Settings that differ in gmc.yml from those in force and apply only after a restart (named on /system/status).",
		}, func() float64 { return float64(len(last().restart)) }),
	)
}

// configStatus is /system/status's "config": what the last reload left.
func (s *Server) configStatus() api.ConfigStatus {
	st := api.ConfigStatus{PendingRestart: []string{}}
	r := s.lastReload.Load()
	if r == nil {
		return st
	}
	st.LastReload = r.at.UTC().Format(time.RFC3339)
	st.LastReloadError = r.err
	st.PendingRestart = append(st.PendingRestart, r.restart...)
	if len(r.restart) > 0 {
		st.Message = "config on disk differs from the running one in: " + strings.Join(r.restart, ", ") + " (in force after a restart)"
		st.Why = map[string]string{}
		for _, p := range r.restart {
			st.Why[p] = restartWhy(p)
		}
	}
	return st
}

// yamlKey is f's YAML key ("" for a field YAML skips).
func yamlKey(f reflect.StructField) string {
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "-" {
		return ""
	}
	if key == "" {
		return strings.ToLower(f.Name)
	}
	return key
}

// ruleFileSums are the SHA-256 sums of the files patterns match, by path
// (a file that cannot be read is left out).
func ruleFileSums(patterns []string) map[string][sha256.Size]byte {
	sums := map[string][sha256.Size]byte{}
	for _, pat := range patterns {
		matches, _ := filepath.Glob(pat)
		for _, f := range matches {
			if b, err := os.ReadFile(f); err == nil {
				sums[f] = sha256.Sum256(b)
			}
		}
	}
	return sums
}
