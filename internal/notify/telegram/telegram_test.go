package telegram

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gmc-dev/gmc/internal/notify/channel"
)

func TestSendMessageExactPayload(t *testing.T) {
	var path, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		path, body = r.URL.Path, string(b)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"result":{"message_id":7}}`))
	}))
	defer srv.Close()
	n, err := New(Config{APIURL: srv.URL + "/", BotToken: "123:ABC", ChatID: -1001234}, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), channel.Sample()); err != nil {
		t.Fatal(err)
	}
	if path != "/bot123:ABC/sendMessage" {
		t.Errorf("path %q", path)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	wantText := "🔥 <b>[FIRING:1] HighLatency</b>\n" +
		"\n<b>firing</b> p99 &gt; 1ms &amp; rising\n<code>service=matching&lt;engine&gt;</code>" +
		"\n<b>resolved</b> HighLatency\n<code>service=gateway</code>" +
		"\n\n<i>alertname=HighLatency severity=page</i>"
	want := map[string]any{
		"chat_id": float64(-1001234), "text": wantText, "parse_mode": "HTML",
		"disable_web_page_preview": true, "disable_notification": false,
	}
	if len(got) != len(want) {
		t.Errorf("payload keys: %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestBotAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		answer    string
		permanent bool
		msg       string
	}{
		{400, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`, true, "telegram sendMessage: Bad Request: chat not found"},
		{429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3"}`, false, "telegram sendMessage: Too Many Requests: retry after 3"},
		{502, `bad gateway`, false, "telegram sendMessage: unexpected status 502: bad gateway"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			w.Write([]byte(tc.answer))
		}))
		n, err := New(Config{APIURL: srv.URL, BotToken: "123:ABC", ChatID: 1}, srv.Client(), nil)
		if err != nil {
			t.Fatal(err)
		}
		err = n.Notify(context.Background(), channel.Sample())
		srv.Close()
		if err == nil || err.Error() != tc.msg || channel.IsPermanent(err) != tc.permanent {
			t.Errorf("status %d: err %v (permanent %v), want %q (permanent %v)", tc.status, err, channel.IsPermanent(err), tc.msg, tc.permanent)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Config{BotToken: "x", ChatID: 5}
	if err := c.Validate(); err == nil {
		t.Error("an empty api_url passed Validate before Normalise")
	}
	if c.APIURL != "" {
		t.Errorf("Validate set api_url to %q", c.APIURL)
	}
	c.Normalise()
	if err := c.Validate(); err != nil || c.APIURL != DefaultAPIURL {
		t.Errorf("defaults: %v, api_url %q", err, c.APIURL)
	}
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{ChatID: 5}, "bot_token: must be set (or bot_token_file)"},
		{Config{BotToken: "x"}, "chat_id: must be set"},
		{Config{BotToken: "x", ChatID: 1, APIURL: "ftp://x"}, `api_url: "ftp://x" is not an http(s) URL`},
		{Config{BotToken: "x", BotTokenFile: "/f", ChatID: 1}, "bot_token: set only one of bot_token and bot_token_file"},
	} {
		tc.c.Normalise()
		if err := tc.c.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

// TestNoTemplateKeepsBuiltinText: with the templates loaded but no message
// configured, the message is the built-in one TestNotify spells out.
func TestNoTemplateKeepsBuiltinText(t *testing.T) {
	ts, err := channel.LoadTemplates("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{APIURL: "http://127.0.0.1:1", BotToken: "1:A", ChatID: 1}
	cfg.Normalise()
	plain, _ := New(cfg, http.DefaultClient, nil)
	with, _ := New(cfg, http.DefaultClient, ts)
	if a, b := plain.Build(channel.Sample()), with.Build(channel.Sample()); a != b {
		t.Fatalf("templates loaded changed the message:\n%+v\n%+v", a, b)
	}
}

// TestResolvedTextIsNotFiringText: see the slack package's test of the name.
func TestResolvedTextIsNotFiringText(t *testing.T) {
	cfg := Config{APIURL: "http://127.0.0.1:1", BotToken: "1:A", ChatID: 1}
	cfg.Normalise()
	n, err := New(cfg, http.DefaultClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := n.Build(channel.SampleResolved()).Text
	if p := channel.ResolvedSampleProblem(text); p != "" {
		t.Errorf("%s in:\n%s", p, text)
	}
}
