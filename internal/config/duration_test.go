package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Every duration of gmc.yml in gmc's own sections takes the one syntax
// (duration.Duration: Prometheus's plus us/µs and fractions). The sections
// in the ecosystem's own schemas (remote_write, storage.http_config, the
// notify channels' http_config, Alertmanager's time intervals) keep their
// owners' types, as documented; the walk stops at types from outside gmc.
func TestOneDurationSyntax(t *testing.T) {
	var bad []string
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t == reflect.TypeOf(model.Duration(0)) || t == reflect.TypeOf(time.Duration(0)) {
			bad = append(bad, path+" ("+t.String()+")")
			return
		}
		if t.Kind() != reflect.Struct || seen[t] || !strings.HasPrefix(t.PkgPath(), "github.com/gmc-dev/gmc/") {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !f.IsExported() || tag == "-" {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			walk(f.Type, path+"."+tag)
		}
	}
	walk(reflect.TypeOf(Config{}), "gmc.yml")
	if len(bad) > 0 {
		t.Errorf("durations outside the one syntax:\n%s", strings.Join(bad, "\n"))
	}
	// And a microsecond duration parses where the cluster's timings are.
	var c Config
	if err := yaml.Unmarshal([]byte("cluster: {gossip_interval: 500us, peer_timeout: 1.5s}"), &c); err != nil ||
		c.Cluster.GossipInterval.Std() != 500*time.Microsecond || c.Cluster.PeerTimeout.Std() != 1500*time.Millisecond {
		t.Fatalf("cluster durations: %+v, %v", c.Cluster, err)
	}
}
