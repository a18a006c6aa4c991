package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// TestNotificationLogSurvivesRestart: with NotificationLogFile a restarted
// dispatcher does not re-send an alert that still fires and was notified
// within repeat_interval; a new alert of the group still is. Without the
// file (the control) the restart re-sends it.
func TestNotificationLogSurvivesRestart(t *testing.T) {
	const cfg = `
route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 50ms, repeat_interval: 1h}
receivers: [{name: hook}]
`
	now := time.Now()
	alert := func(svc string) *model.Alert {
		return &model.Alert{Labels: model.LabelSet{"alertname": "Down", "service": model.LabelValue(svc)},
			StartsAt: now, EndsAt: time.Now().Add(time.Hour)}
	}
	for _, persist := range []bool{true, false} {
		file := filepath.Join(t.TempDir(), "nflog")
		rec := &recorder{}
		run := func() *harness {
			return start(t, cfg, map[string][]Notifier{"hook": {rec}}, func(o *Options) {
				o.Now = time.Now
				if persist {
					o.NotificationLogFile = file
				}
			})
		}
		h := run()
		h.d.Send(alert("gateway"))
		waitFor(t, "the first notification", func() bool { return rec.count() == 1 })
		h.stop()
		if _, err := os.Stat(file); persist && err != nil {
			t.Fatalf("no snapshot after shutdown: %v", err)
		}

		h = run() // restarted: the rules re-send what still fires
		h.d.Send(alert("gateway"))
		h.waitFlushes(t, 1)
		if persist && rec.count() != 1 {
			t.Errorf("restart re-sent the firing alert: %d notifications, want 1", rec.count())
		}
		if !persist && rec.count() != 2 {
			t.Errorf("control without the log: %d notifications, want 2 (the re-send)", rec.count())
		}
		want := rec.count() + 1
		h.d.Send(alert("gateway"), alert("risk"))
		waitFor(t, "the new alert's notification", func() bool { return rec.count() == want })
		h.stop()
	}
}

// gate is a receiver that holds each notification until released, as a
// webhook that has the request and has not answered yet; a cancelled
// context cuts it off, as it cuts off an HTTP client.
type gate struct {
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int32
}

func (g *gate) Notify(ctx context.Context, _ *Notification) error {
	g.calls.Add(1)
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestShutdownLogsNotificationInFlight: a notification the receiver had
// when gmc shut down was sent again after the restart. Its attempt's
// context was Run's, cancelled at shutdown: the send failed on gmc's side
// though the receiver had it, nothing was logged, and the next start sent
// it again. The attempt in flight now completes and is in the notification
// log's last snapshot: the restarted dispatcher does not send it again.
// A receiver that never answers delays the shutdown by Timeout at most
// (here 200 ms; bounded by the wait, not asserted).
func TestShutdownLogsNotificationInFlight(t *testing.T) {
	const cfg = `
route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 50ms, repeat_interval: 1h}
receivers: [{name: hook}]
`
	file := filepath.Join(t.TempDir(), "nflog")
	g := &gate{entered: make(chan struct{}, 4), release: make(chan struct{})}
	alert := &model.Alert{Labels: model.LabelSet{"alertname": "Down"}, StartsAt: time.Now(), EndsAt: time.Now().Add(time.Hour)}
	c, err := LoadConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Options{Config: c, Notifiers: map[string][]Notifier{"hook": {g}}, NotificationLogFile: file, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	d.Send(alert)
	<-g.entered // the receiver has it
	cancel()
	waitFor(t, "the dispatcher stopping", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.stopped
	})
	close(g.release) // it answers while gmc shuts down
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s")
	}

	h := start(t, cfg, map[string][]Notifier{"hook": {g}}, func(o *Options) {
		o.Now, o.NotificationLogFile = time.Now, file
	})
	h.d.Send(alert) // the rules re-send what still fires
	h.waitFlushes(t, 1)
	if n := g.calls.Load(); n != 1 {
		t.Errorf("the receiver was sent the notification %d times, want once: the one in flight at shutdown was not logged", n)
	}
	h.stop()

	// A receiver that never answers does not hold the shutdown.
	hung := &gate{entered: make(chan struct{}, 4), release: make(chan struct{})}
	h = start(t, cfg, map[string][]Notifier{"hook": {hung}}, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	h.d.Send(alert)
	<-hung.entered
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the shutdown waited on a receiver that never answers for 10 s")
	}
}

