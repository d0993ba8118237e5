package reconcile_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/reconcile"
)

// TestStatementFormats reads statements shaped as IBKR and Alpaca produce
// them (testdata/): Flex Query CSVs, with repeated headers, with headers
// and trailers, an Activity Statement, Alpaca's JSON; with and without a
// byte-order mark and CR LF line endings.
func TestStatementFormats(t *testing.T) {
	type want struct {
		qty, avg, mark float64
	}
	tests := []struct {
		file, layout string
		accounts     []string
		positions    map[string]want
		ignored      []string // some of the columns ignored
		notIgnored   []string
	}{
		{"ibkr_flex_open_positions.csv", reconcile.LayoutTable, []string{"U1234567", "U7654321"},
			map[string]want{
				// 1200 in one account, 300 in the other; LOT rows skipped.
				"AAPL":  {1500, (1200*168.0678 + 300*180) / 1500, 190.5},
				"MSFT":  {-50, 420.5, 415.2},
				"BRK B": {10, 455, 460.12},
				"VTI":   {12.5, 251.2, 270.01},
			},
			[]string{"AccountAlias", "UnderlyingSymbol", "Description", "Conid", "OpenPrice", "PositionValue", "FifoPnlUnrealized", "Put/Call"},
			[]string{"Symbol", "Quantity", "CostBasisPrice", "MarkPrice", "CurrencyPrimary", "ClientAccountID", "LevelOfDetail", "Side", "AssetClass"}},
		{"ibkr_flex_position_bom_crlf.csv", reconcile.LayoutTable, []string{"U1234567"},
			map[string]want{"AAPL": {1200, 168.0678, 190.5}, "MSFT": {-50, 420.5, 415.2}, "BRK B": {10, 455, 460.12}, "VTI": {12.5, 251.2, 270.01}},
			[]string{"Description", "Conid", "PositionValue", "FifoPnlUnrealized"}, []string{"ClientAccountID", "Position"}},
		{"ibkr_flex_sections.csv", reconcile.LayoutFlexSections, []string{"U1234567"},
			map[string]want{"AAPL": {1200, 168.0678, 190.5}, "MSFT": {-50, 420.5, 415.2}, "AAPL  261218C00200000": {2, 2.8, 3.15}},
			[]string{"Description", "Conid"}, []string{"Amount", "Type"}},
		{"ibkr_activity_statement.csv", reconcile.LayoutActivity, nil,
			map[string]want{"AAPL": {1200, 168.0678, 190.5}, "BRK B": {10, 455, 460.12}, "MSFT": {-50, 420.5, 415.2}, "VTI": {12.5, 251.2, 270.01}, "AAPL 18DEC26 200 C": {2, 2.8, 3.15}},
			[]string{"Mult", "Cost Basis", "Value", "Unrealized P/L", "Code"}, []string{"DataDiscriminator", "Field Name", "T. Price"}},
		{"ibkr_activity_statement_bom_crlf.csv", reconcile.LayoutActivity, nil,
			map[string]want{"AAPL": {1200, 168.0678, 190.5}, "BRK B": {10, 455, 460.12}, "MSFT": {-50, 420.5, 415.2}, "VTI": {12.5, 251.2, 270.01}, "AAPL 18DEC26 200 C": {2, 2.8, 3.15}},
			[]string{"Mult"}, nil},
		{"alpaca_positions.json", "", nil,
			map[string]want{"AAPL": {1200, 168.0678, 190.5}, "MSFT": {-50, 420.5, 415.2}, "BTC/USD": {0.012345678, 64210.5, 96400.1}},
			[]string{"cost_basis_usd"}, []string{"qty_available"}},
		{"alpaca_positions_bom_crlf.json", "", nil,
			map[string]want{"AAPL": {1200, 168.0678, 190.5}, "MSFT": {-50, 420.5, 415.2}, "BTC/USD": {0.012345678, 64210.5, 96400.1}},
			[]string{"cost_basis_usd"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st, err := reconcile.ReadStatement(filepath.Join("testdata", tt.file), "")
			if err != nil {
				t.Fatal(err)
			}
			if st.Layout != tt.layout || !slices.Equal(st.Accounts, tt.accounts) {
				t.Errorf("layout %q accounts %v, want %q %v", st.Layout, st.Accounts, tt.layout, tt.accounts)
			}
			if len(st.Positions) != len(tt.positions) {
				t.Errorf("symbols %q, want %d", st.Symbols(), len(tt.positions))
			}
			for sym, w := range tt.positions {
				p, ok := st.Positions[sym]
				if !ok {
					t.Errorf("%s missing; have %q", sym, st.Symbols())
					continue
				}
				if p.Qty != w.qty || math.Abs(p.AvgPrice-w.avg) > 1e-9 || p.MarkPrice != w.mark {
					t.Errorf("%s: qty %v avg %v mark %v, want %+v", sym, p.Qty, p.AvgPrice, p.MarkPrice, w)
				}
			}
			for _, c := range tt.ignored {
				if !slices.Contains(st.Ignored, c) {
					t.Errorf("%q not listed as ignored: %q", c, st.Ignored)
				}
			}
			for _, c := range tt.notIgnored {
				if slices.Contains(st.Ignored, c) {
					t.Errorf("%q is read, yet listed as ignored", c)
				}
			}
			seen := map[string]bool{}
			for _, c := range st.Ignored {
				if seen[c] {
					t.Errorf("%q listed twice", c)
				}
				seen[c] = true
			}
		})
	}
}

