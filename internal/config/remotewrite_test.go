package config

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestLoadRemoteWrite(t *testing.T) {
	cfg, err := LoadFile("testdata/remote-write.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RemoteWrite) != 2 {
		t.Fatalf("remote_write has %d entries, want 2", len(cfg.RemoteWrite))
	}
	vm := cfg.RemoteWrite[0]
	if got, want := vm.URL.String(), "https://vminsert.example:8480/insert/0/prometheus/api/v1/write"; got != want {
		t.Errorf("url = %s, want %s", got, want)
	}
	if vm.Name != "vm-cluster" || vm.Headers["X-Scope-OrgID"] != "desk" {
		t.Errorf("name, headers = %q, %v", vm.Name, vm.Headers)
	}
	if vm.HTTPClientConfig.BasicAuth == nil || vm.HTTPClientConfig.BasicAuth.Username != "gmc" || string(vm.HTTPClientConfig.BasicAuth.Password) != "s3cret" {
		t.Errorf("basic_auth = %+v", vm.HTTPClientConfig.BasicAuth)
	}
	q := vm.QueueConfig
	if q.Capacity != 20000 || q.MaxShards != 8 || q.MaxSamplesPerSend != 5000 || q.BatchSendDeadline != model.Duration(2*time.Second) {
		t.Errorf("queue_config = %+v", q)
	}
	// Prometheus's defaults fill what is not set.
	if q.MinShards != 1 || q.MinBackoff != model.Duration(30*time.Millisecond) || q.MaxBackoff != model.Duration(5*time.Second) {
		t.Errorf("queue_config defaults = %+v", q)
	}
	if len(vm.WriteRelabelConfigs) != 1 || vm.WriteRelabelConfigs[0].Regex.String() != "go_.*" {
		t.Errorf("write_relabel_configs = %+v", vm.WriteRelabelConfigs)
	}
	if got := vm.WriteRelabelConfigs[0].NameValidationScheme; got != model.UTF8Validation {
		t.Errorf("write_relabel_configs name validation scheme = %v, want utf8 (Normalise)", got)
	}
	prom := cfg.RemoteWrite[1]
	if prom.HTTPClientConfig.Authorization == nil || prom.HTTPClientConfig.Authorization.Type != "Bearer" {
		t.Errorf("authorization = %+v", prom.HTTPClientConfig.Authorization)
	}
}

func TestLoadRemoteStorage(t *testing.T) {
	cfg, err := LoadFile("testdata/storage-remote.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Storage
	if s.Mode != "remote" || s.WriteURL != "http://mimir:8080/api/v1/push" ||
		s.ReadURL != "http://mimir:8080/prometheus/api/v1/read" || s.Headers["X-Scope-OrgID"] != "desk" {
		t.Errorf("storage = %+v", s)
	}
}
