package server

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/alerthistory"
	"github.com/gmc-dev/gmc/internal/api"
	"github.com/gmc-dev/gmc/internal/bench"
	"github.com/gmc-dev/gmc/internal/cluster"
	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/notify"
	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/rules"
	"github.com/gmc-dev/gmc/internal/sla"
	"github.com/gmc-dev/gmc/internal/storage"
	"github.com/gmc-dev/gmc/internal/web"
)

// buildAlerting builds the notification dispatcher, the alert history, the
// rules manager that feeds both and the SLA reporter; the ingester's commits trigger rule
// evaluation (the sub-second path) through rules.Manager.MetricsWritten.
func (s *Server) buildAlerting(engine *promql.Engine) error {
	cfg := s.opts.Config
	externalURL := "http://" + s.Addr()
	var err error
	var ha notify.HA
	if cfg.Cluster.Enabled() {
		s.cluster, err = cluster.New(cluster.Options{
			Config:     cfg.Cluster,
			DataDir:    cfg.Server.DataDir,
			Logger:     s.logger.With("component", "cluster"),
			Registerer: s.reg,
		})
		if err != nil {
			return err
		}
		s.onClose("", s.cluster.Close) // its error says "leave cluster"
		ha = s.cluster
	}
	s.notify, err = notify.New(notify.Options{
		HA:                  ha,
		Config:              cfg.Notify,
		Logger:              s.logger.With("component", "notify"),
		Registerer:          s.reg,
		Now:                 s.opts.Now,
		ExternalURL:         externalURL,
		SilencesFile:        filepath.Join(cfg.Server.DataDir, "silences.json"),
		SilenceRetention:    time.Duration(cfg.Silences.Retention),
		MaxSilences:         cfg.Silences.MaxSilences,
		MaxSilenceSizeBytes: cfg.Silences.MaxSilenceSizeBytes,
		NotificationLogFile: filepath.Join(cfg.Server.DataDir, "nflog"),
		Version:             s.opts.Version,
		// What each flush did with each firing alert, on its episode in
		// the alert history (built below): notified, or suppressed.
		Outcomes: func(outs []notify.Outcome) { s.noteOutcomes(outs) },
	})
	if err != nil {
		return err
	}
	if s.cluster != nil {
		sil := s.notify.Silences()
		sil.SetBroadcast(s.cluster.Share("sil", sil))
	}
	s.history, err = alerthistory.Open(alerthistory.Options{
		Dir:    filepath.Join(cfg.Server.DataDir, "alerts"),
		Logger: s.logger.With("component", "alerthistory"),
		Now:    s.opts.Now,
	})
	if err != nil {
		return err
	}
	s.onClose("alert history", s.history.Close)
	s.ruleSums = ruleFileSums(cfg.Alerting.RuleFiles)
	s.rules, err = rules.New(rules.Options{
		Appendable:   s.tiers.Watch(s.late.Wrap(s.store)),
		Queryable:    s.queryable,
		Engine:       engine,
		Logger:       s.logger.With("component", "rules"),
		Registerer:   s.reg,
		Now:          s.opts.Now,
		History:      s.history,
		Files:        cfg.Alerting.RuleFiles,
		Thresholds:   cfg.Alerting.Thresholds,
		DefaultRules: cfg.Alerting.DefaultRules,
		DownAfter:    time.Duration(cfg.Server.DownAfter),
		// The ingester is built after the rules (it notifies them).
		IngestStall: func(now time.Time) (time.Time, time.Time) {
			if s.ingester == nil {
				return time.Time{}, time.Time{}
			}
			return s.ingester.Stalled(now)
		},
		ServiceDownAfter: serviceDownAfter(cfg.Server.ServiceLiveness),
		EvalInterval:     time.Duration(cfg.Alerting.EvaluationInterval),
		ExternalURL:      externalURL,
		Sink:             func(alerts []*model.Alert) { s.notify.Send(alerts...) },
		SLAs:             cfg.SLAs,
		SLAQueryable:     s.slaQueryable(),
		// A page sent after its errors ended says so, from the read the
		// dashboard's drain hint judges (burnDrain); s.sla is built below.
		SLALastErrors: func(ctx context.Context, name string, short time.Duration, at time.Time) (sla.Drain, bool, error) {
			return s.sla.LastErrors(ctx, name, short, at)
		},
	})
	if err != nil {
		return err
	}
	// SLA figures must equal the raw samples' (issue 12): the reporter reads
	// the raw store, and its ratios over a day and longer the 1m tier,
	// which gives the raw answer within 0.1 % (sla.TestTierRatiosEqualRaw)
	// since its counter keeps a series' first sample.
	// Its burn state is the burn alerts' own (rules.Manager.SLABurns), so
	// /sla says burning exactly while SLAErrorBudgetBurn fires.
	s.sla = sla.NewReporter(sla.ReporterOptions{
		SLAs: cfg.SLAs, Engine: engine, Queryable: s.store, Tiers: s.tiers, Logger: s.logger.With("component", "sla"), Now: s.opts.Now,
		Burns: s.rules.SLABurns,
	})
	// An SLA added over data already stored gets its recordings over that
	// data too (Run starts it, and Reload for the SLAs it adds), both
	// groups': written as blocks into the embedded TSDB's directory, and
	// into the tiers.
	s.slas = cfg.SLAs
	if db, ok := s.store.(*storage.TSDB); ok {
		logger := s.logger.With("component", "sla")
		s.slaBackfill = func(ctx context.Context, slas []sla.SLA) {
			_, err := sla.BackfillStore(ctx, sla.BackfillStoreOptions{
				SLAs: slas, Engine: engine, Raw: db, Dir: cfg.Server.DataDir, Tiers: s.tiers, Now: s.opts.Now, Logger: logger,
				// The slow group (1d and longer) as its rules read it, once
				// the 1m tier has caught up.
				Slow:      s.slaQueryable(),
				SlowReady: func(ctx context.Context) error { return s.tiers.WaitCaughtUp(ctx, time.Hour) },
			})
			if err != nil && ctx.Err() == nil {
				logger.Error("backfill sla recordings", "err", err)
			}
		}
	}
	return nil
}

