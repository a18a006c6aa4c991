package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Durability workload. Each writer owns its series and sends requests one
// after another, so every series' timestamps increase; request k of a writer
// carries one sample per series at base + k*durStepMs with value durValue(k, i).
const (
	durJSONWriters   = 1    // JSON push writers (each request: an array of durJSONInstances objects)
	durJSONInstances = 2    // instances per JSON push request
	durTextWriters   = 1    // text push writers
	durTextSeries    = 3    // series per text push request
	durOOOSeries     = 20   // series per out-of-order remote-write request
	durAckTarget     = 1500 // acknowledged requests (all writers) before the kill
	durMaxWrite      = 4 * time.Second
	durStepMs        = 5
	durOOOFar        = 30 * time.Minute // how far back every fifth out-of-order request goes
	durRWMetric      = "e2e_dur_rw_total"
	durJSONMetric    = "e2e_dur_json_ticks"
	durTextMetric    = "e2e_dur_text_ticks"
	durOOOMetric     = "e2e_dur_ooo_total"
	durService       = "e2e-durability"
)

// durRWSeries is how many series each remote-write writer sends per request:
// small and large requests, so WAL records of many sizes are in flight.
func durRWSeries() []int { return []int{5, 50, 500} }

// durValue is the value series i carries in request k: exact in binary
// floating point, distinct per request and series.
func durValue(k, i int) float64 { return float64(k) + float64(i)/8 }

// durSeriesID names one series of the workload independently of how gmc
// names it: writer kind and number, and series index.
type durSeriesID struct {
	kind   durKind
	writer int
	series int
}

// durKind is the protocol a durability writer uses.
type durKind int

const (
	durRW durKind = iota
	durJSON
	durText
	durOOO // remote-write, timestamps going back: out-of-order samples
)

func (k durKind) String() string {
	return [...]string{"remote-write", "json", "text", "out-of-order"}[k]
}

// durTS is the timestamp of request k of writer w: going forward from base,
// or for the out-of-order writer backwards from it, every fifth request
// durOOOFar further back (within gmc's default out-of-order window of 1h, so
// these samples go through the TSDB's out-of-order head, its write-behind
// log and its m-mapped out-of-order chunks).
func (w durSeriesID) durTS(base int64, k int) int64 {
	if w.kind == durOOO {
		if k%5 == 4 {
			return base - durOOOFar.Milliseconds() - int64(k+1)*durStepMs
		}
		return base - int64(k+1)*durStepMs
	}
	if k%5 == 4 {
		return base - durOOOFar.Milliseconds() + int64(k)*durStepMs
	}
	return base + int64(k)*durStepMs
}

// seriesCount is how many series writer w's requests carry.
func (w durSeriesID) seriesCount() int {
	switch w.kind {
	case durJSON:
		return durJSONInstances
	case durText:
		return durTextSeries
	case durOOO:
		return durOOOSeries
	}
	return durRWSeries()[w.writer]
}

// durLedger records, per writer, which request numbers were sent and which
// were acknowledged with a 2xx.
type durLedger struct {
	mu      sync.Mutex
	sent    map[durSeriesID]map[int]bool // writer (series 0) → k → acknowledged
	nextK   map[durSeriesID]int          // writer (series 0) → next request number
	acked   atomic.Int64
	badCode []string // non-2xx answers before the kill: each one is a gmc bug
}

func newDurLedger() *durLedger {
	return &durLedger{sent: map[durSeriesID]map[int]bool{}, nextK: map[durSeriesID]int{}}
}

func (l *durLedger) next(w durSeriesID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.nextK[w]
	l.nextK[w] = k + 1
	if l.sent[w] == nil {
		l.sent[w] = map[int]bool{}
	}
	l.sent[w][k] = false
	return k
}

func (l *durLedger) ack(w durSeriesID, k int) {
	l.mu.Lock()
	l.sent[w][k] = true
	l.mu.Unlock()
	l.acked.Add(1)
}

// unacked counts the requests sent without a 2xx answer.
func (l *durLedger) unacked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ks := range l.sent {
		for _, ok := range ks {
			if !ok {
				n++
			}
		}
	}
	return n
}

func (l *durLedger) rejected(msg string) {
	l.mu.Lock()
	l.badCode = append(l.badCode, msg)
	l.mu.Unlock()
}

