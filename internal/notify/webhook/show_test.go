package webhook

import (
	"testing"

	commoncfg "github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"
)

// TestConfigShowsURLHostOnly: the YAML shown on the status endpoints keeps the
// URL parseable (scheme and host) and hides its path, query and user info.
func TestConfigShowsURLHostOnly(t *testing.T) {
	for _, tc := range []struct{ url, file, want string }{
		{"https://user:pw@hooks.example:8443/T0/B1?token=abc", "", "url: https://hooks.example:8443/<secret>\n"},
		{"not a url", "", "url: <secret>\n"},
		{"", "/etc/gmc/hook_url", "url_file: /etc/gmc/hook_url\n"},
	} {
		c := Config{URLFile: tc.file}
		c.URL = commoncfg.Secret(tc.url)
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != tc.want {
			t.Errorf("%q shown as %q, want %q", tc.url, out, tc.want)
		}
	}
}
