package notify

import (
	"time"

	"github.com/prometheus/common/model"
)

// HA is a notification log shared by the peers of a highly available group
// (internal/cluster, on Alertmanager's memberlist gossip and nflog). With it
// a group waits Wait before each flush — Alertmanager's cluster wait stage,
// longer for each position — and an integration is not told what the log
// shows a peer has already told it.
type HA interface {
	// Wait is how long this peer lets the ones before it notify first.
	Wait() time.Duration
	// Last is the newest entry any peer logged for k.
	Last(k LogKey) (LogEntry, bool)
	// Log records a delivered notification and shares it with the peers;
	// the entry expires after expiry.
	Log(k LogKey, e LogEntry, expiry time.Duration) error
	// ClusterStatus is the membership as /api/v2/status shows it.
	ClusterStatus() ClusterStatus
}

// ClusterStatus is Alertmanager's clusterStatus: this peer's name, "ready",
// "settling" or "disabled", and the members it sees (itself included).
type ClusterStatus struct {
	Name   string       `json:"name,omitempty"`
	Status string       `json:"status"`
	Peers  []PeerStatus `json:"peers"`
}

// PeerStatus is one member of the cluster.
type PeerStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// LogKey names one integration of one aggregation group.
type LogKey struct {
	GroupKey    string
	Receiver    string
	Integration string // "slack", "webhook", ...
	Index       int
}

// LogEntry is what an integration was told: the fingerprints of the firing
// and the resolved alerts, and when.
type LogEntry struct {
	Firing   []uint64
	Resolved []uint64
	At       time.Time
}

// fromSent converts a local log entry.
func fromSent(e *sentEntry) LogEntry {
	le := LogEntry{At: e.at}
	for fp := range e.firing {
		le.Firing = append(le.Firing, uint64(fp))
	}
	for fp := range e.resolved {
		le.Resolved = append(le.Resolved, uint64(fp))
	}
	return le
}

// toSent converts a shared log entry.
func toSent(le LogEntry) *sentEntry {
	e := &sentEntry{firing: map[model.Fingerprint]struct{}{}, resolved: map[model.Fingerprint]struct{}{}, at: le.At}
	for _, fp := range le.Firing {
		e.firing[model.Fingerprint(fp)] = struct{}{}
	}
	for _, fp := range le.Resolved {
		e.resolved[model.Fingerprint(fp)] = struct{}{}
	}
	return e
}

// lastSent is what integration i of g was last told, by this peer or,
// newer, by another, or before a restart (the notification log).
func (g *aggrGroup) lastSent(i int) *sentEntry {
	e := g.sent[i]
	nl := g.d.nlog
	if nl == nil {
		return e
	}
	if le, ok := nl.Last(g.logKey(i)); ok && (e == nil || le.At.After(e.at)) {
		return toSent(le)
	}
	return e
}

// logSent records what integration i was just told in the notification
// log (shared with the peers under HA).
func (g *aggrGroup) logSent(i int, e *sentEntry) {
	nl := g.d.nlog
	if nl == nil {
		return
	}
	// Alertmanager keeps an entry for twice the repeat interval.
	if err := nl.Log(g.logKey(i), fromSent(e), 2*g.route.repeatInterval); err != nil {
		g.d.logger.Warn("could not log a notification", "receiver", g.recv.name, "err", err)
	}
}

func (g *aggrGroup) logKey(i int) LogKey {
	in := g.recv.grouped[i]
	return LogKey{GroupKey: g.key, Receiver: in.receiver, Integration: in.channel, Index: in.index}
}
