package auth

import (
	"errors"
	"fmt"
	"os"
	"strings"

	commoncfg "github.com/prometheus/common/config"
	"golang.org/x/crypto/bcrypt"
)

// Role is what a credential may do. admin may do everything; write and read
// are separate, so a service's push token cannot read and a dashboard user
// cannot write.
type Role string

// The roles, from least to most.
const (
	// RoleNone is a request that needs no credential (/-/healthy, /-/ready).
	RoleNone Role = ""
	// RoleRead may query, read the APIs and open the dashboard.
	RoleRead Role = "read"
	// RoleWrite may push samples (remote-write, JSON, text, OTLP).
	RoleWrite Role = "write"
	// RoleAdmin may also create and expire silences, read /debug/pprof and
	// trigger benchmarks and reloads.
	RoleAdmin Role = "admin"
)

// allows reports whether a credential with role r may do what need requires.
func (r Role) allows(need Role) bool {
	return need == RoleNone || r == RoleAdmin || r == need
}

func (r Role) valid() bool { return r == RoleRead || r == RoleWrite || r == RoleAdmin }

// Config is the `auth:` section of gmc.yml. With no token and no user, gmc
// answers everyone, as before (and warns when it listens beyond loopback).
type Config struct {
	// Tokens are bearer tokens (Authorization: Bearer <token>), each with a role.
	Tokens []Token `yaml:"tokens"`
	// BasicAuthUsers are users for HTTP basic auth, each with a bcrypt hash
	// (as in Prometheus's web config: htpasswd -nBC 10 "" | tr -d ':\n') and a role.
	BasicAuthUsers map[string]User `yaml:"basic_auth_users"`
	// AllowedHosts are extra Host header names accepted while gmc listens on
	// loopback only (localhost, 127.0.0.1 and [::1] always are): a defence
	// against DNS rebinding.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// WebConfigUserRoles gives the basic_auth_users of the Prometheus web
	// config (--web.config.file) their roles; a user of it not listed here
	// is refused (403).
	WebConfigUserRoles map[string]Role `yaml:"web_config_user_roles"`
}

// Token is one bearer token: inline, from a file (trailing newline trimmed)
// or from an environment variable; exactly one of the three.
type Token struct {
	Role      Role   `yaml:"role"`
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	TokenEnv  string `yaml:"token_env"`
}

// SetDirectory resolves the tokens' relative token_file paths against dir,
// the directory of the configuration file.
func (c *Config) SetDirectory(dir string) {
	for i := range c.Tokens {
		c.Tokens[i].TokenFile = commoncfg.JoinDir(dir, c.Tokens[i].TokenFile)
	}
}

// User is one basic-auth user.
type User struct {
	PasswordHash string `yaml:"password_hash"`
	Role         Role   `yaml:"role"`
}

// Enabled reports whether any credential is configured.
func (c Config) Enabled() bool { return len(c.Tokens) > 0 || len(c.BasicAuthUsers) > 0 }

// Validate checks every field without reading token files or variables
// (New does that); errors name the field.
func (c Config) Validate() error {
	for i, t := range c.Tokens {
		if !t.Role.valid() {
			return fmt.Errorf("auth.tokens[%d].role: %q is not one of read, write, admin", i, t.Role)
		}
		n := 0
		for _, s := range []string{t.Token, t.TokenFile, t.TokenEnv} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("auth.tokens[%d]: set exactly one of token, token_file, token_env", i)
		}
	}
	for name, u := range c.BasicAuthUsers {
		if name == "" || strings.Contains(name, ":") {
			return fmt.Errorf("auth.basic_auth_users: user name %q is empty or contains ':'", name)
		}
		if !u.Role.valid() {
			return fmt.Errorf("auth.basic_auth_users.%s.role: %q is not one of read, write, admin", name, u.Role)
		}
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			return fmt.Errorf("auth.basic_auth_users.%s.password_hash: not a bcrypt hash: %w", name, err)
		}
	}
	for name, r := range c.WebConfigUserRoles {
		if !r.valid() {
			return fmt.Errorf("auth.web_config_user_roles.%s: %q is not one of read, write, admin", name, r)
		}
	}
	for i, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			return fmt.Errorf("auth.allowed_hosts[%d]: %q is not a host name", i, h)
		}
	}
	return nil
}

// secret reads the token's value from wherever it is kept.
func (t Token) secret() (string, error) {
	switch {
	case t.Token != "":
		return t.Token, nil
	case t.TokenFile != "":
		b, err := os.ReadFile(t.TokenFile)
		if err != nil {
			return "", fmt.Errorf("read token_file: %w", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("token_file %s is empty", t.TokenFile)
		}
		return s, nil
	case t.TokenEnv != "":
		s := os.Getenv(t.TokenEnv)
		if s == "" {
			return "", fmt.Errorf("token_env %s is unset or empty", t.TokenEnv)
		}
		return s, nil
	}
	return "", errors.New("no token, token_file or token_env")
}
