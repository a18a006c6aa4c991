package storage

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// TestDeleteBesideQueriers: the TSDB's Block.Delete replaces a block's
// tombstones and writes its meta and sizes while a querier being opened
// reads them without the block's lock (Block.Tombstones, Meta, Size;
// v0.316.0). Deletes (retention) beside queriers being opened and Stats
// must not race: run with -race, it fails without Delete's lock (CI does
// not run -race; without it the test checks only that nothing fails).
func TestDeleteBesideQueriers(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), Retention: 30 * 24 * time.Hour, MinBlockDuration: time.Hour,
		Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	const base = 1_800_000_000_000
	app := db.AppenderV2(ctx)
	for i := range 20 {
		lset := labels.FromStrings("__name__", "del_total", "i", fmt.Sprint(i))
		for ts := int64(0); ts < 5*3_600_000; ts += 60_000 {
			if _, err := app.Append(0, lset, 0, base+ts, float64(ts), nil, nil, storage.AOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Blocks == 0 {
		t.Fatalf("no block written: %+v", st)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			if err := db.Delete(ctx, base, base+int64(i+1)*60_000, labels.MustNewMatcher(labels.MatchEqual, "i", fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for range 200 {
			cq, err := db.ChunkQuerier(base, base+5*3_600_000)
			if err != nil {
				t.Error(err)
				return
			}
			cq.Close()
			q, err := db.Querier(base, base+5*3_600_000)
			if err != nil {
				t.Error(err)
				return
			}
			q.Close()
			db.Stats()
		}
	})
	wg.Wait()
}