// TestNotificationLogAfterKill: the log was written at shutdown and every
// 15 minutes only. After a graceful stop (the snapshot: the alert firing),
// a run that sent its resolve and was then killed left that snapshot, and
// the next run took the alert's new firing for one already told: no page,
// only its resolve (t-user12 F6). The log is now written with every entry:
// the file as a kill -9 leaves it holds the resolve, and the new firing is
// sent.
func TestNotificationLogAfterKill(t *testing.T) {
	const cfg = `
route: {receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 50ms, repeat_interval: 1h}
receivers: [{name: hook}]
`
	dir := t.TempDir()
	file, killed := filepath.Join(dir, "nflog"), filepath.Join(dir, "nflog-at-kill")
	rec := &recorder{}
	run := func(f string) *harness {
		return start(t, cfg, map[string][]Notifier{"hook": {rec}}, func(o *Options) { o.Now, o.NotificationLogFile = time.Now, f })
	}
	alert := func(resolved bool) *model.Alert {
		a := &model.Alert{Labels: model.LabelSet{"alertname": "Latency", "service": "engine"}, StartsAt: time.Now().Add(-time.Minute), EndsAt: time.Now().Add(time.Hour)}
		if resolved {
			a.EndsAt = time.Now().Add(-time.Second)
		}
		return a
	}
	h := run(file)
	h.d.Send(alert(false))
	waitFor(t, "the firing notification", func() bool { return rec.count() == 1 })
	h.stop() // the snapshot: firing
	firing, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	h = run(file)
	h.d.Send(alert(true))
	waitFor(t, "the resolve", func() bool { return rec.count() == 2 })
	// The resolve is logged once the receiver has answered; the file as a
	// kill -9 leaves it then (without the fix it stays the shutdown's).
	var b []byte
	deadline := time.Now().Add(3 * time.Second)
	for {
		if b, err = os.ReadFile(file); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, firing) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(killed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	h.stop()

	h = run(killed)
	defer h.stop()
	h.d.Send(alert(false))
	waitFor(t, "the new firing's page after the kill", func() bool { return rec.count() == 3 })
	if n := rec.notifications()[2]; n.Status != "firing" {
		t.Errorf("third notification is %s, want the new firing", n.Status)
	}
}

// TestNotificationLogFileHoldsEveryEntry: entries logged from many groups
// at once (the writers sharing snapshots) are all in the file once each
// Log has returned, and a log opened from it finds every one.
func TestNotificationLogFileHoldsEveryEntry(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nflog")
	l, err := openLocalLog(file, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	const groups = 64
	var wg sync.WaitGroup
	for i := range groups {
		wg.Go(func() {
			k := LogKey{GroupKey: fmt.Sprintf("{}:{service=\"s%d\"}", i), Receiver: "hook", Integration: "webhook"}
			if err := l.Log(k, LogEntry{Firing: []uint64{uint64(i + 1)}, At: time.Now()}, time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	reopened, err := openLocalLog(file, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for i := range groups {
		k := LogKey{GroupKey: fmt.Sprintf("{}:{service=\"s%d\"}", i), Receiver: "hook", Integration: "webhook"}
		if e, ok := reopened.Last(k); !ok || len(e.Firing) != 1 || e.Firing[0] != uint64(i+1) {
			t.Errorf("group %d after reopening: %+v %v", i, e, ok)
		}
	}
}

// BenchmarkNotificationLogBurst is a burst of groups logging at once, each
// Log returning once its entry is on disk.
func BenchmarkNotificationLogBurst(b *testing.B) {
	l, err := openLocalLog(filepath.Join(b.TempDir(), "nflog"), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1) % 200
			k := LogKey{GroupKey: fmt.Sprintf("{}:{service=\"s%d\"}", i), Receiver: "hook", Integration: "webhook"}
			if err := l.Log(k, LogEntry{Firing: []uint64{uint64(i)}, At: time.Now()}, time.Hour); err != nil {
				b.Error(err)
			}
		}
	})
}
