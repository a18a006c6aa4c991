package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

func TestAlertmanagerWebhookPayload(t *testing.T) {
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	defer srv.Close()
	// The URL comes from url_file, as a secret may.
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte(srv.URL+"/hook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{URLFile: file, MaxAlerts: 1}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), channel.Sample()); err != nil {
		t.Fatal(err)
	}
	want := `{"groupKey":"{}:{alertname=\"HighLatency\"}","truncatedAlerts":1,"status":"firing","receiver":"ops",` +
		`"groupLabels":{"alertname":"HighLatency"},"commonLabels":{"alertname":"HighLatency","severity":"page"},"commonAnnotations":{},` +
		`"externalURL":"http://gmc.example:9900","alerts":[{"status":"firing","labels":{"alertname":"HighLatency","service":"matching\u003cengine\u003e","severity":"page"},` +
		`"annotations":{"summary":"p99 \u003e 1ms \u0026 rising"},"startsAt":"2026-11-25T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",` +
		`"generatorURL":"http://gmc.example:9900/graph?g0.expr=x","fingerprint":"0123456789abcdef"}],"version":"4"}`
	if body != want {
		t.Errorf("payload\n got %s\nwant %s", body, want)
	}
}