// TestHeaderAliases: the names exports give the same column.
func TestHeaderAliases(t *testing.T) {
	tests := []struct{ header, row string }{
		{"Ticker,Shares,Avg Cost,Last Price", "AAPL,\"1,200.5\",168.5,190.5"},
		{"Underlying Symbol,Qty,Average Cost,Market Price", "AAPL,1200.5,168.5,190.5"},
		{"Financial Instrument,Position,Avg Price,Close Price,Currency", "AAPL,1200.5,168.5,190.5,USD"},
		{"symbol,quantity,cost_basis_price,mark_price", "AAPL,1200.5,168.5,190.5"},
		{"Symbol,Quantity,Side,AvgPrice,Price", "AAPL,1200.5,Long,168.5,190.5"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			st, err := reconcile.ParseStatement("s.csv", []byte(tt.header+"\n"+tt.row+"\n"), "")
			if err != nil {
				t.Fatal(err)
			}
			p := st.Positions["AAPL"]
			if p.Qty != 1200.5 || p.AvgPrice != 168.5 || p.MarkPrice != 190.5 || len(st.Ignored) != 0 {
				t.Errorf("%+v ignored %q", p, st.Ignored)
			}
		})
	}
	st, err := reconcile.ParseStatement("s.csv", []byte("Symbol,Quantity,Side\nMSFT,50,Short\nTSLA,-3,Short\n"), "")
	if err != nil || st.Positions["MSFT"].Qty != -50 || st.Positions["TSLA"].Qty != -3 {
		t.Errorf("Side column: %v %+v", err, st.Positions)
	}
}

// TestStatementFormatsReconcile: the sandbox's IBKR positions, written in
// every IBKR layout (and Alpaca's in JSON with a BOM and CR LF), reconcile
// with no breaks; the same files with one quantity changed show that one
// break.
func TestStatementFormatsReconcile(t *testing.T) {
	root := MustSandbox(t)
	ibkr, err := reconcile.ReadStatement(filepath.Join(root, reconcile.IBKRStatement), "")
	if err != nil {
		t.Fatal(err)
	}
	syms := ibkr.Symbols()
	if len(syms) < 2 {
		t.Fatalf("sandbox has %d IBKR positions", len(syms))
	}
	changed := syms[1]
	writers := []struct {
		name  string
		write func(ps []reconcile.Position) []byte
	}{
		{"flex.csv", flexCSV},
		{"flex-bom-crlf.csv", func(ps []reconcile.Position) []byte { return bomCRLF(flexCSV(ps)) }},
		{"flex-sections.csv", flexSections},
		{"activity.csv", activityStatement},
		{"activity-bom-crlf.csv", func(ps []reconcile.Position) []byte { return bomCRLF(activityStatement(ps)) }},
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			for _, drift := range []float64{0, 37} {
				var ps []reconcile.Position
				for _, s := range syms {
					p := ibkr.Positions[s]
					if s == changed {
						p.Qty += drift
					}
					ps = append(ps, p)
				}
				path := filepath.Join(t.TempDir(), w.name)
				if err := os.WriteFile(path, w.write(ps), 0o644); err != nil {
					t.Fatal(err)
				}
				rep := run(t, reconcile.Options{Root: root, Statements: []string{path}})
				switch {
				case drift == 0 && !rep.OK():
					t.Errorf("no drift: breaks %+v", rep.Breaks)
				case drift != 0 && (len(rep.Breaks) != 1 || rep.Breaks[0].Symbol != changed || rep.Breaks[0].Difference != drift):
					t.Errorf("drift %v on %s: breaks %+v", drift, changed, rep.Breaks)
				}
				if len(rep.Statements) != 1 || rep.Statements[0].Positions != len(syms) {
					t.Errorf("statements %+v", rep.Statements)
				}
			}
		})
	}
	alp := filepath.Join(root, reconcile.AlpacaStatement)
	b, err := os.ReadFile(alp)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "alpaca.json")
	if err := os.WriteFile(moved, bomCRLF(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := run(t, reconcile.Options{Root: root, Statements: []string{moved}}); !rep.OK() {
		t.Errorf("alpaca with BOM and CR LF: %+v", rep.Breaks)
	}
}

func bomCRLF(b []byte) []byte {
	return append([]byte("\ufeff"), bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))...)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// thousands writes 1234.5 as "1,234.5", as the Activity Statement does.
