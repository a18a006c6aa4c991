// Package forward sends everything gmc ingests on to remote-write receivers
// (Prometheus, VictoriaMetrics, Mimir, Thanos, Cortex), configured with
// Prometheus's own remote_write schema.
//
// The live path is Prometheus's remote-storage queue manager
// (storage/remote): a WAL watcher tails the embedded TSDB's write-ahead log,
// so the WAL is the durable queue; shards, batching, retries with backoff,
// resharding and write_relabel_configs are Prometheus's. While a receiver is
// down the queue blocks and the watcher stops reading: nothing is dropped as
// long as the WAL still holds the data (it is truncated when the head is
// compacted, every 2 h).
//
// Prometheus's watcher starts from "now" every time it starts, so what was
// still unsent when gmc stopped would be lost on a restart (Prometheus itself
// behaves so). gmc closes that gap: it keeps a watermark — the newest sample
// time every queue has sent — in <data>/forward/watermark.json, and after a
// restart replays (watermark − margin, start] from its own TSDB through
// Prometheus's remote-write client (see replay.go). Delivery is
// at-least-once: the margin and a retried batch may arrive twice, which
// receivers ignore (same timestamp, same value). The replay reaches the
// receiver after newer live samples, so a receiver must accept out-of-order
// samples within gmc's storage.out_of_order_window, as it must anyway for the
// out-of-order samples gmc itself accepts.
package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// Config is the remote_write section of gmc.yml: Prometheus's schema (url,
// name, headers, basic_auth, authorization, oauth2, tls_config, proxy,
// write_relabel_configs, queue_config, remote_timeout, ...).
type Config []*promconfig.RemoteWriteConfig

// SetDirectory resolves the entries' relative file paths (tls_config,
// credentials files) against dir, the directory of the configuration file,
// as Prometheus does.
func (c Config) SetDirectory(dir string) {
	for _, rw := range c {
		if rw != nil {
			rw.SetDirectory(dir)
		}
	}
}

// Normalise fills what Prometheus fills after loading its own file: the
// relabel rules' name validation scheme (UTF-8, as gmc's), when unset.
func (c Config) Normalise() {
	for _, rw := range c {
		if rw == nil {
			continue
		}
		for _, rc := range rw.WriteRelabelConfigs {
			if rc != nil && rc.NameValidationScheme == model.UnsetValidation {
				rc.NameValidationScheme = model.UTF8Validation
			}
		}
	}
}

// Validate checks what Prometheus checks after loading its own file: the
// relabel rules and that no two entries are the same.
// It never changes the config (Prometheus's own relabel Validate fills the
// name validation scheme; it runs here on copies).
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, rw := range c {
		if rw == nil || rw.URL == nil {
			return fmt.Errorf("remote_write[%d].url: must be set", i)
		}
		for _, rc := range rw.WriteRelabelConfigs {
			if rc == nil {
				continue
			}
			cp := *rc
			if err := cp.Validate(model.UTF8Validation); err != nil {
				return fmt.Errorf("remote_write[%d].write_relabel_configs: %w", i, err)
			}
		}
		key := rw.URL.String() + "\x00" + rw.Name
		if seen[key] {
			return fmt.Errorf("remote_write[%d]: %s is configured twice", i, rw.URL.Redacted())
		}
		seen[key] = true
	}
	return nil
}

// Options configure a Forwarder.
type Options struct {
	// Config must have passed Validate; it must not be empty.
	Config Config
	// Dir is the TSDB's directory: the queues tail Dir/wal, and the
	// watermark lives in Dir/forward.
	Dir string
	// Local is the TSDB a restart replays from.
	Local storage.Queryable
	// StartTime is the oldest sample time the TSDB holds.
	StartTime func() (int64, error)
	Logger    *slog.Logger
	// Registerer receives Prometheus's prometheus_remote_storage_* and
	// prometheus_wal_watcher_* metrics and gmc's own.
	Registerer prometheus.Registerer
	// FlushDeadline bounds how long Close waits for queued samples; what it
	// leaves unsent is replayed after the restart. 0 means 5 s.
	FlushDeadline time.Duration
	// ReplayMargin is how far before the watermark a restart replays from,
	// for the samples that were behind the newest sent one (other shards,
	// out-of-order writes). 0 means 5 minutes.
	ReplayMargin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Fresh leaves a watermark on disk unread: the queues send what is
	// written from now on, replaying nothing (a reload adding the first
	// remote_write entry, as Prometheus's reload adds a queue).
	Fresh bool
}

