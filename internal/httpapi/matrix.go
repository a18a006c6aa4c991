package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Matrix is a range query's answer as the Prometheus HTTP API writes it
// (`"resultType": "matrix"`), read back by a client: gmc's tests and
// bench/history, which compare answers with the engine's or other stores'.
type Matrix []MatrixSeries

// MatrixSeries is one series of a Matrix.
type MatrixSeries struct {
	Metric map[string]string `json:"metric"`
	Values []Point           `json:"values"`
}

// Point is one [time, "value"] pair of a series: the time in seconds, the
// value as written (a string, so an answer can be compared bit for bit
// with strconv.FormatFloat(v, 'f', -1, 64)).
type Point struct {
	T float64
	V string
}

// UnmarshalJSON reads a point written as [1700000000.5, "1.25"].
func (p *Point) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if err := json.Unmarshal(pair[0], &p.T); err != nil {
		return fmt.Errorf("point time %s: %w", pair[0], err)
	}
	if err := json.Unmarshal(pair[1], &p.V); err != nil {
		return fmt.Errorf("point value %s: %w", pair[1], err)
	}
	return nil
}

// Float is the point's value.
func (p Point) Float() (float64, error) { return strconv.ParseFloat(p.V, 64) }

// DecodeMatrix reads a range query's answer: its series, or the answer's
// error where its status is not "success" or its result not a matrix.
func DecodeMatrix(body []byte) (Matrix, error) {
	var a struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     Matrix `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	switch {
	case a.Status != "success":
		if a.Error == "" {
			a.Error = "status " + strconv.Quote(a.Status)
		}
		return nil, errors.New(a.Error)
	case a.Data.ResultType != "matrix":
		return nil, fmt.Errorf("a %q answer, not a matrix", a.Data.ResultType)
	}
	return a.Data.Result, nil
}