func thousands(v float64) string {
	s := num(math.Abs(v))
	ip, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range ip {
		if i > 0 && (len(ip)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if v < 0 {
		out = "-" + out
	}
	return out
}

// flexCSV writes a Flex Query Open Positions CSV as IBKR does: every field
// quoted, each position split over two accounts (the header repeated
// before the second), a LOT row under each SUMMARY.
func flexCSV(ps []reconcile.Position) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	header := []string{"ClientAccountID", "CurrencyPrimary", "AssetClass", "Symbol", "Description", "Conid", "UnderlyingSymbol", "Quantity", "MarkPrice", "PositionValue", "CostBasisPrice", "FifoPnlUnrealized", "Side", "LevelOfDetail"}
	for i, acct := range []string{"U1111111", "U2222222"} {
		w.Write(header)
		for j, p := range ps {
			q := p.Qty / 2
			if i == 0 {
				q = p.Qty - q
			}
			side := "Long"
			if q < 0 {
				side = "Short"
			}
			row := []string{acct, "USD", "STK", p.Symbol, p.Symbol + " INC", strconv.Itoa(265598 + j), p.Symbol, num(q), num(p.MarkPrice), num(q * p.MarkPrice), num(p.AvgPrice), "0", side, "SUMMARY"}
			w.Write(row)
			row[len(row)-1] = "LOT"
			row[7] = "1"
			w.Write(row)
		}
	}
	w.Flush()
	return quoteAll(b.Bytes())
}

// quoteAll quotes every field of a CSV, as Flex Queries do.
func quoteAll(data []byte) []byte {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		panic(err)
	}
	var b bytes.Buffer
	for _, r := range recs {
		for i, f := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func flexSections(ps []reconcile.Position) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"BOF", "U1111111", "Positions", "1", "20261201", "20261201", "20261202;062512", "DR"})
	w.Write([]string{"BOA", "U1111111"})
	w.Write([]string{"BOS", "POST", "Open Positions"})
	w.Write([]string{"HEADER", "POST", "ClientAccountID", "CurrencyPrimary", "Symbol", "Quantity", "MarkPrice", "CostBasisPrice"})
	for _, p := range ps {
		w.Write([]string{"DATA", "POST", "U1111111", "USD", p.Symbol, num(p.Qty), num(p.MarkPrice), num(p.AvgPrice)})
	}
	w.Write([]string{"EOS", "POST", strconv.Itoa(len(ps))})
	w.Write([]string{"EOA", "U1111111"})
	w.Write([]string{"EOF", "U1111111"})
	w.Flush()
	return quoteAll(b.Bytes())
}

func activityStatement(ps []reconcile.Position) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"Statement", "Header", "Field Name", "Field Value"})
	w.Write([]string{"Statement", "Data", "Title", "Activity Statement"})
	w.Write([]string{"Account Information", "Header", "Field Name", "Field Value"})
	w.Write([]string{"Account Information", "Data", "Account", "U1111111"})
	w.Write([]string{"Open Positions", "Header", "DataDiscriminator", "Asset Category", "Currency", "Symbol", "Quantity", "Mult", "Cost Price", "Cost Basis", "Close Price", "Value", "Unrealized P/L", "Code"})
	for _, p := range ps {
		w.Write([]string{"Open Positions", "Data", "Summary", "Stocks", "USD", p.Symbol, thousands(p.Qty), "1", num(p.AvgPrice), thousands(p.Qty * p.AvgPrice), num(p.MarkPrice), thousands(p.Qty * p.MarkPrice), "0", ""})
		w.Write([]string{"Open Positions", "Data", "Lot", "Stocks", "USD", p.Symbol, "1", "1", num(p.AvgPrice), "1", num(p.MarkPrice), "1", "0", ""})
	}
	w.Write([]string{"Open Positions", "Total", "", "Stocks", "USD", "", "", "", "", "1", "", "1", "0", ""})
	w.Write([]string{"Trades", "Header", "DataDiscriminator", "Asset Category", "Currency", "Symbol", "Date/Time", "Quantity"})
	w.Write([]string{"Trades", "Data", "Order", "Stocks", "USD", ps[0].Symbol, "2026-12-01, 10:31:02", "999"})
	w.Write([]string{"Cash Report", "Header", "Currency Summary", "Currency", "Total"})
	w.Write([]string{"Cash Report", "Data", "Ending Cash", "Base Currency Summary", "51,002.10"})
	w.Flush()
	return b.Bytes()
}
