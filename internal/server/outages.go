package server

import (
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gmc-dev/gmc/internal/api"
	"github.com/gmc-dev/gmc/internal/atomicfile"
)

// outagesFile, in the data dir, records gmc's own runs: the current one
// (when it started, its newest sign of life, when it stopped) and the
// outages between runs, so a restarted gmc can say when it was down
// (/system/status "outages"; the dashboard's Overview says it in words
// where its charts break over the hole).
const outagesFile = "outages.json"

// heartbeatEvery is how often a running gmc records that it is alive:
// a gmc that did not stop cleanly (a crash, kill -9) stopped within this
// after its last record.
const heartbeatEvery = 5 * time.Second

// maxOutages bounds the outages kept (the newest), besides retention
// (the longest of the raw data's and the tiers': what a chart can show).
const maxOutages = 1000

// runRecord is one run of gmc: Started when it began serving, Alive its
// newest heartbeat, Stopped when its shutdown began (nil while it runs,
// and after a crash).
type runRecord struct {
	Started time.Time  `json:"started"`
	Alive   time.Time  `json:"alive"`
	Stopped *time.Time `json:"stopped,omitempty"`
}

type outagesDoc struct {
	Run     *runRecord   `json:"run,omitempty"`
	Outages []api.Outage `json:"outages"`
}

// outageLog keeps outagesFile. Safe for concurrent use.
type outageLog struct {
	path      string
	retention time.Duration
	logger    *slog.Logger
	mu        sync.Mutex
	doc       outagesDoc
}

func newOutageLog(dir string, retention time.Duration, logger *slog.Logger) *outageLog {
	return &outageLog{path: filepath.Join(dir, outagesFile), retention: retention, logger: logger}
}

// begin reads the runs recorded before and records this one as started
// at now: the previous run's stop (its last heartbeat if it did not stop
// cleanly) until now is an outage. A missing file (a new data dir, or one
// from a gmc before this record) has none; an unreadable one is logged
// and started anew.
func (o *outageLog) begin(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, err := os.ReadFile(o.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		o.logger.Warn("read gmc's run record: its outages before this start are not known", "err", err)
	default:
		if err := json.Unmarshal(b, &o.doc); err != nil {
			o.logger.Warn("read gmc's run record: its outages before this start are not known", "err", err)
			o.doc = outagesDoc{}
		}
	}
	if prev := o.doc.Run; prev != nil {
		out := api.Outage{From: prev.Alive, Until: now, Clean: prev.Stopped != nil}
		if out.Clean {
			out.From = *prev.Stopped
		} else {
			out.StoppedWithinSeconds = heartbeatEvery.Seconds()
		}
		if out.Until.After(out.From) {
			o.doc.Outages = append(o.doc.Outages, out)
			o.logger.Info("gmc was down", "from", out.From, "until", out.Until, "clean_stop", out.Clean)
		}
	}
	o.doc.Outages = slices.DeleteFunc(o.doc.Outages, func(x api.Outage) bool { return now.Sub(x.Until) > o.retention })
	if n := len(o.doc.Outages); n > maxOutages {
		o.doc.Outages = slices.Clone(o.doc.Outages[n-maxOutages:])
	}
	o.doc.Run = &runRecord{Started: now, Alive: now}
	o.writeLocked()
}

// alive records a heartbeat at now.
func (o *outageLog) alive(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.doc.Run == nil || o.doc.Run.Stopped != nil {
		return
	}
	o.doc.Run.Alive = now
	o.writeLocked()
}

// stop records this run's stop at now (its shutdown began).
func (o *outageLog) stop(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.doc.Run == nil || o.doc.Run.Stopped != nil {
		return
	}
	o.doc.Run.Alive = now
	o.doc.Run.Stopped = &now
	o.writeLocked()
}

// run records heartbeats until done is closed, then the stop.
func (o *outageLog) run(done <-chan struct{}, now func() time.Time) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			o.stop(now())
			return
		case <-t.C:
			o.alive(now())
		}
	}
}

// Outages are the outages recorded, oldest first.
func (o *outageLog) Outages() []api.Outage {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.doc.Outages)
}

// writeLocked writes the record atomically (temp file, fsync, rename);
// an error is logged: gmc runs on without it.
func (o *outageLog) writeLocked() {
	if err := o.write(); err != nil {
		o.logger.Warn("write gmc's run record", "err", err)
	}
}

func (o *outageLog) write() error {
	b, err := json.Marshal(o.doc)
	if err != nil {
		return err
	}
	return atomicfile.Write(o.path, b, 0o644)
}
