package notify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// clock is a settable clock for alert and silence logic.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a Notifier that keeps what it is told and fails the first
// failFirst calls.
type recorder struct {
	mu        sync.Mutex
	got       []*Notification
	calls     int
	failFirst int
}

func (r *recorder) Notify(_ context.Context, n *Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.failFirst {
		return errors.New("receiver down")
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) notifications() []*Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Notification(nil), r.got...)
}

func (r *recorder) count() int { return len(r.notifications()) }

// waitFor polls cond for up to 10 s (a bound, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// harness runs a Dispatcher for one test.
type harness struct {
	d     *Dispatcher
	clock *clock
	reg   *prometheus.Registry
	// stop ends the dispatcher's Run (as a dead peer); safe to call twice.
	stop func()
}

func start(t *testing.T, yml string, notifiers map[string][]Notifier, tweak ...func(*Options)) *harness {
	t.Helper()
	cfg, err := LoadConfig([]byte(yml))
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	h := &harness{clock: newClock(), reg: prometheus.NewRegistry()}
	opts := Options{
		Config: cfg, Registerer: h.reg, Now: h.clock.Now, Notifiers: notifiers,
		Retry: Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 4},
	}
	for _, f := range tweak {
		f(&opts)
	}
	d, err := New(opts)
	if err != nil {
		t.Fatalf("new dispatcher: %v", err)
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// alert builds a firing alert started at the clock's now.
func (h *harness) alert(kv ...string) *model.Alert {
	ls := model.LabelSet{}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
	}
	now := h.clock.Now()
	return &model.Alert{Labels: ls, Annotations: model.LabelSet{"summary": "it broke"}, StartsAt: now, EndsAt: now.Add(time.Minute), GeneratorURL: "http://gmc/graph"}
}

func (h *harness) resolved(a *model.Alert) *model.Alert {
	cp := *a
	cp.EndsAt = h.clock.Now().Add(-time.Second)
	return &cp
}

// waitFlushes waits until n more group flushes happened.
func (h *harness) waitFlushes(t *testing.T, n int64) {
	t.Helper()
	target := h.d.flushes.Load() + n
	waitFor(t, "group flushes", func() bool { return h.d.flushes.Load() >= target })
}

func (h *harness) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func alertnames(n *Notification) []string {
	var out []string
	for _, a := range n.Alerts {
		out = append(out, string(a.Labels["alertname"])+"/"+string(a.Labels["service"])+"/"+a.Status)
	}
	return out
}
