package slack

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	commoncfg "github.com/prometheus/common/config"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

func TestNotifyPostsExactPayload(t *testing.T) {
	var body string
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body, ctype = string(b), r.Header.Get("Content-Type")
		if r.URL.Path != "/services/T000/B000/XXXX" || r.Method != http.MethodPost {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	n, err := New(Config{APIURL: commoncfg.Secret(srv.URL + "/services/T000/B000/XXXX"), Channel: "#alerts", Username: "gmc"}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), channel.Sample()); err != nil {
		t.Fatal(err)
	}
	want := `{"channel":"#alerts","username":"gmc","text":"[FIRING:1] HighLatency","attachments":[{"color":"danger","title":"[FIRING:1] HighLatency","title_link":"http://gmc.example:9900","text":"• *firing* p99 \u0026gt; 1ms \u0026amp; rising (service=matching\u0026lt;engine\u0026gt;)\n• *resolved* HighLatency (service=gateway)","fallback":"[FIRING:1] HighLatency","fields":[{"title":"severity","value":"page","short":true}],"mrkdwn_in":["text"]}]}`
	if body != want {
		t.Errorf("payload\n got %s\nwant %s", body, want)
	}
	if ctype != "application/json" {
		t.Errorf("content type %q", ctype)
	}
}

func TestNotifyErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		permanent bool
	}{{http.StatusInternalServerError, false}, {http.StatusTooManyRequests, false}, {http.StatusNotFound, true}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no_service", tc.status)
		}))
		n, err := New(Config{APIURL: commoncfg.Secret(srv.URL + "/hook/secret-token")}, srv.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(context.Background(), channel.Sample())
		srv.Close()
		if err == nil {
			t.Fatalf("status %d: no error", tc.status)
		}
		if channel.IsPermanent(err) != tc.permanent {
			t.Errorf("status %d: permanent=%v, want %v (%v)", tc.status, channel.IsPermanent(err), tc.permanent, err)
		}
	}
}

func TestNotifyErrorHidesURL(t *testing.T) {
	n, err := New(Config{APIURL: "http://127.0.0.1:1/hook/secret-token"}, http.DefaultClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), channel.Sample())
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if s := err.Error(); strings.Contains(s, "secret-token") {
		t.Errorf("error leaks the webhook URL: %s", s)
	}
}

// TestNoTemplateKeepsBuiltinText: with the templates loaded (as the
// dispatcher always has them) but no title or text configured, the payload
// is the built-in one that TestNotifyPayload spells out.
func TestNoTemplateKeepsBuiltinText(t *testing.T) {
	ts, err := channel.LoadTemplates("", nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := New(Config{APIURL: "http://127.0.0.1:1/x", Channel: "#alerts"}, http.DefaultClient, nil)
	with, _ := New(Config{APIURL: "http://127.0.0.1:1/x", Channel: "#alerts"}, http.DefaultClient, ts)
	if a, b := plain.Build(channel.Sample()), with.Build(channel.Sample()); !reflect.DeepEqual(a, b) {
		t.Fatalf("templates loaded changed the payload:\n%+v\n%+v", a, b)
	}
}

// TestResolvedTextIsNotFiringText: a resolved alert keeps its last firing
// annotations; the built-in text gives its resolved_summary, or marks its
// summary as last seen firing (t-user3 #12: a RESOLVED SLA page still read
// "burns … (1h: 61.2×, 5m: 14.8×)").
func TestResolvedTextIsNotFiringText(t *testing.T) {
	n, err := New(Config{APIURL: "http://127.0.0.1:1/hook"}, http.DefaultClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := n.Build(channel.SampleResolved()).Attachments[0].Text
	if p := channel.ResolvedSampleProblem(text); p != "" {
		t.Errorf("%s in:\n%s", p, text)
	}
}
