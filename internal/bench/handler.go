package bench

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gmc-dev/gmc/internal/httpapi"
)

// Handler serves the archived weekly reports:
//
//	GET /benchmark/report?format=json|md|html   the latest report
//	GET /benchmark/reports                      the list of reports
//	GET /benchmark/report/{id}?format=…         one report, id like 2026-W48
type Handler struct {
	archive *Archive
}

// NewHandler serves the reports of archive.
func NewHandler(a *Archive) *Handler { return &Handler{archive: a} }

var contentTypes = map[string]string{
	"json": "application/json",
	"md":   "text/markdown; charset=utf-8",
	"html": "text/html; charset=utf-8",
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, id string) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	ct, ok := contentTypes[format]
	if !ok {
		httpapi.WriteError(w, httpapi.ErrBadData, fmt.Errorf("format: %q is not one of json, md, html", format))
		return
	}
	data, err := h.archive.ReportFile(id, format)
	if errors.Is(err, ErrNoReport) {
		httpapi.WriteError(w, httpapi.ErrNotFound, err)
		return
	}
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrInternal, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(data)
}

// Latest serves GET /benchmark/report: the newest archived report.
func (h *Handler) Latest(w http.ResponseWriter, r *http.Request) {
	ids, err := h.archive.ReportIDs()
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrInternal, err)
		return
	}
	if len(ids) == 0 {
		httpapi.WriteError(w, httpapi.ErrNotFound, errors.New("no benchmark report yet: no benchmark has run"))
		return
	}
	h.serve(w, r, ids[0])
}

// One serves GET /benchmark/report/{id}.
func (h *Handler) One(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, r.PathValue("id"))
}

// ReportLink is one entry of the report list.
type ReportLink struct {
	ID   string `json:"id"`
	JSON string `json:"json"`
	MD   string `json:"md"`
	HTML string `json:"html"`
}

// List serves GET /benchmark/reports: the archived reports, newest first.
func (h *Handler) List(w http.ResponseWriter, _ *http.Request) {
	ids, err := h.archive.ReportIDs()
	if err != nil {
		httpapi.WriteError(w, httpapi.ErrInternal, err)
		return
	}
	links := make([]ReportLink, 0, len(ids))
	for _, id := range ids {
		p := "/benchmark/report/" + id
		links = append(links, ReportLink{ID: id, JSON: p + "?format=json", MD: p + "?format=md", HTML: p + "?format=html"})
	}
	httpapi.WriteSuccess(w, links)
}

// Routes are the report endpoints.
func (h *Handler) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Method: http.MethodGet, Path: "/benchmark/report", Handler: h.Latest},
		{Method: http.MethodGet, Path: "/benchmark/reports", Handler: h.List},
		{Method: http.MethodGet, Path: "/benchmark/report/{id}", Handler: h.One},
	}
}
