package server

import (
	"net/url"
	"strings"

	"github.com/gmc-dev/gmc/internal/query"
	"github.com/gmc-dev/gmc/internal/storage"
)

// status gathers what the Prometheus status and discovery endpoints report
// (query.Status): the running config, the flags, the TSDB head, the scrape
// targets, the Alertmanagers alerts go to and the senders' metadata.
// Call it once the ingester and scraper exist.
func (s *Server) status() query.Status {
	st := query.Status{
		// The configuration in force: a reload's changes it applied.
		Config:   func() (string, error) { return s.cfg.Load().YAML() },
		Flags:    s.opts.Flags,
		Gatherer: s.reg,
		Metadata: s.ingester.Metadata,
	}
	if db, ok := s.store.(*storage.TSDB); ok {
		st.HeadStats = db.HeadStats
	}
	st.Targets = s.scraper
	st.Alertmanagers = func() []*url.URL {
		var ams []*url.URL
		for _, r := range s.cfg.Load().Notify.Receivers {
			for _, am := range r.AlertmanagerConfigs {
				if u, err := url.Parse(strings.TrimRight(am.URL, "/") + "/api/v2/alerts"); err == nil {
					ams = append(ams, u)
				}
			}
		}
		return ams
	}
	return st
}
