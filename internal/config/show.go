package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// secretKeys are the gmc.yml keys whose values are credentials kept as plain
// strings (commoncfg.Secret fields print as <secret> by themselves).
var secretKeys = map[string]bool{"token": true, "password_hash": true, "dsn": true}

// secretMaps are the keys of string maps whose every value may carry a
// credential (an Authorization header, a password in an environment
// variable): their values are shown as <secret>, their names kept.
var secretMaps = map[string]bool{"headers": true, "env": true}

// YAML is the configuration as YAML, as /api/v1/status/config shows it:
// every secret as <secret>, as Prometheus shows its own.
func (c Config) YAML() (string, error) {
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return "", fmt.Errorf("render config: %w", err)
	}
	redact(&doc)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return "", fmt.Errorf("render config: %w", err)
	}
	return string(out), nil
}

// redact replaces the values of secretKeys and of secretMaps' entries under n.
func redact(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			switch {
			case secretKeys[k] && v.Kind == yaml.ScalarNode && v.Value != "":
				hide(v)
				continue
			case secretMaps[k] && v.Kind == yaml.MappingNode:
				for j := 1; j < len(v.Content); j += 2 {
					hide(v.Content[j])
				}
				continue
			}
		}
	}
	for _, c := range n.Content {
		redact(c)
	}
}

func hide(v *yaml.Node) {
	*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "<secret>"}
}
