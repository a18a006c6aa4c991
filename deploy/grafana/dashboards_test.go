// Package grafana holds gmc's Grafana provisioning and dashboards; this test
// runs every panel query of every dashboard against an in-process gmc
// holding demo-like data.
package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server/servertest"
	"github.com/gmc-dev/gmc/internal/web/webtest"
)

type panel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func startGMC(t *testing.T) (string, *webtest.Data) {
	t.Helper()
	_, base := servertest.Start(t, config.Default())
	sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer scancel()
	data, err := webtest.Seed(sctx, base, webtest.Options{Services: 4, Span: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return base, data
}

// promGet runs a Prometheus API GET and returns data (or the API's error).
func promGet(base, path string, params url.Values) (json.RawMessage, error) {
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode %s answer (%d): %w", path, resp.StatusCode, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %d %s", path, resp.StatusCode, body.Error)
	}
	return body.Data, nil
}

var varRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// expand returns expr with every template variable replaced, once per
// combination of candidate values (Grafana's built-ins get fixed values).
func expand(expr string, candidates map[string][]string) ([]string, error) {
	builtins := map[string]string{
		"__rate_interval": "1m", "__interval": "15s", "__range": "10m", "__range_s": "600", "__interval_ms": "15000",
	}
	out := []string{expr}
	seen := map[string]bool{}
	for _, m := range varRE.FindAllStringSubmatch(expr, -1) {
		name := m[1] + m[2] + m[3]
		if seen[name] {
			continue
		}
		seen[name] = true
		var vals []string
		if v, ok := builtins[name]; ok {
			vals = []string{v}
		} else if vals = candidates[name]; len(vals) == 0 {
			return nil, fmt.Errorf("no value for template variable $%s", name)
		}
		var next []string
		for _, e := range out {
			for _, v := range vals {
				next = append(next, varRE.ReplaceAllStringFunc(e, func(s string) string {
					sm := varRE.FindStringSubmatch(s)
					if sm[1]+sm[2]+sm[3] == name {
						return v
					}
					return s
				}))
			}
		}
		out = next
	}
	return out, nil
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	want := []string{"benchmarks.json", "host.json", "overview.json", "service.json", "sla.json", "trading.json"}
	var got []string
	for k := range out {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("dashboards %v, want %v", got, want)
	}
	return out
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// TestDashboardQueries runs every target of every panel as a range query
// over the last 10 minutes of the data ($__range = 10m) and fails when one errors or returns no series for every
// value of its template variables.
func TestDashboardQueries(t *testing.T) {
	base, data := startGMC(t)
	candidates := map[string][]string{
		"service": data.Services, "instance": data.Hosts, "account": data.Accounts, "strategy": data.Strategies,
		"benchmark": data.Benchmarks, "sla": data.SLAs, "objective": {"99.9"},
	}
	end := data.Now
	rng := url.Values{
		"start": {fmt.Sprint(end.Add(-10 * time.Minute).Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"15"},
	}
	queries := 0
	for file, d := range loadDashboards(t) {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			if d.UID == "" || d.Title == "" {
				t.Errorf("dashboard without uid or title")
			}
			// Template variables: each label_values query has values.
			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				m := regexp.MustCompile(`^label_values\((?:(.+),\s*)?(\w+)\)$`).FindStringSubmatch(v.Definition)
				if m == nil {
					t.Errorf("variable %s: query %q is not label_values(...)", v.Name, v.Definition)
					continue
				}
				p := url.Values{}
				if m[1] != "" {
					p.Set("match[]", m[1])
				}
				raw, err := promGet(base, "/api/v1/label/"+m[2]+"/values", p)
				var vals []string
				if err == nil {
					err = json.Unmarshal(raw, &vals)
				}
				if err != nil || len(vals) == 0 {
					t.Errorf("variable %s (%s): values %v, err %v", v.Name, v.Definition, vals, err)
				}
			}
			for _, p := range flatten(d.Panels) {
				if p.Type == "row" {
					continue
				}
				if p.Datasource == nil || p.Datasource.UID != "gmc" || p.Datasource.Type != "prometheus" {
					t.Errorf("panel %q: datasource %+v, want the provisioned prometheus uid gmc", p.Title, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no targets", p.Title)
				}
				for _, tg := range p.Targets {
					exprs, err := expand(tg.Expr, candidates)
					if err != nil {
						t.Errorf("panel %q target %s: %v", p.Title, tg.RefID, err)
						continue
					}
					series := 0
					for _, e := range exprs {
						queries++
						params := url.Values{"query": {e}}
						for k, v := range rng {
							params[k] = v
						}
						raw, err := promGet(base, "/api/v1/query_range", params)
						if err != nil {
							t.Errorf("panel %q target %s: %s: %v", p.Title, tg.RefID, e, err)
							break
						}
						var res struct {
							Result []json.RawMessage `json:"result"`
						}
						if err := json.Unmarshal(raw, &res); err != nil {
							t.Fatal(err)
						}
						series += len(res.Result)
					}
					if series == 0 {
						t.Errorf("panel %q target %s returns nothing for any value of its variables: %s", p.Title, tg.RefID, tg.Expr)
					}
				}
			}
		})
	}
	t.Logf("%d queries run", queries)
}

// TestProvisioning checks the data source file names the uid the
// dashboards use and points at gmc's port.
func TestProvisioning(t *testing.T) {
	b, err := os.ReadFile("provisioning/datasources/gmc.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL, Access string
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.APIVersion != 1 || len(f.Datasources) != 1 {
		t.Fatalf("datasources file: %+v", f)
	}
	ds := f.Datasources[0]
	if ds.UID != "gmc" || ds.Type != "prometheus" || ds.URL != "http://gmc:9900" || ds.Access != "proxy" {
		t.Fatalf("datasource %+v, want uid gmc, type prometheus, url http://gmc:9900, access proxy", ds)
	}
	b, err = os.ReadFile("provisioning/dashboards/gmc.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "path: /var/lib/grafana/dashboards/gmc") {
		t.Fatal("dashboard provider does not read /var/lib/grafana/dashboards/gmc (where docker-compose.yml mounts dashboards/)")
	}
}

// TestCompose checks deploy/docker-compose.yml mounts this directory where
// the provisioning files expect it and that gmc listens on all interfaces
// of its container, as the data source URL (http://gmc:9900) needs.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Command []string `yaml:"command"`
			Ports   []string `yaml:"ports"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	gmc, graf := c.Services["gmc"], c.Services["grafana"]
	if !slices.Contains(gmc.Command, "--web.listen-address=0.0.0.0:9900") || !slices.Contains(gmc.Ports, "9900:9900") {
		t.Errorf("gmc service: command %v ports %v, want it listening on 0.0.0.0:9900, published", gmc.Command, gmc.Ports)
	}
	for _, v := range []string{"./grafana/provisioning:/etc/grafana/provisioning:ro", "./grafana/dashboards:/var/lib/grafana/dashboards/gmc:ro"} {
		if !slices.Contains(graf.Volumes, v) {
			t.Errorf("grafana volumes %v lack %s", graf.Volumes, v)
		}
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM golang:1.26-bookworm AS build", "-trimpath", "FROM gcr.io/distroless/static-debian12:nonroot", "USER 65532:65532", "EXPOSE 9900", "--web.listen-address=0.0.0.0:9900"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
