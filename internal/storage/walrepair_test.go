package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/prometheus/prometheus/util/compression"
	"golang.org/x/sys/unix"
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

// TestMidWALCorruptionKeepsOutOfOrder damages one record in a middle WAL
// segment (a disk fault, not a crash: every byte around it is intact) and
// checks what a restart keeps. tsdb.Open alone repairs the WAL (dropping
// what follows the bad record) and then returns from replay without reading
// the out-of-order log, so every out-of-order sample not yet compacted is
// missing, and the next out-of-order compaction deletes the segments that
// hold them. gmc finds the corruption before tsdb.Open and repairs it the
// same way, so the out-of-order log is replayed whole: every out-of-order
// sample is kept, those of series created after the bad record too (their
// series records are written back after the repair).
//
// The in-order WAL loses what Prometheus loses: the in-order samples written
// after the bad record that were not yet in an m-mapped head chunk file (the
// chunk each series was filling; for a series created after the damage with
// fewer than a chunk's 120 samples, all of them), and whatever else those
// records held (exemplars, metadata, deletions). In-order samples after the
// damage already in m-mapped chunks are kept, by both.
func TestMidWALCorruptionKeepsOutOfOrder(t *testing.T) {
	const (
		oldSeries  = 100
		lateSeries = 50
		segSize    = 128 << 10
	)
	type key = sampleKey
	type sample struct {
		v     float64
		ooo   bool
		phase int // 1: before the damaged segment, 2: in and around it, 3: late series exist
	}
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	opts := func(dir string) Options {
		return Options{Dir: dir, Retention: 24 * time.Hour, OutOfOrderWindow: time.Hour,
			Registerer: prometheus.NewRegistry(), walSegmentSize: segSize}
	}
	dir := filepath.Join(t.TempDir(), "live")
	db, err := Open(opts(dir))
	if err != nil {
		t.Fatal(err)
	}
	walDir := filepath.Join(dir, "wal")
	lastSegment := func() int {
		t.Helper()
		_, last, err := wlog.Segments(walDir)
		if err != nil {
			t.Fatal(err)
		}
		return last
	}
	committed := map[key]sample{}
	n := 0
	round := func(series, phase int) {
		t.Helper()
		app := db.AppenderV2(context.Background())
		ooo := n%3 == 2
		ts := base + int64(n)*1000
		if ooo {
			ts = base - int64(n)*1000
		}
		for i := range series {
			v := float64(n) + float64(i)/1024
			if _, err := app.Append(0, labels.FromStrings("__name__", "corrupt_test", "series", strconv.Itoa(i)), 0, ts, v, nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
			committed[key{i, ts}] = sample{v, ooo, phase}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for lastSegment() < 1 {
		round(oldSeries, 1)
	}
	damaged := lastSegment() + 1
	for lastSegment() < damaged+2 {
		round(oldSeries, 2)
	}
	for lastSegment() < damaged+4 {
		round(oldSeries+lateSeries, 3)
	}
	if n >= 3600 {
		t.Fatalf("%d rounds: the earliest out-of-order samples left the 1h window", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	flipMiddleRecord(t, wlog.SegmentName(walDir, damaged))
	t.Logf("%d rounds, %d samples (%d series); WAL segments 0..%d, a record in the middle of segment %d damaged", n, len(committed), oldSeries+lateSeries, lastSegment(), damaged)

	// losses counts the committed samples a store lacks: out of order and in
	// order, by phase, and of them those of the late series.
	type losses struct {
		ooo, inOrder         [4]int
		lateOOO, lateInOrder int
	}
	lost := func(q storage.Querier) (l losses) {
		t.Helper()
		defer q.Close()
		got := readSamples(t, q, "corrupt_test")
		for k, s := range committed {
			if g, ok := got[k]; ok && g == s.v {
				continue
			}
			late := k.series >= oldSeries
			switch {
			case s.ooo:
				l.ooo[s.phase]++
				if late {
					l.lateOOO++
				}
			default:
				l.inOrder[s.phase]++
				if late {
					l.lateInOrder++
				}
			}
		}
		return l
	}
	total := func(c [4]int) int { return c[1] + c[2] + c[3] }
	report := func(who string, l losses) {
		t.Logf("%s lost %d out-of-order samples (by phase %v; %d of the late series) and %d in order (by phase %v; %d of the late series)",
			who, total(l.ooo), l.ooo[1:], l.lateOOO, total(l.inOrder), l.inOrder[1:], l.lateInOrder)
	}

	// Prometheus: tsdb.Open on a copy of the damaged store.
	promDir := filepath.Join(filepath.Dir(dir), "prometheus")
	copyDir(t, dir, promDir)
	to := tsdb.DefaultOptions()
	to.OutOfOrderTimeWindow = time.Hour.Milliseconds()
	to.WALSegmentSize = segSize
	pdb, err := tsdb.Open(promDir, nil, prometheus.NewRegistry(), to, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := pdb.Querier(base-time.Hour.Milliseconds(), base+time.Hour.Milliseconds())
	if err != nil {
		t.Fatal(err)
	}
	p := lost(q)
	pdb.Close()
	report("tsdb.Open alone", p)
	if total(p.ooo) == 0 {
		t.Fatal("tsdb.Open alone lost no out-of-order sample: the damage no longer takes its repair path, and this test no longer shows anything")
	}

	var logged bytes.Buffer
	o := opts(dir)
	o.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	db, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if want := fmt.Sprintf("segment=%d", damaged); !strings.Contains(logged.String(), want) || !strings.Contains(logged.String(), "dropped_segments=4") {
		t.Errorf("the repair's log does not say %s and dropped_segments=4:\n%s", want, logged.String())
	}
	for line := range strings.Lines(logged.String()) {
		if strings.Contains(line, "corrupt record") {
			t.Log(strings.TrimSpace(line))
		}
	}
	q, err = db.Querier(base-time.Hour.Milliseconds(), base+time.Hour.Milliseconds())
	if err != nil {
		t.Fatal(err)
	}
	g := lost(q)
	report("gmc", g)
	if total(g.ooo) > 0 {
		t.Errorf("%d out-of-order samples lost (by phase %v; %d of series created after the damage), though the out-of-order log holds them whole", total(g.ooo), g.ooo[1:], g.lateOOO)
	}
	if g.inOrder[1] > 0 {
		t.Errorf("%d in-order samples written before the damaged segment lost", g.inOrder[1])
	}
	if total(g.inOrder) == 0 {
		t.Error("no in-order sample lost: the damaged WAL record was not repaired")
	}
}

// flipMiddleRecord inverts a byte of the record in the middle of the log
// segment at path, so it fails its checksum.
func flipMiddleRecord(t *testing.T, path string) {
	t.Helper()
	s, err := wlog.OpenReadSegment(path)
	if err != nil {
		t.Fatal(err)
	}
	sr := wlog.NewSegmentBufReader(s)
	r := wlog.NewReader(sr)
	var ends []int64
	for r.Next() {
		ends = append(ends, r.Offset())
	}
	sr.Close()
	if err := r.Err(); err != nil || len(ends) < 3 {
		t.Fatalf("segment %s: %d records, err %v", path, len(ends), err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[ends[len(ends)/2]-3] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPrepareLogs is the start-up cost of reading every WAL segment
// before tsdb.Open: a WAL of GMC_BENCH_WAL_MB MiB (default 256) of sample
// records, 10,000 series, read from the page cache (warm) and with the
// segments' cached pages dropped before each read (cold: what a start after
// a reboot pays, on this machine's disk).
func BenchmarkPrepareLogs(b *testing.B) {
	mb := 256
	if s := os.Getenv("GMC_BENCH_WAL_MB"); s != "" {
		var err error
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("GMC_BENCH_WAL_MB=%q", s)
		}
	}
	dir := b.TempDir()
	walDir := filepath.Join(dir, "wal")
	w, err := wlog.New(nil, nil, walDir, compression.None)
	if err != nil {
		b.Fatal(err)
	}
	var enc record.Encoder
	const nSeries = 10_000
	series := make([]record.RefSeries, nSeries)
	for i := range series {
		series[i] = record.RefSeries{Ref: chunks.HeadSeriesRef(i + 1), Labels: labels.FromStrings("__name__", "bench_wal", "series", strconv.Itoa(i))}
	}
	if err := w.Log(enc.Series(series, nil)); err != nil {
		b.Fatal(err)
	}
	samples := make([]record.RefSample, 1000)
	var buf []byte
	for ts := int64(0); ; ts += 1000 {
		if size, err := w.Size(); err != nil {
			b.Fatal(err)
		} else if size >= int64(mb)<<20 {
			break
		}
		for j := range samples {
			samples[j] = record.RefSample{Ref: chunks.HeadSeriesRef(1 + (int(ts/1000)*len(samples)+j)%nSeries), T: ts, V: float64(ts%997) * 1.5}
		}
		buf = enc.Samples(samples, buf[:0])
		if err := w.Log(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	size := dirSize(walDir)
	dropCache := func() {
		ents, err := os.ReadDir(walDir)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range ents {
			f, err := os.Open(filepath.Join(walDir, e.Name()))
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if cold {
					b.StopTimer()
					dropCache()
					b.StartTimer()
				}
				if err := prepareLogs(dir, slog.New(slog.DiscardHandler)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// For scale: tsdb.Open's replay of the same WAL (page cache warm). Run
	// it once (-benchtime 1x): it writes head chunks, and a second replay
	// skips the samples they hold.
	b.Run("tsdb.Open", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}
