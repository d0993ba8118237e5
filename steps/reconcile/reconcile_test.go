package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/reconcile"
	"github.com/drbook/drbook/steps/sandbox"
)

// MustSandbox creates a small sandbox with the given faults injected.
func MustSandbox(tb testing.TB, faults ...string) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "sys")
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Trades: 500, Seed: 3}); err != nil {
		tb.Fatal(err)
	}
	for _, f := range faults {
		if err := sandbox.Inject(root, f); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func run(t *testing.T, o reconcile.Options) reconcile.Report {
	t.Helper()
	if o.Tolerance == 0 {
		o.Tolerance = reconcile.DefaultTolerance
	}
	rep, err := reconcile.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestReconcileSandbox(t *testing.T) {
	clean := run(t, reconcile.Options{Root: MustSandbox(t)})
	if !clean.OK() || clean.Compared == 0 || len(clean.Statements) != 2 || len(clean.PendingTrades) != 0 {
		t.Fatalf("clean sandbox: %+v", clean)
	}

	drift := run(t, reconcile.Options{Root: MustSandbox(t, "position-drift")})
	if len(drift.Breaks) != 1 {
		t.Fatalf("position-drift: %d breaks, want 1: %+v", len(drift.Breaks), drift.Breaks)
	}
	b := drift.Breaks[0]
	if b.Broker != "ibkr" || b.BrokerQty == nil || *b.BrokerQty-b.DBQty != 37 || b.ImpliedQty != *b.BrokerQty || b.Difference != 37 {
		t.Errorf("break %+v", b)
	}
	if math.Abs(b.Value-37*b.AvgPrice) > 1e-6 || b.Reason != "db vs broker; db vs trades" {
		t.Errorf("break value/reason %+v", b)
	}
	if drift.Compared != clean.Compared {
		t.Errorf("compared %d, clean %d", drift.Compared, clean.Compared)
	}

	pending := run(t, reconcile.Options{Root: MustSandbox(t, "pending-orders")})
	if !pending.OK() || len(pending.PendingTrades) == 0 || pending.OpenOrders == 0 {
		t.Fatalf("pending-orders: breaks %d, pending %d, open orders %d", len(pending.Breaks), len(pending.PendingTrades), pending.OpenOrders)
	}
	out := strings.Join(reconcile.Render(pending), "\n")
	if !strings.Contains(out, "Pending trades (") || !strings.Contains(out, pending.PendingTrades[0].Symbol) {
		t.Errorf("pending trades not listed:\n%s", out)
	}
}

func TestReconcileOneStatementAndTolerance(t *testing.T) {
	root := MustSandbox(t)
	alp := filepath.Join(root, reconcile.AlpacaStatement)
	st, err := reconcile.ReadStatement(alp, "")
	if err != nil {
		t.Fatal(err)
	}
	sym := st.Symbols()[0]
	p := st.Positions[sym]
	// A fractional-share rounding difference, below the default tolerance.
	b, _ := os.ReadFile(alp)
	old := `"qty": "` + formatQty(p.Qty) + `"`
	if !strings.Contains(string(b), old) {
		t.Fatalf("cannot find %s in the statement", old)
	}
	edited := strings.Replace(string(b), old, `"qty": "`+formatQty(p.Qty+0.00005)+`"`, 1)
	moved := filepath.Join(t.TempDir(), "alpaca.txt")
	if err := os.WriteFile(moved, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := run(t, reconcile.Options{Root: root, Statements: []string{moved}, Format: reconcile.FormatAlpacaJSON})
	if !rep.OK() || len(rep.Statements) != 1 || rep.Statements[0].Broker != "alpaca" {
		t.Fatalf("within tolerance: %+v", rep)
	}
	rep, err = reconcile.Run(context.Background(), reconcile.Options{Root: root, Statements: []string{moved}, Format: reconcile.FormatAlpacaJSON, Tolerance: 0})
	if err != nil || len(rep.Breaks) != 1 || rep.Breaks[0].Symbol != sym {
		t.Fatalf("tolerance 0: %v %+v", err, rep.Breaks)
	}
	for _, br := range rep.Breaks {
		if br.Broker == "ibkr" {
			t.Error("ibkr compared against a statement that was not given")
		}
	}
}

func formatQty(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func TestBadStatements(t *testing.T) {
	const ibkrHeader = "Account,Symbol,Quantity,AvgCost,Currency\n"
	tests := []struct {
		name, file, content, format, want string
	}{
		{"second report", "s.csv", "Symbol,Quantity\nAAPL,1\nTradeID,Symbol,Quantity,Price\n7,AAPL,1,2\n", "", "s.csv:3: bad broker statement: a second, different header row"},
		{"no symbol", "s.csv", "Description,Quantity\nApple,1\n", "", `s.csv:1: bad broker statement: no Symbol column (also read as: Ticker, Underlying Symbol, Financial Instrument); the header is "Description","Quantity"`},
		{"two symbol columns", "s.csv", "Symbol,Quantity,SYMBOL\nAAPL,1,AAPL\n", "", `s.csv:1: bad broker statement: two columns named "SYMBOL" (columns 1 and 3)`},
		{"bad side", "s.csv", "Symbol,Quantity,Side\nAAPL,1,Sideways\n", "", `s.csv:2: bad broker statement: Side "Sideways": want Long or Short`},
		{"activity without positions", "s.csv", "Statement,Header,Field Name,Field Value\nStatement,Data,Title,Activity Statement\nTrades,Header,Symbol,Quantity\nTrades,Data,AAPL,1\n", "", "s.csv: bad broker statement: no Open Positions section"},
		{"activity data first", "s.csv", "Statement,Header,Field Name,Field Value\nOpen Positions,Data,Summary,Stocks,USD,AAPL,1\n", "", "s.csv:2: bad broker statement: Open Positions data before its Header row"},
		{"activity bad qty", "s.csv", "Statement,Header,Field Name,Field Value\nOpen Positions,Header,DataDiscriminator,Symbol,Quantity\nOpen Positions,Data,Summary,AAPL,\"1.200,5x\"\n", "", `s.csv:3: bad broker statement: Quantity "1.200,5x": not a number`},
		{"flex sections without positions", "s.csv", "\"BOF\",\"U1\"\n\"BOS\",\"CTRN\",\"Cash Transactions\"\n\"HEADER\",\"CTRN\",\"Symbol\",\"Quantity\"\n\"EOF\",\"U1\"\n", "", "s.csv: bad broker statement: no Open Positions section (POST)"},
		{"flex sections odd row", "s.csv", "\"BOF\",\"U1\"\n\"HEADER\",\"POST\",\"Symbol\",\"Quantity\"\nAAPL,1\n", "", `s.csv:3: bad broker statement: row kind "AAPL"`},
		{"two currencies", "s.csv", "ClientAccountID,CurrencyPrimary,Symbol,Quantity\nU1,USD,SHEL,10\nU2,GBP,SHEL,5\n", "", "s.csv:3: bad broker statement: SHEL in GBP here and in USD on line 2"},
		{"no quantity", "s.csv", "Symbol,AvgCost\nAAPL,1\n", "", "s.csv:1: bad broker statement: no Quantity column"},
		{"bad number", "s.csv", ibkrHeader + "U1,AAPL,10,1.5,USD\nU1,MSFT,ten,1.5,USD\n", "", `s.csv:3: bad broker statement: Quantity "ten": not a number`},
		{"nan", "s.csv", ibkrHeader + "U1,AAPL,NaN,1.5,USD\n", "", `s.csv:2: bad broker statement: Quantity "NaN": not a finite number`},
		{"bad price", "s.csv", ibkrHeader + "U1,AAPL,1,$1.5,USD\n", "", `s.csv:2: bad broker statement: AvgCost "$1.5"`},
		{"duplicate symbol", "s.csv", ibkrHeader + "U1,AAPL,10,1.5,USD\nU1,MSFT,1,1,USD\nU1,AAPL,5,1.5,USD\n", "", "s.csv:4: bad broker statement: duplicate symbol AAPL in account U1 (first on line 2)"},
		{"duplicate symbol no account", "s.csv", "Symbol,Quantity\nAAPL,1\nAAPL,2\n", "", "s.csv:3: bad broker statement: duplicate symbol AAPL (first on line 2)"},
		{"ragged row", "s.csv", ibkrHeader + "U1,AAPL,10\n", "", "s.csv:2: bad broker statement: 3 fields, the header has 5"},
		{"empty", "s.csv", "", "", "s.csv:1: bad broker statement: empty file"},
		{"json not array", "s.json", `{"symbol":"AAPL"}`, "", "s.json:1: bad broker statement: want a JSON array"},
		{"json no qty", "s.json", "[\n  {\"symbol\": \"AAPL\", \"qty\": \"1\"},\n  {\"symbol\": \"MSFT\", \"quantity\": \"1\"}\n]", "", `s.json:3: bad broker statement: MSFT: no qty`},
		{"json bad qty", "s.json", "[\n{\"symbol\": \"AAPL\", \"qty\": \"1x\"}]", "", `s.json:2: bad broker statement: AAPL: qty "1x": not a number`},
		{"json duplicate", "s.json", "[\n{\"symbol\": \"AAPL\", \"qty\": 1},\n{\"symbol\": \"AAPL\", \"qty\": 2}\n]", "", "s.json:3: bad broker statement: duplicate symbol AAPL (first on line 2)"},
		{"json truncated", "s.json", "[\n{\"symbol\": \"AAPL\", \"qty\": 1},\n{\"symbol\": \"AA", "", "s.json:3: bad broker statement: position is not a JSON object"},
		{"json bad side", "s.json", `[{"symbol": "AAPL", "qty": "1", "side": "sideways"}]`, "", `side "sideways"`},
		{"csv given as json", "s.txt", ibkrHeader + "U1,AAPL,10,1.5,USD\n", reconcile.FormatAlpacaJSON, "s.txt:1: bad broker statement: not JSON"},
	}
	root := MustSandbox(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := reconcile.Run(context.Background(), reconcile.Options{Root: root, Statements: []string{p}, Format: tt.format})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if !errors.Is(err, reconcile.ErrBadStatement) {
				t.Errorf("%v is not ErrBadStatement", err)
			}
		})
	}
}

func TestReconcileMissingInputs(t *testing.T) {
	root := MustSandbox(t, "delete-db")
	if _, err := reconcile.Run(context.Background(), reconcile.Options{Root: root}); !errors.Is(err, reconcile.ErrNoDatabase) {
		t.Errorf("deleted database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "data", "quantai.db")); err == nil {
		t.Error("reconcile created a database")
	}
	if _, err := reconcile.Run(context.Background(), reconcile.Options{Root: MustSandbox(t), Statements: []string{"/nonexistent/ibkr.csv"}}); err == nil || !strings.Contains(err.Error(), "/nonexistent/ibkr.csv") {
		t.Errorf("missing statement: %v", err)
	}
}

func TestReconcileAction(t *testing.T) {
	a, ok := steps.Lookup("reconcile")
	if !ok || !steps.Implemented("reconcile") {
		t.Fatal("reconcile not registered")
	}
	root := MustSandbox(t, "position-drift", "pending-orders")
	var lines []string
	res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"tolerance": "0.001"}},
		func(e steps.Event) { lines = append(lines, e.Line) })
	if err != nil || res.Status != steps.StatusFailed || !strings.Contains(res.Summary, "1 BREAK worth") || !strings.Contains(res.Summary, "pending trades") {
		t.Fatalf("%v %+v", err, res)
	}
	if out := strings.Join(lines, "\n"); !strings.Contains(out, "SYMBOL  AT") || !strings.Contains(out, "+37") ||
		!strings.Contains(out, ": 1 break, ") || strings.Contains(out, "1 breaks") {
		t.Errorf("output:\n%s", out)
	}
	for _, l := range lines { // read over SSH at 80x24; only a statement's path may be longer
		if n := len([]rune(l)); n > 80 && !strings.HasPrefix(l, "Statement: ") && !strings.HasPrefix(l, "Evidence: ") {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	res, err = a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"broker": "brokers/alpaca_positions.json"}}, nil)
	if err != nil || len(res.Data.(reconcile.Report).Statements) != 1 {
		t.Fatalf("named statement: %v %+v", err, res)
	}
	if _, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"tolerance": "-1"}}, nil); err == nil {
		t.Error("negative tolerance accepted")
	}
}

