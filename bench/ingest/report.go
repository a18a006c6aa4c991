package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"
)

// runResult is every figure of one target at one series count.
type runResult struct {
	Target         string  `json:"target"`
	Protocol       string  `json:"remote_write_version,omitempty"` // "1.0" or "2.0"; files from before it: 1.0
	Series         int     `json:"series"`
	Error          string  `json:"error,omitempty"`
	SeriesFound    int     `json:"series_found"` // count({env="prod"}) at round 0 after the window; -1 if the query failed
	SamplesPerSec  float64 `json:"samples_per_sec"`
	SamplesPerCPUs float64 `json:"samples_per_peer_cpu_second"` // efficiency; robust to a shared machine
	Samples        int64   `json:"samples"`                     // acknowledged in the measured window
	Requests       int64   `json:"requests"`                    // acknowledged in the measured window
	ErrorRequests  int64   `json:"error_requests"`
	ErrorSamples   int64   `json:"error_samples"`
	FirstError     string  `json:"first_error,omitempty"`
	Seconds        float64 `json:"window_seconds"`
	WarmupSeconds  float64 `json:"warmup_seconds"`
	Rounds         int     `json:"rounds"`
	PeerCPUPercent float64 `json:"peer_cpu_percent"` // 100 = one core
	GenCPUPercent  float64 `json:"generator_cpu_percent"`
	OtherCPU       float64 `json:"other_processes_cpu_percent"` // the rest of the machine in the window
	PeakRSSBytes   uint64  `json:"peak_rss_bytes"`
	DiskBytes      int64   `json:"disk_bytes"`          // du of the data dir after a clean stop
	DiskApparent   int64   `json:"disk_apparent_bytes"` // sum of file sizes
	SamplesWritten int64   `json:"samples_written"`     // warm-up + window
	BytesPerSample float64 `json:"disk_bytes_per_sample"`
	LatencyP50ms   float64 `json:"request_latency_p50_ms"`
	LatencyP99ms   float64 `json:"request_latency_p99_ms"`
}

func newRunResult(name string, series int, lr *loadResult, rss uint64, alloc, apparent int64) *runResult {
	r := &runResult{
		Target: name, Series: series,
		Samples: lr.Samples, Requests: lr.Requests,
		ErrorRequests: lr.ErrorRequests, ErrorSamples: lr.ErrorSamples, FirstError: lr.FirstError,
		Seconds: lr.Seconds, WarmupSeconds: lr.WarmupSeconds, Rounds: lr.Rounds,
		PeakRSSBytes: rss, DiskBytes: alloc, DiskApparent: apparent,
		SamplesWritten: lr.WarmupSamples + lr.Samples,
		LatencyP50ms:   lr.LatencyP50ms, LatencyP99ms: lr.LatencyP99ms,
	}
	if lr.Seconds > 0 {
		r.SamplesPerSec = float64(lr.Samples) / lr.Seconds
		r.PeerCPUPercent = 100 * lr.PeerCPU / lr.Seconds
		if lr.PeerCPU > 0 {
			r.SamplesPerCPUs = float64(lr.Samples) / lr.PeerCPU
		}
		r.GenCPUPercent = 100 * lr.GenCPUSeconds / lr.Seconds
		r.OtherCPU = 100 * lr.OtherCPU / lr.Seconds
	}
	if r.SamplesWritten > 0 {
		r.BytesPerSample = float64(alloc) / float64(r.SamplesWritten)
	}
	return r
}

// ratio is gmc's samples/s over a peer's at one series count (or, with
// Subject set, gmc's under remote-write 2.0 over its own under 1.0).
type ratio struct {
	Series  int     `json:"series"`
	Subject string  `json:"subject,omitempty"` // empty: gmc, remote-write 1.0
	Peer    string  `json:"peer"`
	Ratio   float64 `json:"gmc_over_peer_samples_per_sec"`
	PerCPU  float64 `json:"gmc_over_peer_samples_per_cpu_second"`
	Target  float64 `json:"target_ratio"` // what the issue asks for
}

// report is the whole run, as printed and as written to -out.
type report struct {
	Started  time.Time    `json:"started"`
	CPUs     int          `json:"cpus"`
	Duration string       `json:"window"`
	Senders  int          `json:"senders"`
	Batch    int          `json:"samples_per_request"`
	Runs     []*runResult `json:"runs"`
	Ratios   []ratio      `json:"ratios"`
}

func (rep *report) find(target, proto string, series int) *runResult {
	for _, r := range rep.Runs {
		p := r.Protocol
		if p == "" {
			p = "1.0"
		}
		if r.Target == target && p == proto && r.Series == series && r.Error == "" && r.SamplesPerSec > 0 {
			return r
		}
	}
	return nil
}

