package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/prometheus/prometheus/util/compression"
)

// prepareLogs makes the write-ahead log (wal/) and the out-of-order log
// (wbl/) in dir safe to open after a crash, before tsdb.Open reads them:
//
//   - A segment repair the TSDB began at an earlier start and a SIGKILL cut
//     off leaves NNNNNNNN.repair (the whole original segment) next to a
//     partial copy NNNNNNNN that ends cleanly: the next start would take the
//     copy and silently lose the acknowledged records past it, and a later
//     repair would rename over the original. The original goes back in place
//     (its torn tail is repaired below).
//   - A torn last record (a SIGKILL between two writes of one record) makes
//     tsdb.Open repair the log; but when it repairs the WAL it returns from
//     replay before reading the out-of-order log, so the out-of-order samples
//     acknowledged before the crash are missing from the head, and the next
//     out-of-order compaction deletes the log segments holding them. The torn
//     tail of the last written segment of each log is repaired here, with the
//     TSDB's own repair, so that tsdb.Open replays both logs whole.
//
// Corruption inside older segments (a disk fault, not a crash) is left to
// tsdb.Open's repair.
func prepareLogs(dir string, logger *slog.Logger) error {
	for _, sub := range []string{"wal", wlog.WblDirName} {
		d := filepath.Join(dir, sub)
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := restoreCutRepairs(d, logger); err != nil {
			return err
		}
		if err := repairTornTail(d, logger); err != nil {
			return err
		}
	}
	return nil
}

// restoreCutRepairs puts every NNNNNNNN.repair in d back as segment NNNNNNNN.
func restoreCutRepairs(d string, logger *slog.Logger) error {
	ents, err := os.ReadDir(d)
	if err != nil {
		return fmt.Errorf("list %s: %w", d, err)
	}
	for _, e := range ents {
		seg, ok := strings.CutSuffix(e.Name(), ".repair")
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(seg); err != nil {
			continue
		}
		logger.Warn("a log segment repair was cut off by a crash; restoring the original segment to repair it again", "dir", d, "segment", seg)
		if err := os.Rename(filepath.Join(d, e.Name()), filepath.Join(d, seg)); err != nil {
			return fmt.Errorf("restore %s: %w", filepath.Join(d, e.Name()), err)
		}
	}
	return nil
}

// repairTornTail reads the last non-empty segment of the log in d and, when
// its records do not end cleanly, repairs it as tsdb.Open would (the records
// before the damage stay; empty segments after it go).
func repairTornTail(d string, logger *slog.Logger) error {
	first, last, err := wlog.Segments(d)
	if err != nil {
		return fmt.Errorf("list segments of %s: %w", d, err)
	}
	for i := last; i >= first && i >= 0; i-- {
		fi, err := os.Stat(wlog.SegmentName(d, i))
		if err != nil {
			return fmt.Errorf("log segment: %w", err)
		}
		if fi.Size() == 0 {
			continue
		}
		cerr, err := segmentError(d, i)
		if err != nil || cerr == nil {
			return err
		}
		logger.Warn("the last log segment ends in a torn record (a crash while writing it); repairing it before the TSDB opens", "dir", d, "segment", i, "err", cerr)
		w, err := wlog.NewSize(logger, nil, d, wlog.DefaultSegmentSize, compression.None)
		if err != nil {
			return fmt.Errorf("open %s to repair it: %w", d, err)
		}
		if err := w.Repair(cerr); err != nil {
			w.Close()
			return fmt.Errorf("repair %s: %w", d, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("close %s after repairing it: %w", d, err)
		}
		return nil
	}
	return nil
}

// segmentError reads every record of segment i of the log in d and returns
// the corruption the reader reports, or nil when the records end cleanly.
func segmentError(d string, i int) (*wlog.CorruptionErr, error) {
	s, err := wlog.OpenReadSegment(wlog.SegmentName(d, i))
	if err != nil {
		return nil, fmt.Errorf("open log segment: %w", err)
	}
	sr := wlog.NewSegmentBufReader(s)
	defer sr.Close()
	r := wlog.NewReader(sr)
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		var cerr *wlog.CorruptionErr
		if errors.As(err, &cerr) {
			return cerr, nil
		}
		return nil, fmt.Errorf("read %s: %w", wlog.SegmentName(d, i), err)
	}
	return nil, nil
}
