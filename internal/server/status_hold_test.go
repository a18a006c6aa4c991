package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// offsetClock is the real clock plus an offset the test moves forward; or,
// once frozen, a fixed time the test moves forward, so that a stretch of
// checks does not depend on how long it takes on a loaded machine.
type offsetClock struct {
	off    atomic.Int64
	frozen atomic.Int64 // Unix nanoseconds; 0: not frozen
}

func (c *offsetClock) now() time.Time {
	if f := c.frozen.Load(); f != 0 {
		return time.Unix(0, f)
	}
	return time.Now().Add(time.Duration(c.off.Load()))
}

func (c *offsetClock) advance(d time.Duration) {
	if c.frozen.Load() != 0 {
		c.frozen.Add(int64(d))
		return
	}
	c.off.Add(int64(d))
}

// freeze stops the clock at its time now, which it returns.
func (c *offsetClock) freeze() time.Time {
	t := c.now()
	c.frozen.Store(t.UnixNano())
	return t
}

// runServerIn runs a gmc server over dataDir until the returned stop is
// called, and returns its base URL once it is ready.
func runServerIn(t *testing.T, cfg config.Config, dataDir string, now func() time.Time) (string, func()) {
	t.Helper()
	cfg.Server.ListenAddress = "127.0.0.1:0"
	cfg.Server.DataDir = dataDir
	cfg.Normalise()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, stop := servertest.ServeStop(t, server.Options{Config: cfg, Now: now})
	return servertest.Ready(t, srv), stop
}

// heldStatus is a service of /system/status with its hold.
type heldStatus struct {
	Service string `json:"service"`
	State   string `json:"state"`
	Reason  string `json:"reason"`
	Hold    *struct {
		Cause        string `json:"cause"`
		SinceMs      int64  `json:"since_ms"`
		UntilMs      *int64 `json:"until_ms"`
		JudgedFromMs *int64 `json:"judged_from_ms"`
	} `json:"hold"`
}

// statusOf reads svc from /system/status (view "" or "states").
func statusOf(t *testing.T, base, view, svc string) heldStatus {
	t.Helper()
	u := base + "/system/status"
	if view != "" {
		u += "?view=" + view
	}
	code, body := do(t, "GET", u, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, code, body)
	}
	var st struct{ Services []heldStatus }
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Services {
		if s.Service == svc {
			return s
		}
	}
	t.Fatalf("GET %s: no service %s in %s", u, svc, body)
	return heldStatus{}
}

// pushAt pushes one sample of svc stamped at ts through the JSON push.
func pushAt(t *testing.T, base, svc string, ts time.Time) {
	t.Helper()
	body := fmt.Sprintf(`{"service":%q,"instance":"%s-1","timestamp":%.3f,"metrics":{"app_requests_total":1}}`, svc, svc, float64(ts.UnixMilli())/1000)
	if code, b := do(t, "POST", base+"/api/v1/push", "application/json", []byte(body)); code/100 != 2 {
		t.Fatalf("push %s: %d %s", svc, code, b)
	}
}

// TestStatusUnknownAfterRestart: gmc restarted over a data dir holding a
// service whose newest sample is a minute old. ServiceSilent does not judge
// that silence before gmc has watched the service for its down_after (the
// restart hold, 095c72e); /system/status called it DOWN all the same. It
// must say plainly that it does not know, why, and from when it judges;
// once gmc has watched for down_after, down.
func TestStatusUnknownAfterRestart(t *testing.T) {
	cfg := config.Default()
	dir := t.TempDir()
	var c offsetClock
	base, stop := runServerIn(t, cfg, dir, c.now)
	pushAt(t, base, "quiet", c.now().Add(-time.Minute))
	stop()

	base, _ = runServerIn(t, cfg, dir, c.now)
	for _, view := range []string{"", "states"} {
		s := statusOf(t, base, view, "quiet")
		if s.State != "unknown" || s.Hold == nil || s.Hold.Cause != "restart" {
			t.Fatalf("view %q: right after the restart quiet is %q (hold %+v, %s), want unknown: held by the restart", view, s.State, s.Hold, s.Reason)
		}
		if s.Hold.JudgedFromMs == nil || *s.Hold.JudgedFromMs != s.Hold.SinceMs+(8*time.Second).Milliseconds() {
			t.Errorf("view %q: judged from %v, want its down_after (8s) after the start %d", view, s.Hold.JudgedFromMs, s.Hold.SinceMs)
		}
		if now := c.now().UnixMilli(); s.Hold.SinceMs > now || s.Hold.SinceMs < now-10_000 {
			t.Errorf("view %q: restart at %d, want just before now %d", view, s.Hold.SinceMs, now)
		}
		if !strings.Contains(s.Reason, "restarted at") || !strings.Contains(s.Reason, "would be down (silent)") {
			t.Errorf("view %q: reason %q", view, s.Reason)
		}
	}
	c.advance(9 * time.Second)
	if s := statusOf(t, base, "", "quiet"); s.State != "down" || s.Hold != nil {
		t.Errorf("9s after the restart quiet is %q (hold %+v), want down", s.State, s.Hold)
	}
}

