package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/prometheus/prometheus/util/compression"
)

// prepareLogs makes the write-ahead log (wal/) and the out-of-order log
// (wbl/) in dir safe to open after a crash or a disk fault, before tsdb.Open
// reads them:
//
//   - A segment repair the TSDB began at an earlier start and a SIGKILL cut
//     off leaves NNNNNNNN.repair (the whole original segment) next to a
//     partial copy NNNNNNNN that ends cleanly: the next start would take the
//     copy and silently lose the acknowledged records past it, and a later
//     repair would rename over the original. The original goes back in place
//     (and is checked below).
//   - A corrupt record anywhere in a log — a torn last record (a SIGKILL
//     between two writes of one record) or a damaged one in an older segment
//     (a disk fault) — makes tsdb.Open repair the log; but when it repairs
//     the WAL it returns from replay before reading the out-of-order log, so
//     the out-of-order samples acknowledged before the start are missing from
//     the head, and the next out-of-order compaction deletes the log segments
//     holding them. Every segment tsdb.Open would replay is read here first,
//     and the first corruption is repaired with the TSDB's own repair, so
//     that tsdb.Open replays both logs whole. The repair drops what follows
//     the corruption in that log, as tsdb.Open's would; of a WAL, the series
//     records in the dropped segments are written back after the repair, so
//     the out-of-order samples and m-mapped chunks of series created after
//     the corruption still find their series.
//
// The cost is one more read of the logs at start: see BenchmarkPrepareLogs.
func prepareLogs(dir string, logger *slog.Logger) error {
	for _, sub := range []string{"wal", wlog.WblDirName} {
		d := filepath.Join(dir, sub)
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := restoreCutRepairs(d, logger); err != nil {
			return err
		}
		if err := repairCorruption(d, sub == "wal", logger); err != nil {
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

// repairCorruption reads every record of the segments of the log in d that
// tsdb.Open replays (of a WAL, those after its last checkpoint) and repairs
// the log at the first corruption, as tsdb.Open would: the records before it
// stay, the rest of its segment and every later segment go. With
// keepSeries (a WAL), the series records of the later segments are written
// back after the repair.
func repairCorruption(d string, keepSeries bool, logger *slog.Logger) error {
	start := time.Now()
	first, last, err := wlog.Segments(d)
	if err != nil {
		return fmt.Errorf("list segments of %s: %w", d, err)
	}
	if last < 0 {
		return nil
	}
	if keepSeries {
		// Segments up to the checkpoint are not replayed (a crash between
		// writing the checkpoint and truncating may leave them).
		if _, cp, err := wlog.LastCheckpoint(d); err == nil {
			first = max(first, cp+1)
		} else if !errors.Is(err, record.ErrNotFound) {
			return fmt.Errorf("find the checkpoint of %s: %w", d, err)
		}
	}
	var read int64
	for i := first; i <= last; i++ {
		cerr, err := segmentError(d, i)
		if err != nil {
			return err
		}
		if cerr == nil {
			if fi, err := os.Stat(wlog.SegmentName(d, i)); err == nil {
				read += fi.Size()
			}
			continue
		}
		dropped, err := droppedBytes(d, cerr, last)
		if err != nil {
			return err
		}
		var series [][]byte
		if keepSeries {
			series = seriesRecords(d, i+1, last)
		}
		logger.Warn("a log segment holds a corrupt record (a crash while writing it, or a disk fault); repairing the log before the TSDB opens: the records after it are dropped",
			"dir", d, "segment", i, "offset", cerr.Offset, "err", cerr.Err,
			"dropped_bytes", dropped, "dropped_segments", last-i, "last_segment", last,
			"series_records_kept", len(series))
		w, err := wlog.NewSize(logger, nil, d, wlog.DefaultSegmentSize, compression.None)
		if err != nil {
			return fmt.Errorf("open %s to repair it: %w", d, err)
		}
		if err := w.Repair(cerr); err != nil {
			w.Close()
			return fmt.Errorf("repair %s: %w", d, err)
		}
		if len(series) > 0 {
			if err := w.Log(series...); err != nil {
				w.Close()
				return fmt.Errorf("write back the series records of %s: %w", d, err)
			}
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("close %s after repairing it: %w", d, err)
		}
		return nil
	}
	logger.Debug("log segments read before opening the TSDB: no corruption", "dir", d, "segments", last-first+1, "bytes", read, "duration", time.Since(start))
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

// droppedBytes is what a repair at cerr removes from the log in d: the rest
// of the corrupt segment and the segments after it, up to last.
func droppedBytes(d string, cerr *wlog.CorruptionErr, last int) (int64, error) {
	var n int64
	for i := cerr.Segment; i <= last; i++ {
		fi, err := os.Stat(wlog.SegmentName(d, i))
		if err != nil {
			return 0, fmt.Errorf("log segment: %w", err)
		}
		n += fi.Size()
	}
	return n - cerr.Offset, nil
}

// seriesRecords returns copies of the series records in segments from..to of
// the log in d, read up to the first error of each segment (no record spans
// two segments).
func seriesRecords(d string, from, to int) [][]byte {
	var recs [][]byte
	for i := from; i <= to; i++ {
		s, err := wlog.OpenReadSegment(wlog.SegmentName(d, i))
		if err != nil {
			continue
		}
		sr := wlog.NewSegmentBufReader(s)
		r := wlog.NewReader(sr)
		for r.Next() {
			if rec := r.Record(); len(rec) > 0 && record.Type(rec[0]) == record.Series {
				recs = append(recs, bytes.Clone(rec))
			}
		}
		sr.Close()
	}
	return recs
}
