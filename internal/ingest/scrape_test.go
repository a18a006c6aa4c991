package ingest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/gmc-dev/gmc/internal/duration"
	"github.com/gmc-dev/gmc/internal/storage"
)

func TestScraperScrapesStaticTargets(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE orders_total counter\norders_total{venue=\"xnas\"} 42\n")
	}))
	defer target.Close()
	// A port nothing listens on: its target must report up == 0.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()

	db, err := storage.Open(storage.Options{Dir: t.TempDir(), Retention: time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	jobs := []ScrapeConfig{
		{JobName: "gateway", ScrapeInterval: duration.Duration(200 * time.Millisecond),
			StaticConfigs: []StaticConfig{{Targets: []string{strings.TrimPrefix(target.URL, "http://")}, Labels: map[string]string{"env": "test"}}}},
		{JobName: "risk", ScrapeInterval: duration.Duration(200 * time.Millisecond),
			StaticConfigs: []StaticConfig{{Targets: []string{deadAddr}, Labels: map[string]string{"service": "risk-engine"}}}},
	}
	for i := range jobs {
		jobs[i].Normalise()
	}
	if err := ValidateScrapeConfigs(jobs); err != nil {
		t.Fatal(err)
	}
	s, err := NewScraper(ScraperOptions{Appendable: db, Jobs: jobs, Registerer: prometheus.NewRegistry(), ReloadInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	gatewayInstance := strings.TrimPrefix(target.URL, "http://")
	want := []struct {
		lset  labels.Labels
		value float64
	}{
		{labels.FromStrings("__name__", "orders_total", "env", "test", "instance", gatewayInstance, "job", "gateway", "service", "gateway", "venue", "xnas"), 42},
		{labels.FromStrings("__name__", "up", "env", "test", "instance", gatewayInstance, "job", "gateway", "service", "gateway"), 1},
		{labels.FromStrings("__name__", "up", "instance", deadAddr, "job", "risk", "service", "risk-engine"), 0},
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, w := range want {
		for {
			v, ok := latest(t, db, w.lset)
			if ok {
				if v != w.value {
					t.Errorf("%s = %v, want %v", w.lset, v, w.value)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("series %s never arrived", w.lset)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, ok := latest(t, db, labels.FromStrings("__name__", "scrape_duration_seconds", "env", "test", "instance", gatewayInstance, "job", "gateway", "service", "gateway")); !ok {
		t.Error("scrape_duration_seconds missing for the gateway target")
	}
}

// latest returns the newest sample of the series with exactly lset.
func latest(t *testing.T, db *storage.TSDB, lset labels.Labels) (float64, bool) {
	t.Helper()
	q, err := db.Querier(0, time.Now().Add(time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var ms []*labels.Matcher
	lset.Range(func(l labels.Label) { ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value)) })
	set := q.Select(context.Background(), false, nil, ms...)
	for set.Next() {
		if !labels.Equal(set.At().Labels(), lset) {
			continue
		}
		it := set.At().Iterator(nil)
		var v float64
		found := false
		for it.Next() != 0 {
			_, v = it.At()
			found = true
		}
		return v, found
	}
	return 0, false
}

// TestScraperCountsCommittedSamples: the ingest rate on /system/status and
// gmc_ingest_samples_total counted pushed samples only, so a scraped
// service's outage did not move it (t-user12 F1). The scraper now tells
// ScraperOptions.Committed every sample its scrapes commit: after it stops,
// the count equals the samples stored (the target's, its up and scrape_*
// series, and the stale markers written at the stop).
func TestScraperCountsCommittedSamples(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "a_total 1\nb_total 2\nc 3\n")
	}))
	defer target.Close()
	db, err := storage.Open(storage.Options{Dir: t.TempDir(), Retention: time.Hour, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	jobs := []ScrapeConfig{{JobName: "feed", ScrapeInterval: duration.Duration(100 * time.Millisecond),
		StaticConfigs: []StaticConfig{{Targets: []string{strings.TrimPrefix(target.URL, "http://")}}}}}
	jobs[0].Normalise()
	var committed atomic.Int64
	s, err := NewScraper(ScraperOptions{Appendable: db, Jobs: jobs, Registerer: prometheus.NewRegistry(), ReloadInterval: 100 * time.Millisecond,
		Committed: func(n int) { committed.Add(int64(n)) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	for committed.Load() < 30 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if committed.Load() < 30 {
		t.Fatalf("%d samples committed in 15 s of scrapes every 100 ms", committed.Load())
	}
	q, err := db.Querier(0, time.Now().Add(time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	stored := 0
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "job", "feed"))
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			stored++
		}
	}
	if got := committed.Load(); got != int64(stored) {
		t.Errorf("scrapes counted %d committed samples, the TSDB holds %d", got, stored)
	}
}
