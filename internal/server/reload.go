package server

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/notify"
	"github.com/gmc-dev/gmc/internal/sla"
)

// reloadConfig reads the configuration again (Options.LoadConfig) and
// applies what a reload changes while gmc runs — the rule files (read
// again) and thresholds of `alerting:`, and the SLAs — as Prometheus
// applies its rule files: a configuration or a rule file that does not
// load or validate changes nothing and its error (naming the line, the
// field or the rule) is returned; else the rules manager swaps the rule
// files' and thresholds' groups (rules.Manager.UpdateRules), the
// notification routes and receivers are replaced (notify.Dispatcher.
// Prepare: Alertmanager's reload), and the SLAs' rule groups
// (rules.Manager.UpdateSLAs: an unchanged SLA's groups and alerts run on
// untouched, a changed one's alerts keep their state, a removed one's are
// resolved and its series marked stale), /sla serves the new SLAs, and an
// added SLA's recordings are backfilled over the data stored before it in
// the background, as at start. Other sections that changed are logged as
// applied at the next start.
func (s *Server) reloadConfig() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	cfg, err := s.opts.LoadConfig()
	if err != nil {
		return fmt.Errorf("reload config: %w", err)
	}
	// The notification routing is built first and put in force last: a
	// template or receiver that does not build changes nothing.
	applyNotify, err := s.notify.Prepare(cfg.Notify)
	if err != nil {
		return fmt.Errorf("reload config: notify: %w", err)
	}
	// The rule files: a file that does not load changes nothing.
	rch, err := s.rules.UpdateRules(cfg.Alerting.RuleFiles, cfg.Alerting.Thresholds)
	if err != nil {
		return fmt.Errorf("reload config: %w", err)
	}
	ch, err := s.rules.UpdateSLAs(cfg.SLAs)
	if err != nil {
		return fmt.Errorf("reload config: %w", err)
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
	s.logger.Info("configuration reloaded",
		"rule_groups_kept", len(rch.Kept), "rule_groups_replaced", rch.Replaced, "rule_groups_added", rch.Added,
		"rule_groups_removed", rch.Removed, "slas", len(cfg.SLAs),
		"sla_groups_kept", len(ch.Kept), "sla_groups_replaced", ch.Replaced, "sla_groups_added", ch.Added,
		"sla_groups_removed", ch.Removed, "took", time.Since(start))
	if d := changedSections(s.opts.Config, cfg); len(d) > 0 {
		s.logger.Warn("configuration sections changed that apply at the next start (a reload applies alerting.rule_files, alerting.thresholds, notify and slas, and reads credentials)",
			"sections", d)
	}
	return nil
}

// changedSections are the top-level sections of gmc.yml (by YAML key)
// that differ between a and b, except what a reload applies (slas,
// notify, the alerting section's rule_files and thresholds).
func changedSections(a, b config.Config) []string {
	a.Notify, b.Notify = notify.Config{}, notify.Config{}
	a.Alerting.RuleFiles, b.Alerting.RuleFiles = nil, nil
	a.Alerting.Thresholds, b.Alerting.Thresholds = nil, nil
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		f := va.Type().Field(i)
		key := f.Tag.Get("yaml")
		if key == "slas" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, key)
		}
	}
	return out
}
