// Package reconcile compares the positions the system database holds with
// what the brokers' statements say and with what the filled trades imply
// (plan 2.3, "Reconcile positions"). A break is a (broker, symbol) where
// any two of them disagree by more than the tolerance.
package reconcile

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/drbook/drbook/steps/positions"
)

// DefaultTolerance ignores quantity differences below a ten-thousandth of
// a share (fractional-share rounding).
const DefaultTolerance = positions.DefaultTolerance

// Options select what to reconcile.
type Options struct {
	Root string
	// Statements are broker statement files, or SourceAlpacaAPI and
	// SourceIBKRAPI to read a broker's API instead; nil means the default
	// statements under the root that exist.
	Statements []string
	// Format forces the statement files' format; "" detects each.
	Format    string
	Tolerance float64 // < 0 is refused; 0 means exact
	// API says how to reach the brokers' APIs. Keys and base URLs left
	// empty are read from the root's .env (see LoadAPIEnv).
	API APIOptions
	// EvidenceDir, when set, keeps a copy of every statement and API
	// answer read there (see EvidenceDir), listed in Report.Evidence.
	EvidenceDir string
	Now         func() time.Time // clock for evidence names; nil means time.Now
}

// Break is one disagreement.
type Break struct {
	Broker     string   `json:"broker"`
	Symbol     string   `json:"symbol"`
	DBQty      float64  `json:"db_qty"`
	InDB       bool     `json:"in_db"`
	BrokerQty  *float64 `json:"broker_qty"` // nil when no statement for the broker was read
	ImpliedQty float64  `json:"trade_implied_qty"`
	// Difference is broker minus database when there is a statement, else
	// trade-implied minus database.
	Difference float64 `json:"difference"`
	AvgPrice   float64 `json:"avg_price"`
	// Value is |Difference| at the average price.
	Value float64 `json:"value"`
	// Reason names what disagrees: "db vs broker", "db vs trades",
	// "not in db", "missing at broker", joined with "; ".
	Reason string `json:"reason"`
}

// PendingTrade is a trade still pending: in flight when the system stopped.
type PendingTrade struct {
	ID         int64   `json:"id"`
	OrderID    *int64  `json:"order_id"`
	PositionID int64   `json:"position_id"`
	Symbol     string  `json:"symbol"`
	Side       string  `json:"side"`
	Qty        float64 `json:"qty"`
	Price      float64 `json:"price"`
	ExecutedAt string  `json:"executed_at"`
}

// StatementInfo says which statement was read.
type StatementInfo struct {
	Broker    string   `json:"broker"`
	Path      string   `json:"path"` // a file, or an API's URL
	Format    string   `json:"format"`
	Layout    string   `json:"layout,omitempty"`
	Accounts  []string `json:"accounts,omitempty"`
	Ignored   []string `json:"ignored,omitempty"`
	Positions int      `json:"positions"`
}

// Report is the outcome of a reconciliation.
type Report struct {
	Tolerance     float64         `json:"tolerance"`
	Statements    []StatementInfo `json:"statements"`
	Compared      int             `json:"compared"` // (broker, symbol) pairs looked at
	Breaks        []Break         `json:"breaks"`
	BreakValue    float64         `json:"break_value"`
	PendingTrades []PendingTrade  `json:"pending_trades"`
	OpenOrders    int             `json:"open_orders"`   // open or pending orders
	OrphanTrades  int             `json:"orphan_trades"` // filled trades whose position is gone
	Notes         []string        `json:"notes,omitempty"`
	// Evidence lists the statements and API answers kept (with
	// Options.EvidenceDir), with their SHA-256.
	Evidence []Evidence `json:"evidence,omitempty"`
}

// OK reports whether nothing disagrees.
func (r Report) OK() bool { return len(r.Breaks) == 0 }

type key struct{ broker, symbol string }

type dbPosition struct {
	id       int64
	qty, avg float64
}

