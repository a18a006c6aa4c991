// Package auth guards gmc's one routing table: bearer tokens and basic auth
// with roles (read, write, admin), Host checks against DNS rebinding while
// gmc listens on loopback, refusal of cross-origin browser writes, and the
// security headers a browser needs. TLS is exporter-toolkit's web config
// (--web.config.file), applied by the server around this.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// Options configure a Guard.
type Options struct {
	Config Config
	// ListenAddress is the address gmc listens on: on loopback the Host
	// header is checked, beyond it without credentials New warns.
	ListenAddress string
	// WebConfigFile is the Prometheus web config (--web.config.file) whose
	// basic_auth_users exporter-toolkit checks; they get their roles from
	// Config.WebConfigUserRoles. Empty: none.
	WebConfigFile string
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// Guard is the middleware. Safe for concurrent use.
type Guard struct {
	cfg     Config // guarded by mu
	webFile string
	logger  *slog.Logger
	creds   atomic.Pointer[credentials] // swapped whole by Reload

	hosts    map[string]bool // nil: any Host is served
	loopback bool
	warning  string
	cop      *http.CrossOriginProtection

	mu       sync.Mutex
	verified map[[32]byte]Role // sha256(user:password) of basic credentials bcrypt accepted
	dummy    []byte            // a bcrypt hash to spend the same time on unknown users

	denied *prometheus.CounterVec
}

// credentials are the tokens (read from their files and variables) and the
// users (gmc's own and the web config's) in force.
type credentials struct {
	tokens []tokenEntry
	users  map[string]User
}

func (c *credentials) enabled() bool { return len(c.tokens) > 0 || len(c.users) > 0 }

type tokenEntry struct {
	sum  [32]byte
	role Role
}

// maxVerified bounds the cache of basic-auth credentials already checked
// with bcrypt (which costs tens of milliseconds each time).
const maxVerified = 1024

// New reads the token files and variables and builds the Guard.
// opts.Config must be valid (Config.Validate, which config.Load calls);
// New does not check it again.
func New(opts Options) (*Guard, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{
		cfg:      opts.Config,
		webFile:  opts.WebConfigFile,
		logger:   opts.Logger,
		verified: map[[32]byte]Role{},
		cop:      http.NewCrossOriginProtection(),
		denied: promauto.With(opts.Registerer).NewCounterVec(prometheus.CounterOpts{
			Name: "gmc_http_requests_denied_total",
			Help: "HTTP requests refused before reaching a handler, by reason.",
		}, []string{"reason"}),
	}
	if err := g.Reload(); err != nil {
		return nil, err
	}
	g.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.deny(w, "cross_origin", http.StatusForbidden,
			"cross-origin request refused: a browser on another site may not write to gmc")
	}))
	g.loopback = isLoopback(opts.ListenAddress)
	if g.loopback {
		g.hosts = map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
		for _, h := range opts.Config.AllowedHosts {
			g.hosts[strings.ToLower(h)] = true
		}
	}
	if !g.loopback && !g.creds.Load().enabled() {
		g.warning = fmt.Sprintf("gmc listens on %s, beyond loopback, with no authentication: anyone who can reach it may write data, read everything, create silences and read /debug/pprof; configure auth.tokens or auth.basic_auth_users", opts.ListenAddress)
		opts.Logger.Warn("NO AUTHENTICATION ON A NON-LOOPBACK ADDRESS: " + g.warning)
	}
	return g, nil
}

// Reload reads the token files and variables and the web config's users
// again (SIGHUP and POST /-/reload call it) and puts them in force at once;
// on an error the credentials in force stay. Basic credentials checked
// before are checked again.
func (g *Guard) Reload() error {
	g.mu.Lock()
	cfg := g.cfg
	g.mu.Unlock()
	apply, err := g.Prepare(cfg)
	if err != nil {
		return err
	}
	apply()
	return nil
}

// Prepare reads the credentials of cfg (valid) — its tokens (their files
// and variables), basic_auth_users and web_config_user_roles with the web
// config's users — and returns apply, which puts them and cfg in force
// (a reload of gmc.yml: nothing changes on an error). allowed_hosts
// applies at the next start.
func (g *Guard) Prepare(cfg Config) (apply func(), err error) {
	c := &credentials{users: map[string]User{}}
	for i, t := range cfg.Tokens {
		s, err := t.secret()
		if err != nil {
			return nil, fmt.Errorf("auth.tokens[%d]: %w", i, err)
		}
		c.tokens = append(c.tokens, tokenEntry{sum: sha256.Sum256([]byte(s)), role: t.Role})
	}
	if g.webFile != "" {
		b, err := os.ReadFile(g.webFile)
		if err != nil {
			return nil, fmt.Errorf("auth: read web config: %w", err)
		}
		var wc toolkitweb.Config
		if err := yaml.Unmarshal(b, &wc); err != nil {
			return nil, fmt.Errorf("auth: parse web config %s: %w", g.webFile, err)
		}
		// exporter-toolkit checks their passwords first; gmc checks them
		// again (cached), so a user removed from the file cannot pass on a
		// role it no longer has.
		for name, hash := range wc.Users {
			c.users[name] = User{PasswordHash: string(hash), Role: cfg.WebConfigUserRoles[name]}
		}
	}
	for name, u := range cfg.BasicAuthUsers {
		c.users[name] = u
	}
	g.mu.Lock()
	need := len(c.users) > 0 && g.dummy == nil
	g.mu.Unlock()
	var dummy []byte
	if need {
		if dummy, err = bcrypt.GenerateFromPassword([]byte("gmc"), bcrypt.DefaultCost); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.dummy == nil {
			g.dummy = dummy
		}
		g.cfg = cfg
		g.creds.Store(c)
		clear(g.verified)
		g.logger.Info("credentials loaded", "tokens", len(c.tokens), "users", len(c.users))
	}, nil
}

