package errlog

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"
)

// TestKeyed: each read's error is logged when it begins or its text
// changes, its end once; one read's error does not hide another's; a read
// Keep forgot logs its lasting error again, as news.
func TestKeyed(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	var e Keyed[string]
	a, b := errors.New("a"), errors.New("b")
	note := func(k string, err error) { e.Note(logger, k, err, "read", "key", k) }
	note("x", a)
	note("x", a)
	note("y", a) // another read, the same text: news
	note("x", b)
	note("x", nil)
	note("x", nil)
	e.Keep(map[string]bool{"x": true}) // y no longer read
	note("y", a)
	note("y", a)
	want := `level=WARN msg=read key=x err=a
level=WARN msg=read key=y err=a
level=WARN msg=read key=x err=b
level=INFO msg="read again" key=x
level=WARN msg=read key=y err=a
`
	if got := buf.String(); got != want {
		t.Errorf("logged:\n%s\nwant:\n%s", got, want)
	}
}
