package notify

import (
	"sync"
	"testing"
	"time"
)

// sharedLog is an in-memory HA log two dispatchers share, standing in for
// the gossiped nflog of internal/cluster.
type sharedLog struct {
	mu      sync.Mutex
	entries map[LogKey]LogEntry
}

func (l *sharedLog) Last(k LogKey) (LogEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[k]
	return e, ok
}

func (l *sharedLog) Log(k LogKey, e LogEntry, _ time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[k] = e
	return nil
}

// peerHA is one peer's view: its wait and the shared log.
type peerHA struct {
	*sharedLog
	wait time.Duration
}

func (p peerHA) Wait() time.Duration { return p.wait }

func (p peerHA) ClusterStatus() ClusterStatus {
	return ClusterStatus{Status: "ready", Peers: []PeerStatus{}}
}

func TestHAPeersNotifyOnceAndTheSurvivorResolves(t *testing.T) {
	const cfg = `
route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 50ms, repeat_interval: 1h}
receivers: [{name: hook}]
`
	log := &sharedLog{entries: map[LogKey]LogEntry{}}
	first, second := &recorder{}, &recorder{}
	a := start(t, cfg, map[string][]Notifier{"hook": {first}}, func(o *Options) { o.HA = peerHA{log, 0} })
	b := start(t, cfg, map[string][]Notifier{"hook": {second}}, func(o *Options) { o.HA = peerHA{log, 200 * time.Millisecond} })

	alert := a.alert("alertname", "Down", "service", "gateway")
	a.d.Send(alert)
	b.d.Send(alert)
	waitFor(t, "the first peer's notification", func() bool { return first.count() == 1 })
	b.waitFlushes(t, 1) // the second peer's flush, after its wait
	if n := second.count(); n != 0 {
		t.Fatalf("the second peer sent %d notifications of an alert the first had sent", n)
	}

	// The first peer is gone (a running one would re-notify the firing
	// alert once the survivor logs the resolution); the alert resolves on
	// the survivor, which knows from the log that the receiver heard of it
	// firing.
	a.stop()
	b.clock.Advance(2 * time.Second)
	b.d.Send(b.resolved(alert))
	waitFor(t, "the survivor's resolution", func() bool { return second.count() == 1 })
	n := second.notifications()[0]
	if got := alertnames(n); len(got) != 1 || got[0] != "Down/gateway/resolved" {
		t.Errorf("survivor sent %v, want the resolution", got)
	}
	if first.count() != 1 {
		t.Errorf("first peer sent %d notifications, want 1", first.count())
	}
}

func TestHAPeerSendsWhenNobodyElseDid(t *testing.T) {
	const cfg = `
route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1h, repeat_interval: 1h}
receivers: [{name: hook}]
`
	log := &sharedLog{entries: map[LogKey]LogEntry{}}
	second := &recorder{}
	b := start(t, cfg, map[string][]Notifier{"hook": {second}}, func(o *Options) { o.HA = peerHA{log, 50 * time.Millisecond} })
	b.d.Send(b.alert("alertname", "Down", "service", "gateway"))
	waitFor(t, "the notification after the wait", func() bool { return second.count() == 1 })
	// The group logs what it sent after the receiver answered.
	waitFor(t, "the notification logged", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.entries) >= 1
	})
	log.mu.Lock()
	if len(log.entries) != 1 {
		t.Errorf("shared log has %d entries, want the one sent", len(log.entries))
	}
	log.mu.Unlock()
}
