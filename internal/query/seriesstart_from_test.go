package query

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gmc-dev/gmc/internal/storage"
)

// startCounted is a raw store whose oldest sample is start (or err), which
// counts how often it is asked.
type startCounted struct {
	*storage.TSDB
	start int64
	err   error
	reads int
}

func (s *startCounted) StartTime() (int64, error) {
	s.reads++
	return s.start, s.err
}

// TestSeriesStartDataFrom: series_start's raw_from is the raw store's
// oldest sample, its data_from the older of it and the tiers' (null when
// either is not known, or neither holds a sample), each read once a
// request: the server's data_from read the raw store's StartTime again
// after series_start had read it for raw_from.
func TestSeriesStartDataFrom(t *testing.T) {
	const none = math.MaxInt64
	db, err := storage.Open(storage.Options{Dir: t.TempDir(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sec := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name              string
		raw               int64
		rawErr            error
		tiers             int64
		tiersKnown        bool
		noTiers           bool // Options.TiersFrom nil
		rawFrom, dataFrom *float64
	}{
		{name: "raw older", raw: 1_000_000, tiers: 2_000_000, tiersKnown: true, rawFrom: sec(1000), dataFrom: sec(1000)},
		{name: "tiers older", raw: 5_000_000, tiers: 2_000_000, tiersKnown: true, rawFrom: sec(5000), dataFrom: sec(2000)},
		{name: "raw empty", raw: none, tiers: 2_000_000, tiersKnown: true, dataFrom: sec(2000)},
		{name: "tiers empty", raw: 5_000_000, tiers: none, tiersKnown: true, rawFrom: sec(5000), dataFrom: sec(5000)},
		{name: "both empty", raw: none, tiers: none, tiersKnown: true},
		{name: "tiers not known", raw: 5_000_000, tiers: 0, rawFrom: sec(5000)},
		{name: "raw not known", raw: 0, rawErr: errors.New("disk gone"), tiers: 2_000_000, tiersKnown: true},
		{name: "no tiers", raw: 5_000_000, noTiers: true, rawFrom: sec(5000), dataFrom: sec(5000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := &startCounted{TSDB: db, start: tc.raw, err: tc.rawErr}
			tierReads := 0
			opts := Options{Queryable: raw, RemoteRead: raw, Registerer: prometheus.NewRegistry()}
			if !tc.noTiers {
				opts.TiersFrom = func() (int64, bool) { tierReads++; return tc.tiers, tc.tiersKnown }
			}
			a, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			a.SeriesStart(rec, httptest.NewRequest(http.MethodGet, `/api/v1/series_start?match[]={service="s"}`, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var body struct {
				Data seriesStartAnswer `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			str := func(f *float64) string {
				if f == nil {
					return "null"
				}
				b, _ := json.Marshal(*f)
				return string(b)
			}
			if got, want := str(body.Data.RawFrom), str(tc.rawFrom); got != want {
				t.Errorf("raw_from %s, want %s", got, want)
			}
			if got, want := str(body.Data.DataFrom), str(tc.dataFrom); got != want {
				t.Errorf("data_from %s, want %s", got, want)
			}
			wantTierReads := 1
			if tc.noTiers || tc.rawErr != nil {
				wantTierReads = 0 // data_from is not known without the raw store's
			}
			if raw.reads != 1 || tierReads != wantTierReads {
				t.Errorf("one request read the raw store's start %d times and the tiers' %d times, want 1 and %d", raw.reads, tierReads, wantTierReads)
			}
		})
	}
}
