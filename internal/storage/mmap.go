package storage

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/tsdb"
)

// mmapHead writes the head's full chunks to its chunk files every interval
// (DefaultHeadMmapInterval) until Close, while g lets it.
func (s *TSDB) mmapHead(interval time.Duration, g *mmapGate) {
	defer close(s.mmapDone)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopMmap:
			return
		case <-tick.C:
			if g.open() {
				s.db.ForceHeadMMap()
			}
		}
	}
}

// mmapGate says when mmapHead may write the head's chunks beside the TSDB.
//
// The TSDB (v0.316.0) writes them, and truncates its chunk files after a
// compaction, on one goroutine; mmapHead is a second writer. One race
// between the two is read from the code: when Truncate finds no chunk file
// of the current run (a fresh directory, or one whose older files it all
// deletes) it sets the writer's file sequence back to 0, and if the run's
// first file is cut between its look and that reset, the next file the
// writer cuts has another number than it expects, and the TSDB panics
// ("expected newly cut file to have sequence"; a panic in the m-map
// goroutine ended internal/rules in CI, its message cut from the output).
// Once the run has a file of its own, Truncate keeps the newest and the
// race is gone. Until then, mmapHead writes only while no truncation can
// be near: none in process, no head compaction due (the head spans at
// most 1.5 blocks, the TSDB's own test) and no out-of-order head to
// compact. The TSDB's own minute cuts the run's first file otherwise.
type mmapGate struct {
	db *tsdb.DB
	// chunks is the head's chunk directory; atOpen the newest file's
	// number in it when the TSDB was opened, cut the run has a newer one.
	chunks string
	atOpen int
	cut    bool
	// blockMs is the head block's length (the TSDB's MinBlockDuration).
	blockMs int64
}

func newMmapGate(db *tsdb.DB, dir string, blockMs int64) *mmapGate {
	chunks := filepath.Join(dir, "chunks_head")
	return &mmapGate{db: db, chunks: chunks, atOpen: newestChunkFile(chunks), blockMs: blockMs}
}

// open reports whether mmapHead may write now.
func (g *mmapGate) open() bool {
	if g.cut {
		return true
	}
	if newestChunkFile(g.chunks) > g.atOpen {
		g.cut = true
		return true
	}
	h := g.db.Head()
	if truncating, _, _ := h.IsQuerierCollidingWithTruncation(math.MinInt64, math.MinInt64); truncating {
		return false
	}
	// Out-of-order samples since the last truncation (which sets the least
	// to the head's newest less the window, past any older one).
	if h.MinOOOTime() <= h.MaxOOOTime() {
		return false
	}
	mint, maxt := h.MinTime(), h.MaxTime()
	return maxt == math.MinInt64 || maxt-mint <= g.blockMs/2*3
}

// newestChunkFile is the highest number among the chunk files in dir, 0
// with none.
func newestChunkFile(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	newest := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n > newest {
			newest = n
		}
	}
	return newest
}
