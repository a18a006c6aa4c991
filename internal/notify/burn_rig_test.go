package notify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/gmc-dev/gmc/internal/notify/channel"
	"github.com/gmc-dev/gmc/internal/rules"
	"github.com/gmc-dev/gmc/internal/sla"
	gmcstorage "github.com/gmc-dev/gmc/internal/storage"
)

// stamped is a delivered notification's alerts with the test clock's time.
type stamped struct {
	at     time.Time
	alerts []channel.Alert
}

// stampedRecorder keeps each delivered notification with the test clock's
// time.
type stampedRecorder struct {
	mu  sync.Mutex
	now func() time.Time
	got []stamped
}

func (r *stampedRecorder) Notify(_ context.Context, n *Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	as := make([]channel.Alert, len(n.Alerts))
	for i, a := range n.Alerts {
		a.Labels, a.Annotations = a.Labels.Clone(), a.Annotations.Clone()
		as[i] = a
	}
	r.got = append(r.got, stamped{r.now(), as})
	return nil
}

func (r *stampedRecorder) notifications() []stamped {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stamped(nil), r.got...)
}

// burnWindows is a notification as "<long_window> <status>, …", one entry
// an alert (e.g. "6h firing, 1h resolved").
func burnWindows(as []channel.Alert) string {
	ws := make([]string, len(as))
	for i, a := range as {
		ws[i] = string(a.Labels["long_window"]) + " " + a.Status
	}
	return strings.Join(ws, ", ")
}

// burnRig runs one ratio SLA's rules over a TSDB into the notification
// pipeline as gmc server wires them (a 1h out-of-order window, the drain
// read of sla.Reporter.LastErrors), on the harness's clock. Orders come as
// gmc_orders_total of the SLA's service, result success or error.
type burnRig struct {
	h     *harness
	rec   *stampedRecorder
	db    *gmcstorage.TSDB
	rules *rules.Manager
	// good and bad are the counters' values; sent is what the last
	// evaluation sent.
	good, bad   float64
	okLS, errLS labels.Labels
	sent        [][]*model.Alert
}

// newBurnRig starts the rig for an SLA named name of service at objective
// (a percentage), its alerts grouped by SLA (group_wait 0s).
func newBurnRig(t *testing.T, name, service string, objective float64) *burnRig {
	t.Helper()
	r := &burnRig{rec: &stampedRecorder{}}
	r.h = start(t, `
route: {receiver: r, group_by: [alertname, sla], group_wait: 0s, group_interval: 2ms, repeat_interval: 1h}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {r.rec}})
	r.rec.now = r.h.clock.Now
	reg := prometheus.NewRegistry()
	db, err := gmcstorage.Open(gmcstorage.Options{Dir: t.TempDir(), Registerer: reg, OutOfOrderWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	s := sla.SLA{Name: name, Service: service, Objective: objective, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}
	s.Normalise()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	rep := sla.NewReporter(sla.ReporterOptions{SLAs: []sla.SLA{s}, Queryable: db, Now: r.h.clock.Now})
	r.rules, err = rules.New(rules.Options{
		Appendable: db, Queryable: db, Registerer: reg, Now: r.h.clock.Now, EvalInterval: 10 * time.Second,
		Engine: promql.NewEngine(promql.EngineOpts{Reg: reg, MaxSamples: 50_000_000, Timeout: time.Minute,
			LookbackDelta: 5 * time.Minute, EnableDelayedNameRemoval: true}),
		SLAs:          []sla.SLA{s},
		Sink:          func(as []*model.Alert) { r.sent = append(r.sent, as) },
		SLALastErrors: rep.LastErrors,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.okLS = labels.FromStrings("__name__", "gmc_orders_total", "service", service, "result", "success")
	r.errLS = labels.FromStrings("__name__", "gmc_orders_total", "service", service, "result", "error")
	return r
}

// feed counts good more successful orders and bad more failed ones at ts.
func (r *burnRig) feed(t *testing.T, ts time.Time, good, bad float64) {
	t.Helper()
	r.good, r.bad = r.good+good, r.bad+bad
	app := r.db.AppenderV2(context.Background())
	for _, s := range []struct {
		ls labels.Labels
		v  float64
	}{{r.okLS, r.good}, {r.errLS, r.bad}} {
		if _, err := app.Append(0, s.ls, 0, ts.UnixMilli(), s.v, nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// eval sets the clock to ts, evaluates the rules then and hands what they
// send to the pipeline, waiting until it is decided (settle).
func (r *burnRig) eval(t *testing.T, ts time.Time) {
	t.Helper()
	r.h.clock.Advance(ts.Sub(r.h.clock.Now()))
	r.sent = nil
	r.rules.EvalAll(context.Background(), ts)
	for _, as := range r.sent {
		r.h.d.Send(as...)
	}
	if len(r.sent) > 0 {
		r.h.settle(t)
	}
}

// settle waits until every group has flushed twice since now (so what was
// sent before is decided), or no group is left.
func (h *harness) settle(t *testing.T) {
	t.Helper()
	target := h.d.flushes.Load() + 2
	waitFor(t, "group flushes", func() bool {
		h.d.mu.Lock()
		n := len(h.d.groups)
		h.d.mu.Unlock()
		return n == 0 || h.d.flushes.Load() >= target
	})
}
