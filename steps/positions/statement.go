// Package positions reads what the QuantAI system holds: broker position
// statements (IBKR CSV in its three layouts, Alpaca JSON, and the rows of
// the brokers' APIs) and the positions in the trading database.
// Reconciliation and the failover plan both read them through it, so
// neither action imports the other.
package positions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Statement formats.
const (
	FormatIBKRCSV    = "ibkr-csv"
	FormatAlpacaJSON = "alpaca-json"
)

// Formats lists the statement formats drbook reads.
var Formats = []string{FormatIBKRCSV, FormatAlpacaJSON}

// Default statement files under the system root.
const (
	IBKRStatement   = "brokers/ibkr_positions.csv"
	AlpacaStatement = "brokers/alpaca_positions.json"
)

// ErrBadStatement is the cause of every problem with a broker statement's
// content; the message names the file and line.
var ErrBadStatement = errors.New("bad broker statement")

// Position is one line of a broker statement.
type Position struct {
	Symbol     string  `json:"symbol"`
	Qty        float64 `json:"qty"`
	AvgPrice   float64 `json:"avg_price,omitempty"`
	MarkPrice  float64 `json:"mark_price,omitempty"`
	Currency   string  `json:"currency,omitempty"`
	AssetClass string  `json:"asset_class,omitempty"`
	Line       int     `json:"line"`
}

// Statement is a broker's positions statement.
type Statement struct {
	Broker string `json:"broker"`
	Path   string `json:"path"`
	Format string `json:"format"`
	// Layout is how an IBKR CSV is laid out (LayoutTable,
	// LayoutFlexSections, LayoutActivity); "" for JSON.
	Layout string `json:"layout,omitempty"`
	// Ignored lists, once each, the columns or fields drbook does not read.
	Ignored []string `json:"ignored,omitempty"`
	// Accounts are the accounts the statement covers, when it names them.
	Accounts  []string            `json:"accounts,omitempty"`
	Positions map[string]Position `json:"-"` // by symbol
}

// Symbols returns the statement's symbols, sorted.
func (s Statement) Symbols() []string {
	out := make([]string, 0, len(s.Positions))
	for k := range s.Positions {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// BrokerOf returns the broker a format belongs to.
func BrokerOf(format string) string {
	switch format {
	case FormatIBKRCSV:
		return "ibkr"
	case FormatAlpacaJSON:
		return "alpaca"
	}
	return ""
}

// statementError is a problem at a place in a statement.
func StatementError(path string, line int, format string, args ...any) error {
	where := path
	if line > 0 {
		where = fmt.Sprintf("%s:%d", path, line)
	}
	return fmt.Errorf("%s: %w: %s", where, ErrBadStatement, fmt.Sprintf(format, args...))
}

// DetectFormat names a statement's format from its extension, else its
// first non-blank byte.
func DetectFormat(path string, data []byte) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatIBKRCSV, nil
	case ".json":
		return FormatAlpacaJSON, nil
	}
	t := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\ufeff")))
	switch {
	case len(t) == 0:
		return "", StatementError(path, 0, "empty file")
	case t[0] == '[' || t[0] == '{':
		return FormatAlpacaJSON, nil
	default:
		return FormatIBKRCSV, nil
	}
}

// ReadStatement reads and checks a statement. format "" detects it.
func ReadStatement(path, format string) (Statement, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Statement{}, fmt.Errorf("read statement: %w", err)
	}
	return ParseStatement(path, data, format)
}

// ParseStatement checks and reads a statement's bytes; path names it in
// messages and, when format is "", helps detect the format.
func ParseStatement(path string, data []byte, format string) (Statement, error) {
	var err error
	if format == "" {
		if format, err = DetectFormat(path, data); err != nil {
			return Statement{}, err
		}
	}
	switch format {
	case FormatIBKRCSV:
		return parseIBKR(path, data)
	case FormatAlpacaJSON:
		return ParseAlpaca(path, data)
	}
	return Statement{Path: path, Format: format}, fmt.Errorf("statement %s: unknown format %q (known: %s)", path, format, strings.Join(Formats, ", "))
}

