package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
//
// Writers that arrive while a snapshot is being written wait for it and
// then share one: the first of them writes a snapshot holding every entry
// logged so far, and the others find theirs already on disk (a burst of
// groups flushing at once costs two writes, not one each).
type localLog struct {
	log    *nflog.Log
	file   string
	logged atomic.Uint64 // entries logged since start
	mu     sync.Mutex    // one snapshot written at a time
	saved  uint64        // entries in the file; under mu
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
		// The periodic and the shutdown snapshots go through save too:
		// nflog's own writer would race with it and could put an older
		// snapshot over a newer one.
		l.log.Maintenance(15*time.Minute, l.file, stop, func() (int64, error) {
			if _, err := l.log.GC(); err != nil {
				return 0, err
			}
			return l.save(l.logged.Load() + 1)
		})
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
	_, err := l.save(l.logged.Add(1))
	return err
}

// save makes sure the file holds the first n entries logged, writing a
// snapshot of the whole log atomically if it does not yet; it returns the
// bytes written.
func (l *localLog) save(n uint64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.saved >= n {
		return 0, nil
	}
	// Every entry counted by now is in the log: each is counted after it
	// is logged.
	upto := l.logged.Load()
	var b bytes.Buffer
	size, err := l.log.Snapshot(&b)
	if err != nil {
		return 0, fmt.Errorf("snapshot notification log: %w", err)
	}
	if err := atomicfile.Write(l.file, b.Bytes(), 0o644); err != nil {
		return 0, err
	}
	l.saved = upto
	return size, nil
}

func logReceiver(k LogKey) *nflogpb.Receiver {
	return &nflogpb.Receiver{GroupName: k.Receiver, Integration: k.Integration, Idx: uint32(k.Index)}
}
