package notify

import "testing"

// FuzzLoadConfig: any input either loads into a config that builds a
// routing tree, or is rejected with an error; it never panics.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(fullYAML))
	f.Add([]byte(routingYAML))
	f.Add([]byte(`route: {receiver: a, matchers: ['a=~"b"']}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadConfig(data)
		if err != nil {
			return
		}
		if c.Route.Receiver != "" {
			root := newRoute(&c.Route, nil, 0)
			_ = root.match(nil)
		}
		_ = c.String()
	})
}
