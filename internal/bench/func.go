package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Func is an in-process benchmark: like a testing benchmark, it runs its
// operation b.N times.
//
//	reg.Register("matching-engine/place-order", func(b *bench.B) {
//		for range b.N {
//			engine.PlaceOrder(order)
//		}
//	})
type Func func(b *B)

// B is handed to a Func: N is the number of operations to run.
type B struct {
	N int

	ctx     context.Context
	now     func() time.Time
	start   time.Time
	elapsed time.Duration
	timerOn bool
	metrics map[string]float64
}

// Context is cancelled when the run is.
func (b *B) Context() context.Context { return b.ctx }

// ResetTimer zeroes the elapsed time (for set-up done in the Func).
func (b *B) ResetTimer() {
	if b.timerOn {
		b.start = b.now()
	}
	b.elapsed = 0
}

// StopTimer stops timing (for per-iteration set-up).
func (b *B) StopTimer() {
	if b.timerOn {
		b.elapsed += b.now().Sub(b.start)
		b.timerOn = false
	}
}

// StartTimer resumes timing.
func (b *B) StartTimer() {
	if !b.timerOn {
		b.start = b.now()
		b.timerOn = true
	}
}

// ReportMetric records an extra figure (per run of the Func), such as
// "fills/op"; the median over samples lands in Result.Extra.
func (b *B) ReportMetric(v float64, unit string) {
	if b.metrics == nil {
		b.metrics = map[string]float64{}
	}
	b.metrics[unit] = v
}

// Registry holds the in-process benchmarks a process offers to the `func`
// kind. It is safe for concurrent use. There is no global registry: pass one
// in Options.
type Registry struct {
	mu    sync.RWMutex
	funcs map[string]Func
	nice  int // see SetNice
}

// SetNice runs the registry's benchmarks on an OS thread of their own at
// this nice value (Linux; 0: unchanged, 19: lowest priority), so that a
// benchmark running beside services in the same process yields the CPU to
// them; its figures are then what the services leave over.
func (r *Registry) SetNice(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nice = n
}

func (r *Registry) niceness() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.nice
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{funcs: map[string]Func{}} }

// Register adds f under name; registering a name twice is an error.
func (r *Registry) Register(name string, f Func) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("register benchmark: %q is not a valid name", name)
	}
	if f == nil {
		return fmt.Errorf("register benchmark %q: nil func", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.funcs[name]; ok {
		return fmt.Errorf("register benchmark: %q is already registered", name)
	}
	r.funcs[name] = f
	return nil
}

// Lookup returns the Func registered under name.
func (r *Registry) Lookup(name string) (Func, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.funcs[name]
	return f, ok
}

// Names lists the registered benchmarks, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.funcs))
}

func runFuncN(ctx context.Context, now func() time.Time, f Func, n int) (time.Duration, map[string]float64) {
	b := &B{N: n, ctx: ctx, now: now}
	b.StartTimer()
	f(b)
	b.StopTimer()
	return b.elapsed, b.metrics
}

// predictN grows N the way testing.B does: aim 20% past the target, at most
// 100× the last N, at least one more.
func predictN(target, elapsed time.Duration, last int) int {
	if elapsed <= 0 {
		return last * 100
	}
	n := int(float64(target) * 1.2 / float64(elapsed) * float64(last))
	n = min(n, last*100)
	n = max(n, last+1)
	return min(n, 1e9)
}

// runFunc measures f: it finds N so one sample takes about Benchtime, then
// takes Count samples of ops/s.
// now is the timer's clock (time.Now but in tests).
func runFunc(ctx context.Context, now func() time.Time, name string, c *FuncConfig, reg *Registry, progress func(float64)) (Result, error) {
	f, ok := reg.Lookup(c.Name)
	if !ok {
		return Result{}, fmt.Errorf("func %q is not registered in this process (have %v)", c.Name, reg.Names())
	}
	if nice := reg.niceness(); nice != 0 {
		var res Result
		var err error
		if e := onNicedThread(nice, func() { res, err = measureFunc(ctx, now, name, c, f, progress) }); e != nil {
			return Result{}, fmt.Errorf("func %q: set nice %d: %w", c.Name, nice, e)
		}
		return res, err
	}
	return measureFunc(ctx, now, name, c, f, progress)
}

// measureFunc is runFunc's measurement of f.
func measureFunc(ctx context.Context, now func() time.Time, name string, c *FuncConfig, f Func, progress func(float64)) (Result, error) {
	target := time.Duration(c.Benchtime)
	n := 1
	elapsed, _ := runFuncN(ctx, now, f, n)
	for elapsed < target && n < 1e9 && ctx.Err() == nil {
		n = predictN(target, elapsed, n)
		elapsed, _ = runFuncN(ctx, now, f, n)
	}
	var tps []float64
	extra := map[string][]float64{}
	var total time.Duration
	var ops int64
	for i := 0; i < c.Count && ctx.Err() == nil; i++ {
		el, m := runFuncN(ctx, now, f, n)
		total += el
		ops += int64(n)
		if el <= 0 {
			el = time.Nanosecond
		}
		tps = append(tps, float64(n)/el.Seconds())
		for u, v := range m {
			extra[u] = append(extra[u], v)
		}
		report(progress, i+1, c.Count)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("func %q: %w", c.Name, err)
	}
	res := Result{
		Name:            name,
		Unit:            "ops/s",
		Better:          HigherIsBetter,
		Samples:         tps,
		Summary:         Summarize(tps),
		Requests:        ops,
		DurationSeconds: total.Seconds(),
	}
	if total > 0 {
		res.Throughput = float64(ops) / total.Seconds()
	}
	if len(extra) > 0 {
		res.Extra = map[string]float64{}
		for u, vs := range extra {
			res.Extra[u] = Describe(vs).Median
		}
	}
	return res, nil
}
