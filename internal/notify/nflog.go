package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/atomicfile"
)

// notificationLog is what the groups read and write of what each
// integration was told: the HA peers' shared log, or the local one.
type notificationLog interface {
	Last(k LogKey) (LogEntry, bool)
	Log(k LogKey, e LogEntry, expiry time.Duration) error
}

// localLog is the notification log of a server without peers:
// Alertmanager's nflog, snapshotted to a file after every entry (and at
// shutdown and every 15 minutes, as Alertmanager does), so that a restart
// does not tell a receiver again about an alert it was told of within
// repeat_interval, nor take an alert it was told had resolved for one it
// was told fires. Alertmanager snapshots every 15 minutes only: after a
// kill -9, a snapshot that still held an alert firing (its resolve and a
// new firing sent since, then lost) swallowed the next page of that alert
// until repeat_interval — only its resolve arrived (t-user12 F6).
type localLog struct {
	log  *nflog.Log
	file string
	mu   sync.Mutex // one snapshot written at a time
}

// logRetention keeps an entry nothing refreshes this long, as
// Alertmanager's --data.retention default.
const logRetention = 120 * time.Hour

func openLocalLog(file string, logger *slog.Logger, reg prometheus.Registerer) (*localLog, error) {
	l, err := nflog.New(nflog.Options{SnapshotFile: file, Retention: logRetention, Logger: logger, Metrics: reg})
	if err != nil {
		return nil, fmt.Errorf("open notification log %s: %w", file, err)
	}
	return &localLog{log: l, file: file}, nil
}

// run garbage-collects and snapshots the log until ctx ends, then writes a
// last snapshot.
func (l *localLog) run(ctx context.Context) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.log.Maintenance(15*time.Minute, l.file, stop, nil)
	}()
	<-ctx.Done()
	close(stop)
	<-done
}

func (l *localLog) Last(k LogKey) (LogEntry, bool) {
	es, err := l.log.Query(nflog.QGroupKey(k.GroupKey), nflog.QReceiver(logReceiver(k)))
	if err != nil || len(es) == 0 {
		return LogEntry{}, false
	}
	e := es[0]
	return LogEntry{Firing: e.FiringAlerts, Resolved: e.ResolvedAlerts, At: e.Timestamp.AsTime()}, true
}

// Log records what an integration was told and writes the log to its file
// before it returns (the log is small: a few hundred bytes a group).
func (l *localLog) Log(k LogKey, e LogEntry, expiry time.Duration) error {
	if err := l.log.Log(logReceiver(k), k.GroupKey, e.Firing, e.Resolved, nil, nil, expiry); err != nil {
		return err
	}
	return l.save()
}

// save writes a snapshot of the log to its file, atomically.
func (l *localLog) save() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	if _, err := l.log.Snapshot(&b); err != nil {
		return fmt.Errorf("snapshot notification log: %w", err)
	}
	return atomicfile.Write(l.file, b.Bytes(), 0o644)
}

func logReceiver(k LogKey) *nflogpb.Receiver {
	return &nflogpb.Receiver{GroupName: k.Receiver, Integration: k.Integration, Idx: uint32(k.Index)}
}
