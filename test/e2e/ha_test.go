package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// haNotification is one webhook call a gmc peer made.
type haNotification struct {
	Status      string `json:"status"`
	ExternalURL string `json:"externalURL"`
	Alerts      []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
	at time.Time
}

// TestHAPairKillOneMidIncident runs two gmc servers as a cluster (memberlist
// gossip of the notification log, as Alertmanager's cluster mode). Both
// receive the same writes, as an HA pair behind a load balancer that mirrors
// or as two Prometheus replicas do. An alert fires: exactly one firing
// notification must go out. The peer that sent it is then killed with
// SIGKILL mid-incident; the survivor must not notify the firing alert again
// (it learnt it was sent), and must send the resolution when the alert ends.
func TestHAPairKillOneMidIncident(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []haNotification
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n haNotification
		if err := json.Unmarshal(b, &n); err != nil {
			t.Errorf("webhook body: %v", err)
			return
		}
		n.at = time.Now()
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}))
	defer hook.Close()
	notifications := func() []haNotification {
		mu.Lock()
		defer mu.Unlock()
		return append([]haNotification(nil), got...)
	}

	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: ha
    rules:
      - alert: HATestHigh
        expr: e2e_ha_value > 10
        labels: {severity: page}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	gossip := []string{freeAddr(t), freeAddr(t)}
	const peerTimeout = 2 * time.Second
	cfgFor := func(i int) string {
		path := filepath.Join(dir, fmt.Sprintf("gmc-%d.yml", i))
		cfg := fmt.Sprintf(`alerting:
  evaluation_interval: 1s
  default_rules: false
  rule_files: [%q]
notify:
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: hook
      webhook_configs:
        - url: %q
          send_resolved: true
cluster:
  listen_address: %s
  peers: [%s]
  peer_timeout: %s
  gossip_interval: 100ms
`, rules, hook.URL+"/hook", gossip[i], strings.Join(gossip, ", "), peerTimeout)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var peers []*proc
	for i := range 2 {
		cfg := cfgFor(i)
		data := t.TempDir()
		peers = append(peers, startProc(t, fmt.Sprintf("gmc-%d", i), gmcBinary, t.TempDir(), func(addr string) []string {
			return []string{"server", "--web.listen-address", addr, "--storage.path", data, "--config", cfg}
		}))
	}
	// Let the two find each other before anything fires.
	eventually(t, 20*time.Second, 200*time.Millisecond, "both peers see a cluster of 2", func() error {
		for _, p := range peers {
			if n := clusterSize(p); n != 2 {
				return fmt.Errorf("%s sees %d members", p.name, n)
			}
		}
		return nil
	})
	// Alertmanager's /api/v2/status shows the same membership (amtool
	// cluster show reads it).
	for _, p := range peers {
		var st struct {
			Cluster struct {
				Status string `json:"status"`
				Peers  []struct {
					Address string `json:"address"`
				} `json:"peers"`
			} `json:"cluster"`
		}
		resp, err := httpClient().Get(p.URL() + "/api/v2/status")
		if err != nil {
			t.Fatalf("status of %s: %v", p.name, err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("status of %s: %v", p.name, err)
		}
		var addrs []string
		for _, m := range st.Cluster.Peers {
			addrs = append(addrs, m.Address)
		}
		slices.Sort(addrs)
		want := slices.Sorted(slices.Values(gossip))
		if st.Cluster.Status == "disabled" || !slices.Equal(addrs, want) {
			t.Errorf("%s /api/v2/status cluster = %q with peers %v; want ready or settling with peers %v", p.name, st.Cluster.Status, addrs, want)
		}
	}

	// A silence set on one peer reaches the other (gossiped as Alertmanager
	// gossips its silences).
	silence := fmt.Sprintf(`{"matchers":[{"name":"service","value":"not-this-test","isRegex":false,"isEqual":true}],
		"endsAt":%q,"createdBy":"e2e","comment":"HA silence sharing"}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	code, body, err := post(context.Background(), httpClient(), peers[0].URL()+"/api/v2/silences", "application/json", nil, []byte(silence))
	if err != nil || code != http.StatusOK {
		t.Fatalf("create silence on %s: %d %s %v", peers[0].name, code, body, err)
	}
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.SilenceID == "" {
		t.Fatalf("create silence: %s %v", body, err)
	}
	eventually(t, 10*time.Second, 100*time.Millisecond, "the silence on the other peer", func() error {
		resp, err := httpClient().Get(peers[1].URL() + "/api/v2/silence/" + created.SilenceID)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answers %s", peers[1].name, resp.Status)
		}
		return nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var valueMu sync.Mutex
	value := 20.0
	alive := map[*proc]bool{peers[0]: true, peers[1]: true}
	pushDone := make(chan struct{})
	go func() {
		defer close(pushDone)
		client := &http.Client{Timeout: time.Second}
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			valueMu.Lock()
			v := value
			var targets []*proc
			for p, ok := range alive {
				if ok {
					targets = append(targets, p)
				}
			}
			valueMu.Unlock()
			req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
				Labels:  []prompb.Label{{Name: "__name__", Value: "e2e_ha_value"}, {Name: "service", Value: "ha"}},
				Samples: []prompb.Sample{{Timestamp: time.Now().UnixMilli(), Value: v}},
			}}}
			for _, p := range targets {
				_, _, _ = remoteWrite(ctx, client, p.URL(), req)
			}
		}
	}()

	firing := func(ns []haNotification) []haNotification {
		var out []haNotification
		for _, n := range ns {
			if n.Status == "firing" {
				out = append(out, n)
			}
		}
		return out
	}
	eventually(t, 30*time.Second, 100*time.Millisecond, "a firing notification", func() error {
		if len(firing(notifications())) == 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	})
	// Both peers have the alert firing; wait past the second one's turn.
	time.Sleep(3 * peerTimeout)
	first := firing(notifications())
	if len(first) != 1 {
		t.Fatalf("%d firing notifications from the pair, want 1: %+v", len(first), first)
	}
	var sender, survivor *proc
	for _, p := range peers {
		if strings.TrimSuffix(first[0].ExternalURL, "/") == p.URL() {
			sender = p
		} else {
			survivor = p
		}
	}
	if sender == nil {
		t.Fatalf("firing notification came from %q, which is neither peer", first[0].ExternalURL)
	}
	for _, p := range peers {
		if alerts := firingAlerts(t, p); alerts != 1 {
			t.Fatalf("%s has %d firing alerts, want 1 (each peer keeps the alert state)", p.name, alerts)
		}
	}

	t.Logf("killing %s, which sent the firing notification", sender.name)
	valueMu.Lock()
	alive[sender] = false
	valueMu.Unlock()
	sender.kill(t)
	time.Sleep(3 * peerTimeout)
	if n := len(firing(notifications())); n != 1 {
		t.Fatalf("after the kill: %d firing notifications, want still 1 (the survivor knew it was sent)", n)
	}
	if alerts := firingAlerts(t, survivor); alerts != 1 {
		t.Fatalf("the survivor has %d firing alerts, want 1", alerts)
	}

	valueMu.Lock()
	value = 1
	valueMu.Unlock()
	eventually(t, 30*time.Second, 100*time.Millisecond, "the resolution from the survivor", func() error {
		for _, n := range notifications() {
			if n.Status == "resolved" {
				if strings.TrimSuffix(n.ExternalURL, "/") != survivor.URL() {
					return fmt.Errorf("resolution came from %s, want the survivor %s", n.ExternalURL, survivor.URL())
				}
				return nil
			}
		}
		return fmt.Errorf("no resolution yet")
	})
	time.Sleep(2 * peerTimeout)
	cancel()
	<-pushDone
	all := notifications()
	resolved := 0
	for _, n := range all {
		if n.Status == "resolved" {
			resolved++
		}
	}
	if len(firing(all)) != 1 || resolved != 1 {
		t.Fatalf("notifications: %d firing, %d resolved; want 1 and 1", len(firing(all)), resolved)
	}
}

// clusterSize reads alertmanager_cluster_members from a peer's /metrics.
func clusterSize(p *proc) int {
	resp, err := httpClient().Get(p.URL() + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "alertmanager_cluster_members %d", &n); err == nil {
			return n
		}
	}
	return 0
}

// firingAlerts counts the firing HATestHigh alerts a peer reports on
// /api/v1/alerts.
func firingAlerts(t *testing.T, p *proc) int {
	t.Helper()
	resp, err := httpClient().Get(p.URL() + "/api/v1/alerts")
	if err != nil {
		t.Fatalf("alerts of %s: %v", p.name, err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Alerts []struct {
				State  string            `json:"state"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("alerts of %s: %v", p.name, err)
	}
	n := 0
	for _, a := range body.Data.Alerts {
		if a.State == "firing" && a.Labels["alertname"] == "HATestHigh" {
			n++
		}
	}
	return n
}
