// Package cluster makes two or more gmc servers a highly available group the
// way Alertmanager's cluster mode does, with Alertmanager's own libraries:
// the peers gossip over memberlist (alertmanager/cluster) and share the
// notification log (alertmanager/nflog) and the silences. Every peer evaluates the rules on
// the same data and keeps its own alert state; before a notification the
// peer at position n waits n × peer_timeout and sends only what the shared
// log does not show a peer has already sent. When one peer dies the others
// hold both the alert state and the log, so nothing is lost and nothing is
// sent twice. There is no consensus and no leader: as in Alertmanager,
// delivery is at-least-once when the gossip is partitioned.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/notify"
)

// Config is the cluster section of gmc.yml; the fields are Alertmanager's
// --cluster.* flags. Without listen_address gmc runs alone.
type Config struct {
	// ListenAddress is the memberlist host:port (TCP and UDP), e.g. 0.0.0.0:9094.
	ListenAddress string `yaml:"listen_address"`
	// AdvertiseAddress is what peers reach this one at, when not ListenAddress.
	AdvertiseAddress string `yaml:"advertise_address"`
	// Peers are host:port of the other members (this one may be listed too).
	Peers []string `yaml:"peers"`
	// PeerTimeout is how long each position waits for the ones before it; 15s.
	PeerTimeout duration.Duration `yaml:"peer_timeout"`
	// GossipInterval and PushPullInterval tune memberlist (200ms, 1m).
	GossipInterval   duration.Duration `yaml:"gossip_interval"`
	PushPullInterval duration.Duration `yaml:"pushpull_interval"`
	// Label isolates clusters sharing a network; peers must have the same.
	Label string `yaml:"label"`
}

// Enabled reports whether this server is part of a cluster.
func (c Config) Enabled() bool { return c.ListenAddress != "" }

// Normalise fills the defaults.
func (c *Config) Normalise() {
	if c.PeerTimeout == 0 {
		c.PeerTimeout = duration.Duration(15 * time.Second)
	}
	if c.GossipInterval == 0 {
		c.GossipInterval = duration.Duration(cluster.DefaultGossipInterval)
	}
	if c.PushPullInterval == 0 {
		c.PushPullInterval = duration.Duration(cluster.DefaultPushPullInterval)
	}
}

// Validate checks the section; errors name the field.
func (c Config) Validate() error {
	if !c.Enabled() {
		if len(c.Peers) > 0 {
			return errors.New("cluster.listen_address: must be set when cluster.peers are")
		}
		return nil
	}
	if c.PeerTimeout < 0 || c.GossipInterval < 0 || c.PushPullInterval < 0 {
		return errors.New("cluster: peer_timeout, gossip_interval and pushpull_interval must not be negative")
	}
	return nil
}

