package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gmc-dev/gmc/sdk"
)

// The order gateway's HTTP front: POST /orders places one order through the
// same gateway path the simulated traders use, so it is counted in the
// order-gateway's metrics (and the order-success SLA) like any order.
const (
	// Symbol is the one instrument the demo's book trades.
	Symbol = "DEMO-USD"
	// PriceDecimals: prices are in units of 0.01 (one tick); the book's
	// mid is about 100.00.
	PriceDecimals = 2
	// OrdersPath is the HTTP front's endpoint.
	OrdersPath = "/orders"
	// GatewayBenchBody is an order the gateway latency benchmark sends: a
	// buy of 1 lot a dollar below the market, which rests (and is cancelled
	// later) without moving the account's position.
	GatewayBenchBody = `{"symbol":"DEMO-USD","side":"buy","type":"limit","price":"99.00","qty":"1"}`

	// httpAccount is the account of the orders placed over HTTP.
	httpAccount uint32 = 100
	// maxOrderBody bounds a request body.
	maxOrderBody = 4 << 10
	// orderTimeout bounds how long a request waits for the gateway.
	orderTimeout = 2 * time.Second
	// maxQty bounds an order's quantity, in lots.
	maxQty = 1_000_000
)

// orderAPI is the order gateway's HTTP front. It keeps at most liveOrders
// of its orders working and cancels the oldest beyond that, as the
// strategies do, so a load of resting orders leaves the book bounded.
type orderAPI struct {
	gw *gateway

	mu   sync.Mutex
	live [liveOrders]uint64
	n    int
}

// orderRequest is the JSON body of POST /orders. Price and qty may be JSON
// strings ("99.50") or numbers.
type orderRequest struct {
	Symbol string          `json:"symbol"`
	Side   string          `json:"side"`
	Type   string          `json:"type"`
	Price  json.RawMessage `json:"price"`
	Qty    json.RawMessage `json:"qty"`
}

// orderResult is the answer to an accepted order.
type orderResult struct {
	ID uint64 `json:"id"`
	// Status is filled, partially_filled (the rest resting), resting or,
	// for a market order the book could not fill, cancelled.
	Status     string `json:"status"`
	Fills      int    `json:"fills"`
	FilledQty  int64  `json:"filled_qty"`
	RestingQty int64  `json:"resting_qty"`
}

type errorResult struct {
	Error string `json:"error"`
}

func (a *orderAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != OrdersPath {
		writeJSON(w, http.StatusNotFound, errorResult{Error: "not found: the order gateway serves POST " + OrdersPath})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorResult{Error: "method " + r.Method + ": POST an order"})
		return
	}
	var req orderRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOrderBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, decodeStatus(err), errorResult{Error: decodeMessage(err)})
		return
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, errorResult{Error: "body: more than one JSON value"})
		return
	}
	o, err := req.order()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorResult{Error: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), orderTimeout)
	defer cancel()
	resp, err := a.send(ctx, &request{order: o})
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorResult{Error: "order gateway: " + err.Error()})
		return
	}
	switch resp.result {
	case sdk.ResultSuccess:
	case sdk.ResultReject:
		writeJSON(w, http.StatusUnprocessableEntity, errorResult{Error: fmt.Sprintf("order %d rejected: over the account's position limit", resp.id)})
		return
	default:
		writeJSON(w, http.StatusServiceUnavailable, errorResult{Error: fmt.Sprintf("order %d failed: the gateway lost the matching engine", resp.id)})
		return
	}
	if resp.left > 0 {
		a.keep(ctx, resp.id)
	}
	res := orderResult{ID: resp.id, Fills: resp.fills, FilledQty: resp.filled, RestingQty: resp.left}
	switch {
	case resp.left > 0 && resp.filled > 0:
		res.Status = "partially_filled"
	case resp.left > 0:
		res.Status = "resting"
	case resp.filled == o.Qty:
		res.Status = "filled"
	case resp.filled > 0:
		res.Status = "partially_filled" // a market order, the rest cancelled
	default:
		res.Status = "cancelled"
	}
	writeJSON(w, http.StatusCreated, res)
}

