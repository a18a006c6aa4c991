package storage

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

func TestTSDBKeepsCommittedSamplesAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	open := func() *TSDB {
		db, err := Open(Options{Dir: dir, Retention: time.Hour, OutOfOrderWindow: time.Hour, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := open()
	now := time.Now().UnixMilli()
	lset := labels.FromStrings("__name__", "orders_total", "service", "order-gateway")
	app := db.AppenderV2(context.Background())
	for i := range 3 {
		if _, err := app.Append(0, lset, 0, now+int64(i)*1000, float64(i+1), nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Out of order within the window is accepted (several senders, backfill).
	if _, err := app.Append(0, lset, 0, now-60_000, 0.5, nil, nil, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	// Files other parts keep in the data dir are not the store's bytes.
	if err := os.WriteFile(filepath.Join(dir, "not-the-store.json"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	if st.HeadSeries != 1 || st.HeadMaxTime != now+2000 || st.Dir != dir || st.BytesOnDisk == 0 || st.BytesOnDisk >= 1<<20 {
		t.Errorf("stats = %+v", st)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open()
	defer db.Close()
	q, err := db.Querier(now-120_000, now+10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "service", "order-gateway"))
	var got []float64
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			_, v := it.At()
			got = append(got, v)
		}
	}
	want := []float64{0.5, 1, 2, 3}
	if len(got) != len(want) {
		t.Fatalf("after reopen got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("after reopen got %v, want %v", got, want)
		}
	}
}

// Compaction merges blocks up to a tenth of the retention, at most 31 days,
// never below the head's block (tsdb's own default never merges past 2h).
func TestMaxBlockDuration(t *testing.T) {
	h := time.Hour.Milliseconds()
	for _, c := range []struct{ minBlock, retention, want int64 }{
		{2 * h, 15 * 24 * h, 36 * h},
		{2 * h, 10 * h, 2 * h},
		{2 * h, 2 * 365 * 24 * h, 31 * 24 * h},
		{120 * h, 90 * 24 * h, 216 * h},
	} {
		if got := maxBlockDuration(c.minBlock, c.retention); got != c.want {
			t.Errorf("maxBlockDuration(%dh, %dh) = %dh, want %dh", c.minBlock/h, c.retention/h, got/h, c.want/h)
		}
	}
}

// TestStartTimeHoldsOutOfOrderSamples: history written out of order, older
// than every in-order sample, is the TSDB's start (the tiers' first round
// begins there). The TSDB's own StartTime said the in-order head's oldest
// sample, and the tiers never aggregated the days before it.
func TestStartTimeHoldsOutOfOrderSamples(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), Retention: 15 * 24 * time.Hour, OutOfOrderWindow: 8 * 24 * time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UnixMilli()
	lset := labels.FromStrings("__name__", "orders_total", "service", "order-gateway")
	for _, ts := range []int64{now, now - 7*24*3600_000} {
		app := db.AppenderV2(context.Background())
		if _, err := app.Append(0, lset, 0, ts, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := db.StartTime(); err != nil || got != now-7*24*3600_000 {
		t.Errorf("StartTime() = %d, %v; want %d (the out-of-order sample, 7 days before the in-order one at %d)", got, err, now-7*24*3600_000, now)
	}
}

// TestHeadMmapAfterBurst: a burst of writes has its full chunks written to
// the chunk files within HeadMmapInterval, where the TSDB alone waits for
// its minute (its reads walk them as a list in memory until then).
func TestHeadMmapAfterBurst(t *testing.T) {
	for _, c := range []struct {
		name     string
		interval time.Duration
		want     func(mmapped float64) bool
	}{
		{"every 50ms", 50 * time.Millisecond, func(n float64) bool { return n >= 20 }},
		{"the TSDB's minute", -1, func(n float64) bool { return n == 0 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			st, err := Open(Options{Dir: t.TempDir(), Registerer: reg, HeadMmapInterval: c.interval})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			app := st.AppenderV2(context.Background())
			for s := range 10 {
				ls := labels.FromStrings("__name__", "burst", "s", strconv.Itoa(s))
				for i := range 400 { // three full chunks of 120 and an open one
					if _, err := app.Append(0, ls, 0, int64(i)*1000, float64(i), nil, nil, storage.AOptions{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			var n float64
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if n = mmappedChunks(t, reg); n >= 30 {
					break
				}
			}
			if !c.want(n) {
				t.Fatalf("%v chunks written to the chunk files within 2 s of the burst", n)
			}
		})
	}
}

// mmappedChunks is the TSDB's count of head chunks written to its chunk
// files (prometheus_tsdb_mmap_chunks_total).
func mmappedChunks(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "prometheus_tsdb_mmap_chunks_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no prometheus_tsdb_mmap_chunks_total")
	return 0
}

// TestHeadMmapWaitsForTheRunsFirstFile: until the TSDB has cut a chunk
// file of its own in this run, mmapHead does not write while a head
// compaction is due (mmapGate); once it has, it writes every interval.
func TestHeadMmapWaitsForTheRunsFirstFile(t *testing.T) {
	reg := prometheus.NewRegistry()
	st, err := Open(Options{Dir: t.TempDir(), Registerer: reg, HeadMmapInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.db.DisableCompactions() // the head stays compactable
	ls := labels.FromStrings("__name__", "burst")
	appendSpan := func(from, to int) {
		t.Helper()
		app := st.AppenderV2(context.Background())
		for sec := from; sec < to; sec += 15 {
			if _, err := app.Append(0, ls, 0, int64(sec)*1000, float64(sec), nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	appendSpan(0, 4*3600) // 4 h: 960 samples, 8 chunks, a compaction due
	time.Sleep(300 * time.Millisecond)
	if n := mmappedChunks(t, reg); n != 0 {
		t.Fatalf("%v chunks written while a head compaction was due and the run had no chunk file", n)
	}
	st.db.ForceHeadMMap() // the TSDB's minute: the run's first file
	before := mmappedChunks(t, reg)
	if before == 0 {
		t.Fatal("the TSDB's own m-map wrote no chunk")
	}
	appendSpan(4*3600, 5*3600) // two more full chunks
	var n float64
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n = mmappedChunks(t, reg); n > before {
			break
		}
	}
	if n <= before {
		t.Fatalf("mmapHead wrote nothing within 2 s after the run's first file (%v chunks)", n)
	}
}

// TestHeadMmapGateOutOfOrder: with out-of-order samples in the head and no
// chunk file of the run, mmapGate keeps mmapHead from writing (their
// compaction truncates the chunk files); without, it lets it.
func TestHeadMmapGateOutOfOrder(t *testing.T) {
	st, err := Open(Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry(), OutOfOrderWindow: time.Hour, HeadMmapInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g := newMmapGate(st.db, st.dir, 2*time.Hour.Milliseconds())
	ls := labels.FromStrings("__name__", "late")
	put := func(ms int64) {
		t.Helper()
		app := st.AppenderV2(context.Background())
		if _, err := app.Append(0, ls, 0, ms, 1, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if !g.open() {
		t.Fatal("closed on an empty head")
	}
	put(600_000)
	if !g.open() {
		t.Fatal("closed on an in-order head of one sample")
	}
	put(300_000) // out of order
	if g.open() {
		t.Fatal("open with an out-of-order sample in the head and no chunk file of the run")
	}
}