// isLoopback reports whether addr (host:port) binds loopback addresses only.
// An empty host or 0.0.0.0/:: binds every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Status is what /system/status shows about access control.
type Status struct {
	AuthEnabled bool `json:"auth_enabled"`
	// LoopbackOnly is true when gmc listens on loopback addresses only.
	LoopbackOnly bool `json:"loopback_only"`
	// Warning is set when gmc is reachable beyond loopback with no auth.
	Warning string `json:"warning,omitempty"`
}

// Status reports the Guard's configuration.
func (g *Guard) Status() Status {
	return Status{AuthEnabled: g.creds.Load().enabled(), LoopbackOnly: g.loopback, Warning: g.warning}
}

// Wrap returns next guarded: security headers on every answer; the Host
// check; cross-origin browser writes refused; then credentials checked
// against the role the route needs (RequiredRole).
func (g *Guard) Wrap(next http.Handler) http.Handler {
	authed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need := RequiredRole(r.Method, r.URL.Path)
		if c := g.creds.Load(); need != RoleNone && c.enabled() {
			role, ok, presented := g.authenticate(c, r)
			switch {
			case !presented || !ok:
				w.Header().Set("WWW-Authenticate", `Basic realm="gmc", charset="UTF-8"`)
				reason, msg := "unauthenticated", "authentication required: send Authorization: Bearer <token> or basic auth"
				if presented {
					reason, msg = "bad_credentials", "invalid credentials"
				}
				g.deny(w, reason, http.StatusUnauthorized, msg)
				return
			case role == RoleNone:
				user, _, _ := r.BasicAuth()
				g.deny(w, "forbidden", http.StatusForbidden,
					fmt.Sprintf("user %q of the web config has no role: map it under auth.web_config_user_roles", user))
				return
			case !role.allows(need):
				g.deny(w, "forbidden", http.StatusForbidden,
					fmt.Sprintf("%s %s needs the %s role; these credentials have %s", r.Method, r.URL.Path, need, role))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
	guarded := g.cop.Handler(authed)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("Referrer-Policy", "same-origin")
		if g.hosts != nil && !g.hosts[hostName(r.Host)] {
			g.deny(w, "host", http.StatusMisdirectedRequest,
				fmt.Sprintf("Host %q is not a name of this gmc (it listens on loopback; add the name to auth.allowed_hosts)", r.Host))
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// hostName is the lower-case host of a Host header, without port or brackets.
func hostName(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// authenticate finds the role of the request's credentials. presented is
// false when it carries none.
func (g *Guard) authenticate(c *credentials, r *http.Request) (role Role, ok, presented bool) {
	if user, pass, isBasic := r.BasicAuth(); isBasic {
		role, ok := g.checkUser(c, user, pass)
		return role, ok, true
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return RoleNone, false, false
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return RoleNone, false, true
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	// Compare with every token, in constant time, whichever matches.
	match := -1
	for i := range c.tokens {
		if subtle.ConstantTimeCompare(sum[:], c.tokens[i].sum[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return RoleNone, false, true
	}
	return c.tokens[match].role, true, true
}

// checkUser verifies basic credentials with bcrypt, remembering ones that
// passed so pushes with basic auth do not pay bcrypt on every request.
func (g *Guard) checkUser(c *credentials, user, pass string) (Role, bool) {
	u, known := c.users[user]
	key := sha256.Sum256([]byte(user + ":" + pass))
	g.mu.Lock()
	role, cached := g.verified[key]
	g.mu.Unlock()
	if cached {
		return role, true
	}
	hash := []byte(u.PasswordHash)
	if !known {
		g.mu.Lock()
		hash = g.dummy // spend the same time on unknown users as on known ones
		g.mu.Unlock()
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(pass)); err != nil || !known {
		return RoleNone, false
	}
	g.mu.Lock()
	if len(g.verified) >= maxVerified {
		clear(g.verified)
	}
	g.verified[key] = u.Role
	g.mu.Unlock()
	return u.Role, true
}

func (g *Guard) deny(w http.ResponseWriter, reason string, code int, msg string) {
	g.denied.WithLabelValues(reason).Inc()
	http.Error(w, msg, code)
}

// readPOSTs are the POST endpoints that only read (the Prometheus API takes
// long queries as POST forms).
var readPOSTs = map[string]bool{
	"/api/v1/query": true, "/api/v1/query_range": true, "/api/v1/query_exemplars": true,
	"/api/v1/format_query": true, "/api/v1/parse_query": true, "/api/v1/series": true,
	"/api/v1/labels": true, "/api/v1/read": true, "/federate": true, "/api/v1/series_start": true,
}

// RequiredRole is the role a request needs: none for the health checks,
// write for the ingest paths, admin for /debug/pprof and every other
// request that changes something (silences, benchmark triggers, reloads),
// read for the rest.
func RequiredRole(method, path string) Role {
	switch {
	case path == "/-/healthy" || path == "/-/ready":
		return RoleNone
	case path == "/api/v1/write" || path == "/api/v1/push" || path == "/api/v2/write" || path == "/v1/metrics" ||
		strings.HasPrefix(path, "/metrics/job/") || strings.HasPrefix(path, "/api/v1/otlp/"):
		return RoleWrite
	case strings.HasPrefix(path, "/debug/"):
		return RoleAdmin
	case method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions:
		return RoleRead
	case method == http.MethodPost && readPOSTs[path]:
		return RoleRead
	}
	return RoleAdmin
}
