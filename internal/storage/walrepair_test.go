package storage

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// TestCrashDuringLogWriteOrRepair opens copies of a store "crashed" (copied
// while open, as TestOutOfOrderSurvivesRepeatedCrashes does) in the states a
// SIGKILL leaves the write-ahead logs in, and checks that every committed
// sample, in order and out of order, is there after the restart:
//   - torn WAL: the last WAL record's write cut short. tsdb.Open repairs the
//     WAL itself, but then returns from replay before reading the
//     out-of-order log: its samples were missing until gmc repaired the tail
//     before opening.
//   - torn WBL: the same in the out-of-order log.
//   - cut repair: a start that was repairing the torn WAL was killed after
//     moving the segment aside (NNNNNNNN.repair) and before copying it back:
//     the next start read an empty segment and lost every sample in it.
func TestCrashDuringLogWriteOrRepair(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"torn WAL", func(t *testing.T, dir string) { tearLastRecord(t, filepath.Join(dir, "wal")) }},
		{"torn WBL", func(t *testing.T, dir string) { tearLastRecord(t, filepath.Join(dir, wlog.WblDirName)) }},
		{"cut repair", func(t *testing.T, dir string) {
			d := filepath.Join(dir, "wal")
			seg := tearLastRecord(t, d)
			if err := os.Rename(seg, seg+".repair"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := time.Now().Add(-10 * time.Minute).UnixMilli()
			open := func(dir string) *TSDB {
				t.Helper()
				db, err := Open(Options{Dir: dir, Retention: 24 * time.Hour, OutOfOrderWindow: time.Hour, Registerer: prometheus.NewRegistry()})
				if err != nil {
					t.Fatalf("open %s: %v", dir, err)
				}
				return db
			}
			dir := filepath.Join(t.TempDir(), "live")
			db := open(dir)
			committed := map[[2]int64]float64{}
			for n := range 90 {
				app := db.AppenderV2(context.Background())
				for i := range 100 {
					ts := base + int64(n)*1000
					if n%3 == 2 {
						ts = base - int64(n)*1000 // out of order
					}
					v := float64(n) + float64(i)/1024
					if _, err := app.Append(0, labels.FromStrings("__name__", "torn_test", "series", strconv.Itoa(i)), 0, ts, v, nil, nil, storage.AOptions{}); err != nil {
						t.Fatal(err)
					}
					committed[[2]int64{int64(i), ts}] = v
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			crashed := filepath.Join(filepath.Dir(dir), "crashed")
			copyDir(t, dir, crashed)
			db.Close()
			tc.damage(t, crashed)

			db = open(crashed)
			defer db.Close()
			q, err := db.Querier(base-time.Hour.Milliseconds(), base+time.Hour.Milliseconds())
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			got := map[[2]int64]float64{}
			ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "torn_test"))
			for ss.Next() {
				i, _ := strconv.Atoi(ss.At().Labels().Get("series"))
				it := ss.At().Iterator(nil)
				for it.Next() != 0 {
					ts, v := it.At()
					got[[2]int64{int64(i), ts}] = v
				}
			}
			if err := ss.Err(); err != nil {
				t.Fatal(err)
			}
			lost, ooo := 0, 0
			for k, v := range committed {
				if g, ok := got[k]; !ok || g != v {
					lost++
					if k[1] < base {
						ooo++
					}
				}
			}
			if lost > 0 {
				t.Fatalf("%d of %d committed samples lost (%d of them out of order)", lost, len(committed), ooo)
			}
		})
	}
}

// tearLastRecord appends to the last non-empty segment of the log in d the
// start of a record whose write a SIGKILL cut short (header and 50 of its 200
// bytes), and returns the segment's path. The reader pads a short segment
// with zeros to its page's end, so the record fails its checksum, as in the
// e2e test's crashes ("unexpected checksum").
func tearLastRecord(t *testing.T, d string) string {
	t.Helper()
	first, last, err := wlog.Segments(d)
	if err != nil {
		t.Fatal(err)
	}
	for i := last; i >= first; i-- {
		path := wlog.SegmentName(d, i)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == 0 {
			continue
		}
		data := make([]byte, 200)
		for j := range data {
			data[j] = byte(j%250 + 1)
		}
		rec := make([]byte, 7, 7+len(data))
		rec[0] = 1 // a full record
		binary.BigEndian.PutUint16(rec[1:], uint16(len(data)))
		binary.BigEndian.PutUint32(rec[3:], crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
		rec = append(rec, data[:50]...) // the write cut short: the reader pads the page with zeros
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Fatalf("no segment with records in %s", d)
	return ""
}
