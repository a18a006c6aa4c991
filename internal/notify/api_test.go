package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func apiServer(t *testing.T, h *harness) *httptest.Server {
	t.Helper()
	api := h.d.API()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/silences", api.ListSilences)
	mux.HandleFunc("POST /api/v2/silences", api.PostSilence)
	mux.HandleFunc("GET /api/v2/silence/{id}", api.GetSilence)
	mux.HandleFunc("DELETE /api/v2/silence/{id}", api.DeleteSilence)
	mux.HandleFunc("GET /api/v1/notifications/status", api.Status)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSilencesAPI(t *testing.T) {
	rec := &recorder{}
	h := start(t, `
route: {receiver: r, group_by: ['...'], group_wait: 0s, group_interval: 5ms}
receivers: [{name: r}]
`, map[string][]Notifier{"r": {rec}})
	srv := apiServer(t, h)
	ends := h.clock.Now().Add(time.Hour).Format(time.RFC3339)
	code, body := do(t, "POST", srv.URL+"/api/v2/silences", `{"matchers":[{"name":"service","value":"match.*","isRegex":true,"isEqual":true}],
		"startsAt":"2020-01-01T00:00:00Z","endsAt":"`+ends+`","createdBy":"alice","comment":"deploy"}`)
	if code != http.StatusOK {
		t.Fatalf("post: %d %s", code, body)
	}
	var created struct{ SilenceID string }
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.SilenceID == "" {
		t.Fatalf("post answer %s: %v", body, err)
	}

	code, body = do(t, "GET", srv.URL+"/api/v2/silences", "")
	want := `[{"id":"` + created.SilenceID + `","matchers":[{"name":"service","value":"match.*","isRegex":true,"isEqual":true}],` +
		`"startsAt":"2026-11-25T10:00:00Z","endsAt":"2026-11-25T11:00:00Z","updatedAt":"2026-11-25T10:00:00Z","createdBy":"alice","comment":"deploy","status":{"state":"active"}}]` + "\n"
	if code != http.StatusOK || body != want {
		t.Fatalf("list: %d\n got %s\nwant %s", code, body, want)
	}

	// The silence mutes matching alerts in the pipeline.
	h.d.Send(h.alert("alertname", "Down", "service", "matching-engine"), h.alert("alertname", "Down", "service", "gateway"))
	waitFor(t, "gateway notified", func() bool { return rec.count() == 1 })
	h.waitFlushes(t, 3)
	if got := alertnames(rec.notifications()[0]); len(got) != 1 || got[0] != "Down/gateway/firing" || rec.count() != 1 {
		t.Fatalf("notified %v (%d notifications)", got, rec.count())
	}

	for _, tc := range []struct{ body, want string }{
		{`{"matchers":[],"endsAt":"` + ends + `","createdBy":"a","comment":"c"}`, "matchers: at least one matcher is required"},
		{`{"matchers":[{"name":"a","value":".*","isRegex":true}],"endsAt":"` + ends + `","createdBy":"a","comment":"c"}`, "matchers: at least one matcher must not match the empty string"},
		{`{"matchers":[{"name":"a","value":"b"}],"endsAt":"2020-01-01T00:00:00Z","createdBy":"a","comment":"c"}`, "endsAt: is in the past"},
		{`{"matchers":[{"name":"a","value":"b"}],"endsAt":"` + ends + `","comment":"c"}`, "createdBy: must be set"},
		{`{"matchers":[{"name":"a","value":"b"}],"endsAt":"` + ends + `","createdBy":"a"}`, "comment: must be set"},
		{`{"matchers":[{"name":"a","value":"("  ,"isRegex":true}],"endsAt":"` + ends + `","createdBy":"a","comment":"c"}`, "decode silence"},
	} {
		code, body := do(t, "POST", srv.URL+"/api/v2/silences", tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("post %s: %d %s, want 400 %q", tc.body, code, body, tc.want)
		}
	}

	if code, body := do(t, "DELETE", srv.URL+"/api/v2/silence/"+created.SilenceID, ""); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}
	code, body = do(t, "GET", srv.URL+"/api/v2/silence/"+created.SilenceID, "")
	if code != http.StatusOK || !strings.Contains(body, `"state":"expired"`) {
		t.Fatalf("get after delete: %d %s", code, body)
	}
	if code, _ := do(t, "DELETE", srv.URL+"/api/v2/silence/nope", ""); code != http.StatusNotFound {
		t.Errorf("delete unknown: %d", code)
	}
	h.d.Send(h.alert("alertname", "Down", "service", "matching-engine"))
	waitFor(t, "matching-engine notified after expiry", func() bool { return rec.count() == 2 })

	code, body = do(t, "GET", srv.URL+"/api/v1/notifications/status", "")
	if code != http.StatusOK || !strings.Contains(body, `"receivers":["r"]`) {
		t.Errorf("status: %d %s", code, body)
	}
}

func TestSilencesPersist(t *testing.T) {
	file := t.TempDir() + "/silences.json"
	c := newClock()
	s, err := newSilences(c.Now, time.Hour, file)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Add(Silence{Matchers: mustMatchers(t, `service="a"`), EndsAt: c.Now().Add(time.Hour), CreatedBy: "a", Comment: "c"})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := newSilences(c.Now, time.Hour, file)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s2.Get(id)
	if !ok || got.Matchers.String() != `{service="a"}` || !s2.Mutes(model.LabelSet{"service": "a"}) {
		t.Errorf("reloaded %+v %v", got, ok)
	}
}
