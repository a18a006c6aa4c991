package main

import (
	"fmt"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// TestShardBodiesDecode checks that patched templates are valid remote-write
// bodies for the stock snappy decoder and protobuf types, carrying exactly
// the labels, values and timestamps the workload defines, and that the
// patchable encoder still compresses the label bytes.
func TestShardBodiesDecode(t *testing.T) {
	const startMs = int64(1_764_000_000_000)
	for _, tc := range []struct{ first, n, batch int }{
		{0, 1250, 2000},    // 10k series / 8 senders: requests span rounds
		{500, 12500, 2000}, // 100k series / 8 senders
		{7, 3, 4},
	} {
		t.Run(fmt.Sprintf("%d+%d/%d", tc.first, tc.n, tc.batch), func(t *testing.T) {
			sh, err := newShard(tc.first, tc.n, tc.batch)
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
				if k == 0 && tc.batch >= 2000 && len(body)*3 > len(raw) {
					t.Errorf("compressed %d bytes to %d, want at least 3:1", len(raw), len(body))
				}
				var req prompb.WriteRequest
				if err := req.Unmarshal(raw); err != nil {
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