// TestReconcileActionEvidence: run within an incident, the action keeps
// the statements it read under STATE_DIR/evidence/ID and names them, with
// their SHA-256, in its result; columns it does not read are listed once.
func TestReconcileActionEvidence(t *testing.T) {
	state := t.TempDir()
	t.Setenv("DRBOOK_STATE_DIR", state)
	root := MustSandbox(t)
	a, _ := steps.Lookup("reconcile")
	flex := filepath.Join(root, "brokers", "flex.csv")
	data := "\ufeff\"ClientAccountID\",\"CurrencyPrimary\",\"Symbol\",\"Quantity\",\"Colour\"\r\n\"U1\",\"USD\",\"AAPL\",\"1\",\"red\"\r\n" +
		"\"ClientAccountID\",\"CurrencyPrimary\",\"Symbol\",\"Quantity\",\"Colour\"\r\n\"U2\",\"USD\",\"AAPL\",\"2\",\"blue\"\r\n"
	if err := os.WriteFile(flex, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root, IncidentID: "INC-20261202-0001"},
		Params: map[string]string{"broker": "brokers/flex.csv"}}, func(e steps.Event) { lines = append(lines, e.Line) })
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Data.(reconcile.Report)
	if len(rep.Evidence) != 1 || filepath.Dir(rep.Evidence[0].Path) != filepath.Join(state, "evidence", "INC-20261202-0001") {
		t.Fatalf("evidence %+v", rep.Evidence)
	}
	if b, err := os.ReadFile(rep.Evidence[0].Path); err != nil || string(b) != data {
		t.Errorf("kept copy differs: %v", err)
	}
	out := strings.Join(lines, "\n")
	if strings.Count(out, "Colour") != 1 || !strings.Contains(out, "  ignored: Colour") || !strings.Contains(out, rep.Evidence[0].SHA256) {
		t.Errorf("output:\n%s", out)
	}
	if rep.Statements[0].Positions != 1 || fmt.Sprint(rep.Statements[0].Accounts) != "[U1 U2]" {
		t.Errorf("%+v", rep.Statements[0])
	}
	// Outside an incident nothing is kept.
	res, err = a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"broker": "brokers/flex.csv"}}, nil)
	if err != nil || len(res.Data.(reconcile.Report).Evidence) != 0 {
		t.Errorf("no incident: %v %+v", err, res.Data.(reconcile.Report).Evidence)
	}
}

