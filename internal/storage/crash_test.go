package storage

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunks"
)

// TestOutOfOrderSurvivesRepeatedCrashes writes in-order and out-of-order
// samples, "crashes" by copying the data dir as it is on disk while the store
// is open (what SIGKILL leaves: every write(2) made, nothing buffered in the
// process), goes on in the copy, and after every restart checks every sample
// committed in any round so far.
//
// The TSDB writes m-mapped head chunks through a buffer, and the out-of-order
// log records "this series' chunk is at ref R" markers. A crash loses the
// buffered chunks while the markers stay; a later restart that finds any
// chunk file past R (here: out-of-order chunks re-written while replaying,
// partly flushed before the next crash) trusts the stale markers and drops
// the replayed samples they cover. The head chunk write buffer is set to its
// minimum, so the flushes the real 4 MiB buffer does under heavy load happen
// at test sizes.
func TestOutOfOrderSurvivesRepeatedCrashes(t *testing.T) {
	const (
		series   = 200
		perRound = 150 // samples per series and round, one in three out of order
		rounds   = 8
	)
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	type key = sampleKey
	committed := map[key]float64{}
	open := func(dir string) *TSDB {
		t.Helper()
		db, err := Open(Options{
			Dir: dir, Retention: 24 * time.Hour, OutOfOrderWindow: time.Hour,
			Registerer: prometheus.NewRegistry(), headChunksWriteBufferSize: chunks.MinWriteBufferSize,
		})
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		return db
	}
	check := func(db *TSDB, round int) {
		t.Helper()
		q, err := db.Querier(base-time.Hour.Milliseconds(), base+time.Hour.Milliseconds())
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		got := readSamples(t, q, "crash_test")
		lost, ooo := 0, 0
		for k, v := range committed {
			if g, ok := got[k]; !ok || g != v {
				lost++
				if k.t < base {
					ooo++
				}
			}
		}
		if lost > 0 {
			t.Fatalf("after restart %d: %d of %d committed samples lost (%d of them out of order)", round, lost, len(committed), ooo)
		}
		t.Logf("after restart %d: all %d committed samples present", round, len(committed))
	}

	dir := filepath.Join(t.TempDir(), "r0")
	db := open(dir)
	ctx := context.Background()
	for round := range rounds {
		for j := range perRound {
			n := round*perRound + j
			app := db.AppenderV2(ctx)
			for i := range series {
				ts := base + int64(n)*1000
				if n%3 == 2 {
					ts = base - int64(n)*1000 // out of order: going back from base
				}
				lset := labels.FromStrings("__name__", "crash_test", "series", strconv.Itoa(i))
				v := float64(n) + float64(i)/1024
				if _, err := app.Append(0, lset, 0, ts, v, nil, nil, storage.AOptions{}); err != nil {
					t.Fatalf("round %d append: %v", round, err)
				}
				committed[key{i, ts}] = v
			}
			if err := app.Commit(); err != nil {
				t.Fatalf("round %d commit: %v", round, err)
			}
		}
		// Crash: the next process sees the files as they are now.
		next := filepath.Join(filepath.Dir(dir), "r"+strconv.Itoa(round+1))
		copyDir(t, dir, next)
		db.Close() // the old dir is abandoned; its clean close does not count
		dir = next
		db = open(dir)
		check(db, round+1)
	}
	db.Close()
}

// copyDir copies the regular files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() || d.Name() == "lock" {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// sampleKey is one sample's place: the test series' number and time.
type sampleKey struct {
	series int
	t      int64
}

// readSamples reads every sample of the metric name from q, keyed by the
// series label's number and time.
func readSamples(t *testing.T, q storage.Querier, name string) map[sampleKey]float64 {
	t.Helper()
	got := map[sampleKey]float64{}
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	for ss.Next() {
		i, _ := strconv.Atoi(ss.At().Labels().Get("series"))
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			got[sampleKey{i, ts}] = v
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
