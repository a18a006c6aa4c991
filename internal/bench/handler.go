package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

func writeError(w http.ResponseWriter, code int, errorType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": errorType, "error": msg})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, id string) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	ct, ok := contentTypes[format]
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("format: %q is not one of json, md, html", format))
		return
	}
	data, err := h.archive.ReportFile(id, format)
	if errors.Is(err, ErrNoReport) {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(data)
}

// Latest serves GET /benchmark/report: the newest archived report.
func (h *Handler) Latest(w http.ResponseWriter, r *http.Request) {
	ids, err := h.archive.ReportIDs()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	if len(ids) == 0 {
		writeError(w, http.StatusNotFound, "not_found", "no benchmark report yet: no benchmark has run")
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
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	links := make([]ReportLink, 0, len(ids))
	for _, id := range ids {
		p := "/benchmark/report/" + id
		links = append(links, ReportLink{ID: id, JSON: p + "?format=json", MD: p + "?format=md", HTML: p + "?format=html"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": links})
}
