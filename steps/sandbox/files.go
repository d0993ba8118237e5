package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// writeFiles writes everything but the database: configuration, .env, logs
// and the broker statements, all derived from the generated world.
func writeFiles(root string, opts Options, w *world) error {
	files := map[string][]byte{
		"config/quantai.yaml": []byte(`# QuantAI main settings
app:
  name: quantai
  version: 2.4.1
  environment: production
trading:
  mode: paper            # overridden by TRADING_MODE in .env
  market_hours_only: true
  max_orders_per_minute: 120
  brokers: [ibkr, alpaca]
  primary_broker: ibkr
database:
  path: data/quantai.db
  journal_mode: wal
  busy_timeout_ms: 5000
agents:
  directory: config/agents
  heartbeat_seconds: 15
  enabled: [market_analyst, risk_manager, execution_agent, portfolio_manager]
`),
		"config/risk.yaml": []byte(`# Risk management settings (Tier 1 critical data)
limits:
  max_position_notional: 1500000
  max_order_notional: 250000
  max_gross_exposure: 5000000
  max_daily_loss: 75000
  max_drawdown_pct: 8.0
kill_switch:
  auto_engage_on_daily_loss: true
  control_key: trading_halted
margin:
  maintenance_buffer_pct: 15
`),
		"config/brokers.yaml": []byte(`# Broker connectivity (secrets live in .env)
ibkr:
  host_env: IBKR_HOST
  port_env: IBKR_PORT
  client_id: 17
  backup_host: ibkr-gw-b.internal
  statement: brokers/ibkr_positions.csv
alpaca:
  base_url: https://paper-api.alpaca.markets
  key_env: ALPACA_API_KEY
  statement: brokers/alpaca_positions.json
`),
		"config/logging.yaml": []byte(`version: 1
root:
  level: INFO
  handlers: [file]
handlers:
  file:
    filename: logs/quantai.log
    max_bytes: 104857600
    backup_count: 10
`),
	}
	agentCfg := map[string]any{
		"market_analyst": map[string]any{
			"name": "market_analyst", "enabled": true, "model": "gpt-4o", "temperature": 0.2,
			"schedule": "*/5 * * * *", "universe": symbolsOf(w, ""),
			"indicators": []string{"rsi_14", "macd", "vwap", "atr_14"},
		},
		"risk_manager": map[string]any{
			"name": "risk_manager", "enabled": true, "model": "gpt-4o-mini", "temperature": 0.0,
			"schedule": "* * * * *", "limits_file": "config/risk.yaml", "veto": true,
			"checks": []string{"position_notional", "gross_exposure", "daily_loss", "concentration"},
		},
		"execution_agent": map[string]any{
			"name": "execution_agent", "enabled": true, "model": "gpt-4o-mini", "temperature": 0.0,
			"brokers":         map[string]any{"ibkr": map[string]any{"order_type": "LMT", "tif": "DAY"}, "alpaca": map[string]any{"order_type": "limit", "time_in_force": "day"}},
			"slippage_bps":    5,
			"max_retries":     3,
			"respect_control": "trading_halted",
		},
		"portfolio_manager": map[string]any{
			"name": "portfolio_manager", "enabled": true, "model": "gpt-4o", "temperature": 0.3,
			"rebalance": "daily", "target_cash_pct": 10, "max_weight_pct": 12.5,
		},
		"sentiment_analyst": map[string]any{
			"name": "sentiment_analyst", "enabled": false, "model": "gpt-4o-mini", "temperature": 0.4,
			"sources": []string{"news", "filings"}, "lookback_hours": 24,
		},
	}
	for name, cfg := range agentCfg {
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return err
		}
		files[AgentsDir+"/"+name+".json"] = append(b, '\n')
	}
	files[IBKRStatement] = ibkrCSV(w)
	alp, err := alpacaJSON(w)
	if err != nil {
		return err
	}
	files[AlpacaStatement] = alp
	files["logs/trading.log"] = []byte(strings.Join(w.recent, "\n") + "\n")
	files["logs/quantai.log"] = quantaiLog(w)
	files["logs/agents.log"] = agentsLog(w)
	for rel, data := range files {
		if err := writeFile(filepath.Join(root, rel), data); err != nil {
			return err
		}
	}
	env := fmt.Sprintf(`# QuantAI environment. drbook sandbox: every value here is fake.
OPENAI_API_KEY=sk-sandbox-%s
IBKR_HOST=127.0.0.1
IBKR_PORT=7497
IBKR_CLIENT_ID=17
ALPACA_API_KEY=PKSANDBOX%s
ALPACA_SECRET_KEY=%s
ALPACA_BASE_URL=https://paper-api.alpaca.markets
TRADING_MODE=paper
DATABASE_PATH=data/quantai.db
LOG_LEVEL=INFO
`, fakeSecret(opts.Seed, "openai", 40), strings.ToUpper(fakeSecret(opts.Seed, "alpaca-key", 12)), fakeSecret(opts.Seed, "alpaca-secret", 40))
	if err := os.WriteFile(filepath.Join(root, EnvFile), []byte(env), 0o600); err != nil {
		return err
	}
	return nil
}

