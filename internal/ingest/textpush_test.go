package ingest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestTextPush(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		want        []string
	}{
		{
			name: "job only, service defaults to job",
			path: "/metrics/job/settlement",
			body: "# TYPE batches_total counter\nbatches_total 12\nlast_run_seconds{step=\"net\"} 3.5 1795607000000\n",
			want: []string{
				`{__name__="batches_total", job="settlement", service="settlement"} 1795608000000 12`,
				`{__name__="last_run_seconds", job="settlement", service="settlement", step="net"} 1795607000000 3.5`,
				`{__name__="push_failure_time_seconds", job="settlement", service="settlement"} 1795608000000 0`,
				`{__name__="push_time_seconds", job="settlement", service="settlement"} 1795608000000 1.795608e+09`,
			},
		},
		{
			name:   "grouping labels win, service from body, PUT",
			method: http.MethodPut,
			path:   "/metrics/job/eod/instance/host-1/venue/xnas",
			body:   "recon_breaks{venue=\"xlon\",service=\"recon\"} 2\n",
			want: []string{
				`{__name__="push_failure_time_seconds", instance="host-1", job="eod", service="eod", venue="xnas"} 1795608000000 0`,
				`{__name__="push_time_seconds", instance="host-1", job="eod", service="eod", venue="xnas"} 1795608000000 1.795608e+09`,
				`{__name__="recon_breaks", instance="host-1", job="eod", service="recon", venue="xnas"} 1795608000000 2`,
			},
		},
		{
			name: "base64 job and label, service from path",
			path: "/metrics/job@base64/ZW9kL2JhdGNo/service/ledger/path@base64/L3Zhci9kYXRh/empty@base64/=",
			body: "files 3\n",
			want: []string{
				`{__name__="files", job="eod/batch", path="/var/data", service="ledger"} 1795608000000 3`,
				`{__name__="push_failure_time_seconds", job="eod/batch", path="/var/data", service="ledger"} 1795608000000 0`,
				`{__name__="push_time_seconds", job="eod/batch", path="/var/data", service="ledger"} 1795608000000 1.795608e+09`,
			},
		},
		{
			name: "classic histogram and summary",
			path: "/metrics/job/me",
			body: `# TYPE match_seconds histogram
match_seconds_bucket{le="0.001"} 3
match_seconds_bucket{le="+Inf"} 5
match_seconds_sum 0.02
match_seconds_count 5
# TYPE rtt_seconds summary
rtt_seconds{quantile="0.99"} 0.004
rtt_seconds_sum 1
rtt_seconds_count 300
`,
			want: []string{
				`{__name__="match_seconds_bucket", job="me", le="+Inf", service="me"} 1795608000000 5`,
				`{__name__="match_seconds_bucket", job="me", le="0.001", service="me"} 1795608000000 3`,
				`{__name__="match_seconds_count", job="me", service="me"} 1795608000000 5`,
				`{__name__="match_seconds_sum", job="me", service="me"} 1795608000000 0.02`,
				`{__name__="push_failure_time_seconds", job="me", service="me"} 1795608000000 0`,
				`{__name__="push_time_seconds", job="me", service="me"} 1795608000000 1.795608e+09`,
				`{__name__="rtt_seconds", job="me", quantile="0.99", service="me"} 1795608000000 0.004`,
				`{__name__="rtt_seconds_count", job="me", service="me"} 1795608000000 300`,
				`{__name__="rtt_seconds_sum", job="me", service="me"} 1795608000000 1`,
			},
		},
		{
			name:        "openmetrics",
			path:        "/metrics/job/om",
			contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8",
			body:        "# TYPE trades counter\ntrades_total 7 1795607000.5\n# EOF\n",
			want: []string{
				`{__name__="push_failure_time_seconds", job="om", service="om"} 1795608000000 0`,
				`{__name__="push_time_seconds", job="om", service="om"} 1795608000000 1.795608e+09`,
				`{__name__="trades_total", job="om", service="om"} 1795607000500 7`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			code, msg := do(t, e.in.TextPush(), method, tc.path, map[string]string{"Content-Type": tc.contentType}, []byte(tc.body))
			if code != http.StatusOK || msg != "" {
				t.Fatalf("status %d (%q), want 200 with no body, as the Pushgateway", code, msg)
			}
			if got := e.stored(t); !slices.Equal(got, tc.want) {
				t.Errorf("stored:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestTextPushPartialAcceptance(t *testing.T) {
	e := newTestEnv(t, func(l *Limits) { l.MaxLabelValueLength = 10 })
	body := "good 1\nlong{v=\"abcdefghijklmnop\"} 2\nthis is not a metric line\nfuture 3 1895608000000\nbad abc\n"
	code, msg := do(t, e.in.TextPush(), http.MethodPost, "/metrics/job/j", nil, []byte(body))
	if code != http.StatusBadRequest {
		t.Fatalf("status %d (%s), want 400", code, msg)
	}
	for _, want := range []string{
		"accepted 1 samples, rejected 4",
		`line 3 "this is not a metric line": `,
		`line 5 "bad abc": `,
		`{__name__="long", job="j", service="j", v="abcdefghijklmnop"} @1795608000000: value of label "v" is 16 bytes, longer than limits.max_label_value_length 10`,
		`{__name__="future", job="j", service="j"} @1895608000000: timestamp is more than limits.max_future_skew`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q\ndoes not contain %q", msg, want)
		}
	}
	// The valid line is kept; the push counts as failed.
	want := []string{
		`{__name__="good", job="j", service="j"} 1795608000000 1`,
		`{__name__="push_failure_time_seconds", job="j", service="j"} 1795608000000 1.795608e+09`,
		`{__name__="push_time_seconds", job="j", service="j"} 1795608000000 0`,
	}
	if got := e.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
}

func TestTextPushBadRequests(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		limits      func(*Limits)
		contentType string
		header      map[string]string
		code        int
		message     string
	}{
		{name: "get", method: http.MethodGet, path: "/metrics/job/j", code: http.StatusMethodNotAllowed, message: "text push needs PUT, POST or DELETE"},
		{name: "no job", path: "/metrics/instance/x", body: "a 1\n", code: http.StatusBadRequest, message: "must start with /metrics/job/<job>"},
		{name: "empty job", path: "/metrics/job/", body: "a 1\n", code: http.StatusBadRequest, message: `label "job" has no value`},
		{name: "odd path", path: "/metrics/job/j/instance", body: "a 1\n", code: http.StatusBadRequest, message: `label "instance" has no value`},
		{name: "bad label name", path: "/metrics/job/j/bad-name/x", body: "a 1\n", code: http.StatusBadRequest, message: `label name "bad-name" is invalid`},
		{name: "reserved label", path: "/metrics/job/j/__name__/x", body: "a 1\n", code: http.StatusBadRequest, message: `label name "__name__" is invalid`},
		{name: "repeated label", path: "/metrics/job/j/a/1/a/2", body: "a 1\n", code: http.StatusBadRequest, message: `label "a" appears twice`},
		{name: "bad base64", path: "/metrics/job@base64/!!!", body: "a 1\n", code: http.StatusBadRequest, message: `value of job@base64 "!!!" is not base64url`},
		{name: "malformed openmetrics", path: "/metrics/job/j", body: "good 1\nthis is not a metric line\n# EOF\n", code: http.StatusBadRequest,
			contentType: "application/openmetrics-text; version=1.0.0", message: "parse body (nothing was written)"},
		{name: "bad ttl", path: "/metrics/job/j", body: "good 1\n", header: map[string]string{"Gmc-Group-Ttl": "soon"}, code: http.StatusBadRequest,
			message: `header Gmc-Group-Ttl: "soon" is not a positive duration`},
		{name: "oversize", path: "/metrics/job/j", body: "good 1\n", limits: func(l *Limits) { l.MaxBodyBytes = 3 },
			code: http.StatusRequestEntityTooLarge, message: "exceeds limits.max_body_bytes 3"},
		{name: "too many series", path: "/metrics/job/j", body: "a 1\nb 2\nc 3\n", limits: func(l *Limits) { l.MaxSeriesPerRequest = 2 },
			code: http.StatusBadRequest, message: "more than limits.max_series_per_request 2 samples (nothing was written)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, tc.limits)
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			header := map[string]string{"Content-Type": tc.contentType}
			for k, v := range tc.header {
				header[k] = v
			}
			code, msg := do(t, e.in.TextPush(), method, tc.path, header, []byte(tc.body))
			if code != tc.code || !strings.Contains(msg, tc.message) {
				t.Errorf("got %d %q, want %d containing %q", code, msg, tc.code, tc.message)
			}
			if got := e.stored(t); len(got) != 0 {
				t.Errorf("stored %q, want nothing", got)
			}
		})
	}
}