// Options configure a Peer.
type Options struct {
	// Config must be Enabled, normalised and valid (Normalise, then
	// Validate); New does not check it again.
	Config Config
	// DataDir keeps the notification log's snapshot (nflog) across restarts.
	DataDir    string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Peer is this server's membership and its copy of the shared notification
// log. It implements notify.HA.
type Peer struct {
	cfg      Config
	logger   *slog.Logger
	peer     *cluster.Peer
	log      *nflog.Log
	snapshot string
	reg      prometheus.Registerer

	leaveOnce sync.Once
	leaveErr  error
}

var _ notify.HA = (*Peer)(nil)

// retention is how long a log entry is kept when nothing refreshes it, as
// Alertmanager's --data.retention default.
const retention = 120 * time.Hour

// New creates the memberlist node and the notification log; Run joins.
func New(opts Options) (*Peer, error) {
	cfg := opts.Config
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	p := &Peer{cfg: cfg, logger: opts.Logger, snapshot: filepath.Join(opts.DataDir, "nflog"), reg: opts.Registerer}
	var err error
	p.peer, err = cluster.Create(
		opts.Logger.With("part", "gossip"),
		opts.Registerer,
		cfg.ListenAddress,
		cfg.AdvertiseAddress,
		cfg.Peers,
		true,
		time.Duration(cfg.PushPullInterval),
		time.Duration(cfg.GossipInterval),
		cluster.DefaultTCPTimeout,
		cluster.DefaultResolvePeersTimeout,
		cluster.DefaultProbeTimeout,
		cluster.DefaultProbeInterval,
		nil,
		false,
		cfg.Label,
		"",
	)
	if err != nil {
		return nil, fmt.Errorf("create cluster peer on %s: %w", cfg.ListenAddress, err)
	}
	p.log, err = nflog.New(nflog.Options{
		SnapshotFile: p.snapshot,
		Retention:    retention,
		Logger:       opts.Logger.With("part", "nflog"),
		Metrics:      opts.Registerer,
	})
	if err != nil {
		_ = p.peer.Leave(time.Second)
		return nil, fmt.Errorf("open notification log %s: %w", p.snapshot, err)
	}
	ch := p.peer.AddState("nfl", p.log, opts.Registerer)
	p.log.SetBroadcast(ch.Broadcast)
	return p, nil
}

// Share gossips another piece of state (the silences) under key; call it
// before Run. The returned function broadcasts a change.
func (p *Peer) Share(key string, st cluster.State) func([]byte) {
	return p.peer.AddState(key, st, p.reg).Broadcast
}

// Run joins the peers, keeps the log (garbage collection and snapshots every
// 15 minutes, as Alertmanager) and leaves the cluster when ctx is done.
func (p *Peer) Run(ctx context.Context) error {
	if err := p.peer.Join(cluster.DefaultReconnectInterval, cluster.DefaultReconnectTimeout); err != nil {
		p.logger.Warn("could not join the cluster yet; retrying in the background", "err", err)
	}
	go p.peer.Settle(ctx, 10*time.Duration(p.cfg.GossipInterval))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.log.Maintenance(15*time.Minute, p.snapshot, stop, nil)
	}()
	<-ctx.Done()
	close(stop) // Maintenance writes a last snapshot
	<-done
	return p.Close()
}

// Close leaves the cluster, once: it tells the peers and stops the gossip's
// periodic tasks. Run calls it when it returns; the server's teardown calls
// it too, for a Peer whose Run never started (a failed server.New). The
// memberlist socket stays bound until the process exits: Alertmanager's
// cluster.Peer offers no shutdown of it.
func (p *Peer) Close() error {
	p.leaveOnce.Do(func() {
		if err := p.peer.Leave(10 * time.Second); err != nil {
			p.leaveErr = fmt.Errorf("leave cluster: %w", err)
		}
	})
	return p.leaveErr
}

// ClusterStatus implements notify.HA: this peer's name, its status
// ("ready", "settling") and the members it sees, itself included.
func (p *Peer) ClusterStatus() notify.ClusterStatus {
	st := notify.ClusterStatus{Name: p.peer.Name(), Status: p.peer.Status(), Peers: []notify.PeerStatus{}}
	for _, m := range p.peer.Peers() {
		st.Peers = append(st.Peers, notify.PeerStatus{Name: m.Name(), Address: m.Address()})
	}
	return st
}

// Wait implements notify.HA: Alertmanager's cluster wait stage.
func (p *Peer) Wait() time.Duration {
	return time.Duration(p.peer.Position()) * time.Duration(p.cfg.PeerTimeout)
}

// Last implements notify.HA.
func (p *Peer) Last(k notify.LogKey) (notify.LogEntry, bool) {
	es, err := p.log.Query(nflog.QGroupKey(k.GroupKey), nflog.QReceiver(receiver(k)))
	if err != nil || len(es) == 0 {
		return notify.LogEntry{}, false
	}
	e := es[0]
	return notify.LogEntry{Firing: e.FiringAlerts, Resolved: e.ResolvedAlerts, At: e.Timestamp.AsTime()}, true
}

// Log implements notify.HA; the entry is gossiped to the peers.
func (p *Peer) Log(k notify.LogKey, e notify.LogEntry, expiry time.Duration) error {
	return p.log.Log(receiver(k), k.GroupKey, e.Firing, e.Resolved, nil, nil, expiry)
}

func receiver(k notify.LogKey) *nflogpb.Receiver {
	return &nflogpb.Receiver{GroupName: k.Receiver, Integration: k.Integration, Idx: uint32(k.Index)}
}
