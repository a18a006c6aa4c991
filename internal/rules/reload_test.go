package rules

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	promrules "github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/gmc-dev/gmc/internal/alerthistory"
	"github.com/gmc-dev/gmc/internal/sla"
)

// TestUpdateSLAs steps a synthetic clock over 20 minutes of a service
// whose orders fail 20 % of the time (SLA "a", 99 %: the 1h&5m page at
// 14.4× fires) and a healthy one (SLA "b", added later), and reloads the
// SLAs as a SIGHUP does: b added (its groups evaluated and recorded, a's
// kept as they run), a's objective changed (its groups replaced: the
// firing page keeps its active-since, fires no second time, and its
// annotation says the new objective), b removed (its series marked stale,
// its groups gone), then a removed while it pages (resolved in the
// history and to the sink).
func TestUpdateSLAs(t *testing.T) {
	dir := t.TempDir()
	db := openTSDB(t, filepath.Join(dir, "tsdb"))
	hist := openHistory(t, dir)
	now := t0
	var s sink
	mkSLA := func(name, svc string, objective float64) sla.SLA {
		x := sla.SLA{Name: name, Service: svc, Objective: objective, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}
		x.Normalise()
		if err := x.Validate(); err != nil {
			t.Fatal(err)
		}
		return x
	}
	a, b := mkSLA("a", "me", 99), mkSLA("b", "gw", 99)
	m := newManager(t, db, Options{Now: func() time.Time { return now }, Sink: s.send, History: hist, SLAs: []sla.SLA{a}})
	ctx := context.Background()
	series := map[string]labels.Labels{}
	for _, svc := range []string{"me", "gw"} {
		for _, res := range []string{"success", "error"} {
			series[svc+res] = labels.FromStrings("__name__", "gmc_orders_total", "service", svc, "result", res)
		}
	}
	k := 0
	// step appends a minute's orders (me: 80 good, 20 errors; gw: 100
	// good) and evaluates every group at it.
	step := func() {
		t.Helper()
		now = t0.Add(time.Duration(k) * time.Minute)
		appendFloat(t, db, series["mesuccess"], now, float64(80*k))
		appendFloat(t, db, series["meerror"], now, float64(20*k))
		appendFloat(t, db, series["gwsuccess"], now, float64(100*k))
		appendFloat(t, db, series["gwerror"], now, 0)
		m.EvalAll(ctx, now)
		k++
	}
	for k <= 20 {
		step()
	}
	page := func() *promrules.Alert {
		t.Helper()
		for _, al := range m.ActiveAlerts() {
			if al.Labels.Get("sla") == "a" && al.Labels.Get("long_window") == "1h" {
				return &promrules.Alert{State: stateOf(al.State), ActiveAt: *al.ActiveAt, Annotations: al.Annotations}
			}
		}
		return nil
	}
	first := page()
	if first == nil || first.State != promrules.StateFiring {
		t.Fatalf("a's 1h&5m page before the reloads = %+v, want firing", first)
	}
	groupNames := func() []string {
		var out []string
		for _, g := range m.Groups() {
			out = append(out, g.Name())
		}
		return out
	}
	aGroups := slices.Clone(m.Groups())
	keep := func(name string, want bool) {
		t.Helper()
		if got := slices.Contains(groupNames(), name); got != want {
			t.Fatalf("group %s present = %v, want %v (groups %v)", name, got, want, groupNames())
		}
	}
	instant := func(q string) promql.Vector {
		t.Helper()
		qr, err := m.engine.NewInstantQuery(ctx, db, nil, q, now)
		if err != nil {
			t.Fatal(err)
		}
		defer qr.Close()
		v, err := qr.Exec(ctx).Vector()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// b added.
	ch, err := m.UpdateSLAs([]sla.SLA{a, b})
	if err != nil {
		t.Fatal(err)
	}
	wantCh := SLAChanges{Kept: []string{"sla:a:raw", "sla:a:slow"}, Added: []string{"sla:b:raw", "sla:b:slow"}}
	if !equalChanges(ch, wantCh) {
		t.Fatalf("changes = %+v, want %+v", ch, wantCh)
	}
	for _, g := range m.Groups() {
		if strings.HasPrefix(g.Name(), "sla:a:") && !slices.Contains(aGroups, g) {
			t.Errorf("group %s was rebuilt although its SLA did not change", g.Name())
		}
	}
	step()
	if v := instant(`sla:error_ratio:rate5m{sla="b"}`); len(v) != 1 || v[0].F != 0 {
		t.Fatalf("b's 5m error ratio after it was added = %v, want one sample of 0", v)
	}
	if v := instant(`sla:error_ratio:rate1d{sla="b"}`); len(v) != 1 || v[0].F != 0 {
		t.Fatalf("b's 1d error ratio (its slow group) after it was added = %v, want one sample of 0", v)
	}
	if p := page(); p == nil || !p.ActiveAt.Equal(first.ActiveAt) || p.State != promrules.StateFiring {
		t.Fatalf("a's page after b was added = %+v, want firing since %v", p, first.ActiveAt)
	}

	// a's objective changed: 20 % errors still burn 99.5 %'s budget 40×.
	a2 := mkSLA("a", "me", 99.5)
	if ch, err = m.UpdateSLAs([]sla.SLA{a2, b}); err != nil {
		t.Fatal(err)
	}
	wantCh = SLAChanges{Kept: []string{"sla:b:raw", "sla:b:slow"}, Replaced: []string{"sla:a:raw", "sla:a:slow"}}
	if !equalChanges(ch, wantCh) {
		t.Fatalf("changes = %+v, want %+v", ch, wantCh)
	}
	step()
	p := page()
	if p == nil || p.State != promrules.StateFiring || !p.ActiveAt.Equal(first.ActiveAt) {
		t.Fatalf("a's page after its objective changed = %+v, want firing since %v", p, first.ActiveAt)
	}
	if sum := p.Annotations.Get("summary"); !strings.Contains(sum, "objective 99.5%") {
		t.Errorf("a's page's summary after the change = %q, want the new objective", sum)
	}
	eps := hist.List(alerthistory.Filter{Alertname: sla.AlertName}, now)
	var aEps []alerthistory.Episode
	for _, ep := range eps {
		if ep.Labels["sla"] == "a" && ep.Labels["long_window"] == "1h" {
			aEps = append(aEps, ep)
		}
	}
	if len(aEps) != 1 || aEps[0].State != "firing" || !aEps[0].ActiveAt.Equal(first.ActiveAt) {
		t.Fatalf("a's page's episodes = %+v, want one, firing since %v", aEps, first.ActiveAt)
	}
	for _, batch := range s.take() {
		for _, al := range batch {
			if al.Labels["sla"] == "a" && al.Labels["long_window"] == "1h" && !al.StartsAt.Equal(first.ActiveAt) {
				t.Errorf("a's page sent starting at %v, want %v (it fired once)", al.StartsAt, first.ActiveAt)
			}
		}
	}

	// b removed: its recordings end (stale), its groups go.
	if ch, err = m.UpdateSLAs([]sla.SLA{a2}); err != nil {
		t.Fatal(err)
	}
	wantCh = SLAChanges{Kept: []string{"sla:a:raw", "sla:a:slow"}, Removed: []string{"sla:b:raw", "sla:b:slow"}}
	if !equalChanges(ch, wantCh) {
		t.Fatalf("changes = %+v, want %+v", ch, wantCh)
	}
	keep("sla:b:raw", false)
	keep("sla:b:slow", false)
	step()
	if v := instant(`sla:error_ratio:rate5m{sla="b"}`); len(v) != 0 {
		t.Fatalf("b's 5m error ratio after it was removed = %v, want none (stale)", v)
	}
	if !staleAt(t, db, `sla:error_ratio:rate1d`, "b") {
		t.Error("b's slow group's recording has no stale marker after b was removed")
	}

	// a removed while it pages: resolved.
	if _, err = m.UpdateSLAs(nil); err != nil {
		t.Fatal(err)
	}
	keep("sla:a:raw", false)
	if p := page(); p != nil {
		t.Fatalf("a's page after a was removed = %+v, want none", p)
	}
	eps = hist.List(alerthistory.Filter{Alertname: sla.AlertName}, now)
	for _, ep := range eps {
		if ep.Labels["sla"] == "a" && ep.State != "resolved" {
			t.Errorf("a's episode %v is %s after a was removed, want resolved", ep.Labels, ep.State)
		}
	}
	resolved := false
	for _, batch := range s.take() {
		for _, al := range batch {
			if al.Labels["sla"] == "a" && al.Labels["long_window"] == "1h" && !al.EndsAt.After(now.Add(time.Second)) {
				resolved = true
			}
		}
	}
	if !resolved {
		t.Error("a's page was not sent resolved when a was removed")
	}
}

func equalChanges(a, b SLAChanges) bool {
	return slices.Equal(a.Kept, b.Kept) && slices.Equal(a.Replaced, b.Replaced) &&
		slices.Equal(a.Added, b.Added) && slices.Equal(a.Removed, b.Removed)
}

func stateOf(s string) promrules.AlertState {
	switch s {
	case "firing":
		return promrules.StateFiring
	case "pending":
		return promrules.StatePending
	}
	return promrules.StateInactive
}

// staleAt reports whether the newest sample of the series named name with
// sla="<slaName>" is a stale marker.
func staleAt(t *testing.T, q storage.Queryable, name, slaName string) bool {
	t.Helper()
	qr, err := q.Querier(math.MinInt64/2, math.MaxInt64/2)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	set := qr.Select(context.Background(), false, nil,
		labels.MustNewMatcher(labels.MatchEqual, "__name__", name), labels.MustNewMatcher(labels.MatchEqual, "sla", slaName))
	found, stale := false, false
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			_, v := it.At()
			found, stale = true, value.IsStaleNaN(v)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return found && stale
}

// BenchmarkUpdateSLAs: a reload of n SLAs of which one changed (its
// objective), against a manager not running (the swap and the groups'
// loading, parsing and comparison; a running group's stop waits for its
// evaluation in flight besides).
func BenchmarkUpdateSLAs(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			db := openTSDB(b, b.TempDir())
			slas := make([]sla.SLA, n)
			for i := range slas {
				slas[i] = sla.SLA{Name: fmt.Sprintf("s%d", i), Service: fmt.Sprintf("svc%d", i), Objective: 99, Indicator: sla.Indicator{Ratio: &sla.Ratio{}}}
				slas[i].Normalise()
			}
			m := newManager(b, db, Options{SLAs: slas})
			ctx := context.Background()
			m.EvalAll(ctx, t0)
			b.ResetTimer()
			for i := range b.N {
				next := slices.Clone(slas)
				next[0].Objective = 99 + float64(i%2+1)/10
				if _, err := m.UpdateSLAs(next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
