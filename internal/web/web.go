// Package web is gmc's own dashboard: a single-page app embedded
// (go:embed) and served at /, plus the server-sent-events stream that drives
// its live alert banner.
//
// The sources live in ui/; ui/build.sh vendors uPlot and writes dist/,
// which is committed, so `go build` needs no Node. Files under /assets/ carry
// a content hash in their name and are cached as immutable; index.html is
// served with no-cache so a new build is picked up on the next load.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gmc-dev/gmc/internal/errlog"
	"github.com/gmc-dev/gmc/internal/httpapi"
)

// dist is the built dashboard (ui/build.sh writes it).
//
//go:embed dist
var dist embed.FS

// Options configure the UI.
type Options struct {
	// Alerts returns the alerts firing now; the event streams poll it
	// every Interval, once for all of them (UI.sharedSnapshot). It may be
	// called concurrently. Nil: the stream reports alerting as unavailable.
	Alerts AlertSource
	// Interval is how often the events stream polls Alerts (default 1s).
	Interval time.Duration
	// Ping is how often the stream sends a "ping" event (default 1s): the
	// dashboard's heartbeat. A tab that hears none for 2.2 s says it is
	// disconnected; pings ride the stream's own connection, so slow queries
	// queued on the others do not delay them. They also keep proxies from
	// closing an idle stream.
	Ping   time.Duration
	Logger *slog.Logger
}

// UI serves the dashboard. Its handlers are safe for concurrent use.
type UI struct {
	opts   Options
	assets fs.FS
	index  []byte
	// done is closed by Shutdown: open event streams end.
	done     chan struct{}
	shutdown sync.Once
	// snap is the newest "alerts" snapshot, shared by all event streams:
	// one read of Alerts per Interval, however many tabs are open.
	snap sharedSnapshot
	// alertsErr is the failing read of Alerts logged last (snapshot).
	alertsErr errlog.Keyed[struct{}]
}

// sharedSnapshot is the event streams' one snapshot (UI.sharedSnapshot).
type sharedSnapshot struct {
	mu sync.Mutex
	// b was begun at at; nil until a read completed.
	b  []byte
	at time.Time
	// reading is closed when the read in flight ends; nil when none is.
	reading chan struct{}
}

// New returns the UI serving the embedded build.
func New(opts Options) (*UI, error) {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, fmt.Errorf("open embedded dashboard: %w", err)
	}
	return newUI(opts, sub)
}

func newUI(opts Options, assets fs.FS) (*UI, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Ping <= 0 {
		opts.Ping = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		return nil, fmt.Errorf("read embedded dashboard index.html (run internal/web/ui/build.sh): %w", err)
	}
	return &UI{opts: opts, assets: assets, index: index, done: make(chan struct{})}, nil
}

// Shutdown ends the open event streams, which otherwise never go idle and
// would hold up http.Server.Shutdown; register it with
// http.Server.RegisterOnShutdown. Later streams end at once.
func (u *UI) Shutdown() { u.shutdown.Do(func() { close(u.done) }) }

// Routes are the UI's routes: the page at /, its hashed assets under
// /assets/ and the event stream at /api/ui/events.
func (u *UI) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "/{$}", Handler: u.serveIndex},
		{Method: http.MethodGet, Path: "/index.html", Handler: u.serveIndex},
		{Method: http.MethodGet, Path: "/assets/", Handler: u.serveAsset},
		{Method: http.MethodGet, Path: "/api/ui/events", Handler: u.serveEvents},
	}
}

// Handler serves Routes on a mux of its own (for tests and embedding).
func (u *UI) Handler() http.Handler {
	mux := http.NewServeMux()
	httpapi.Mount(mux, u.Routes())
	return mux
}

func (u *UI) serveIndex(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(u.index))
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return ""
}

func (u *UI) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if !strings.HasPrefix(name, "assets/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(u.assets, name)
	if err != nil {
		http.Error(w, fmt.Sprintf("asset %q: not found", r.URL.Path), http.StatusNotFound)
		return
	}
	h := w.Header()
	if ct := contentType(name); ct != "" {
		h.Set("Content-Type", ct)
	}
	// Every asset name holds a hash of its content (ui/build.sh).
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