// send puts r through the gateway and waits for its answer, until ctx ends.
func (a *orderAPI) send(ctx context.Context, r *request) (response, error) {
	r.reply = make(chan response, 1) // buffered: the gateway never blocks on a request given up
	select {
	case a.gw.in <- r:
	case <-ctx.Done():
		return response{}, fmt.Errorf("busy: %w", ctx.Err())
	}
	select {
	case resp := <-r.reply:
		return resp, nil
	case <-ctx.Done():
		return response{}, fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// keep records a resting order and cancels the oldest one it replaces.
func (a *orderAPI) keep(ctx context.Context, id uint64) {
	a.mu.Lock()
	slot := &a.live[a.n%liveOrders]
	old := *slot
	*slot = id
	a.n++
	a.mu.Unlock()
	if old != 0 {
		// Best effort: a cancel that times out leaves one more order resting.
		_, _ = a.send(ctx, &request{cancelID: old})
	}
}

// order validates the request, naming the bad field.
func (q *orderRequest) order() (Order, error) {
	o := Order{Account: httpAccount}
	switch {
	case q.Symbol == "":
		return o, errors.New("symbol: missing (the demo trades " + Symbol + ")")
	case !strings.EqualFold(q.Symbol, Symbol):
		return o, fmt.Errorf("symbol: %q is not traded here (the demo trades %s)", q.Symbol, Symbol)
	}
	switch strings.ToLower(q.Side) {
	case "buy":
		o.Side = Buy
	case "sell":
		o.Side = Sell
	case "":
		return o, errors.New("side: missing (buy or sell)")
	default:
		return o, fmt.Errorf("side: %q is neither buy nor sell", q.Side)
	}
	switch strings.ToLower(q.Type) {
	case "limit":
		o.Type = Limit
	case "market":
		o.Type = Market
	case "":
		return o, errors.New("type: missing (limit or market)")
	default:
		return o, fmt.Errorf("type: %q is neither limit nor market", q.Type)
	}
	var err error
	if o.Qty, err = parseFixed("qty", q.Qty, 0); err != nil {
		return o, err
	}
	if o.Qty > maxQty {
		return o, fmt.Errorf("qty: %d is more than the limit of %d lots", o.Qty, maxQty)
	}
	if o.Type == Market {
		if len(q.Price) > 0 && string(q.Price) != "null" {
			return o, errors.New("price: a market order has no price")
		}
		return o, nil
	}
	if o.Price, err = parseFixed("price", q.Price, PriceDecimals); err != nil {
		return o, err
	}
	return o, nil
}

// parseFixed parses a positive decimal (a JSON string or number) with at
// most decimals significant decimal places into an integer of units of
// 10^-decimals.
func parseFixed(field string, raw json.RawMessage, decimals int) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, fmt.Errorf("%s: missing", field)
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
	}
	s = strings.TrimSpace(s)
	bad := func(why string) error { return fmt.Errorf("%s: %q %s", field, s, why) }
	if strings.HasPrefix(s, "-") {
		return 0, bad("must be positive")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, bad("is not a decimal number")
	}
	if sig := strings.TrimRight(frac, "0"); len(sig) > decimals {
		if decimals == 0 {
			return 0, bad("must be a whole number of lots")
		}
		return 0, bad(fmt.Sprintf("has more than %d decimal places", decimals))
	}
	frac = (frac + strings.Repeat("0", decimals))[:decimals]
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, bad("is out of range")
	}
	if v <= 0 {
		return 0, bad("must be positive")
	}
	return v, nil
}

func decodeStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// decodeMessage names the field of a decoding error where there is one.
func decodeMessage(err error) string {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return fmt.Sprintf("body: larger than %d bytes", tooBig.Limit)
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return fmt.Sprintf("%s: must be a JSON %s, not %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.Is(err, io.EOF):
		return "body: empty; want an order like " + GatewayBenchBody
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "body: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	return "body: not a JSON order: " + err.Error()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
