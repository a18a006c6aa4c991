package ingest

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/storage"
)

// BenchmarkTextPush is one Pushgateway-style push of a 20-series group while
// the Ingester holds other groups of 20 series, with and without
// persistence (each push writes its group's file before its answer).
func BenchmarkTextPush(b *testing.B) {
	var body strings.Builder
	for i := range 20 {
		fmt.Fprintf(&body, "backtest_pnl{strategy=\"s%d\"} %d\n", i, i)
	}
	for _, persist := range []bool{false, true} {
		for _, others := range []int{0, 1000} {
			b.Run(fmt.Sprintf("persist=%v/groups=%d", persist, others), func(b *testing.B) {
				db, err := storage.Open(storage.Options{Dir: b.TempDir(), Retention: 24 * time.Hour, Registerer: prometheus.NewRegistry()})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = db.Close() })
				state := ""
				if persist {
					state = filepath.Join(b.TempDir(), "groups.gob")
				}
				in, err := New(Options{Appendable: db, Limits: DefaultLimits(), Now: ingestTestNow, PushStateFile: state})
				if err != nil {
					b.Fatal(err)
				}
				h := in.TextPush()
				hdr := map[string]string{"Content-Type": "text/plain; version=0.0.4"}
				dir := in.push.dir
				in.push.dir = "" // the other groups are set up without a file each
				for g := range others {
					if code, msg := do(b, h, http.MethodPut, fmt.Sprintf("/metrics/job/other%d", g), hdr, []byte(body.String())); code != http.StatusOK {
						b.Fatalf("push: %d %s", code, msg)
					}
				}
				in.push.dir = dir
				b.ResetTimer()
				for range b.N {
					if code, msg := do(b, h, http.MethodPut, "/metrics/job/bench", hdr, []byte(body.String())); code != http.StatusOK {
						b.Fatalf("push: %d %s", code, msg)
					}
				}
			})
		}
	}
}

// BenchmarkPushGroupsRefresh is one refresh (every group's current values
// appended again, as every pushgateway.refresh_interval) of 1000 groups of 20
// series; ns/op divided by 20000 is the cost per series.
func BenchmarkPushGroupsRefresh(b *testing.B) {
	db, err := storage.Open(storage.Options{Dir: b.TempDir(), Retention: 24 * time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	at := ingestTestNow()
	in, err := New(Options{Appendable: db, Limits: DefaultLimits(), Now: func() time.Time { return at }})
	if err != nil {
		b.Fatal(err)
	}
	var body strings.Builder
	for i := range 20 {
		fmt.Fprintf(&body, "backtest_pnl{strategy=\"s%d\"} %d\n", i, i)
	}
	hdr := map[string]string{"Content-Type": "text/plain; version=0.0.4"}
	for g := range 1000 {
		if code, msg := do(b, in.TextPush(), http.MethodPut, fmt.Sprintf("/metrics/job/g%d", g), hdr, []byte(body.String())); code != http.StatusOK {
			b.Fatalf("push: %d %s", code, msg)
		}
	}
	b.ResetTimer()
	for range b.N {
		at = at.Add(time.Second) // each refresh at a new time, as the ticker's
		if err := in.push.refresh(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