// TestDurabilityUnderSIGKILL streams remote-write, JSON and text push
// requests (in order and out of order) into a child gmc and ends each round
// with a SIGKILL mid-stream (requests in flight) or, in some rounds, a clean
// SIGTERM; it restarts gmc on the same data dir each time and checks that
// every sample acknowledged in any round so far is there with its exact value
// and timestamp. Every fifth request of each writer is 30 minutes in the
// past (out of order). Checking every earlier round matters: the embedded
// TSDB once lost out-of-order samples of an earlier crash only at a later
// restart, after the head chunk files of the crashed run had lost their
// buffered chunks while the out-of-order log still pointed into them (see
// internal/storage's TestOutOfOrderSurvivesRepeatedCrashes, which makes the
// chunk buffer flush at test sizes).
func TestDurabilityUnderSIGKILL(t *testing.T) {
	durability(t, t.TempDir(), durRounds, 0)
}

// TestDurabilityUnderSIGKILLAtStartup kills gmc while it starts: after each
// round of writes (ended by a SIGKILL, so the next start replays the WAL,
// loads the m-mapped chunks and writes the replayed out-of-order head into
// blocks), it starts gmc durStartupKills times in a row and SIGKILLs it at
// a random point within the time a full start took, then starts it for good
// and checks every sample acknowledged so far.
func TestDurabilityUnderSIGKILLAtStartup(t *testing.T) {
	durability(t, t.TempDir(), []bool{true, true, true, true}, durStartupKills)
}

// durStartupKills is how many starts in a row TestDurabilityUnderSIGKILLAtStartup
// kills after each round.
const durStartupKills = 3

// durRounds is how each round of durability ends: true is SIGKILL, false a
// clean SIGTERM. Kills follow each other (chunks lost in one crash must not
// be trusted after the next), and clean stops follow kills (a clean stop
// flushes the head chunk files a later restart then reads).
var durRounds = []bool{true, true, false, true, true, true, false}

// durability runs the kill-and-restart rounds (true: SIGKILL, false:
// SIGTERM) against gmc on dataDir: remote-write, out-of-order, JSON and text
// push writers. After every stop it starts gmc startupKills times and
// SIGKILLs it before it is up (or soon after), then starts it for good and
// checks every round so far.
func durability(t *testing.T, dataDir string, rounds []bool, startupKills int) {
	t.Helper()
	base := time.Now().Add(-time.Minute).UnixMilli()
	ledger := newDurLedger()
	rng := rand.New(rand.NewPCG(uint64(base), 16))

	t0 := time.Now()
	srv := startGMC(t, dataDir, "")
	startTook := time.Since(t0)
	for round, kill := range rounds {
		before := ledger.acked.Load()
		t0 = time.Now()
		streamAndStop(t, srv, ledger, base, kill)
		how := "SIGTERM"
		if kill {
			how = "SIGKILL"
		}
		t.Logf("round %d (%s): %d requests acknowledged before the stop (%.1fs), %d unacknowledged in all (cut off by a kill)",
			round+1, how, ledger.acked.Load()-before, time.Since(t0).Seconds(), ledger.unacked())
		if len(ledger.badCode) > 0 {
			t.Fatalf("%s refused %d writes before it was stopped, first: %s", srv.name, len(ledger.badCode), ledger.badCode[0])
		}
		for i := range startupKills {
			at := time.Duration(rng.Int64N(int64(startTook)))
			t.Logf("round %d: start %d killed %s after exec (%s)", round+1, i+1, at.Round(time.Millisecond), killDuringStart(t, dataDir, at))
		}
		t0 = time.Now()
		srv = startGMC(t, dataDir, "")
		startTook = time.Since(t0)
		t0 = time.Now()
		checkDurable(t, srv, ledger, base, round+1)
		t.Logf("round %d: restart took %.1fs, read-back %.1fs", round+1, startTook.Seconds(), time.Since(t0).Seconds())
	}
}

// killDuringStart starts gmc on dataDir, SIGKILLs it after, and returns
// how far its start had got by then, as its log tells.
func killDuringStart(t *testing.T, dataDir string, after time.Duration) string {
	t.Helper()
	addr := freeAddr(t)
	p := spawn(t, "gmc", gmcBinary, addr, t.TempDir(),
		[]string{"server", "--web.listen-address", addr, "--storage.path", dataDir})
	select {
	case <-p.done:
		p.dumpLog(t)
		t.Fatalf("gmc exited %s after its start, before the kill: %v", after, p.waitErr)
	case <-time.After(after):
	}
	p.kill(t)
	log, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatalf("read log of gmc: %v", err)
	}
	return startPhase(string(log))
}

