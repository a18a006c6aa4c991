package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
)

// lastPnLQuery is each simulated account's (and the backtest's) newest PnL in the raw data of
// the last 31 days (the demo keeps its history's month).
const lastPnLQuery = `max by (account) (last_over_time(gmc_pnl{account=~"acct-[0-9]+|backtest", __tier__="raw"}[31d]))`

// LastPnL reads each simulated account's newest stored PnL through gmc's
// query API (h, the server's handler, before it serves): a demo started
// again on its data dir continues the desk's PnL from there (Options.StartPnL).
// It started again from the history's end, or from 0: a restart made up a
// loss of 12k USD on the Risk page (t-user8 #2).
func LastPnL(ctx context.Context, h http.Handler) (map[string]float64, error) {
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/query?query="+url.QueryEscape(lastPnLQuery), nil)
	r.Host = "localhost" // as a client on this machine (the server checks Host when bound to loopback)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return nil, fmt.Errorf("read the stored PnL: %d %s", w.Code, w.Body.String())
	}
	var resp struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("read the stored PnL: %w", err)
	}
	out := map[string]float64{}
	for _, s := range resp.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("read the stored PnL of %s: %w", s.Metric["account"], err)
		}
		out[s.Metric["account"]] = v
	}
	return out, nil
}