// TestReconcileActionDrillAPIs: a drill never reads a broker's real API.
func TestReconcileActionDrillAPIs(t *testing.T) {
	root := MustSandbox(t)
	a, _ := steps.Lookup("reconcile")
	res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root, Drill: true}, Params: map[string]string{"broker": "alpaca-api"}}, nil)
	if err == nil || res.Status != steps.StatusFailed || !strings.Contains(err.Error(), "a drill reads broker APIs only on this host, not https://paper-api.alpaca.markets") {
		t.Errorf("%v %+v", err, res)
	}
	// A broker API served on this host is read.
	srv := newAlpacaServer(t, []byte("[]"))
	env := "ALPACA_BASE_URL=" + srv.URL + "\nALPACA_API_KEY=" + testKeyID + "\nALPACA_SECRET_KEY=" + testSecret + "\n"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root, Drill: true}, Params: map[string]string{"broker": "alpaca-api"}}, nil)
	if err != nil || srv.requests != 1 || res.Data.(reconcile.Report).Statements[0].Path != srv.URL+"/v2/positions" {
		t.Errorf("loopback API in a drill: %v %+v", err, res)
	}
	// Runbook variables come before the .env.
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte("ALPACA_BASE_URL=https://paper-api.alpaca.markets\nALPACA_API_KEY=PKOTHER\nALPACA_SECRET_KEY=other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"ALPACA_BASE_URL": srv.URL, "ALPACA_API_KEY": testKeyID, "ALPACA_SECRET_KEY": testSecret}
	_, err = a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root, Drill: true, Vars: vars}, Params: map[string]string{"broker": "alpaca-api"}}, nil)
	if err != nil || srv.requests != 2 {
		t.Errorf("runbook variables: %v (%d requests)", err, srv.requests)
	}
}

