package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"

	"github.com/gmc-dev/gmc/internal/web/webtest"
)

// TestBrowserHostReturnNotBegan: the host page said a host's first points
// after a silence longer than its matrix reaches were over "a window
// reaching before the data began" (markPartial saw no earlier value), as
// the service pages did before api.markReturns. Two hosts busy 50 %, a
// sample every 5 s: one from 40 minutes ago, silent for 20 minutes until
// 60 s ago; one whose data began 60 s ago. At 15m the CPU per core
// legend's dashed points of the first hold a gap in the data and none
// reaches before the data began; the second's reach before the data
// began and none holds a gap.
func TestBrowserHostReturnNotBegan(t *testing.T) {
	ctx := browser(t)
	const back, began = "h-back-after-20m", "h-began-60s"
	st := startStack(t, 0, false)
	now := time.Now().Truncate(5 * time.Second)
	origin := now.Add(-40 * time.Minute)
	returned := now.Add(-60 * time.Second)
	silent := returned.Add(-20 * time.Minute)
	idle := func(host string, ts time.Time) prompb.TimeSeries {
		return prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "node_cpu_seconds_total"}, {Name: "cpu", Value: "0"},
			{Name: "host", Value: host}, {Name: "instance", Value: host}, {Name: "mode", Value: "idle"}},
			Samples: []prompb.Sample{{Timestamp: ts.UnixMilli(), Value: 1000 + 0.5*ts.Sub(origin).Seconds()}}}
	}
	at := func(ts time.Time) []prompb.TimeSeries {
		if ts.UnixMilli()%5000 != 0 {
			return nil
		}
		var out []prompb.TimeSeries
		if ts.Before(silent) || !ts.Before(returned) {
			out = append(out, idle(back, ts))
		}
		if !ts.Before(returned) {
			out = append(out, idle(began, ts))
		}
		return out
	}
	var history []prompb.TimeSeries
	for ts := origin; !ts.After(now); ts = ts.Add(time.Second) {
		history = append(history, at(ts)...)
	}
	if err := webtest.Write(context.Background(), st.URL, history...); err != nil {
		t.Fatal(err)
	}
	writeEverySecond(t, st.URL, now.Add(time.Second), at)

	row := `document.querySelector('[data-stats="host-cpu-cores"] tr[data-series="cpu 0"]')`
	dashed := func(host string) dashedT {
		t.Helper()
		load(t, ctx, st.URL+"/#/host/"+host+"?range=15m")
		if err := poll(ctx, 30*time.Second, `!!`+row+` && Number(`+row+`.dataset.partial || 0) > 0`); err != nil {
			t.Fatalf("%s: no dashed points in the CPU per core legend: %v", host, err)
		}
		return eval[dashedT](t, ctx, `(() => { const r = `+row+`; const f = document.querySelector('[data-stats="host-cpu-cores"] tfoot td');
			return {row: !!r, gap: r.dataset.gap || '', began: r.dataset.began || '', foot: (f && f.textContent) || ''}; })()`)
	}
	d := dashed(back)
	if n, _ := strconv.Atoi(d.Gap); n == 0 || d.Began != "0" || strings.Contains(d.Foot, "before the data began") {
		t.Errorf("%s: its points after its return: %s holding a gap, %s before the data began, foot %q; want all holding a gap (its data began 40 minutes before)", back, d.Gap, d.Began, d.Foot)
	}
	screenshot(t, ctx, artifacts(t), "host-return-not-began")
	d = dashed(began)
	if n, _ := strconv.Atoi(d.Began); n == 0 || d.Gap != "0" || !strings.Contains(d.Foot, "before the data began") {
		t.Errorf("%s: its points: %s before the data began, %s holding a gap, foot %q; want all before the data began (it began 60 s ago)", began, d.Began, d.Gap, d.Foot)
	}
}