// noteOutcomes records on the alert history's episodes what the
// notification pipeline's flushes did with their alerts (notify.Outcome),
// and when a receiver was told one resolved: an episode's alert is the
// one that started (first fired) when it did.
func (s *Server) noteOutcomes(outs []notify.Outcome) {
	h := s.history
	if h == nil {
		return
	}
	for _, o := range outs {
		n := alerthistory.Notify{Unmuted: len(o.InhibitedBy) == 0 && len(o.SilencedBy) == 0}
		if o.ResolvedNotified {
			t := o.At
			n = alerthistory.Notify{ResolvedNotifiedAt: &t}
		}
		if o.Notified {
			t := o.At
			n.NotifiedAt = &t
		}
		for _, ls := range o.InhibitedBy {
			m := make(map[string]string, len(ls))
			for k, v := range ls {
				m[string(k)] = string(v)
			}
			n.InhibitedBy = append(n.InhibitedBy, m)
		}
		for _, sil := range o.SilencedBy {
			n.SilencedBy = append(n.SilencedBy, alerthistory.Silence{ID: sil.ID, CreatedBy: sil.CreatedBy, Comment: sil.Comment})
		}
		lset := make(map[string]string, len(o.Alert.Labels))
		for k, v := range o.Alert.Labels {
			lset[string(k)] = string(v)
		}
		if err := h.Notified(lset, o.Alert.StartsAt, o.At, n); err != nil {
			s.logger.Error("record alert notification in history", "err", err)
		}
	}
}

// slaQueryable is what the SLA rules read: the tiered reader, a tier
// only over a window of sla.TierEdgeBuckets of its buckets, as /sla reads
// them. Through the default 500 the 30d ratio read the 1h tier at the
// rules' unaligned times and lost up to an hour of an error burst at the
// window's edge (sla.TestSlowRulesTierEdge: 0.37 relative). Nil without
// tiers.
func (s *Server) slaQueryable() promstorage.Queryable {
	if s.tiers == nil || len(s.tiers.Tiers()) == 0 {
		return nil
	}
	return s.tiers.Queryable(query.DefaultLookbackDelta.Milliseconds()).WithUnaligned(sla.TierEdgeBuckets)
}

// ownSeries reports whether gmc itself writes series of this name (alerts,
// recording rules, benchmark results, its agent's process reports): they
// never make a service look alive. By name, as the ServiceSilent rules
// leave them out (rules.GmcSeries), and the recording rules loaded.
func (s *Server) ownSeries(metricName string) bool {
	return rules.GmcSeries(metricName) || s.rules != nil && s.rules.Writes(metricName)
}

// serviceDownAfter are the per-service down_after overrides of
// config.Server.
func serviceDownAfter(in map[string]config.Liveness) map[string]time.Duration {
	out := map[string]time.Duration{}
	for svc, lv := range in {
		if lv.DownAfter > 0 {
			out[svc] = time.Duration(lv.DownAfter)
		}
	}
	return out
}