// startPhase names the last step of the embedded TSDB's opening (or gmc
// serving) that gmc's log shows.
func startPhase(log string) string {
	phase := "before opening the TSDB"
	for line := range strings.Lines(log) {
		if !strings.Contains(line, "component=tsdb") && !strings.Contains(line, "gmc server listening") {
			continue // the tiers' TSDBs log the same steps
		}
		for _, s := range []struct{ msg, phase string }{
			{"Replaying on-disk memory mappable chunks", "loading m-mapped head chunks"},
			{"Replaying WAL", "replaying the WAL"},
			{"repair was cut off", "restoring a cut-off log repair"},
			{"torn record", "repairing a log"},
			{"attempting repair", "repairing a log"},
			{"WBL segment loaded", "replaying the out-of-order WAL"},
			{"out-of-order compaction started", "writing the out-of-order head into blocks"},
			{"Head GC started", "truncating the out-of-order WAL"},
			{"gmc server listening", "serving"},
		} {
			if strings.Contains(line, s.msg) {
				phase = s.phase
			}
		}
	}
	return phase
}

// streamAndStop runs the writers against gmc until durAckTarget more
// requests are acknowledged (or durMaxWrite passes), then SIGKILLs gmc while
// they keep writing (or with kill false stops it with SIGTERM), and waits
// for the writers to stop.
func streamAndStop(t *testing.T, gmc *proc, ledger *durLedger, base int64, kill bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), durMaxWrite+10*time.Second)
	defer cancel()
	killed := make(chan struct{})
	target := ledger.acked.Load() + durAckTarget
	writers := []durSeriesID{}
	for w := range durRWSeries() {
		writers = append(writers, durSeriesID{kind: durRW, writer: w})
	}
	writers = append(writers, durSeriesID{kind: durOOO})
	for w := range durJSONWriters {
		writers = append(writers, durSeriesID{kind: durJSON, writer: w})
	}
	for w := range durTextWriters {
		writers = append(writers, durSeriesID{kind: durText, writer: w})
	}
	var wg sync.WaitGroup
	for _, w := range writers {
		wg.Go(func() { durWriter(ctx, gmc.URL(), ledger, w, base, killed) })
	}
	deadline := time.Now().Add(durMaxWrite)
	for ledger.acked.Load() < target && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ledger.acked.Load() == 0 {
		close(killed)
		cancel()
		wg.Wait()
		t.Fatalf("no write acknowledged within %s; refusals: %v", durMaxWrite, ledger.badCode)
	}
	close(killed) // from here on, a failed request is one the stop cut off
	if kill {
		gmc.kill(t)
	} else {
		gmc.stop(t)
	}
	wg.Wait()
}

// durWriter sends requests until one fails after the kill (or ctx ends).
func durWriter(ctx context.Context, baseURL string, ledger *durLedger, w durSeriesID, base int64, killed <-chan struct{}) {
	client := &http.Client{Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		k := ledger.next(w)
		ts := w.durTS(base, k)
		var (
			code int
			body string
			err  error
		)
		switch w.kind {
		case durJSON:
			code, body, err = post(ctx, client, baseURL+"/api/v1/push", "application/json", nil, durJSONBody(w.writer, k, ts))
		case durText:
			code, body, err = put(ctx, client, baseURL+durTextPath(w.writer), "text/plain; version=0.0.4", durTextBody(k, ts))
		case durOOO:
			code, body, err = remoteWrite(ctx, client, baseURL, durOOORequest(k, ts))
		default:
			code, body, err = remoteWrite(ctx, client, baseURL, durRWRequest(w.writer, w.seriesCount(), k, ts))
		}
		select {
		case <-killed:
			if err != nil || code/100 != 2 {
				return // the server is gone; this request's fate is unknown
			}
		default:
		}
		switch {
		case err != nil:
			// Before the kill an error is unexpected; record it and go on.
			ledger.rejected(fmt.Sprintf("writer %+v request %d: %v", w, k, err))
		case code/100 == 2:
			ledger.ack(w, k)
		default:
			ledger.rejected(fmt.Sprintf("writer %+v request %d: HTTP %d: %.200s", w, k, code, body))
		}
	}
}

func durRWRequest(writer, n, k int, ts int64) *prompb.WriteRequest {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, n)}
	for i := range n {
		req.Timeseries[i] = prompb.TimeSeries{
			Labels: promLabels("__name__", durRWMetric, "job", durService,
				"writer", strconv.Itoa(writer), "series", strconv.Itoa(i)),
			Samples: []prompb.Sample{{Value: durValue(k, i), Timestamp: ts}},
		}
	}
	return req
}

