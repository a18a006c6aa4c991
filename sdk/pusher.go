package sdk

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/gmc-dev/gmc/internal/retry"
)

// Defaults of PusherOptions.
const (
	DefaultPushInterval    = time.Second
	DefaultSpoolMaxBytes   = 256 << 20
	DefaultPushTimeout     = 5 * time.Second
	DefaultMaxRetryBackoff = 5 * time.Second
	DefaultFlushTimeout    = 2 * time.Second
	// RemoteWritePath is where gmc (and Prometheus) receive remote-write.
	RemoteWritePath = "/api/v1/write"
	// HostLabel is the label joining a service's series to its machine's
	// (see PusherOptions.Host); the gmc agent sets it too.
	HostLabel = "host"
	// HostNone as PusherOptions.Host adds no host label.
	HostNone = "-"
)

// PusherOptions configure a Pusher.
type PusherOptions struct {
	// URL of gmc, e.g. http://127.0.0.1:9900. When it has no path,
	// RemoteWritePath is used; otherwise it is the full remote-write URL.
	URL string
	// Gatherer is what is pushed, e.g. the registry the Metrics live in.
	Gatherer prometheus.Gatherer
	// Interval between gathers; DefaultPushInterval when zero.
	Interval time.Duration
	// SpoolDir keeps the requests gmc could not take yet, durably across
	// restarts. Empty: they are kept in memory, lost when the process exits.
	SpoolDir string
	// SpoolMaxBytes bounds the spool; DefaultSpoolMaxBytes when zero. When a
	// request does not fit, the oldest are dropped, logged and counted in
	// gmc_spool_dropped_requests_total.
	SpoolMaxBytes int64
	// ExternalLabels are added to every series that lacks them (e.g.
	// instance="host-1").
	ExternalLabels map[string]string
	// Host is the value of the host label added to every series that
	// lacks one (as ExternalLabels are), so a service's series join the
	// series of the gmc agent on the same machine, which sets the same
	// label: the dashboard shows the host's CPU, memory, disk and network
	// beside the service. Empty: os.Hostname(); HostNone: no host label.
	// A "host" key in ExternalLabels wins.
	Host string
	// ClassicHistograms also sends the classic buckets (name_bucket{le}) of
	// histograms that have native buckets. The SDK's own histograms have
	// both; sending both lets either kind of query work.
	ClassicHistograms bool
	// Timeout of one remote-write request; DefaultPushTimeout when zero.
	Timeout time.Duration
	// MaxRetryBackoff caps the wait between attempts while gmc is
	// unreachable; DefaultMaxRetryBackoff when zero.
	MaxRetryBackoff time.Duration
	// FlushTimeout is how long Run keeps sending after its context ends;
	// what is left then stays in the spool. DefaultFlushTimeout when zero.
	// An attempt still in flight at that moment is let finish (within
	// Timeout) so that its answer decides: a request gmc acknowledged is
	// removed, never spooled to be sent again by the next process.
	FlushTimeout time.Duration
	// HTTPClient sends the requests; when nil, a client using TLSConfig.
	HTTPClient *http.Client
	// TLSConfig is used for an https URL when HTTPClient is nil (for example
	// RootCAs holding the CA of gmc's --web.config.file certificate, or a
	// client certificate); nil: the system's roots.
	TLSConfig *tls.Config
	// BearerToken, when set, is sent as "Authorization: Bearer <token>" (a
	// token with gmc's write role).
	BearerToken string
	// Logger receives state changes (gmc unreachable, back, drops); none when nil.
	Logger *slog.Logger
	// Registerer receives the pusher's own metrics (gmc_push_*, gmc_spool_*);
	// they are not registered when nil.
	Registerer prometheus.Registerer
	// Now is the clock stamping each gather; time.Now when nil.
	Now func() time.Time
}

