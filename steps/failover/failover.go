// Package failover writes a reviewable plan to move trading from one broker
// to another (plan 2.3, "IBKR → Alpaca Failover"): the positions held at
// the broker being left, the equivalent positions at the new one, and the
// hedge orders that would offset the stranded exposure. drbook never sends
// an order; the plan is for people to review and execute.
package failover

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drbook/drbook/steps/positions"
)

// Brokers drbook can plan between.
var Brokers = []string{"ibkr", "alpaca"}

// ErrSameBroker is returned when from and to are the same broker.
var ErrSameBroker = errors.New("from and to are the same broker")

// Options select a plan.
type Options struct {
	Root     string
	From, To string
	Now      func() time.Time
}

// Row is one symbol of the plan.
type Row struct {
	Symbol   string  `json:"symbol"`    // at the broker being left
	ToSymbol string  `json:"to_symbol"` // the same instrument at the new broker
	FromQty  float64 `json:"from_qty"`
	AvgPrice float64 `json:"avg_price"`
	Price    float64 `json:"price"` // mark price from the statement, else the average price
	// ToQtyNow is what the new broker holds now.
	ToQtyNow float64 `json:"to_qty_now"`
	// EquivalentQty is the new broker's position once the old broker's
	// position is carried over: ToQtyNow + FromQty.
	EquivalentQty float64 `json:"equivalent_qty"`
	// HedgeSide and HedgeQty are the order at the new broker that offsets
	// the exposure stranded at the old one: sell a long, buy back a short.
	HedgeSide string  `json:"hedge_side"`
	HedgeQty  float64 `json:"hedge_qty"`
	Notional  float64 `json:"notional"` // HedgeQty * Price
	Note      string  `json:"note,omitempty"`
}

// Plan is the failover plan.
type Plan struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Created  time.Time `json:"created"`
	Source   string    `json:"source"` // where the old broker's positions came from
	Rows     []Row     `json:"rows"`
	Gross    float64   `json:"gross_notional"`
	Net      float64   `json:"net_notional"` // longs minus shorts at the old broker
	Warnings []string  `json:"warnings,omitempty"`
	Note     string    `json:"note"`
}

// statementFor names the default statement file of a broker.
func statementFor(broker string) string {
	if broker == "ibkr" {
		return positions.IBKRStatement
	}
	return positions.AlpacaStatement
}

