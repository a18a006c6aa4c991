package main

import (
	"fmt"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// TestShardBodiesDecode checks that patched templates are valid remote-write
// bodies for the stock snappy decoder and protobuf types, carrying exactly
// the labels, values and timestamps the workload defines, and that the
// patchable encoder still compresses the label bytes; in remote-write 1.0
// and 2.0.
func TestShardBodiesDecode(t *testing.T) {
	const startMs = int64(1_764_000_000_000)
	for _, tc := range []struct{ first, n, batch, proto int }{
		{0, 1250, 2000, 1},    // 10k series / 8 senders: requests span rounds
		{500, 12500, 2000, 1}, // 100k series / 8 senders
		{7, 3, 4, 1},
		{0, 1250, 2000, 2},
		{500, 12500, 2000, 2},
		{7, 3, 4, 2},
	} {
		t.Run(fmt.Sprintf("rw%d/%d+%d/%d", tc.proto, tc.first, tc.n, tc.batch), func(t *testing.T) {
			sh, err := newShard(tc.first, tc.n, tc.batch, tc.proto)
			if err != nil {
				t.Fatal(err)
			}
			next := map[int]int{} // series -> next expected round
			index := map[string]int{}
			for i := tc.first; i < tc.first+tc.n; i++ {
				index[fmt.Sprint(toProto(seriesLabels(i)))] = i
			}
			for k := 0; k < 3*len(sh.templates); k++ {
				tp := sh.templates[k%len(sh.templates)]
				body := tp.patch(k/len(sh.templates), sh.roundsPerCycle, startMs)
				raw, err := snappy.Decode(nil, body)
				if err != nil {
					t.Fatalf("request %d: snappy decode: %v", k, err)
				}
				// 2.0 refers to labels by symbol: little is left to compress there.
				if k == 0 && tc.batch >= 2000 && tc.proto == 1 && len(body)*3 > len(raw) {
					t.Errorf("compressed %d bytes to %d, want at least 3:1", len(raw), len(body))
				}
				req, err := decodeAny(raw, tc.proto)
				if err != nil {
					t.Fatalf("request %d: unmarshal: %v", k, err)
				}
				if len(req.Timeseries) != tc.batch {
					t.Fatalf("request %d: %d series, want %d", k, len(req.Timeseries), tc.batch)
				}
				for _, ts := range req.Timeseries {
					s, ok := index[fmt.Sprint(ts.Labels)]
					if !ok {
						t.Fatalf("request %d: unknown series %v", k, ts.Labels)
					}
					r := next[s]
					next[s]++
					wantV, wantT := sampleValue(s, r), startMs+int64(r)*1000
					if len(ts.Samples) != 1 || ts.Samples[0].Value != wantV || ts.Samples[0].Timestamp != wantT {
						t.Fatalf("request %d series %d: samples %v, want one of value %v at %d", k, s, ts.Samples, wantV, wantT)
					}
				}
			}
			if len(next) != tc.n {
				t.Errorf("saw %d series, want %d", len(next), tc.n)
			}
		})
	}
}

// decodeAny decodes a 1.0 body, or a 2.0 body into its 1.0 equivalent.
func decodeAny(raw []byte, proto int) (*prompb.WriteRequest, error) {
	var req prompb.WriteRequest
	if proto == 1 {
		return &req, req.Unmarshal(raw)
	}
	var v2 writev2.Request
	if err := v2.Unmarshal(raw); err != nil {
		return nil, err
	}
	if len(v2.Symbols) == 0 || v2.Symbols[0] != "" {
		return nil, fmt.Errorf("symbols do not start with the empty string: %q", v2.Symbols)
	}
	for _, ts := range v2.Timeseries {
		var pts prompb.TimeSeries
		for i := 0; i+1 < len(ts.LabelsRefs); i += 2 {
			pts.Labels = append(pts.Labels, prompb.Label{Name: v2.Symbols[ts.LabelsRefs[i]], Value: v2.Symbols[ts.LabelsRefs[i+1]]})
		}
		for _, smp := range ts.Samples {
			pts.Samples = append(pts.Samples, prompb.Sample{Value: smp.Value, Timestamp: smp.Timestamp})
		}
		req.Timeseries = append(req.Timeseries, pts)
	}
	return &req, nil
}

func toProto(ls [][2]string) []prompb.Label {
	var out []prompb.Label
	for _, l := range ls {
		out = append(out, prompb.Label{Name: l[0], Value: l[1]})
	}
	return out
}

// TestSeriesUnique checks that 100k series have 100k distinct label sets
// with 10 labels each and that counters only increase.
func TestSeriesUnique(t *testing.T) {
	seen := map[string]int{}
	for s := 0; s < 100_000; s++ {
		ls := seriesLabels(s)
		if len(ls) != 10 {
			t.Fatalf("series %d has %d labels", s, len(ls))
		}
		for i := 1; i < len(ls); i++ {
			if ls[i-1][0] >= ls[i][0] {
				t.Fatalf("series %d labels not sorted: %v", s, ls)
			}
		}
		key := fmt.Sprint(ls)
		if o, ok := seen[key]; ok {
			t.Fatalf("series %d and %d share labels %v", o, s, ls)
		}
		seen[key] = s
	}
	for s := 0; s < 40; s++ {
		if metrics[s%10].kind != kindCounter {
			continue
		}
		for r := 0; r < 1000; r++ {
			if sampleValue(s, r+1) <= sampleValue(s, r) {
				t.Fatalf("counter series %d decreases at round %d", s, r)
			}
		}
	}
}