// number parses a statement number: plain decimal, optional thousands
// commas. NaN and infinities are refused.
func number(s string) (float64, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	if t == "" {
		return 0, errors.New("empty number")
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, errors.New("not a number")
	}
	if v != v || v > 1e15 || v < -1e15 {
		return 0, errors.New("not a finite number")
	}
	return v, nil
}

// Alpaca position fields, as GET /v2/positions sends them. Others (Alpaca
// adds fields over time) are listed in Statement.Ignored.
var alpacaFields = map[string]bool{
	"asset_id": true, "symbol": true, "exchange": true, "asset_class": true, "asset_marginable": true,
	"qty": true, "qty_available": true, "avg_entry_price": true, "side": true, "market_value": true,
	"cost_basis": true, "unrealized_pl": true, "unrealized_plpc": true, "unrealized_intraday_pl": true,
	"unrealized_intraday_plpc": true, "current_price": true, "lastday_price": true, "change_today": true,
	"swap_rate": true, "avg_entry_swap_rate": true, "usd": true,
}

func ParseAlpaca(path string, data []byte) (Statement, error) {
	st := Statement{Path: path, Format: FormatAlpacaJSON, Broker: "alpaca"}
	pos, ignored, err := alpacaPositions(path, data)
	st.Positions, st.Ignored = pos, ignored
	return st, err
}

func alpacaPositions(path string, data []byte) (map[string]Position, []string, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	lineAt := func(off int64) int {
		if off > int64(len(data)) {
			off = int64(len(data))
		}
		// Skip to the element's first byte.
		for off < int64(len(data)) && strings.ContainsRune(" \t\r\n,", rune(data[off])) {
			off++
		}
		return bytes.Count(data[:off], []byte("\n")) + 1
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, StatementError(path, lineAt(dec.InputOffset()), "not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, nil, StatementError(path, 1, "want a JSON array of positions (Alpaca GET /v2/positions)")
	}
	out := map[string]Position{}
	seenIgnored := map[string]bool{}
	var ignored []string
	for dec.More() {
		line := lineAt(dec.InputOffset())
		var m map[string]json.RawMessage
		if err := dec.Decode(&m); err != nil {
			return nil, nil, StatementError(path, line, "position is not a JSON object: %v", err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !alpacaFields[k] && !seenIgnored[k] {
				seenIgnored[k] = true
				ignored = append(ignored, k)
			}
		}
		p := Position{Line: line, AssetClass: jsonString(m["asset_class"]), Currency: "USD"}
		p.Symbol = strings.TrimSpace(jsonString(m["symbol"]))
		if p.Symbol == "" {
			return nil, nil, StatementError(path, line, "no symbol")
		}
		if _, ok := m["qty"]; !ok {
			return nil, nil, StatementError(path, line, "%s: no qty", p.Symbol)
		}
		for _, f := range []struct {
			key string
			dst *float64
		}{{"qty", &p.Qty}, {"avg_entry_price", &p.AvgPrice}, {"current_price", &p.MarkPrice}} {
			raw, ok := m[f.key]
			if !ok {
				continue
			}
			v, err := JSONNumber(raw)
			if err != nil {
				return nil, nil, StatementError(path, line, "%s: %s %s: %v", p.Symbol, f.key, string(raw), err)
			}
			*f.dst = v
		}
		switch side := jsonString(m["side"]); side {
		case "", "long":
		case "short":
			if p.Qty > 0 {
				p.Qty = -p.Qty
			}
		default:
			return nil, nil, StatementError(path, line, "%s: side %q (want long or short)", p.Symbol, side)
		}
		if first, dup := out[p.Symbol]; dup {
			return nil, nil, StatementError(path, line, "duplicate symbol %s (first on line %d)", p.Symbol, first.Line)
		}
		out[p.Symbol] = p
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, StatementError(path, lineAt(dec.InputOffset()), "unterminated array: %v", err)
	}
	return out, ignored, nil
}

func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// jsonNumber reads a number sent as a string ("10.5", as Alpaca does) or
// as a JSON number.
func JSONNumber(raw json.RawMessage) (float64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return number(s)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("not a number")
	}
	return number(n.String())
}

// DefaultTolerance ignores quantity differences below a ten-thousandth of
// a share (fractional-share rounding).
const DefaultTolerance = 0.0001