// TestReconcileActionAPIParams: the parameters the command line's flags
// become. alpaca-url comes before the .env's base URL; the IBKR gateway's
// self-signed certificate is refused unless ibkr-insecure is true;
// ibkr-account reads one account (and ibkr-insecure is the command
// line's alone); bad values are errors that read
// nothing; dir "." reads a relative statement path from the working
// directory, as given, where by default it is under the root.
func TestReconcileActionAPIParams(t *testing.T) {
	root := MustSandbox(t)
	a, _ := steps.Lookup("reconcile")
	ctx := context.Background()
	srv := newAlpacaServer(t, []byte("[]"))
	env := "ALPACA_BASE_URL=https://paper-api.alpaca.markets\nALPACA_API_KEY=" + testKeyID + "\nALPACA_SECRET_KEY=" + testSecret + "\n"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"broker": "alpaca-api", "alpaca-url": srv.URL}}, nil)
	if err != nil || srv.requests != 1 || res.Data.(reconcile.Report).Statements[0].Path != srv.URL+"/v2/positions" {
		t.Fatalf("alpaca-url: %v %+v", err, res)
	}

	gw := newIBKRGateway(t, true, map[string]int{"U1234567": 2, "U7654321": 3})
	ibkr := map[string]string{"broker": "ibkr-api", "ibkr-url": gw.URL + "/v1/api", "api-timeout": "5s"}
	if _, err := a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Params: ibkr}, nil); err == nil {
		t.Fatal("a self-signed gateway read without ibkr-insecure")
	}
	ibkr["ibkr-insecure"], ibkr["ibkr-account"] = "true", "U7654321"
	// Only from the command line: a runbook step cannot turn verification off.
	if _, err := a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Params: ibkr, Block: &runbook.Block{Lang: "drbook", Action: "reconcile"}}, nil); err == nil ||
		!strings.Contains(err.Error(), "cannot turn TLS verification off") {
		t.Fatalf("ibkr-insecure in a runbook step: %v", err)
	}
	if info, ok := (steps.Catalog{}).LookupAction("reconcile"); !ok || slices.Contains(info.Params, "ibkr-insecure") {
		t.Errorf("reconcile in the catalogue: %+v (ibkr-insecure must not be declared: a runbook could pass it)", info)
	}
	res, err = a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Params: ibkr}, nil)
	if err != nil {
		t.Fatalf("ibkr-insecure: %v", err)
	}
	if st := res.Data.(reconcile.Report).Statements[0]; st.Positions != 3 || fmt.Sprint(st.Accounts) != "[U7654321]" {
		t.Errorf("ibkr-account: %+v", st)
	}

	for _, p := range []map[string]string{{"api-timeout": "soon"}, {"api-timeout": "0s"}, {"ibkr-insecure": "maybe"}} {
		p["broker"] = "alpaca-api"
		p["alpaca-url"] = srv.URL
		if _, err := a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Params: p}, nil); err == nil {
			t.Errorf("%v accepted", p)
		}
	}
	if srv.requests != 1 {
		t.Errorf("a bad parameter still read the API (%d requests)", srv.requests)
	}

	wd := t.TempDir()
	t.Chdir(wd)
	stmt, err := os.ReadFile(filepath.Join(root, reconcile.AlpacaStatement))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "alpaca.json"), stmt, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"broker": "alpaca.json", "dir": "."}}, nil)
	if err != nil || res.Data.(reconcile.Report).Statements[0].Path != "alpaca.json" {
		t.Errorf("dir .: %v %+v", err, res)
	}
	if _, err := a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"broker": "alpaca.json"}}, nil); err == nil {
		t.Error("a relative path was read from the working directory, not the root")
	}
}
