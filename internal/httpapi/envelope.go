package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsoniter "github.com/json-iterator/go"
)

// ErrorType is the "errorType" of a Prometheus API error response.
type ErrorType string

// The errorType values of the Prometheus HTTP API.
const (
	ErrBadData   ErrorType = "bad_data"
	ErrExec      ErrorType = "execution"
	ErrTimeout   ErrorType = "timeout"
	ErrCanceled  ErrorType = "canceled"
	ErrInternal  ErrorType = "internal"
	ErrNotFound  ErrorType = "not_found"
	ErrCostLimit ErrorType = "cost_limit"
)

// statusClientClosedConnection is the non-standard code Prometheus answers
// a canceled query with.
const statusClientClosedConnection = 499

// StatusCode is the HTTP status Prometheus answers this error type with.
func (t ErrorType) StatusCode() int {
	switch t {
	case ErrBadData:
		return http.StatusBadRequest
	case ErrExec, ErrCostLimit:
		return http.StatusUnprocessableEntity
	case ErrCanceled:
		return statusClientClosedConnection
	case ErrTimeout:
		return http.StatusServiceUnavailable
	case ErrNotFound:
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

// Error is an API error: its type picks the HTTP status code.
type Error struct {
	Type ErrorType
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// BadParam is the bad_data error Prometheus gives for an invalid parameter.
func BadParam(name string, err error) *Error {
	return &Error{Type: ErrBadData, Err: fmt.Errorf("invalid parameter %q: %w", name, err)}
}

// WriteError writes the error envelope
// {"status":"error","errorType":…,"error":…} with the type's status code.
func WriteError(w http.ResponseWriter, typ ErrorType, err error) {
	WriteErrorCode(w, typ.StatusCode(), typ, err)
}

// WriteErrorCode is WriteError with an explicit status code, for the few
// endpoints whose status differs from what Prometheus maps typ to.
func WriteErrorCode(w http.ResponseWriter, code int, typ ErrorType, err error) {
	stream := jsoniter.ConfigCompatibleWithStandardLibrary.BorrowStream(nil)
	defer jsoniter.ConfigCompatibleWithStandardLibrary.ReturnStream(stream)
	stream.WriteObjectStart()
	stream.WriteObjectField("status")
	stream.WriteString("error")
	stream.WriteMore()
	stream.WriteObjectField("errorType")
	stream.WriteString(string(typ))
	stream.WriteMore()
	stream.WriteObjectField("error")
	stream.WriteString(err.Error())
	stream.WriteObjectEnd()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(stream.Buffer()) // the client went away; nothing to do
}

// WriteSuccess writes the success envelope {"status":"success","data":data}
// with status 200; data is encoded as encoding/json would.
func WriteSuccess(w http.ResponseWriter, data any) {
	WriteJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
		Data   any    `json:"data"`
	}{"success", data})
}

// WriteJSON writes v, encoded as encoding/json would, with status code. If v
// cannot be encoded it writes an internal error envelope instead.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, ErrInternal, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b) // the client went away; nothing to do
}