func (rep *report) computeRatios() {
	rep.Ratios = nil
	var seen []int
	for _, r := range rep.Runs {
		if slices.Contains(seen, r.Series) {
			continue
		}
		seen = append(seen, r.Series)
		g := rep.find("gmc", "1.0", r.Series)
		if g2 := rep.find("gmc", "2.0", r.Series); g != nil && g2 != nil {
			rep.Ratios = append(rep.Ratios, ratio{Series: r.Series, Peer: "gmc, remote-write 1.0", Subject: "gmc, remote-write 2.0",
				Ratio: g2.SamplesPerSec / g.SamplesPerSec})
			if g.SamplesPerCPUs > 0 {
				rep.Ratios[len(rep.Ratios)-1].PerCPU = g2.SamplesPerCPUs / g.SamplesPerCPUs
			}
		}
		for _, peer := range []struct {
			name   string
			target float64
		}{{"prometheus", 2}, {"victoria-metrics", 1}} {
			if p := rep.find(peer.name, "1.0", r.Series); g != nil && p != nil {
				rep.Ratios = append(rep.Ratios, ratio{Series: r.Series, Peer: peer.name, Target: peer.target,
					Ratio: g.SamplesPerSec / p.SamplesPerSec})
				if p.SamplesPerCPUs > 0 {
					rep.Ratios[len(rep.Ratios)-1].PerCPU = g.SamplesPerCPUs / p.SamplesPerCPUs
				}
			}
		}
	}
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nremote-write ingest, %d CPUs shared by target and generator, window %s, %d senders, %d samples/request\n\n",
		rep.CPUs, rep.Duration, rep.Senders, rep.Batch)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tRW\tseries\tqueryable\tsamples/s\terrors\tpeer CPU\tsamples/CPU-s\tpeak RSS\tdisk\tB/sample\trounds\treq p50\treq p99\tgen CPU\tother CPU\t")
	for _, r := range rep.Runs {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t\tfailed: %s\t\t\t\t\t\t\t\t\t\t\t\t\n", r.Target, r.proto(), r.Series, r.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%.0f%%\t%s\t%.0f MiB\t%.1f MiB\t%.2f\t%d\t%.1f ms\t%.1f ms\t%.0f%%\t%.0f%%\t\n",
			r.Target, r.proto(), r.Series, r.SeriesFound, thousands(r.SamplesPerSec), thousands(float64(r.ErrorSamples)), r.PeerCPUPercent, thousands(r.SamplesPerCPUs),
			float64(r.PeakRSSBytes)/(1<<20), float64(r.DiskBytes)/(1<<20), r.BytesPerSample,
			r.Rounds, r.LatencyP50ms, r.LatencyP99ms, r.GenCPUPercent, r.OtherCPU)
	}
	tw.Flush()
	if len(rep.Ratios) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "series\tgmc\tpeer\tgmc / peer, samples/s\ttarget\tmet\tgmc / peer, samples/CPU-s\t")
		for _, r := range rep.Ratios {
			subject, target, met := r.Subject, "", ""
			if subject == "" {
				subject = "gmc, remote-write 1.0"
			}
			if r.Target > 0 {
				target, met = fmt.Sprintf("≥ %.0f×", r.Target), "no"
				if r.Ratio >= r.Target {
					met = "yes"
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f×\t%s\t%s\t%.2f×\t\n", r.Series, subject, r.Peer, r.Ratio, target, met, r.PerCPU)
		}
		tw.Flush()
	}
	for _, r := range rep.Runs {
		if r.FirstError != "" {
			fmt.Fprintf(w, "\n%s, remote-write %s, %d series: first error: %s", r.Target, r.proto(), r.Series, r.FirstError)
		}
	}
	fmt.Fprintln(w, "\nRW: remote-write version of the load (the same series, values and batches in 1.0 or 2.0 encoding).")
	fmt.Fprintln(w, "queryable: series the target's query API counts at round 0 after the window (should equal series).")
	fmt.Fprintln(w, "errors: samples in non-2xx or failed requests. peer CPU: 100% = one core. gen CPU: this harness.")
	fmt.Fprintln(w, "samples/CPU-s: samples per second of the target's own CPU; steadier than samples/s when the machine is shared.")
	fmt.Fprintln(w, "other CPU: every other process on the machine during the window; above a few % the figures are disturbed.")
	fmt.Fprintln(w, "disk: du of the data dir after a clean stop; for gmc and Prometheus that is head chunks + WAL, not compacted blocks.")
}

// proto is the run's remote-write version (1.0 for files from before the field).
func (r *runResult) proto() string {
	if r.Protocol == "" {
		return "1.0"
	}
	return r.Protocol
}

func (rep *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

func readReport(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	rep := &report{}
	if err := json.Unmarshal(b, rep); err != nil {
		return nil, fmt.Errorf("decode results %s: %w", path, err)
	}
	for _, r := range rep.Runs { // files from before the field existed
		if r.SamplesPerCPUs == 0 && r.PeerCPUPercent > 0 {
			r.SamplesPerCPUs = r.SamplesPerSec / (r.PeerCPUPercent / 100)
		}
	}
	return rep, nil
}

// thousands formats f rounded, with commas: 1234567 → "1,234,567".
func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// quantileMs returns the q-quantile of d in milliseconds (0 when empty).
func quantileMs(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))]) / float64(time.Millisecond)
}