// Run reconciles. Errors are for what could not be read: the database or a
// statement (ErrBadStatement, with file and line).
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Tolerance < 0 || math.IsNaN(o.Tolerance) {
		return Report{}, fmt.Errorf("reconcile: tolerance %v: want 0 or more", o.Tolerance)
	}
	rep := Report{Tolerance: o.Tolerance, PendingTrades: []PendingTrade{}, Breaks: []Break{}}
	stmts, err := readStatements(ctx, o, &rep)
	if err != nil {
		return rep, err
	}
	db, err := openDB(o.Root)
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	defer db.Close()

	positions := map[key]dbPosition{}
	byID := map[int64]key{}
	rows, err := db.QueryContext(ctx, `SELECT id, broker, symbol, quantity, avg_price FROM positions`)
	if err != nil {
		return rep, fmt.Errorf("reconcile: read positions: %w", err)
	}
	for rows.Next() {
		var k key
		var p dbPosition
		if err := rows.Scan(&p.id, &k.broker, &k.symbol, &p.qty, &p.avg); err != nil {
			rows.Close()
			return rep, fmt.Errorf("reconcile: read positions: %w", err)
		}
		positions[k] = p
		byID[p.id] = k
	}
	if err := closeRows(rows); err != nil {
		return rep, fmt.Errorf("reconcile: read positions: %w", err)
	}

	implied := map[key]float64{}
	rows, err = db.QueryContext(ctx, `SELECT position_id, SUM(quantity), COUNT(*) FROM trades WHERE status = 'filled' GROUP BY position_id`)
	if err != nil {
		return rep, fmt.Errorf("reconcile: read trades: %w", err)
	}
	for rows.Next() {
		var id int64
		var sum float64
		var n int
		if err := rows.Scan(&id, &sum, &n); err != nil {
			rows.Close()
			return rep, fmt.Errorf("reconcile: read trades: %w", err)
		}
		k, ok := byID[id]
		if !ok {
			rep.OrphanTrades += n
			continue
		}
		implied[k] = sum
	}
	if err := closeRows(rows); err != nil {
		return rep, fmt.Errorf("reconcile: read trades: %w", err)
	}
	if rep.OrphanTrades > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d filled trades point at positions that do not exist (orphaned; not counted)", rep.OrphanTrades))
	}

	rows, err = db.QueryContext(ctx, `SELECT id, order_id, position_id, symbol, side, quantity, price, executed_at FROM trades WHERE status = 'pending' ORDER BY id`)
	if err != nil {
		return rep, fmt.Errorf("reconcile: read pending trades: %w", err)
	}
	for rows.Next() {
		var t PendingTrade
		var oid sql.NullInt64
		if err := rows.Scan(&t.ID, &oid, &t.PositionID, &t.Symbol, &t.Side, &t.Qty, &t.Price, &t.ExecutedAt); err != nil {
			rows.Close()
			return rep, fmt.Errorf("reconcile: read pending trades: %w", err)
		}
		if oid.Valid {
			t.OrderID = &oid.Int64
		}
		rep.PendingTrades = append(rep.PendingTrades, t)
	}
	if err := closeRows(rows); err != nil {
		return rep, fmt.Errorf("reconcile: read pending trades: %w", err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE status IN ('open', 'pending')`).Scan(&rep.OpenOrders); err != nil {
		return rep, fmt.Errorf("reconcile: read orders: %w", err)
	}

	// Every (broker, symbol) any source knows.
	keys := map[key]bool{}
	for k := range positions {
		keys[k] = true
	}
	for k := range implied {
		keys[k] = true
	}
	for b, st := range stmts {
		for s := range st.Positions {
			keys[key{b, s}] = true
		}
	}
	tol := o.Tolerance + 1e-9 // float sums of quarter shares
	for k := range keys {
		p, inDB := positions[k]
		imp := implied[k]
		b := Break{Broker: k.broker, Symbol: k.symbol, DBQty: p.qty, InDB: inDB, ImpliedQty: imp, AvgPrice: p.avg}
		var reasons []string
		if st, ok := stmts[k.broker]; ok {
			bp := st.Positions[k.symbol]
			q := bp.Qty
			b.BrokerQty = &q
			if !inDB && b.AvgPrice == 0 {
				b.AvgPrice = bp.AvgPrice
			}
			b.Difference = q - p.qty
			if math.Abs(b.Difference) > tol {
				switch {
				case !inDB:
					reasons = append(reasons, "not in db")
				case q == 0 && p.qty != 0:
					reasons = append(reasons, "missing at broker")
				default:
					reasons = append(reasons, "db vs broker")
				}
			}
		} else {
			b.Difference = imp - p.qty
		}
		if math.Abs(imp-p.qty) > tol {
			reasons = append(reasons, "db vs trades")
		}
		rep.Compared++
		if len(reasons) == 0 {
			continue
		}
		b.Reason = strings.Join(reasons, "; ")
		b.Value = math.Abs(b.Difference) * b.AvgPrice
		rep.BreakValue += b.Value
		rep.Breaks = append(rep.Breaks, b)
	}
	sort.Slice(rep.Breaks, func(i, j int) bool {
		if rep.Breaks[i].Broker != rep.Breaks[j].Broker {
			return rep.Breaks[i].Broker < rep.Breaks[j].Broker
		}
		return rep.Breaks[i].Symbol < rep.Breaks[j].Symbol
	})
	if len(stmts) == 0 {
		rep.Notes = append(rep.Notes, "no broker statements: compared the database with its trades only")
	}
	return rep, nil
}

func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// readStatements reads the named statements and APIs, or the default
// statements that exist, one per broker, keeping each as evidence when
// asked.
func readStatements(ctx context.Context, o Options, rep *Report) (map[string]Statement, error) {
	paths := o.Statements
	if len(paths) == 0 {
		for _, rel := range []string{IBKRStatement, AlpacaStatement} {
			p := filepath.Join(o.Root, rel)
			if _, err := os.Stat(p); err == nil {
				paths = append(paths, p)
			}
		}
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	api := o.API
	envLoaded := false
	out := map[string]Statement{}
	for _, p := range paths {
		var st Statement
		var data []byte
		var kind, ext string
		switch p {
		case SourceAlpacaAPI, SourceIBKRAPI:
			if !envLoaded {
				if err := LoadAPIEnv(o.Root, &api); err != nil {
					return nil, err
				}
				envLoaded = true
			}
			fetch := FetchAlpaca
			if p == SourceIBKRAPI {
				fetch = FetchIBKR
			}
			f, err := fetch(ctx, api)
			if err != nil {
				return nil, err
			}
			st, data, kind, ext = f.Statement, f.Raw, "api", f.Ext
		default:
			var err error
			if data, err = os.ReadFile(p); err != nil {
				return nil, fmt.Errorf("read statement: %w", err)
			}
			if st, err = ParseStatement(p, data, o.Format); err != nil {
				return nil, err
			}
			kind, ext = "statement", strings.ToLower(filepath.Ext(p))
			if ext == "" || len(ext) > 8 {
				ext = ".txt"
			}
		}
		if prev, dup := out[st.Broker]; dup {
			return nil, fmt.Errorf("reconcile: two statements for %s: %s and %s", st.Broker, prev.Path, st.Path)
		}
		out[st.Broker] = st
		rep.Statements = append(rep.Statements, StatementInfo{Broker: st.Broker, Path: st.Path, Format: st.Format,
			Layout: st.Layout, Accounts: st.Accounts, Ignored: st.Ignored, Positions: len(st.Positions)})
		if o.EvidenceDir != "" {
			ev, err := keepEvidence(o.EvidenceDir, now(), st.Broker, kind, ext, data, st.Path)
			if err != nil {
				return nil, fmt.Errorf("reconcile: %w", err)
			}
			rep.Evidence = append(rep.Evidence, ev)
		}
	}
	return out, nil
}

// ErrNoDatabase is the cause when the system database is missing.
var ErrNoDatabase = positions.ErrNoDatabase

// openDB opens the system database read-only.
func openDB(root string) (*sql.DB, error) { return positions.OpenDB(root) }

// DBPositions returns the database's positions at one broker, by symbol
// (see positions.DB).
func DBPositions(ctx context.Context, root, broker string) (map[string]Position, error) {
	return positions.DB(ctx, root, broker)
}