// Forwarder runs the remote-write queues of one gmc server. It implements
// wlog.WriteNotified: the TSDB calls Notify after every WAL write so the
// watchers read at once.
type Forwarder struct {
	opts   Options
	logger *slog.Logger
	remote *remote.Storage
	state  *watermark
	m      *metrics

	// started is when the queues began (ms): they send samples newer than it.
	started int64
	// The restart replay covers (replayFrom, replayUntil]; progress is how far
	// it got. Without a replay replayDone is closed from the start.
	replayFrom, replayUntil int64
	progress                atomic.Int64
	replayDone              chan struct{}
	// idle: a reload removed every entry, the queues are stopped and no
	// watermark is kept; floor is when a reload configured entries again
	// (ms): the watermark is at least it, nothing before is owed to them.
	idle  atomic.Bool
	floor atomic.Int64
}

var _ wlog.WriteNotified = (*Forwarder)(nil)

// New starts the queues; they begin reading the WAL at once.
func New(opts Options) (*Forwarder, error) {
	if len(opts.Config) == 0 {
		return nil, errors.New("forward: no remote_write configured")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.FlushDeadline <= 0 {
		opts.FlushDeadline = 5 * time.Second
	}
	if opts.ReplayMargin <= 0 {
		opts.ReplayMargin = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StartTime == nil {
		opts.StartTime = func() (int64, error) { return 0, nil }
	}
	state, err := openWatermark(opts.Dir, opts.Config)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{
		opts:       opts,
		logger:     opts.Logger,
		state:      state,
		m:          newMetrics(opts.Registerer),
		replayDone: make(chan struct{}),
	}
	// Remote-read is not configured here, so the start-time callback is
	// never used for reads; it is a required argument.
	f.remote = remote.NewStorage(opts.Logger, opts.Registerer, opts.StartTime, opts.Dir, opts.FlushDeadline, nil, false)
	f.started = opts.Now().UnixMilli()
	if err := f.remote.ApplyConfig(&promconfig.Config{RemoteWriteConfigs: opts.Config}); err != nil {
		_ = f.remote.Close()
		return nil, fmt.Errorf("start remote_write queues: %w", err)
	}
	// The watcher takes its own start time a moment after ApplyConfig (and
	// again should it restart after a WAL error): the replay reaches a little
	// past it, at the cost of some duplicates.
	f.replayUntil = f.started + (10 * time.Second).Milliseconds()
	if w, ok := state.load(); ok && !opts.Fresh {
		f.replayFrom = w - opts.ReplayMargin.Milliseconds()
		f.progress.Store(f.replayFrom)
		f.logger.Info("replaying what was not forwarded before the restart",
			"from", time.UnixMilli(f.replayFrom).UTC(), "until", time.UnixMilli(f.replayUntil).UTC())
	} else {
		// First start with this remote_write: nothing before now is owed.
		f.replayFrom, f.replayUntil = f.started, f.started
		close(f.replayDone)
	}
	f.state.store(f.replayFrom + opts.ReplayMargin.Milliseconds())
	return f, nil
}

// Prepare returns what puts c in force while gmc runs, as Prometheus's
// reload applies remote_write: a queue whose entry did not change keeps
// sending, a changed one is restarted and, like a new one, sends what is
// written from then on, a removed one stops (waiting up to FlushDeadline
// for what it holds). The watermark then belongs to the new receivers: a
// restart replays its gap to them. A replay in progress finishes with the
// receivers it began with. c must have passed Validate. An empty c stops
// every queue and removes the watermark (it belongs to no receiver); a c
// that configures entries again sends what is written from then on, and
// the watermark starts there.
func (f *Forwarder) Prepare(c Config) (apply func() error, err error) {
	return func() error {
		if err := f.remote.ApplyConfig(&promconfig.Config{RemoteWriteConfigs: c}); err != nil {
			return fmt.Errorf("apply remote_write: %w", err)
		}
		switch {
		case len(c) == 0:
			f.idle.Store(true)
			f.state.reset(c, 0)
		case f.idle.Load():
			now := f.opts.Now().UnixMilli()
			f.floor.Store(now)
			f.state.reset(c, now)
			f.idle.Store(false)
		default:
			f.state.setReceivers(c)
		}
		return nil
	}, nil
}

// Notify implements wlog.WriteNotified.
func (f *Forwarder) Notify() { f.remote.Notify() }

// Appendable wraps app so the queues see the rate of incoming samples, which
// Prometheus's resharding is computed from (the samples themselves reach the
// queues through the WAL, not through this appender).
func (f *Forwarder) Appendable(app storage.AppendableV2) storage.AppendableV2 {
	return &countingAppendable{local: app, remote: f.remote}
}

// Run replays what the queues never sent before a restart and keeps the
// watermark on disk; it returns when ctx is done.
func (f *Forwarder) Run(ctx context.Context) error {
	if f.replayFrom < f.replayUntil {
		go func() {
			defer close(f.replayDone)
			f.replay(ctx)
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			<-f.replayDone
			f.persist()
			return nil
		case <-tick.C:
			f.persist()
		}
	}
}

// persist records the watermark: while the replay runs, a value the next
// replay would resume at its progress from (the replay sends in time order);
// then the newest time every live queue has sent, and at least the end of
// the replay (the queues cover what is newer).
func (f *Forwarder) persist() {
	if f.idle.Load() {
		if err := f.state.flush(); err != nil { // removes the file
			f.logger.Warn("could not remove the forwarding watermark", "err", err)
		}
		return
	}
	w := f.progress.Load() + f.opts.ReplayMargin.Milliseconds()
	select {
	case <-f.replayDone:
		w = f.replayUntil
		if sent := f.remote.LowestSentTimestamp(); sent > w {
			w = sent
		}
	default:
	}
	w = max(w, f.floor.Load())
	f.state.store(w)
	f.m.watermark.Set(float64(w) / 1000)
	if err := f.state.flush(); err != nil {
		f.logger.Warn("could not save the forwarding watermark", "err", err)
	}
}

// Close stops the queues (waiting up to FlushDeadline for what they hold)
// and saves the watermark. Run must have returned.
func (f *Forwarder) Close() error {
	err := f.remote.Close()
	if werr := f.state.flush(); werr != nil && err == nil {
		err = werr
	}
	return err
}

// metrics are gmc's own, beside Prometheus's queue metrics.
type metrics struct {
	replayed      prometheus.Counter
	replayDropped prometheus.Counter
	replayPending prometheus.Gauge
	watermark     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gmc_forward_replayed_samples_total",
			Help: "Samples sent again from the local TSDB after a restart (the gap Prometheus's WAL watcher leaves).",
		}),
		replayDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gmc_forward_replay_dropped_samples_total",
			Help: "Replayed samples a receiver refused for good (4xx).",
		}),
		replayPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gmc_forward_replay_pending_seconds",
			Help: "How much time the restart replay still has to send.",
		}),
		watermark: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gmc_forward_watermark_timestamp_seconds",
			Help: "Every sample up to this time has been sent to every receiver (but for the replay margin).",
		}),
	}
	reg.MustRegister(m.replayed, m.replayDropped, m.replayPending, m.watermark)
	return m
}

// countingAppendable appends to the TSDB and tells the remote storage how
// many samples came in.
type countingAppendable struct {
	local  storage.AppendableV2
	remote *remote.Storage
}

func (a *countingAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &countingAppender{local: a.local.AppenderV2(ctx), remote: a.remote.AppenderV2(ctx)}
}

type countingAppender struct {
	local, remote storage.AppenderV2
}

func (a *countingAppender) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AOptions) (storage.SeriesRef, error) {
	ref, err := a.local.Append(ref, ls, st, t, v, h, fh, opts)
	if err == nil || isPartial(err) {
		_, _ = a.remote.Append(ref, ls, st, t, v, h, fh, opts)
	}
	return ref, err
}

func (a *countingAppender) Commit() error {
	if err := a.local.Commit(); err != nil {
		_ = a.remote.Rollback()
		return err
	}
	return a.remote.Commit()
}

func (a *countingAppender) Rollback() error {
	_ = a.remote.Rollback()
	return a.local.Rollback()
}

func isPartial(err error) bool {
	var pe *storage.AppendPartialError
	return errors.As(err, &pe)
}