// serviceLiveness converts the per-service overrides of config.Server.
func serviceLiveness(in map[string]config.Liveness) map[string]api.Liveness {
	out := make(map[string]api.Liveness, len(in))
	for svc, lv := range in {
		out[svc] = api.Liveness{StaleAfter: time.Duration(lv.StaleAfter), DownAfter: time.Duration(lv.DownAfter)}
	}
	return out
}

// bannerAlert is the banner's view of one of the rules' alerts, with when
// keep_firing_for began to hold it.
func bannerAlert(a *rules.APIAlert) web.Alert {
	al := web.NewAlert(a.Labels.Map(), a.Annotations.Map(), a.State, a.ActiveAt, a.Value)
	al.KeepFiringSince = a.KeepFiringSince
	return al
}

// firingAlerts is the dashboard's alert source: the rules' firing alerts,
// read in-process, then those silenced or inhibited (State "suppressed"),
// then the episodes of unknown state since the restart (alert history).
func (s *Server) firingAlerts(ctx context.Context) ([]web.Alert, error) {
	var as, suppressed []web.Alert
	read := map[drainKey]bool{} // the burn alerts' drain reads (burnDrain)
	for _, a := range s.rules.ActiveAlerts() {
		// A silenced or inhibited alert notifies nobody: not in the
		// banner's firing count, but counted apart (the Alerts page's
		// "suppressed").
		if s.notify != nil && a.State == "firing" && s.notify.Suppressed(labelSet(a.Labels)) {
			al := bannerAlert(a)
			al.State = "suppressed"
			suppressed = append(suppressed, al)
			continue
		}
		al := bannerAlert(a)
		al.Drain = s.burnDrain(ctx, a)
		read[drainKeyOf(a)] = true
		as = append(as, al)
	}
	s.drainErrs.Keep(read)
	out := append(web.Firing(as), suppressed...)
	if s.history != nil {
		for _, ep := range s.history.Unknown() {
			out = append(out, web.NewAlert(ep.Labels, ep.Annotations, "unknown", &ep.ActiveAt, ep.Value))
		}
	}
	return out, nil
}

// labelSet is ls as an Alertmanager label set.
func labelSet(ls labels.Labels) model.LabelSet {
	out := make(model.LabelSet, ls.Len())
	ls.Range(func(l labels.Label) { out[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return out
}

// slaStates are the SLAs' states for /system/status.
func (s *Server) slaStates(ctx context.Context) []sla.Status {
	return s.sla.StatusContext(ctx)
}

// buildBenchmarks builds the scheduler running the configured benchmarks and
// the handlers serving their reports.
func (s *Server) buildBenchmarks() error {
	archive, err := bench.OpenArchive(s.opts.Config.Server.DataDir)
	if err != nil {
		return err
	}
	runner, err := bench.NewRunner(bench.Options{
		Config:   s.opts.Config.Benchmarks,
		Archive:  archive,
		Registry: s.opts.Benchmarks,
		Recorder: &bench.StorageRecorder{Appendable: s.tiers.Watch(s.late.Wrap(s.store))},
		Logger:   s.logger.With("component", "bench"),
		Now:      s.opts.Now,
	})
	if err != nil {
		return err
	}
	s.benchRunner = runner
	s.bench = bench.NewScheduler(runner, s.logger.With("component", "bench"))
	s.reports = bench.NewHandler(archive)
	return nil
}

// burnDrain is, for a firing SLA burn-rate alert whose errors have ended,
// when they did and by when its short window drains them
// (sla.Reporter.Drain); nil for any other alert, or when not known.
func (s *Server) burnDrain(ctx context.Context, a *rules.APIAlert) *web.Drain {
	if a.State != "firing" || a.Labels.Get(labels.AlertName) != sla.AlertName || s.sla == nil {
		return nil
	}
	w := a.Labels.Get("short_window")
	short, err := model.ParseDuration(w)
	if err != nil {
		return nil
	}
	d, ok, err := s.sla.Drain(ctx, a.Labels.Get("sla"), time.Duration(short), s.opts.Now())
	// A stream that ended (its tab closed) while the read ran says nothing
	// of the read; one that ran out of time does.
	if !errors.Is(ctx.Err(), context.Canceled) {
		k := drainKeyOf(a)
		s.drainErrs.Note(s.logger, k, err, "read sla errors for the dashboard", "sla", k.sla, "short_window", k.window)
	}
	if !ok {
		return nil
	}
	return &web.Drain{ErrorsEnded: d.ErrorsEnded, Clears: d.Clears, Window: w}
}

// drainKey names one burn-rate alert's drain read: its SLA and short
// window.
type drainKey struct{ sla, window string }

func drainKeyOf(a *rules.APIAlert) drainKey {
	return drainKey{sla: a.Labels.Get("sla"), window: a.Labels.Get("short_window")}
}