// TestStatusUnknownDuringIngestStall: while a write request has taken over
// ingest.StallAfter, ServiceSilent does not judge silence (63bb4e8), but
// /system/status called a service DOWN whose samples gmc itself was not
// taking. During the stall such a service is unknown, since when it
// stalled; after it, until its down_after has passed since the stall ended.
// A service already paged as silent before the stall stays down.
func TestStatusUnknownDuringIngestStall(t *testing.T) {
	cfg := config.Default()
	cfg.Alerting.EvaluationInterval = config.Duration(200 * time.Millisecond)
	var c offsetClock
	base, _ := runServerIn(t, cfg, t.TempDir(), c.now)
	pushAt(t, base, "quiet", c.now().Add(-time.Minute))
	c.advance(20 * time.Second)
	pushAt(t, base, "b", c.now())
	pushAt(t, base, "d", c.now())
	waitFor(t, time.Minute, "ServiceSilent for quiet", func() bool {
		_, body := do(t, "GET", base+"/api/v1/alerts", "", nil)
		return strings.Contains(body, `"alertname":"ServiceSilent"`) && strings.Contains(body, `"service":"quiet"`) &&
			strings.Contains(body, `"state":"firing"`)
	})
	if s := statusOf(t, base, "", "quiet"); s.State != "down" {
		t.Fatalf("before the stall quiet is %q, want down", s.State)
	}

	// A write request gmc takes seconds over: its body comes slowly. The
	// 24 MiB of leading blanks cannot all wait in the loopback's buffers,
	// so when the write returns the handler has begun reading the body:
	// the request began between posted and written. (How long that takes
	// is the machine's: under -race at load 30, some 40 s.)
	posted := c.now().UnixMilli()
	pr, pw := io.Pipe()
	defer pw.CloseWithError(errors.New("test ended"))
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+"/api/v1/push", "application/json", pr)
		if err != nil {
			t.Errorf("slow push: %v", err)
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte(strings.Repeat(" ", 24<<20))); err != nil {
		t.Fatal(err)
	}
	written := c.now().UnixMilli()
	c.advance(12 * time.Second) // b and d last sent 12 s ago or more: down by their samples
	for _, svc := range []string{"b", "d"} {
		s := statusOf(t, base, "", svc)
		if s.State != "unknown" || s.Hold == nil || s.Hold.Cause != "ingest_stall" {
			t.Fatalf("during the stall %s is %q (hold %+v, %s), want unknown: held by the stall", svc, s.State, s.Hold, s.Reason)
		}
		if s.Hold.UntilMs != nil || s.Hold.JudgedFromMs != nil {
			t.Errorf("during the stall %s's hold ends %v, judged from %v: want neither while it goes on", svc, s.Hold.UntilMs, s.Hold.JudgedFromMs)
		}
		if s.Hold.SinceMs < posted || s.Hold.SinceMs > written {
			t.Errorf("during the stall %s: stalled since %d, want the slow request's start, in %d..%d", svc, s.Hold.SinceMs, posted, written)
		}
		if !strings.Contains(s.Reason, "ingest is stalled since") {
			t.Errorf("during the stall %s's reason %q", svc, s.Reason)
		}
	}
	if s := statusOf(t, base, "states", "quiet"); s.State != "down" || s.Hold != nil {
		t.Errorf("during the stall quiet (paged before it) is %q (hold %+v), want down", s.State, s.Hold)
	}

	// The stall ends: b's held-up sample lands; d stays silent. The clock
	// stops here, so that the rest of the slow body (megabytes of blanks
	// still in the loopback's buffers) may take the machine's time: b's
	// sample is as old as the stall's end, 0 s, when the answer comes.
	end := c.freeze().UnixMilli()
	fmt.Fprintf(pw, `{"service":"b","instance":"b-1","timestamp":%.3f,"metrics":{"app_requests_total":2}}`, float64(end)/1000)
	pw.Close()
	if code := <-answered; code/100 != 2 {
		t.Fatalf("slow push answered %d", code)
	}
	if s := statusOf(t, base, "", "b"); s.State != "up" {
		t.Errorf("after the stall b is %q (%s), want up", s.State, s.Reason)
	}
	c.advance(2 * time.Second)
	s := statusOf(t, base, "states", "d")
	if s.State != "unknown" || s.Hold == nil || s.Hold.Cause != "ingest_stall" || s.Hold.UntilMs == nil || s.Hold.JudgedFromMs == nil {
		t.Fatalf("2 s after the stall d is %q (hold %+v), want unknown with the stall's end", s.State, s.Hold)
	}
	if u := *s.Hold.UntilMs; u != end {
		t.Errorf("stall ended at %d, want %d (when its last byte was sent, the clock stopped)", u, end)
	}
	if *s.Hold.JudgedFromMs != *s.Hold.UntilMs+8000 {
		t.Errorf("d judged from %d, want the stall's end %d + 8 s", *s.Hold.JudgedFromMs, *s.Hold.UntilMs)
	}
	c.advance(9 * time.Second)
	if s := statusOf(t, base, "", "d"); s.State != "down" || s.Hold != nil {
		t.Errorf("11 s after the stall d is %q (hold %+v), want down", s.State, s.Hold)
	}
}
