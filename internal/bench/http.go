package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// runHTTP sends the configured constant-rate load and measures it.
func runHTTP(ctx context.Context, name string, c *HTTPConfig, progress func(float64)) (Result, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     c.Connections,
		MaxIdleConnsPerHost: c.Connections,
		MaxIdleConns:        c.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Duration(c.Timeout)}
	// Check the target answers before loading it, so a typo in the URL
	// fails fast instead of recording a run full of errors.
	if err := httpProbe(ctx, client, c); err != nil {
		return Result{}, err
	}
	headers := make(http.Header, len(c.Headers))
	for k, v := range c.Headers {
		headers.Set(k, v)
	}
	do := func(ctx context.Context) error {
		var body io.Reader
		if c.Body != "" {
			body = strings.NewReader(c.Body)
		}
		req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, body)
		if err != nil {
			return err
		}
		for k, v := range headers {
			req.Header[k] = v
		}
		if hostHdr := headers.Get("Host"); hostHdr != "" {
			req.Host = hostHdr
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		if cerr := resp.Body.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if resp.StatusCode >= 400 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	spec := loadSpec{
		Rate:     c.Rate,
		Duration: time.Duration(c.Duration),
		Warmup:   time.Duration(c.Warmup),
		Workers:  c.Connections,
		Mode:     c.Mode,
		Samples:  c.Samples,
		Quantile: c.Quantile,
		Progress: progress,
	}
	lr := runLoad(ctx, spec, do)
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("http load on %s: %w", c.URL, err)
	}
	return lr.result(name, spec), nil
}

func httpProbe(ctx context.Context, client *http.Client, c *HTTPConfig) error {
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, body)
	if err != nil {
		return fmt.Errorf("build request for %s: %w", c.URL, err)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", c.URL, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil
}

// RunHTTP normalises and validates c and runs it once, outside any runner
// (no baseline, no archive): for harnesses that drive the load generator
// directly.
func RunHTTP(ctx context.Context, name string, c HTTPConfig) (Result, error) {
	c.Normalise()
	if err := c.validate("http"); err != nil {
		return Result{}, err
	}
	return runHTTP(ctx, name, &c, nil)
}
