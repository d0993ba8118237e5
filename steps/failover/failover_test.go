package failover_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/failover"
	"github.com/drbook/drbook/steps/reconcile"
	"github.com/drbook/drbook/steps/sandbox"
)

func MustSandbox(tb testing.TB, faults ...string) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "sys")
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Trades: 500, Seed: 5}); err != nil {
		tb.Fatal(err)
	}
	for _, f := range faults {
		if err := sandbox.Inject(root, f); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

var created = time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)

func TestPlan(t *testing.T) {
	root := MustSandbox(t)
	p, err := failover.Build(context.Background(), failover.Options{Root: root, From: "ibkr", To: "alpaca", Now: func() time.Time { return created }})
	if err != nil {
		t.Fatal(err)
	}
	ibkr, err := reconcile.ReadStatement(filepath.Join(root, reconcile.IBKRStatement), "")
	if err != nil {
		t.Fatal(err)
	}
	alp, err := reconcile.ReadStatement(filepath.Join(root, reconcile.AlpacaStatement), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != len(ibkr.Positions) || len(p.Rows) == 0 || len(p.Warnings) != 0 {
		t.Fatalf("%d rows for %d IBKR positions; warnings %v", len(p.Rows), len(ibkr.Positions), p.Warnings)
	}
	var gross float64
	for _, r := range p.Rows {
		st := ibkr.Positions[r.Symbol]
		hedge := r.HedgeQty
		if r.HedgeSide == "sell" {
			hedge = -hedge
		}
		if r.FromQty != st.Qty || r.FromQty+hedge != 0 || r.Price != st.MarkPrice {
			t.Errorf("%s: from %v hedge %s %v price %v; statement %+v", r.Symbol, r.FromQty, r.HedgeSide, r.HedgeQty, r.Price, st)
		}
		if r.ToQtyNow != alp.Positions[r.ToSymbol].Qty || r.EquivalentQty != r.ToQtyNow+r.FromQty {
			t.Errorf("%s: alpaca now %v equivalent %v", r.Symbol, r.ToQtyNow, r.EquivalentQty)
		}
		gross += r.Notional
	}
	if gross != p.Gross || p.Gross <= 0 {
		t.Errorf("gross %v, rows sum to %v", p.Gross, gross)
	}
	md := p.Markdown()
	if !strings.Contains(md, "| Symbol |") || !strings.Contains(md, "| "+p.Rows[0].Symbol+" |") || !strings.Contains(md, "sends no orders") {
		t.Errorf("markdown:\n%s", md)
	}
}

// TestPlanText: the terminal rendering fits 80 columns, has one line per
// symbol with its hedge, and says each note once, numbered.
func TestPlanText(t *testing.T) {
	root := MustSandbox(t, "position-drift")
	p, err := failover.Build(context.Background(), failover.Options{Root: root, From: "ibkr", To: "alpaca", Now: func() time.Time { return created }})
	if err != nil {
		t.Fatal(err)
	}
	txt := p.Text(80)
	for _, l := range strings.Split(txt, "\n") {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	for _, r := range p.Rows {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(r.Symbol) + ` +` + regexp.QuoteMeta(strconv.FormatFloat(r.FromQty, 'f', -1, 64)) +
			` .* ` + r.HedgeSide + ` ` + regexp.QuoteMeta(strconv.FormatFloat(r.HedgeQty, 'f', -1, 64)) + ` `)
		if !re.MatchString(txt) {
			t.Errorf("no line for %s (%v, %s %v):\n%s", r.Symbol, r.FromQty, r.HedgeSide, r.HedgeQty, txt)
		}
	}
	if strings.Count(txt, "quantity disputed: reconcile first") != 1 || !strings.Contains(txt, "WARNING: ") ||
		!strings.Contains(txt, "sends no orders") {
		t.Errorf("notes and warnings:\n%s", txt)
	}
}

func TestPlanWarnsOnDrift(t *testing.T) {
	root := MustSandbox(t, "position-drift")
	p, err := failover.Build(context.Background(), failover.Options{Root: root, From: "ibkr", To: "alpaca"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "reconcile before acting") {
		t.Fatalf("warnings %v", p.Warnings)
	}
	disputed := 0
	for _, r := range p.Rows {
		if strings.Contains(r.Note, "disputed") {
			disputed++
		}
	}
	if disputed != 1 {
		t.Errorf("%d rows marked disputed", disputed)
	}
}

func TestPlanFiles(t *testing.T) {
	root := MustSandbox(t)
	p, err := failover.Build(context.Background(), failover.Options{Root: root, From: "ibkr", To: "alpaca"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "plan.csv")
	if err := p.Write(csvPath); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(csvPath)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) != len(p.Rows)+1 || recs[0][0] != "symbol" || recs[1][0] != p.Rows[0].Symbol {
		t.Fatalf("csv: %v %q", err, recs[:2])
	}
	jsonPath := filepath.Join(dir, "plan.json")
	if err := p.Write(jsonPath); err != nil {
		t.Fatal(err)
	}
	var back failover.Plan
	b, _ = os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &back); err != nil || len(back.Rows) != len(p.Rows) || back.From != "ibkr" {
		t.Fatalf("json: %v", err)
	}
	// Never overwrite; refuse unknown extensions.
	if err := p.Write(csvPath); err == nil {
		t.Error("overwrote an existing plan")
	}
	if err := p.Write(filepath.Join(dir, "plan.xlsx")); err == nil {
		t.Error("accepted .xlsx")
	}
}

func TestPlanBadInput(t *testing.T) {
	root := MustSandbox(t)
	for _, tt := range []struct{ from, to string }{{"ibkr", "ibkr"}, {"ibkr", "schwab"}, {"", "alpaca"}} {
		if _, err := failover.Build(context.Background(), failover.Options{Root: root, From: tt.from, To: tt.to}); err == nil {
			t.Errorf("%s -> %s accepted", tt.from, tt.to)
		}
	}
	if _, err := failover.Build(context.Background(), failover.Options{Root: root, From: "ibkr", To: "ibkr"}); !errors.Is(err, failover.ErrSameBroker) {
		t.Errorf("same broker: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, reconcile.IBKRStatement), []byte("Symbol,Quantity\nAAPL,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := failover.Build(context.Background(), failover.Options{Root: root, From: "ibkr", To: "alpaca"}); !errors.Is(err, reconcile.ErrBadStatement) {
		t.Errorf("bad statement: %v", err)
	}
}

func TestMapSymbol(t *testing.T) {
	for _, tt := range []struct{ s, from, to, want string }{
		{"BRK B", "ibkr", "alpaca", "BRK.B"}, {"BRK.B", "alpaca", "ibkr", "BRK B"}, {"AAPL", "ibkr", "alpaca", "AAPL"},
	} {
		if got := failover.MapSymbol(tt.s, tt.from, tt.to); got != tt.want {
			t.Errorf("MapSymbol(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestAction(t *testing.T) {
	a, ok := steps.Lookup("failover-plan")
	if !ok || !steps.Implemented("failover-plan") {
		t.Fatal("failover-plan not registered")
	}
	root := MustSandbox(t)
	res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root}, Params: map[string]string{"output": "failover/plan.json"}}, nil)
	if err != nil || res.Status != steps.StatusOK || !strings.Contains(res.Summary, "no orders sent") {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(root, "failover", "plan.json")); err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Data.(failover.Plan); !ok {
		t.Errorf("data %T", res.Data)
	}
}

func TestPlanAlpacaToIBKR(t *testing.T) {
	root := MustSandbox(t)
	p, err := failover.Build(context.Background(), failover.Options{Root: root, From: "alpaca", To: "ibkr"})
	if err != nil {
		t.Fatal(err)
	}
	alp, err := reconcile.ReadStatement(filepath.Join(root, reconcile.AlpacaStatement), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != len(alp.Positions) || len(p.Warnings) != 0 {
		t.Fatalf("%d rows for %d Alpaca positions; %v", len(p.Rows), len(alp.Positions), p.Warnings)
	}
	for _, r := range p.Rows {
		if r.FromQty == 0 || r.HedgeQty != abs(r.FromQty) || (r.FromQty > 0) != (r.HedgeSide == "sell") {
			t.Errorf("%+v", r)
		}
		if r.HedgeQty != float64(int64(r.HedgeQty)) && !strings.Contains(r.Note, "fractional") {
			t.Errorf("%s: fractional hedge at IBKR not flagged: %+v", r.Symbol, r)
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