// Pusher gathers a prometheus.Gatherer every interval and remote-writes
// (Prometheus remote-write 1.0, protobuf + snappy) the samples to gmc, each
// gather stamped with its time. Requests gmc cannot take (unreachable, 5xx,
// 429) are spooled and replayed in order when it is back; requests gmc
// rejects with another 4xx are dropped and logged, as retrying cannot help.
//
// Its own metrics:
//
//	gmc_push_gathers_total                     gathers done (one request each)
//	gmc_push_gather_errors_total               gathers that returned an error
//	gmc_push_requests_total{result}            send attempts: success, retry, rejected
//	gmc_spool_requests, gmc_spool_bytes        requests and bytes waiting in the spool
//	gmc_spool_dropped_requests_total           requests dropped because the spool was full
type Pusher struct {
	opts   PusherOptions
	url    string
	client *http.Client
	logger *slog.Logger
	q      *queue

	gatherMu sync.Mutex // guards enc and lastMs
	enc      encoder
	lastMs   int64 // timestamp of the previous gather: each gather's is later

	gathers      prometheus.Counter
	gatherErrors prometheus.Counter
	requests     *prometheus.CounterVec
}

// NewPusher checks the options and opens the spool (loading what a previous
// process left in it, which is sent first).
func NewPusher(opts PusherOptions) (*Pusher, error) {
	if opts.Gatherer == nil {
		return nil, errors.New("new pusher: Gatherer is required")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("new pusher: URL %q is not an http(s) URL", opts.URL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = RemoteWritePath
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultPushInterval
	}
	if opts.SpoolMaxBytes <= 0 {
		opts.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultPushTimeout
	}
	if opts.MaxRetryBackoff <= 0 {
		opts.MaxRetryBackoff = DefaultMaxRetryBackoff
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Pusher{opts: opts, url: u.String(), client: opts.HTTPClient, logger: opts.Logger}
	if p.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = opts.TLSConfig
		p.client = &http.Client{Transport: tr}
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(opts.Registerer)
	p.gathers = f.NewCounter(prometheus.CounterOpts{
		Name: "gmc_push_gathers_total", Help: "Gathers done by the gmc pusher; each becomes one remote-write request.",
	})
	p.gatherErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "gmc_push_gather_errors_total", Help: "Gathers that returned an error (what was gathered is still sent).",
	})
	p.requests = f.NewCounterVec(prometheus.CounterOpts{
		Name: "gmc_push_requests_total", Help: "Remote-write attempts by result: success, retry (spooled, sent again later), rejected (4xx, dropped).",
	}, []string{"result"})
	for _, r := range []string{"success", "retry", "rejected"} {
		p.requests.WithLabelValues(r)
	}
	sm := &spoolMetrics{
		dropped: f.NewCounter(prometheus.CounterOpts{
			Name: "gmc_spool_dropped_requests_total", Help: "Requests dropped, oldest first, because the spool was full: their samples are lost.",
		}),
		requests: f.NewGauge(prometheus.GaugeOpts{Name: "gmc_spool_requests", Help: "Requests waiting in the spool for gmc."}),
		bytes:    f.NewGauge(prometheus.GaugeOpts{Name: "gmc_spool_bytes", Help: "Bytes waiting in the spool for gmc."}),
	}
	sp, err := openSpool(opts.SpoolDir, opts.SpoolMaxBytes, p.logger, sm)
	if err != nil {
		return nil, err
	}
	if sp.len() > 0 {
		p.logger.Info("replaying spooled requests", "requests", sp.len(), "bytes", sp.bytes, "dir", opts.SpoolDir)
	}
	p.q = newQueue(sp, 4)
	ext := maps.Clone(opts.ExternalLabels)
	if ext == nil {
		ext = map[string]string{}
	}
	if _, ok := ext[HostLabel]; !ok && opts.Host != HostNone {
		host := opts.Host
		if host == "" {
			host, _ = os.Hostname()
		}
		if host != "" {
			ext[HostLabel] = host
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ext)) {
		p.enc.external = append(p.enc.external, label{k, ext[k]})
	}
	return p, nil
}

// Run gathers and pushes every interval until ctx ends, then gathers once
// more, sends what it can within FlushTimeout and leaves the rest in the spool.
// No attempt starts after FlushTimeout, and the one in flight then is waited
// for (at most Timeout): were it cut off, gmc could store a request the
// Pusher spools as unsent, and the next process would send it again.
func (p *Pusher) Run(ctx context.Context) error {
	// sendCtx ends the send loop: no attempt starts after it is cancelled
	// and backoff waits end, but an attempt in flight runs to its answer.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	var wg sync.WaitGroup
	wg.Go(func() { p.sendLoop(sendCtx) })

	ticker := time.NewTicker(p.opts.Interval)
	defer ticker.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-ticker.C:
			if err := p.Gather(); err != nil {
				// The spool failed (disk full, permissions): these samples are
				// lost, the next gathers may fare better.
				p.logger.Error("samples lost", "err", err)
			}
		}
	}
	err := p.Gather()
	deadline := time.NewTimer(p.opts.FlushTimeout)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