func durOOORequest(k int, ts int64) *prompb.WriteRequest {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, durOOOSeries)}
	for i := range durOOOSeries {
		req.Timeseries[i] = prompb.TimeSeries{
			Labels:  promLabels("__name__", durOOOMetric, "job", durService, "series", strconv.Itoa(i)),
			Samples: []prompb.Sample{{Value: durValue(k, i), Timestamp: ts}},
		}
	}
	return req
}

// durJSONInstance is the instance label of JSON series i of writer w.
func durJSONInstance(writer, i int) string { return fmt.Sprintf("json-w%d-i%d", writer, i) }

// durJSONBody is an array of JSON push objects, one per instance, in the
// shape the issue gives: service, instance, timestamp (seconds), metrics.
func durJSONBody(writer, k int, ts int64) []byte {
	objs := make([]map[string]any, durJSONInstances)
	for i := range durJSONInstances {
		objs[i] = map[string]any{
			"service":   durService,
			"instance":  durJSONInstance(writer, i),
			"timestamp": json.Number(msTime(ts)),
			"metrics":   map[string]float64{durJSONMetric: durValue(k, i)},
		}
	}
	data, err := json.Marshal(objs)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return data
}

// durTextPath is the Pushgateway-style path text writer w pushes to.
func durTextPath(writer int) string {
	return fmt.Sprintf("/metrics/job/%s/instance/text-w%d", durService, writer)
}

// durTextBody is the text exposition format with explicit timestamps.
func durTextBody(k int, ts int64) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# TYPE %s counter\n", durTextMetric)
	for i := range durTextSeries {
		fmt.Fprintf(&b, "%s{series=\"%d\"} %s %d\n", durTextMetric, i, strconv.FormatFloat(durValue(k, i), 'g', -1, 64), ts)
	}
	return []byte(b.String())
}

// durLabels is the label set gmc must store series i of writer w under: the
// remote-write labels as sent; for JSON push __name__ = the metrics key plus
// service and instance; for text push the body's labels plus job and
// instance from the path and service = job.
func durLabels(w durSeriesID, i int) map[string]string {
	switch w.kind {
	case durJSON:
		return map[string]string{"__name__": durJSONMetric, "service": durService, "instance": durJSONInstance(w.writer, i)}
	case durOOO:
		return map[string]string{"__name__": durOOOMetric, "job": durService, "series": strconv.Itoa(i)}
	case durText:
		return map[string]string{"__name__": durTextMetric, "job": durService, "service": durService,
			"instance": fmt.Sprintf("text-w%d", w.writer), "series": strconv.Itoa(i)}
	}
	return map[string]string{"__name__": durRWMetric, "job": durService, "writer": strconv.Itoa(w.writer), "series": strconv.Itoa(i)}
}