func fakeSecret(seed int64, what string, n int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("drbook-sandbox/%d/%s", seed, what)))
	s := hex.EncodeToString(h[:])
	return s[:n]
}

func symbolsOf(w *world, broker string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range w.positions {
		if (broker == "" || p.broker == broker) && !seen[p.inst.symbol] {
			seen[p.inst.symbol] = true
			out = append(out, p.inst.symbol)
		}
	}
	return out
}

func accountName(w *world, id int) string {
	for _, a := range w.accounts {
		if a.id == id {
			return a.name
		}
	}
	return ""
}

// conID is a stable, IBKR-looking contract id for a symbol.
func conID(symbol string) int {
	h := sha256.Sum256([]byte("conid/" + symbol))
	return 200000 + (int(h[0])<<16 | int(h[1])<<8 | int(h[2]))
}

func f2(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

func fnum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// ibkrCSV is a positions statement in the shape of an IBKR Flex/Portfolio
// export: one row per open position.
func ibkrCSV(w *world) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write([]string{"Account", "ConID", "Symbol", "Description", "AssetClass", "Exchange", "Currency", "Multiplier", "Quantity", "AvgCost", "MarkPrice", "MarketValue", "CostBasis", "UnrealizedPnL"})
	for _, p := range w.positions {
		if p.broker != "ibkr" || p.quarters == 0 {
			continue
		}
		acct := strings.Fields(accountName(w, p.accountID))
		q := p.qty()
		cw.Write([]string{acct[len(acct)-1], strconv.Itoa(conID(p.inst.symbol)), p.inst.symbol, p.inst.name, "STK", p.inst.exchange, "USD", "1",
			fnum(q), strconv.FormatFloat(p.avg, 'f', 4, 64), f2(p.last), f2(q * p.last), f2(q * p.avg), f2(q * (p.last - p.avg))})
	}
	cw.Flush()
	return b.Bytes()
}

// alpacaPosition mirrors an element of Alpaca's GET /v2/positions response;
// the API sends numbers as strings.
type alpacaPosition struct {
	AssetID                string `json:"asset_id"`
	Symbol                 string `json:"symbol"`
	Exchange               string `json:"exchange"`
	AssetClass             string `json:"asset_class"`
	AssetMarginable        bool   `json:"asset_marginable"`
	Qty                    string `json:"qty"`
	QtyAvailable           string `json:"qty_available"`
	AvgEntryPrice          string `json:"avg_entry_price"`
	Side                   string `json:"side"`
	MarketValue            string `json:"market_value"`
	CostBasis              string `json:"cost_basis"`
	UnrealizedPL           string `json:"unrealized_pl"`
	UnrealizedPLPC         string `json:"unrealized_plpc"`
	UnrealizedIntradayPL   string `json:"unrealized_intraday_pl"`
	UnrealizedIntradayPLPC string `json:"unrealized_intraday_plpc"`
	CurrentPrice           string `json:"current_price"`
	LastdayPrice           string `json:"lastday_price"`
	ChangeToday            string `json:"change_today"`
}

