package ingest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestJSONPush(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{
			name: "one object",
			body: `{"service":"matching-engine","instance":"me-1","timestamp":1795607990.123,"labels":{"venue":"xnas"},
			        "metrics":{"latency_us":312,"tps":41000,"cpu_percent":37.5}}`,
			want: []string{
				`{__name__="cpu_percent", instance="me-1", service="matching-engine", venue="xnas"} 1795607990123 37.5`,
				`{__name__="latency_us", instance="me-1", service="matching-engine", venue="xnas"} 1795607990123 312`,
				`{__name__="tps", instance="me-1", service="matching-engine", venue="xnas"} 1795607990123 41000`,
			},
		},
		{
			name: "array, default timestamp, no instance",
			body: `[{"service":"gateway","metrics":{"orders_total":5}},
			        {"service":"risk","instance":"r-2","timestamp":1795607999,"metrics":{"exposure_usd":-1.5e6}}]`,
			want: []string{
				`{__name__="exposure_usd", instance="r-2", service="risk"} 1795607999000 -1.5e+06`,
				`{__name__="orders_total", service="gateway"} 1795608000000 5`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			code, msg := do(t, e.in.JSONPush(), http.MethodPost, "/api/v1/push", nil, []byte(tc.body))
			if code != http.StatusNoContent {
				t.Fatalf("status %d (%s), want 204", code, msg)
			}
			if got := e.stored(t); !slices.Equal(got, tc.want) {
				t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestJSONPushPartialAcceptance(t *testing.T) {
	e := newTestEnv(t, nil)
	body := `[
	  {"service":"me","metrics":{"ok_metric":1,"bad-name":2,"nullv":null,"strv":"12","boolv":true}},
	  {"metrics":{"orphan":1}},
	  {"service":"me","labels":{"__secret":"x"},"metrics":{"a":1}},
	  {"service":"me","labels":{"service":"other"},"metrics":{"b":1}},
	  {"service":"me","labels":{"bad-label":"x"},"metrics":{"c":1}},
	  {"service":"me","timestamp":1895608000,"metrics":{"future":1}},
	  {"service":"me","labels":{"venue":1},"metrics":{"d":1}},
	  {"service":"me","timestamp":1795608000000,"metrics":{"ms":1}}
	]`
	code, msg := do(t, e.in.JSONPush(), http.MethodPost, "/api/v1/push", nil, []byte(body))
	if code != http.StatusBadRequest {
		t.Fatalf("status %d (%s), want 400", code, msg)
	}
	for _, want := range []string{
		"accepted 1 samples, rejected 11",
		"; and 1 more",
		`object 0 (service "me") metric "bad-name" @1795608000000: metric name "bad-name" is invalid`,
		`object 0 (service "me") metric "nullv" @1795608000000: value is null; want a number`,
		`object 0 (service "me") metric "strv" @1795608000000: value is a string; want a number`,
		`object 0 (service "me") metric "boolv" @1795608000000: value is a boolean; want a number`,
		`object 1 (service "") metric "orphan" @1795608000000: field "service" is missing or empty`,
		`object 2 (service "me") metric "a" @1795608000000: labels.__secret: label names starting with __ are reserved`,
		`object 3 (service "me") metric "b" @1795608000000: labels.service: set service with the top-level field "service"`,
		`object 4 (service "me") metric "c" @1795608000000: labels.bad-label: label name "bad-label" is invalid`,
		`object 5 (service "me") metric "future" @1895608000000: timestamp is more than limits.max_future_skew`,
		`object 6 (service "me") metric "d" @1795608000000: labels.venue: value 1 is not a string`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q\ndoes not contain %q", msg, want)
		}
	}
	want := []string{`{__name__="ok_metric", service="me"} 1795608000000 1`}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
}

func TestJSONPushBadRequests(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		body    string
		limits  func(*Limits)
		code    int
		message string
	}{
		{name: "get", method: http.MethodGet, code: http.StatusMethodNotAllowed, message: "JSON push needs POST"},
		{name: "empty", body: "  ", code: http.StatusBadRequest, message: "body is empty"},
		{name: "not json", body: "latency_us 312", code: http.StatusBadRequest, message: `starts with 'l'`},
		{name: "syntax error", body: `{"service":"me","metrics":{"a":1}`, code: http.StatusBadRequest, message: "decode JSON body: unexpected EOF"},
		{name: "unknown field", body: `{"service":"me","metric":{"a":1}}`, code: http.StatusBadRequest, message: `unknown field "metric"`},
		{name: "trailing data", body: `{"service":"me","metrics":{"a":1}} {"service":"x"}`, code: http.StatusBadRequest,
			message: "unexpected data after the first JSON value"},
		{name: "milliseconds timestamp", body: `{"service":"me","timestamp":1795608000000,"metrics":{"a":1}}`, code: http.StatusBadRequest,
			message: `object 0 (service "me") metric "a" @1795608000000000: timestamp is more than limits.max_future_skew (10m0s) in the future (timestamp is Unix seconds, not milliseconds)`},
		{name: "oversize", body: `{"service":"me","metrics":{"a":1}}`, limits: func(l *Limits) { l.MaxBodyBytes = 8 },
			code: http.StatusRequestEntityTooLarge, message: "exceeds limits.max_body_bytes 8"},
		{name: "too many series", body: `{"service":"me","metrics":{"a":1,"b":2,"c":3}}`, limits: func(l *Limits) { l.MaxSeriesPerRequest = 2 },
			code: http.StatusBadRequest, message: "more than limits.max_series_per_request 2 series (3 metrics)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, tc.limits)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			code, msg := do(t, e.in.JSONPush(), method, "/api/v1/push", nil, []byte(tc.body))
			if code != tc.code || !strings.Contains(msg, tc.message) {
				t.Errorf("got %d %q, want %d containing %q", code, msg, tc.code, tc.message)
			}
			if got := e.stored(t); len(got) != 0 {
				t.Errorf("stored %q, want nothing", got)
			}
		})
	}
}
