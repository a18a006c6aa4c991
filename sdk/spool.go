package sdk

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// spoolExt names the files of a spool: one remote-write request (snappy
// compressed protobuf, exactly as sent) per file, named by its sequence
// number in hex so that lexical order is sending order.
const spoolExt = ".rw"

// spool is a bounded FIFO of encoded requests waiting for gmc. With a
// directory, every request is a file written atomically (temp file, fsync,
// rename), so the spool survives a restart of the process; without one it
// lives in memory. When adding a request would exceed maxBytes, the oldest
// requests are dropped, logged and counted.
//
// A spool is not safe for concurrent use; the queue guards it.
type spool struct {
	dir      string
	maxBytes int64
	entries  []spoolEntry // oldest first
	bytes    int64
	logger   *slog.Logger
	m        *spoolMetrics
}

type spoolEntry struct {
	seq  uint64
	size int64
	body []byte // in memory mode only
}

// spoolMetrics are the spool's own metrics.
type spoolMetrics struct {
	dropped  prometheus.Counter
	requests prometheus.Gauge
	bytes    prometheus.Gauge
}

// openSpool opens (creating it) the spool directory and loads the requests a
// previous process left there. An empty dir gives an in-memory spool.
func openSpool(dir string, maxBytes int64, logger *slog.Logger, m *spoolMetrics) (*spool, error) {
	s := &spool{dir: dir, maxBytes: maxBytes, logger: logger, m: m}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read spool directory: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".tmp") {
			// An append that did not reach its rename: never acknowledged as spooled.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("remove partial spool file: %w", err)
			}
			continue
		}
		if !strings.HasSuffix(name, spoolExt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, spoolExt), 16, 64)
		if err != nil {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("stat spool file: %w", err)
		}
		s.entries = append(s.entries, spoolEntry{seq: seq, size: info.Size()})
		s.bytes += info.Size()
	}
	slices.SortFunc(s.entries, func(a, b spoolEntry) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	s.updateGauges()
	return s, nil
}

// lastSeq is the sequence number of the newest request, 0 when empty.
func (s *spool) lastSeq() uint64 {
	if len(s.entries) == 0 {
		return 0
	}
	return s.entries[len(s.entries)-1].seq
}

func (s *spool) len() int { return len(s.entries) }

// add appends a request, dropping the oldest ones when it would not fit.
func (s *spool) add(seq uint64, body []byte) error {
	size := int64(len(body))
	if size > s.maxBytes {
		s.drop(1, size, "request larger than the whole spool")
		return nil
	}
	var n int
	var freed int64
	for len(s.entries) > 0 && s.bytes+size > s.maxBytes {
		e := s.entries[0]
		if err := s.removeFile(e.seq); err != nil {
			return err
		}
		s.entries = s.entries[1:]
		s.bytes -= e.size
		n++
		freed += e.size
	}
	if n > 0 {
		s.drop(n, freed, "spool full, dropped the oldest requests")
	}
	e := spoolEntry{seq: seq, size: size}
	if s.dir == "" {
		e.body = body
	} else if err := s.writeFile(seq, body); err != nil {
		return err
	}
	s.entries = append(s.entries, e)
	s.bytes += size
	s.updateGauges()
	return nil
}

func (s *spool) drop(n int, bytes int64, why string) {
	s.m.dropped.Add(float64(n))
	s.logger.Warn("samples lost: "+why, "dropped_requests", n, "dropped_bytes", bytes, "spool_max_bytes", s.maxBytes)
}

// head returns the oldest request.
func (s *spool) head() (uint64, []byte, bool, error) {
	if len(s.entries) == 0 {
		return 0, nil, false, nil
	}
	e := s.entries[0]
	if s.dir == "" {
		return e.seq, e.body, true, nil
	}
	body, err := os.ReadFile(s.path(e.seq))
	if err != nil {
		return e.seq, nil, true, fmt.Errorf("read spooled request: %w", err)
	}
	return e.seq, body, true, nil
}

// remove deletes the request seq if it is still spooled.
func (s *spool) remove(seq uint64) error {
	i := slices.IndexFunc(s.entries, func(e spoolEntry) bool { return e.seq == seq })
	if i < 0 {
		return nil
	}
	if err := s.removeFile(seq); err != nil {
		return err
	}
	s.bytes -= s.entries[i].size
	s.entries = slices.Delete(s.entries, i, i+1)
	s.updateGauges()
	return nil
}

func (s *spool) updateGauges() {
	s.m.requests.Set(float64(len(s.entries)))
	s.m.bytes.Set(float64(s.bytes))
}

func (s *spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", seq, spoolExt))
}

func (s *spool) removeFile(seq uint64) error {
	if s.dir == "" {
		return nil
	}
	if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove spooled request: %w", err)
	}
	return nil
}

// writeFile writes body durably: temp file, fsync, rename.
func (s *spool) writeFile(seq uint64, body []byte) (err error) {
	final := s.path(seq)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create spool file: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(body); err != nil {
		f.Close()
		return fmt.Errorf("write spool file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync spool file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close spool file: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("rename spool file: %w", err)
	}
	return syncDir(s.dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open spool directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync spool directory: %w", err)
	}
	return d.Close()
}
