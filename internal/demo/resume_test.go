package demo

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/gmc-dev/gmc/internal/config"
	"github.com/gmc-dev/gmc/internal/server/servertest"
)

// TestLastPnL: a demo started again on its data dir continued the desk's
// PnL from the history's end (1h10m before its first start), not from the
// last PnL it had stored: acct-1 went 16,279 → 4,371 USD across the
// restart and the Risk page showed a 14.4k drawdown that no trade made
// (t-user8 #2). LastPnL reads each simulated account's newest PnL through
// the server's handler, as the demo does before it serves, and the demo
// backtester's (its account "backtest"; it restarted at 0); another
// account is not the demo's.
func TestLastPnL(t *testing.T) {
	srv, base := servertest.Start(t, config.Default())
	push := func(body string) {
		resp, err := http.Post(base+"/metrics/job/test/service/strategy-x", "text/plain; version=0.0.4", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("push: %s", resp.Status)
		}
	}
	push("gmc_pnl{account=\"acct-1\",strategy=\"momentum\"} 4371\ngmc_pnl{account=\"acct-2\",strategy=\"mean-reversion\"} -250.5\n")
	push("gmc_pnl{account=\"acct-1\",strategy=\"momentum\"} 16279\ngmc_pnl{account=\"acct-2\",strategy=\"mean-reversion\"} -250.5\ngmc_pnl{account=\"backtest-1\",strategy=\"bt\"} 99\n")
	push("gmc_pnl{account=\"backtest\",strategy=\"sma-crossover\"} 77\n")
	got, err := LastPnL(context.Background(), srv.Handler())
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]float64{"acct-1": 16279, "acct-2": -250.5, "backtest": 77}; !maps.Equal(got, want) {
		t.Errorf("LastPnL = %v, want %v", got, want)
	}
}
