package forward

import (
	"net/url"
	"testing"

	commoncfg "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"
)

func receivers(urls ...string) Config {
	var c Config
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			panic(err)
		}
		rw := promconfig.DefaultRemoteWriteConfig
		rw.URL = &commoncfg.URL{URL: pu}
		c = append(c, &rw)
	}
	return c
}

func TestWatermarkSurvivesReopenForTheSameReceivers(t *testing.T) {
	dir := t.TempDir()
	c := receivers("http://a:9090/api/v1/write", "http://b:8428/api/v1/write")
	w, err := openWatermark(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.load(); ok {
		t.Fatal("a fresh data dir has a watermark")
	}
	w.store(1_700_000_000_123)
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}

	// Same receivers in another order: the same watermark.
	w2, err := openWatermark(dir, receivers("http://b:8428/api/v1/write", "http://a:9090/api/v1/write"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := w2.load(); !ok || got != 1_700_000_000_123 {
		t.Errorf("reopened watermark = %d, %v; want 1700000000123, true", got, ok)
	}

	// Other receivers start afresh.
	w3, err := openWatermark(dir, receivers("http://c:9009/api/v1/push"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := w3.load(); ok {
		t.Errorf("watermark for other receivers = %d, want none", got)
	}
}

func TestConfigValidateRejectsDuplicates(t *testing.T) {
	c := receivers("http://a:9090/api/v1/write", "http://a:9090/api/v1/write")
	if err := c.Validate(); err == nil {
		t.Fatal("two identical receivers accepted")
	}
	if err := receivers("http://a:9090/api/v1/write").Validate(); err != nil {
		t.Fatal(err)
	}
}
