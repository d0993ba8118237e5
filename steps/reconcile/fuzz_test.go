package reconcile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/drbook/drbook/steps/reconcile"
)

// FuzzParseStatement: any bytes give a statement or ErrBadStatement, never
// a panic, and a statement never holds a symbol twice or a non-finite qty.
func FuzzParseStatement(f *testing.F) {
	f.Add([]byte("Symbol,Quantity,AvgCost\nAAPL,10,1.5\nBRK B,-3.25,400\n"), true)
	f.Add([]byte("Account,ConID,Symbol,Description,AssetClass,Exchange,Currency,Multiplier,Quantity,AvgCost,MarkPrice,MarketValue,CostBasis,UnrealizedPnL\nU1,1,AAPL,APPLE,STK,NASDAQ,USD,1,63,168.0678,167.41,1,1,1\n"), true)
	f.Add([]byte(`[{"symbol":"AAPL","qty":"10","avg_entry_price":"1.5","side":"long"},{"symbol":"TSLA","qty":-2,"side":"short"}]`), false)
	f.Add([]byte("[\n{\"symbol\": \"AA"), false)
	f.Add([]byte("Symbol,Quantity\n\"AAPL,1\n"), true)
	for _, name := range []string{"ibkr_flex_open_positions.csv", "ibkr_flex_sections.csv", "ibkr_activity_statement_bom_crlf.csv", "ibkr_flex_position_bom_crlf.csv"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		format, name := reconcile.FormatAlpacaJSON, "s.json"
		if csv {
			format, name = reconcile.FormatIBKRCSV, "s.csv"
		}
		st, err := reconcile.ParseStatement(name, data, format)
		if err != nil {
			if !errors.Is(err, reconcile.ErrBadStatement) {
				t.Fatalf("error not ErrBadStatement: %v", err)
			}
			return
		}
		for sym, p := range st.Positions {
			if sym == "" || sym != p.Symbol || p.Qty != p.Qty || p.Line < 1 {
				t.Fatalf("bad position %q %+v", sym, p)
			}
		}
	})
}
