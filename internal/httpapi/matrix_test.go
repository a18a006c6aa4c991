package httpapi

import (
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestDecodeMatrix: a range query's answer as WriteSuccess writes it reads
// back with its values as written; an error answer and a vector give the
// answer's error.
func TestDecodeMatrix(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteSuccess(rec, map[string]any{"resultType": "matrix", "result": []map[string]any{
		{"metric": map[string]string{"i": "a"}, "values": [][2]any{{1700000000.5, "0.1"}, {1700000001, "NaN"}}},
	}})
	m, err := DecodeMatrix(rec.Body.Bytes())
	want := Matrix{{Metric: map[string]string{"i": "a"}, Values: []Point{{1700000000.5, "0.1"}, {1700000001, "NaN"}}}}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Fatalf("decoded %+v, %v; want %+v", m, err, want)
	}
	if f, err := m[0].Values[0].Float(); err != nil || f != 0.1 {
		t.Errorf("Float() = %v, %v", f, err)
	}
	for body, msg := range map[string]string{
		`{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\""}`:    `invalid parameter "step"`,
		`{"status":"success","data":{"resultType":"vector","result":[]}}`:                   `a "vector" answer, not a matrix`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,2]]}]}}`: `decode answer: point value 2: json: cannot unmarshal number into Go value of type string`,
	} {
		if _, err := DecodeMatrix([]byte(body)); err == nil || err.Error() != msg {
			t.Errorf("%s: error %v, want %q", body, err, msg)
		}
	}
}
