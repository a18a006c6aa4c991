package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
)

// RemoteOptions configure the remote mode: no local TSDB; writes go out by
// remote write, reads come back by remote read (Prometheus, Mimir, Cortex,
// Thanos receive/sidecar, VictoriaMetrics cluster with vmselect's
// remote-read is not offered: see docs/scaleout.md).
type RemoteOptions struct {
	// WriteURL is the remote-write endpoint, e.g.
	// http://mimir:8080/api/v1/push or http://prometheus:9090/api/v1/write.
	WriteURL string
	// ReadURL is the remote-read endpoint, e.g.
	// http://mimir:8080/prometheus/api/v1/read or http://prometheus:9090/api/v1/read.
	ReadURL string
	// Headers are sent with every request (X-Scope-OrgID for Mimir/Cortex).
	Headers map[string]string
	// HTTP carries auth and TLS, in Prometheus's http_config schema.
	HTTP commoncfg.HTTPClientConfig
	// Timeout bounds one request; 0 means 30 s.
	Timeout time.Duration
	// WriteAttempts bounds the tries of one commit when the remote answers
	// 5xx or cannot be reached; 0 means 5. A commit that fails fails the
	// write request that made it, so the client retries it.
	WriteAttempts int
}

// Remote is the remote mode's Storage. A commit returns once the remote has
// acknowledged the write, so what gmc acknowledges is held by the remote;
// nothing is kept locally.
type Remote struct {
	opts  RemoteOptions
	write remote.WriteClient
	read  storage.SampleAndChunkQueryable
	api   *labelsAPI
}

var _ Storage = (*Remote)(nil)

// OpenRemote builds the clients; it does not contact the remote.
func OpenRemote(opts RemoteOptions) (*Remote, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.WriteAttempts <= 0 {
		opts.WriteAttempts = 5
	}
	wu, err := url.Parse(opts.WriteURL)
	if err != nil || wu.Host == "" {
		return nil, fmt.Errorf("storage.write_url: %q is not a URL", opts.WriteURL)
	}
	ru, err := url.Parse(opts.ReadURL)
	if err != nil || ru.Host == "" {
		return nil, fmt.Errorf("storage.read_url: %q is not a URL", opts.ReadURL)
	}
	wc, err := remote.NewWriteClient("gmc-storage", &remote.ClientConfig{
		URL:              &commoncfg.URL{URL: wu},
		Timeout:          model.Duration(opts.Timeout),
		HTTPClientConfig: opts.HTTP,
		Headers:          opts.Headers,
		WriteProtoMsg:    remoteapi.WriteV1MessageType,
	})
	if err != nil {
		return nil, fmt.Errorf("storage.write_url: %w", err)
	}
	rc, err := remote.NewReadClient("gmc-storage", &remote.ClientConfig{
		URL:              &commoncfg.URL{URL: ru},
		Timeout:          model.Duration(opts.Timeout),
		HTTPClientConfig: opts.HTTP,
		Headers:          opts.Headers,
		ChunkedReadLimit: 5e7, // Prometheus's default (50 MB frames)
	})
	if err != nil {
		return nil, fmt.Errorf("storage.read_url: %w", err)
	}
	hc, err := commoncfg.NewClientFromConfig(opts.HTTP, "gmc-storage")
	if err != nil {
		return nil, fmt.Errorf("storage.http_config: %w", err)
	}
	hc.Timeout = opts.Timeout
	r := &Remote{opts: opts, write: wc, api: &labelsAPI{
		base:   strings.TrimSuffix(strings.TrimSuffix(opts.ReadURL, "/"), "/read"),
		client: hc,
		header: opts.Headers,
	}}
	// readRecent: always ask the remote, which holds even the newest data.
	r.read = remote.NewSampleAndChunkQueryableClient(rc, labels.EmptyLabels(), nil, true,
		func() (int64, error) { return 0, nil })
	return r, nil
}

// Querier implements storage.Queryable through remote read.
func (r *Remote) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := r.read.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return &labelsQuerier{Querier: q, api: r.api, mint: mint, maxt: maxt}, nil
}

// ChunkQuerier implements storage.ChunkQueryable through remote read.
func (r *Remote) ChunkQuerier(mint, maxt int64) (storage.ChunkQuerier, error) {
	return r.read.ChunkQuerier(mint, maxt)
}

// AppenderV2 implements storage.AppendableV2: samples are buffered until
// Commit, which sends them as one remote-write request.
func (r *Remote) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &remoteAppender{r: r, ctx: ctx, series: map[string]int{}}
}

// Stats implements Storage: only the mode and the remote; the remote's
// series and bytes are the remote's to report (gmc does not guess them).
func (r *Remote) Stats() Stats {
	return Stats{Mode: "remote", Remote: r.opts.WriteURL}
}

// Close implements Storage; there is nothing to flush.
func (r *Remote) Close() error { return nil }

// remoteAppender collects one commit's samples, one time series per label
// set.
type remoteAppender struct {
	r      *Remote
	ctx    context.Context
	req    prompb.WriteRequest
	series map[string]int // labels → index in req.Timeseries
	n      int
}

func (a *remoteAppender) Append(ref storage.SeriesRef, ls labels.Labels, _, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, _ storage.AOptions) (storage.SeriesRef, error) {
	key := ls.String()
	i, ok := a.series[key]
	if !ok {
		i = len(a.req.Timeseries)
		a.series[key] = i
		a.req.Timeseries = append(a.req.Timeseries, prompb.TimeSeries{Labels: prompb.FromLabels(ls, nil)})
	}
	ts := &a.req.Timeseries[i]
	switch {
	case fh != nil:
		ts.Histograms = append(ts.Histograms, prompb.FromFloatHistogram(t, fh))
	case h != nil:
		ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(t, h))
	default:
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: t, Value: v})
	}
	a.n++
	if ref == 0 {
		ref = storage.SeriesRef(ls.Hash())
	}
	return ref, nil
}

// Commit sends the request, retrying what may succeed later (5xx, no
// connection) a few times with backoff; a 4xx is returned at once.
func (a *remoteAppender) Commit() error {
	if a.n == 0 {
		return nil
	}
	data, err := a.req.Marshal()
	if err != nil {
		return fmt.Errorf("encode remote write: %w", err)
	}
	body := snappy.Encode(nil, data)
	wait := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		_, err = a.r.write.Store(a.ctx, body, attempt)
		if err == nil {
			return nil
		}
		var rerr remote.RecoverableError
		if !errors.As(err, &rerr) || attempt+1 >= a.r.opts.WriteAttempts {
			return fmt.Errorf("remote write to %s: %w", a.r.opts.WriteURL, err)
		}
		select {
		case <-a.ctx.Done():
			return fmt.Errorf("remote write to %s: %w", a.r.opts.WriteURL, a.ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Rollback drops the buffered samples.
func (a *remoteAppender) Rollback() error {
	a.req.Timeseries, a.series, a.n = nil, map[string]int{}, 0
	return nil
}