flush:
	for p.q.len() > 0 {
		select {
		case <-deadline.C:
			break flush
		case <-poll.C:
		}
	}
	cancelSend()
	wg.Wait()
	if serr := p.q.spill(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// Gather gathers once and queues the request for sending. Run calls it every
// interval; call it directly to push at moments of your choosing. It returns
// an error only when the request could not be queued (the spool failed).
func (p *Pusher) Gather() error {
	p.gatherMu.Lock()
	defer p.gatherMu.Unlock()
	now := p.opts.Now()
	p.gathers.Inc()
	mfs, err := p.opts.Gatherer.Gather()
	if err != nil {
		p.gatherErrors.Inc()
		p.logger.Warn("gather metrics", "err", err)
	}
	// Two gathers in one millisecond (a tick and a direct Gather, or the
	// final gather at stop) would send one series two values at one
	// timestamp, which a receiver refuses: keep timestamps strictly rising.
	ms := max(now.UnixMilli(), p.lastMs+1)
	p.lastMs = ms
	p.enc.reset()
	p.enc.appendFamilies(mfs, ms, p.opts.ClassicHistograms)
	if p.enc.nSeries == 0 {
		return nil
	}
	if err := p.q.push(snappy.Encode(nil, p.enc.buf)); err != nil {
		return fmt.Errorf("queue remote-write request: %w", err)
	}
	return nil
}

// sendLoop sends the queue's head until ctx ends. An attempt begun before
// ctx ends is not cut short by it (send's own Timeout bounds it), so every
// request gmc answered is either removed (2xx, 4xx) or spooled (5xx, 429,
// no answer): only a request whose answer never came (timeout, connection
// lost) can be sent twice.
func (p *Pusher) sendLoop(ctx context.Context) {
	// 100ms, 200ms, … up to MaxRetryBackoff, reset by a success: gmc's one
	// retry policy (notify's too).
	wait := retry.Backoff(100*time.Millisecond, p.opts.MaxRetryBackoff)
	down := false
	for {
		seq, body, ok, err := p.q.head()
		if err != nil {
			p.logger.Error("samples lost: unreadable spooled request dropped", "err", err)
			if err := p.q.done(seq); err != nil {
				p.logger.Error("remove unreadable spooled request", "err", err)
				return
			}
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-p.q.wake:
				continue
			}
		}
		if ctx.Err() != nil {
			return // stopping: what is queued stays for the spool
		}
		err = p.send(context.WithoutCancel(ctx), body)
		var rejected *rejectedError
		switch {
		case err == nil:
			p.requests.WithLabelValues("success").Inc()
			if down {
				p.logger.Info("gmc reachable again, sending spooled requests", "url", p.url, "waiting", p.q.len())
				down = false
			}
			wait.Reset()
		case errors.As(err, &rejected):
			p.requests.WithLabelValues("rejected").Inc()
			p.logger.Error("samples lost: gmc rejected a remote-write request", "url", p.url, "err", err)
		default:
			p.requests.WithLabelValues("retry").Inc()
			if serr := p.q.spill(); serr != nil {
				p.logger.Error("spool remote-write requests", "err", serr)
			}
			if !down {
				p.logger.Warn("gmc unreachable, spooling remote-write requests", "url", p.url, "err", err)
				down = true
			}
			t := time.NewTimer(wait.NextBackOff())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if err := p.q.done(seq); err != nil {
			p.logger.Error("remove sent request from the spool", "err", err)
		}
	}
}

// rejectedError is a 4xx answer other than 429: sending again cannot help.
type rejectedError struct {
	status int
	msg    string
}

func (e *rejectedError) Error() string {
	return fmt.Sprintf("remote write: HTTP %d: %s", e.status, e.msg)
}

// send makes one remote-write attempt.
func (p *Pusher) send(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build remote-write request: %w", err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "gmc-sdk")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	if p.opts.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+p.opts.BearerToken)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
		return fmt.Errorf("remote write: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	default:
		return &rejectedError{status: resp.StatusCode, msg: strings.TrimSpace(string(msg))}
	}
}