// Build computes the plan. The old broker's positions are the database's
// (the system of record); its statement, when present, supplies mark prices
// and any disagreement becomes a warning. It changes nothing.
func Build(ctx context.Context, o Options) (Plan, error) {
	from, to := strings.ToLower(o.From), strings.ToLower(o.To)
	for _, b := range []string{from, to} {
		if b != "ibkr" && b != "alpaca" {
			return Plan{}, fmt.Errorf("failover: unknown broker %q (known: %s)", b, strings.Join(Brokers, ", "))
		}
	}
	if from == to {
		return Plan{}, fmt.Errorf("failover: %w: %s", ErrSameBroker, from)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	p := Plan{From: from, To: to, Created: now().UTC(),
		Note: "Review before acting. drbook sends no orders: execute the hedge orders at " + to + " by hand or through the trading system once approved."}

	fromDB, err := positions.DB(ctx, o.Root, from)
	if err != nil {
		return p, fmt.Errorf("failover: %w", err)
	}
	p.Source = "database positions at " + from
	toDB, err := positions.DB(ctx, o.Root, to)
	if err != nil {
		return p, fmt.Errorf("failover: %w", err)
	}
	var fromSt, toSt *positions.Statement
	for _, side := range []struct {
		broker string
		dst    **positions.Statement
	}{{from, &fromSt}, {to, &toSt}} {
		path := filepath.Join(o.Root, statementFor(side.broker))
		if _, err := os.Stat(path); err != nil {
			p.Warnings = append(p.Warnings, "no "+side.broker+" statement at "+statementFor(side.broker)+": not cross-checked")
			continue
		}
		st, err := positions.ReadStatement(path, "")
		if err != nil {
			return p, fmt.Errorf("failover: %w", err)
		}
		*side.dst = &st
	}
	// The new broker holds what its statement says, when there is one.
	toNow := map[string]float64{}
	for s, pos := range toDB {
		toNow[s] = pos.Qty
	}
	if toSt != nil {
		toNow = map[string]float64{}
		for s, pos := range toSt.Positions {
			toNow[s] = pos.Qty
		}
	}

	symbols := make([]string, 0, len(fromDB))
	for s := range fromDB {
		symbols = append(symbols, s)
	}
	sort.Strings(symbols)
	for _, s := range symbols {
		pos := fromDB[s]
		var note []string
		price := pos.AvgPrice
		if fromSt != nil {
			sp, ok := fromSt.Positions[s]
			switch {
			case !ok && pos.Qty != 0:
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s: database holds %s at %s, the %s statement has none", s, qty(pos.Qty), from, from))
			case ok && math.Abs(sp.Qty-pos.Qty) > positions.DefaultTolerance:
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s: database holds %s at %s, the statement %s; reconcile before acting", s, qty(pos.Qty), from, qty(sp.Qty)))
				note = append(note, "quantity disputed: reconcile first")
			}
			if ok && sp.MarkPrice > 0 {
				price = sp.MarkPrice
			}
			if ok && sp.Currency != "" && sp.Currency != "USD" && to == "alpaca" {
				note = append(note, "not USD: Alpaca trades US equities only; hedge by hand")
			}
			if ok && sp.AssetClass != "" && !strings.EqualFold(sp.AssetClass, "STK") && !strings.EqualFold(sp.AssetClass, "us_equity") {
				note = append(note, "asset class "+sp.AssetClass+": check it trades at "+to)
			}
		}
		if pos.Qty == 0 {
			continue
		}
		r := Row{Symbol: s, ToSymbol: MapSymbol(s, from, to), FromQty: pos.Qty, AvgPrice: pos.AvgPrice, Price: price}
		r.ToQtyNow = toNow[r.ToSymbol]
		r.EquivalentQty = r.ToQtyNow + r.FromQty
		r.HedgeQty = math.Abs(r.FromQty)
		r.HedgeSide = "sell"
		if r.FromQty < 0 {
			r.HedgeSide = "buy"
		}
		if r.HedgeQty != math.Trunc(r.HedgeQty) && to == "ibkr" {
			note = append(note, "fractional quantity: IBKR may not accept it")
		}
		if r.HedgeSide == "sell" && r.ToQtyNow < r.HedgeQty && to == "alpaca" {
			note = append(note, "hedge goes short at alpaca: needs a margin account and shortable shares")
		}
		r.Notional = r.HedgeQty * r.Price
		r.Note = strings.Join(note, "; ")
		p.Gross += r.Notional
		p.Net += r.FromQty * r.Price
		p.Rows = append(p.Rows, r)
	}
	if fromSt != nil {
		for _, s := range fromSt.Symbols() {
			if _, ok := fromDB[s]; !ok && fromSt.Positions[s].Qty != 0 {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s: the %s statement holds %s, the database none; not in the plan", s, from, qty(fromSt.Positions[s].Qty)))
			}
		}
	}
	return p, nil
}

// MapSymbol translates a symbol between brokers' conventions: IBKR writes
// share classes with a space ("BRK B"), Alpaca with a dot ("BRK.B").
func MapSymbol(s, from, to string) string {
	switch {
	case from == "ibkr" && to == "alpaca":
		return strings.ReplaceAll(s, " ", ".")
	case from == "alpaca" && to == "ibkr":
		return strings.ReplaceAll(s, ".", " ")
	}
	return s
}

var csvHeader = []string{"symbol", "to_symbol", "from_qty", "avg_price", "price", "to_qty_now", "equivalent_qty", "hedge_side", "hedge_qty", "notional", "note"}

// CSV renders the plan's rows as CSV.
func (p Plan) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(csvHeader)
	for _, r := range p.Rows {
		_ = w.Write([]string{r.Symbol, r.ToSymbol, qty(r.FromQty), price(r.AvgPrice), price(r.Price), qty(r.ToQtyNow), qty(r.EquivalentQty),
			r.HedgeSide, qty(r.HedgeQty), price(r.Notional), r.Note})
	}
	w.Flush()
	return b.Bytes()
}

// JSON renders the whole plan as indented JSON.
func (p Plan) JSON() []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return append(b, '\n')
}

