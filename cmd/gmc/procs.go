package main

import (
	"os"
	"runtime"

	"github.com/gmc-dev/gmc/internal/config"
)

// heavyProcs is how many scheduler slots (Go's P, GOMAXPROCS) to add for
// the heavy queries' niced threads: as many as goroutines of heavy queries
// can run on niced threads at once when heavy API queries run on a niced
// thread (query.heavy_query_nice, Linux) — one per heavy-lane slot, and the
// small lane's slots a heavy range query may borrow for its shards (all
// but one, internal/query's shardWorkers) — none otherwise or when
// GOMAXPROCS is set in the environment (the operator's choice stands).
//
// A heavy query on its niced thread holds a P while the kernel runs that
// thread last; with GOMAXPROCS at the CPUs it leaves ingest one P fewer
// than CPUs, so a push waits for a P although a CPU is there for it. With
// one P more per heavy slot, the other work keeps a P per CPU and the
// kernel gives the niced thread the CPU left over. In process, on 2 cores
// at load 20–24, the writer's p99 beside heavy queries fell from
// 13–53 ms to 5–37 ms (4 of 4 runs) with as many heavy answers
// (BenchmarkIngestBesideHeavyProcs). Since heavy range queries borrow the
// small lane's free slots (05fd13c), a borrowed shard holds a P too: on 2
// cores two niced goroutines held two of the three Ps, and while the
// collector's mark workers ran on the third, a push's connection woke
// with no P idle (bench/soak -trace; see bench/README.md).
func heavyProcs(cfg config.Config) int {
	q := cfg.Query
	if q.HeavyQueryNice <= 0 || runtime.GOOS != "linux" || os.Getenv("GOMAXPROCS") != "" {
		return 0
	}
	return q.MaxConcurrency + max(q.SmallQueryMaxConcurrency-1, 0)
}