func alpacaJSON(w *world) ([]byte, error) {
	out := []alpacaPosition{}
	for _, p := range w.positions {
		if p.broker != "alpaca" || p.quarters == 0 {
			continue
		}
		q := p.qty()
		h := sha256.Sum256([]byte("asset/" + p.inst.symbol))
		id := hex.EncodeToString(h[:16])
		id = id[:8] + "-" + id[8:12] + "-4" + id[13:16] + "-a" + id[17:20] + "-" + id[20:32]
		side := "long"
		if q < 0 {
			side = "short"
		}
		cost := q * p.avg
		exch := p.inst.exchange
		out = append(out, alpacaPosition{
			AssetID: id, Symbol: p.inst.symbol, Exchange: exch, AssetClass: "us_equity", AssetMarginable: true,
			Qty: fnum(q), QtyAvailable: fnum(q), AvgEntryPrice: strconv.FormatFloat(p.avg, 'f', 4, 64), Side: side,
			MarketValue: f2(q * p.last), CostBasis: f2(cost), UnrealizedPL: f2(q * (p.last - p.avg)),
			UnrealizedPLPC:       strconv.FormatFloat((p.last-p.avg)/p.avg, 'f', 4, 64),
			UnrealizedIntradayPL: f2(q * (p.last - p.prev)), UnrealizedIntradayPLPC: strconv.FormatFloat((p.last-p.prev)/p.prev, 'f', 4, 64),
			CurrentPrice: f2(p.last), LastdayPrice: f2(p.prev), ChangeToday: strconv.FormatFloat((p.last-p.prev)/p.prev, 'f', 4, 64),
		})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	return append(b, '\n'), err
}

func quantaiLog(w *world) []byte {
	var b strings.Builder
	t := w.start
	fmt.Fprintf(&b, "%s INFO  quantai.core: QuantAI 2.4.1 starting (mode=paper)\n", ts(t))
	fmt.Fprintf(&b, "%s INFO  quantai.db: opened data/quantai.db (journal_mode=wal)\n", ts(t))
	fmt.Fprintf(&b, "%s INFO  quantai.brokers.ibkr: connected to 127.0.0.1:7497 client_id=17\n", ts(t))
	fmt.Fprintf(&b, "%s INFO  quantai.brokers.alpaca: connected to paper-api.alpaca.markets\n", ts(t))
	fmt.Fprintf(&b, "%s INFO  quantai.core: %d orders, %d trades recorded\n", ts(w.last), w.orders, w.trades)
	fmt.Fprintf(&b, "%s WARN  quantai.brokers.ibkr: market data farm connection is OK:usfarm (code 2104)\n", ts(w.last))
	fmt.Fprintf(&b, "%s INFO  quantai.backup: tier-1 snapshot requested\n", ts(w.last))
	return []byte(b.String())
}

func agentsLog(w *world) []byte {
	var b strings.Builder
	for _, a := range []string{"market_analyst", "risk_manager", "execution_agent", "portfolio_manager"} {
		fmt.Fprintf(&b, "%s INFO  agents.%s: loaded config/agents/%s.json\n", ts(w.start), a, a)
	}
	fmt.Fprintf(&b, "%s INFO  agents.sentiment_analyst: disabled in config\n", ts(w.start))
	fmt.Fprintf(&b, "%s INFO  agents.risk_manager: heartbeat ok\n", ts(w.last))
	return []byte(b.String())
}