// Markdown renders the plan as a Markdown document with a table.
func (p Plan) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Failover plan: %s → %s\n\n", strings.ToUpper(p.From), strings.ToUpper(p.To))
	fmt.Fprintf(&b, "Created %s from %s.\n%s\n\n", p.Created.Format("2006-01-02 15:04:05Z"), p.Source, strings.Replace(p.Note, ": ", ":\n", 1))
	b.WriteString("| Symbol | " + p.To + " symbol | " + p.From + " qty | Price | " + p.To + " now | Equivalent " + p.To + " qty | Hedge | Notional | Note |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---|---:|---|\n")
	for _, r := range p.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s %s | %s | %s |\n", r.Symbol, r.ToSymbol, qty(r.FromQty), price(r.Price),
			qty(r.ToQtyNow), qty(r.EquivalentQty), r.HedgeSide, qty(r.HedgeQty), price(r.Notional), strings.ReplaceAll(r.Note, "|", "/"))
	}
	fmt.Fprintf(&b, "\n%d positions; hedge gross notional %s, net exposure at %s %s.\n", len(p.Rows), price(p.Gross), p.From, price(p.Net))
	for _, w := range p.Warnings {
		b.WriteString("\n- **Warning:** " + w)
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

// Text renders the plan for a terminal of the given width (80 over SSH):
// one aligned line per symbol, with each distinct note said once below the
// table and referred to by number, so that no line wraps.
func (p Plan) Text(width int) string {
	var b strings.Builder
	b.WriteString(wrap(fmt.Sprintf("Failover plan %s → %s, created %s from %s.", strings.ToUpper(p.From), strings.ToUpper(p.To),
		p.Created.Format("2006-01-02 15:04:05Z"), p.Source), width) + "\n")
	b.WriteString(wrap(p.Note+" The equivalent positions at "+p.To+" (held now plus carried over) are in the CSV, JSON and Markdown plans.", width) + "\n\n")
	var notes []string
	ref := map[string]int{}
	rows := [][]string{{"SYMBOL", strings.ToUpper(p.From) + " QTY", "PRICE", strings.ToUpper(p.To) + " NOW", "HEDGE AT " + strings.ToUpper(p.To), "NOTIONAL", "NOTE"}}
	for _, r := range p.Rows {
		var refs []string
		for _, n := range strings.Split(r.Note, "; ") {
			if n == "" {
				continue
			}
			if _, ok := ref[n]; !ok {
				notes = append(notes, n)
				ref[n] = len(notes)
			}
			refs = append(refs, strconv.Itoa(ref[n]))
		}
		sym := r.Symbol
		if r.ToSymbol != r.Symbol {
			sym += " → " + r.ToSymbol
		}
		rows = append(rows, []string{sym, qty(r.FromQty), price(r.Price), qty(r.ToQtyNow), r.HedgeSide + " " + qty(r.HedgeQty),
			money(r.Notional), strings.Join(refs, ",")})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if i >= 1 && i <= 5 && i != 4 { // numbers right-aligned
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
			line.WriteString("  ")
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	b.WriteString("\n" + wrap(fmt.Sprintf("%d positions; hedge gross notional %s, net exposure at %s %s.", len(p.Rows), money(p.Gross), p.From, money(p.Net)), width) + "\n")
	if len(notes) > 0 {
		b.WriteString("\nNotes:\n")
		for i, n := range notes {
			b.WriteString(wrap(fmt.Sprintf("%d. %s", i+1, n), width) + "\n")
		}
	}
	for _, w := range p.Warnings {
		b.WriteString(wrap("WARNING: "+w, width) + "\n")
	}
	return b.String()
}

// wrap breaks s into lines of at most width columns at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		l := len([]rune(w))
		if i > 0 && n+1+l > width {
			b.WriteString("\n")
			n = 0
		} else if i > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += l
	}
	return b.String()
}

// money formats an amount with thousands separators: 1,234,567.89.
func money(v float64) string {
	s := price(math.Abs(v))
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + "." + frac
	if v < 0 {
		out = "-" + out
	}
	return out
}

// Write saves the plan to path as CSV (.csv) or JSON (.json), never
// overwriting an existing file.
func (p Plan) Write(path string) error {
	var data []byte
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		data = p.CSV()
	case ".json":
		data = p.JSON()
	case ".md":
		data = []byte(p.Markdown())
	default:
		return fmt.Errorf("failover: %s: want a .csv, .json or .md file", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("failover: write plan: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("failover: write plan: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("failover: write plan: %w", err)
	}
	return nil
}

func qty(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func price(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
