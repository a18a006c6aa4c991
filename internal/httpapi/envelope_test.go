package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name     string
		write    func(http.ResponseWriter)
		code     int
		wantBody string
	}{
		{"success", func(w http.ResponseWriter) { WriteSuccess(w, map[string]int{"b": 2, "a": 1}) },
			200, `{"status":"success","data":{"a":1,"b":2}}`},
		{"bad data", func(w http.ResponseWriter) { WriteError(w, ErrBadData, errors.New(`bad "x" <y>`)) },
			400, `{"status":"error","errorType":"bad_data","error":"bad \"x\" <y>"}`},
		{"bad param", func(w http.ResponseWriter) {
			e := BadParam("step", errors.New("must be positive"))
			WriteError(w, e.Type, e.Err)
		},
			400, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": must be positive"}`},
		{"canceled", func(w http.ResponseWriter) { WriteError(w, ErrCanceled, errors.New("gone")) },
			499, `{"status":"error","errorType":"canceled","error":"gone"}`},
		{"explicit code", func(w http.ResponseWriter) { WriteErrorCode(w, 500, ErrExec, errors.New("boom")) },
			500, `{"status":"error","errorType":"execution","error":"boom"}`},
		{"unencodable", func(w http.ResponseWriter) { WriteSuccess(w, func() {}) },
			500, `{"status":"error","errorType":"internal","error":"encode response: json: unsupported type: func()"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.write(rec)
			if rec.Code != tc.code || rec.Body.String() != tc.wantBody {
				t.Errorf("got %d %s\nwant %d %s", rec.Code, rec.Body, tc.code, tc.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestRoutePattern(t *testing.T) {
	if got := (Route{Method: "GET", Path: "/x/{id}"}).Pattern(); got != "GET /x/{id}" {
		t.Errorf("pattern %q", got)
	}
	if got := (Route{Path: "/metrics/job/"}).Pattern(); got != "/metrics/job/" {
		t.Errorf("pattern %q", got)
	}
}