// checkDurable reads every series of the workload back from gmc and checks
// that each acknowledged sample is present with its value, and that nothing
// present differs from what was sent. It reads the samples by remote read
// (streamed XOR chunks: after 7 rounds, ~850k samples come back in seconds,
// where the same as PromQL JSON took tens of seconds on a busy machine), and
// checks that PromQL counts the same samples per series.
func checkDurable(t *testing.T, gmc *proc, ledger *durLedger, base int64, rounds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), durReadTimeout)
	defer cancel()
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	maxK := 0
	for _, k := range ledger.nextK {
		maxK = max(maxK, k)
	}
	at := base + int64(maxK)*durStepMs + 1000
	window := 40 * time.Minute

	want := map[string]durSeriesID{}
	for w := range ledger.sent {
		for i := range w.seriesCount() {
			want[labelsKey(durLabels(w, i))] = durSeriesID{kind: w.kind, writer: w.writer, series: i}
		}
	}
	read, err := remoteReadSamples(ctx, gmc.URL(), at-window.Milliseconds()+1, at,
		&prompb.LabelMatcher{Type: prompb.LabelMatcher_RE, Name: "__name__", Value: "e2e_dur_.*"})
	if err != nil {
		t.Fatalf("read back the written samples: %v", err)
	}
	counts, err := instantQuery(ctx, gmc.URL(), fmt.Sprintf(`count_over_time({__name__=~"e2e_dur_.*"}[%dms])`, window.Milliseconds()), at)
	if err != nil {
		t.Fatalf("count the written samples by PromQL: %v", err)
	}
	got := map[durSeriesID]map[int64]float64{}
	readCounts := map[string]int{} // by label set without __name__, as count_over_time names them
	for key, pts := range read {
		id, ok := want[key]
		if !ok {
			t.Errorf("unexpected series %s (%d samples)", key, len(pts))
			continue
		}
		got[id] = pts
		ls := durLabels(durSeriesID{kind: id.kind, writer: id.writer}, id.series)
		delete(ls, "__name__")
		readCounts[labelsKey(ls)] = len(pts)
	}
	checkCounts(t, readCounts, counts)

	var acked, lost, inflightKept int
	lostByKind := map[durKind]int{}
	for w, ks := range ledger.sent {
		for i := range w.seriesCount() {
			id := durSeriesID{kind: w.kind, writer: w.writer, series: i}
			pts := got[id]
			for k, ok := range ks {
				ts := w.durTS(base, k)
				v, present := pts[ts]
				switch {
				case present && v != durValue(k, i):
					t.Errorf("%s at %d: value %v, sent %v", labelsKey(durLabels(w, i)), ts, v, durValue(k, i))
				case ok && !present:
					lost++
					lostByKind[w.kind]++
					if lost <= 10 {
						t.Errorf("%s: acknowledged sample at %d (%s request %d) is missing after %d rounds", labelsKey(durLabels(w, i)), ts, w.kind, k, rounds)
					}
				case !ok && present:
					inflightKept++
				}
				if ok {
					acked++
				}
				delete(pts, ts)
			}
			for ts, v := range pts {
				t.Errorf("%s holds a sample never sent: %d %v", labelsKey(durLabels(w, i)), ts, v)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("after %d rounds: %d of %d acknowledged samples lost (%.1f %%), by writer kind: %v", rounds, lost, acked, 100*float64(lost)/float64(acked), lostByKind)
	}
	t.Logf("after %d rounds: all %d acknowledged samples present; %d samples of unacknowledged requests kept", rounds, acked, inflightKept)
}

// durReadTimeout bounds one read-back of every round so far.
const durReadTimeout = 2 * time.Minute

// checkCounts checks that PromQL's count_over_time per series (which drops
// __name__) equals the samples remote read returned, by label set.
func checkCounts(t *testing.T, read map[string]int, counts result) {
	t.Helper()
	if len(counts.Series) != len(read) {
		t.Errorf("PromQL counts the samples of %d series, remote read returned %d", len(counts.Series), len(read))
	}
	for _, s := range counts.Series {
		if n, ok := read[s.key()]; len(s.Points) != 1 || !ok || float64(n) != s.Points[0].V {
			t.Errorf("%s: PromQL counts %v, remote read returned %d samples", s.key(), s.Points, n)
		}
	}
}

// remoteReadSamples reads the float samples of the series matching ms in
// [mint, maxt] by remote read, in streamed XOR chunks, keyed by labelsKey.
func remoteReadSamples(ctx context.Context, base string, mint, maxt int64, ms ...*prompb.LabelMatcher) (map[string]map[int64]float64, error) {
	data, err := (&prompb.ReadRequest{
		Queries:               []*prompb.Query{{StartTimestampMs: mint, EndTimestampMs: maxt, Matchers: ms}},
		AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS},
	}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal read request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/read", bytes.NewReader(snappy.Encode(nil, data)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Read-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req) // bounded by ctx
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, fmt.Errorf("remote read: HTTP %d: %s", resp.StatusCode, b)
	}
	out := map[string]map[int64]float64{}
	cr := remote.NewChunkedReader(resp.Body, 50<<20, nil)
	for {
		var frame prompb.ChunkedReadResponse
		if err := cr.NextProto(&frame); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("remote read: frame: %w", err)
		}
		for _, s := range frame.ChunkedSeries {
			ls := make(map[string]string, len(s.Labels))
			for _, l := range s.Labels {
				ls[l.Name] = l.Value
			}
			key := labelsKey(ls)
			pts := out[key]
			if pts == nil {
				pts = map[int64]float64{}
				out[key] = pts
			}
			for _, c := range s.Chunks {
				ch, err := chunkenc.FromData(chunkenc.Encoding(c.Type), c.Data)
				if err != nil {
					return nil, fmt.Errorf("remote read: chunk of %s: %w", key, err)
				}
				it := ch.Iterator(nil)
				for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
					if vt != chunkenc.ValFloat {
						return nil, fmt.Errorf("remote read: %s holds a %s sample", key, vt)
					}
					ts, v := it.At()
					if ts < mint || ts > maxt {
						continue // chunks are whole: they may reach past the range
					}
					if old, dup := pts[ts]; dup && old != v {
						return nil, fmt.Errorf("remote read: %s has two values at %d: %v and %v", key, ts, old, v)
					}
					pts[ts] = v
				}
			}
		}
	}
}
