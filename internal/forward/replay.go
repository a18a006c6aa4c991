package forward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// replaySlice is how much time one replay step reads from the TSDB.
const replaySlice = time.Minute

// replay sends (replayFrom, replayUntil] from the local TSDB to every
// receiver, in time order, slice by slice, retrying each batch until it is
// accepted or refused for good; progress follows the slices.
func (f *Forwarder) replay(ctx context.Context) {
	start := time.Now()
	targets := make([]replayTarget, 0, len(f.opts.Config))
	for _, rw := range f.opts.Config {
		c, err := remote.NewWriteClient("replay-"+receiverName(rw), &remote.ClientConfig{
			URL:              rw.URL,
			Timeout:          rw.RemoteTimeout,
			HTTPClientConfig: rw.HTTPClientConfig,
			SigV4Config:      rw.SigV4Config,
			AzureADConfig:    rw.AzureADConfig,
			GoogleIAMConfig:  rw.GoogleIAMConfig,
			Headers:          rw.Headers,
			RetryOnRateLimit: rw.QueueConfig.RetryOnRateLimit,
			WriteProtoMsg:    remoteapi.WriteV1MessageType,
		})
		if err != nil {
			f.logger.Error("replay: cannot build remote-write client; its gap is not replayed", "url", rw.URL.Redacted(), "err", err)
			continue
		}
		targets = append(targets, replayTarget{cfg: rw, client: c})
	}
	var sent int
	for from := f.replayFrom; from < f.replayUntil; {
		to := min(from+replaySlice.Milliseconds(), f.replayUntil)
		f.m.replayPending.Set(float64(f.replayUntil-from) / 1000)
		// The last slice reaches a little into the future: wait for it.
		if wait := time.Until(time.UnixMilli(to).Add(time.Second)); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		n, err := f.replaySliceTo(ctx, targets, from, to)
		if err != nil {
			if ctx.Err() == nil {
				f.logger.Error("replay stopped", "err", err)
			}
			return
		}
		sent += n
		from = to
		f.progress.Store(to)
	}
	f.m.replayPending.Set(0)
	f.logger.Info("replay done", "samples", sent, "duration", time.Since(start).Round(time.Millisecond))
}

type replayTarget struct {
	cfg    *promconfig.RemoteWriteConfig
	client remote.WriteClient
}

// receiverName is the queue name Prometheus would show for rw.
func receiverName(rw *promconfig.RemoteWriteConfig) string {
	if rw.Name != "" {
		return rw.Name
	}
	return rw.URL.Host
}

// replaySliceTo sends the samples with from < t ≤ to to every target and
// returns how many it read.
func (f *Forwarder) replaySliceTo(ctx context.Context, targets []replayTarget, from, to int64) (int, error) {
	q, err := f.opts.Local.Querier(from+1, to)
	if err != nil {
		return 0, fmt.Errorf("query local tsdb: %w", err)
	}
	defer q.Close()
	all := labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")
	set := q.Select(ctx, false, &storage.SelectHints{Start: from + 1, End: to}, all)
	type series struct {
		lset labels.Labels
		ts   prompb.TimeSeries
	}
	var read []series
	n := 0
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		var ts prompb.TimeSeries
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			switch vt {
			case chunkenc.ValFloat:
				t, v := it.At()
				ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: t, Value: v})
			case chunkenc.ValHistogram:
				t, h := it.AtHistogram(nil)
				ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(t, h))
			case chunkenc.ValFloatHistogram:
				t, h := it.AtFloatHistogram(nil)
				ts.Histograms = append(ts.Histograms, prompb.FromFloatHistogram(t, h))
			}
		}
		if err := it.Err(); err != nil {
			return n, fmt.Errorf("read local tsdb: %w", err)
		}
		if len(ts.Samples)+len(ts.Histograms) == 0 {
			continue
		}
		n += len(ts.Samples) + len(ts.Histograms)
		read = append(read, series{lset: s.Labels(), ts: ts})
	}
	if err := set.Err(); err != nil {
		return n, fmt.Errorf("read local tsdb: %w", err)
	}
	for _, tg := range targets {
		lb := labels.NewBuilder(labels.EmptyLabels())
		var batch []prompb.TimeSeries
		inBatch := 0
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := f.sendBatch(ctx, tg, batch, inBatch)
			batch, inBatch = nil, 0
			return err
		}
		for _, s := range read {
			lb.Reset(s.lset)
			if !relabel.ProcessBuilder(lb, tg.cfg.WriteRelabelConfigs...) {
				continue
			}
			ts := s.ts
			ts.Labels = prompb.FromLabels(lb.Labels(), nil)
			batch = append(batch, ts)
			inBatch += len(ts.Samples) + len(ts.Histograms)
			if inBatch >= tg.cfg.QueueConfig.MaxSamplesPerSend {
				if err := flush(); err != nil {
					return n, err
				}
			}
		}
		if err := flush(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// sendBatch stores one write request, retrying recoverable errors with the
// queue's backoff until ctx ends; a request refused for good is counted and
// dropped, as Prometheus's queues do.
func (f *Forwarder) sendBatch(ctx context.Context, tg replayTarget, batch []prompb.TimeSeries, samples int) error {
	data, err := (&prompb.WriteRequest{Timeseries: batch}).Marshal()
	if err != nil {
		return fmt.Errorf("encode write request: %w", err)
	}
	body := snappy.Encode(nil, data)
	backoff := time.Duration(tg.cfg.QueueConfig.MinBackoff)
	for attempt := 0; ; attempt++ {
		_, err := tg.client.Store(ctx, body, attempt)
		if err == nil {
			f.m.replayed.Add(float64(samples))
			return nil
		}
		var rerr remote.RecoverableError
		if !errors.As(err, &rerr) {
			f.m.replayDropped.Add(float64(samples))
			f.logger.Error("replay: receiver refused a batch", "url", tg.cfg.URL.Redacted(), "samples", samples, "err", err)
			return nil
		}
		if attempt == 0 || attempt%50 == 0 {
			f.logger.Warn("replay: receiver unavailable, retrying", "url", tg.cfg.URL.Redacted(), "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Duration(tg.cfg.QueueConfig.MaxBackoff))
	}
}
