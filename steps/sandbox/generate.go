package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/steps/dbfile"
)

// span is how far back the sandbox's trading history reaches.
const span = 30 * 24 * time.Hour

type instrument struct {
	symbol, name, exchange string
	price                  float64 // starting price
}

// instruments are the symbols the sandbox trades, with plausible prices.
var instruments = []instrument{
	{"AAPL", "APPLE INC", "NASDAQ", 187.12},
	{"MSFT", "MICROSOFT CORP", "NASDAQ", 411.30},
	{"NVDA", "NVIDIA CORP", "NASDAQ", 875.40},
	{"AMZN", "AMAZON.COM INC", "NASDAQ", 178.25},
	{"GOOGL", "ALPHABET INC-CL A", "NASDAQ", 141.80},
	{"META", "META PLATFORMS INC-CLASS A", "NASDAQ", 492.10},
	{"TSLA", "TESLA INC", "NASDAQ", 175.66},
	{"JPM", "JPMORGAN CHASE & CO", "NYSE", 196.40},
	{"V", "VISA INC-CLASS A SHARES", "NYSE", 279.05},
	{"JNJ", "JOHNSON & JOHNSON", "NYSE", 157.90},
	{"XOM", "EXXON MOBIL CORP", "NYSE", 112.35},
	{"PG", "PROCTER & GAMBLE CO", "NYSE", 161.20},
	{"UNH", "UNITEDHEALTH GROUP INC", "NYSE", 488.75},
	{"HD", "HOME DEPOT INC", "NYSE", 381.10},
	{"KO", "COCA-COLA CO", "NYSE", 60.45},
	{"PEP", "PEPSICO INC", "NASDAQ", 168.30},
	{"COST", "COSTCO WHOLESALE CORP", "NASDAQ", 728.60},
	{"AMD", "ADVANCED MICRO DEVICES", "NASDAQ", 178.90},
	{"NFLX", "NETFLIX INC", "NASDAQ", 615.20},
	{"INTC", "INTEL CORP", "NASDAQ", 42.85},
	{"BAC", "BANK OF AMERICA CORP", "NYSE", 36.10},
	{"WMT", "WALMART INC", "NYSE", 60.25},
	{"DIS", "WALT DISNEY CO", "NYSE", 113.40},
	{"CRM", "SALESFORCE INC", "NYSE", 301.70},
	{"SPY", "SPDR S&P 500 ETF TRUST", "ARCA", 512.80},
	{"QQQ", "INVESCO QQQ TRUST SERIES 1", "NASDAQ", 443.20},
	{"IWM", "ISHARES RUSSELL 2000 ETF", "ARCA", 206.15},
	{"TLT", "ISHARES 20+ YEAR TREASURY BD", "NASDAQ", 93.70},
	{"GLD", "SPDR GOLD SHARES", "ARCA", 201.35},
	{"ORCL", "ORACLE CORP", "NYSE", 125.60},
}

// Account is one brokerage account of the sandbox.
type account struct {
	id      int
	name    string
	typ     string // cash or margin
	broker  string
	balance float64
}

// position is the generator's running view of one positions row.
type position struct {
	id        int
	accountID int
	inst      instrument
	broker    string
	quarters  int64   // quantity in quarter shares (exact in float64)
	avg       float64 // average cost per share
	last      float64 // last trade price
	prev      float64 // last price a day before the end (for day change)
	closing   bool    // closed out before the end of the history
	updated   time.Time
}

func (p *position) qty() float64 { return float64(p.quarters) / 4 }

// world is what the generator produced, for the files written after it.
type world struct {
	accounts  []account
	positions []*position
	orders    int64
	trades    int64
	audits    int64
	recent    []string // recent order log lines, oldest first
	start     time.Time
	last      time.Time // newest event
}

// cacheKiB bounds SQLite's page cache while the database is generated,
// and with it the sorter's memory when the indexes are built after the
// load. Rows go to the file as they are made (journal_mode=OFF lets full
// pages spill in the middle of the transaction; the index sort spills to
// temporary files), so memory stays flat whatever the size (a 256 MiB
// cache and an in-memory sort took drbook demo to 500 MB at 1,000,000
// trades). The bytes written do not depend on it; a test generates with
// a tiny cache to prove it.
var cacheKiB = 4096

func generate(ctx context.Context, root string, opts Options) (*world, error) {
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_da7a_0b00_c0de))
	dbPath := filepath.Join(root, DBFile)
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		return nil, err
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(dbPath + suffix); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	db, err := dbfile.Open(dbPath, dbfile.Create)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	for _, p := range []string{
		"PRAGMA journal_mode=OFF", "PRAGMA synchronous=OFF", "PRAGMA locking_mode=EXCLUSIVE",
		fmt.Sprintf("PRAGMA cache_size=-%d", cacheKiB), "PRAGMA temp_store=FILE",
	} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if _, err := conn.ExecContext(ctx, Schema); err != nil {
		return nil, fmt.Errorf("apply schema: %w", err)
	}
	// The schema turns foreign keys on; rows are written in time order
	// (trades before the order they fill completes), so check at the end.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys=OFF"); err != nil {
		return nil, err
	}
	// Indexes are built after the load: sorting once is far faster than
	// keeping them up to date row by row.
	indexes, err := dropIndexes(ctx, conn)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	w, err := load(ctx, tx, rng, opts)
	if err != nil {
		return nil, err
	}
	for _, ix := range indexes {
		if _, err := tx.ExecContext(ctx, ix); err != nil {
			return nil, fmt.Errorf("create index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	for _, p := range []string{"PRAGMA locking_mode=NORMAL", "PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON"} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := conn.Close(); err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	return w, nil
}

func dropIndexes(ctx context.Context, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY rowid")
	if err != nil {
		return nil, err
	}
	var names, sqls []string
	for rows.Next() {
		var n, s string
		if err := rows.Scan(&n, &s); err != nil {
			rows.Close()
			return nil, err
		}
		names, sqls = append(names, n), append(sqls, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := conn.ExecContext(ctx, `DROP INDEX "`+n+`"`); err != nil {
			return nil, err
		}
	}
	return sqls, nil
}

// ts formats t in TimeLayout. It writes the fixed-width digits itself:
// a sandbox formats two or three timestamps a trade, and time.Format took
// a twentieth of the generator's time.
func ts(t time.Time) string {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format(TimeLayout)
	}
	h, mi, s := t.Clock()
	b := []byte("0000-00-00T00:00:00.000000000Z")
	put := func(at, v, n int) {
		for i := at + n - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	put(5, int(mo), 2)
	put(8, d, 2)
	put(11, h, 2)
	put(14, mi, 2)
	put(17, s, 2)
	put(20, t.Nanosecond(), 9)
	return string(b)
}

func round(x float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(x*p) / p
}

var agents = []string{"execution_agent", "momentum_strategy", "mean_reversion_strategy", "portfolio_manager"}

// load writes every row in time order inside tx.
func load(ctx context.Context, tx *sql.Tx, rng *rand.Rand, opts Options) (*world, error) {
	end := opts.Now.Add(-2 * time.Minute)
	w := &world{start: opts.Now.Add(-span)}
	clock := w.start
	total := int64(opts.Trades)
	// Prices walk randomly; over the whole history a symbol moves some 15%
	// whatever the number of orders, so big sandboxes stay plausible.
	vol := min(0.004, 0.15/math.Sqrt(float64(opts.Trades)/float64(len(instruments))/2))
	// Each step takes a share of the time left in proportion to the trades
	// left, so the history fills its span and ends just before end.
	tick := func(scale float64) time.Time {
		left := float64(total-w.trades) + 4
		d := time.Duration(float64(end.Sub(clock)) / left / 0.9 * scale * (0.5 + rng.Float64()))
		if d < time.Microsecond {
			d = time.Microsecond
		}
		clock = clock.Add(d)
		return clock
	}

	w.accounts = []account{
		{1, "IBKR Margin U7421903", "margin", "ibkr", 0},
		{2, "IBKR Cash U7421904", "cash", "ibkr", 0},
		{3, "Alpaca Cash PA3KQ7X1WZ", "cash", "alpaca", 0},
		{4, "Alpaca Margin PA3KQ7X2WZ", "margin", "alpaca", 0},
	}
	for i := range w.accounts {
		w.accounts[i].balance = round(50_000+rng.Float64()*2_450_000, 2)
	}
	// IBKR trades most symbols; Alpaca a subset, some of them the same.
	var id int
	for i, in := range instruments {
		if i%5 == 4 {
			continue
		}
		id++
		w.positions = append(w.positions, &position{id: id, accountID: 1 + id%2, inst: in, broker: "ibkr"})
	}
	for i, in := range instruments {
		if i%2 == 1 {
			continue
		}
		id++
		w.positions = append(w.positions, &position{id: id, accountID: 3 + id%2, inst: in, broker: "alpaca"})
	}
	// Three positions per broker are closed out before the end, so the
	// history holds closed positions as well as open ones.
	for _, b := range []string{"ibkr", "alpaca"} {
		n := 0
		for _, p := range w.positions {
			if p.broker == b && n < 3 && p.id%4 == 3 {
				p.closing = true
				n++
			}
		}
	}
	price := map[string]float64{}
	for _, in := range instruments {
		price[in.symbol] = in.price
	}

	insOrder, err := tx.PrepareContext(ctx, `INSERT INTO orders (id, account_id, symbol, broker, side, quantity, limit_price, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	defer insOrder.Close()
	insTrade, err := tx.PrepareContext(ctx, `INSERT INTO trades (id, order_id, position_id, symbol, side, quantity, price, status, executed_at) VALUES (?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	defer insTrade.Close()
	insAudit, err := tx.PrepareContext(ctx, `INSERT INTO audit_trail (id, timestamp, actor, action, detail) VALUES (?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	defer insAudit.Close()

	audit := func(t time.Time, actor, action, detail string) error {
		w.audits++
		_, err := insAudit.ExecContext(ctx, w.audits, ts(t), actor, action, detail)
		return err
	}
	if err := audit(tick(1), "system", "system.start", "quantai 2.4.1 started, mode=paper"); err != nil {
		return nil, err
	}
	if err := audit(tick(1), "system", "config.load", "loaded config/quantai.yaml, 5 agents"); err != nil {
		return nil, err
	}
	for _, a := range w.accounts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, account_type, broker, balance, currency, updated_at) VALUES (?,?,?,?,?,?,?)`,
			a.id, a.name, a.typ, a.broker, a.balance, "USD", ts(end)); err != nil {
			return nil, err
		}
	}
	for _, c := range [][2]string{{"trading_halted", "0"}, {"trading_mode", "paper"}, {"max_order_notional", "250000"}} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO control (key, value, updated_at, updated_by) VALUES (?,?,?,?)`, c[0], c[1], ts(w.start), "system"); err != nil {
			return nil, err
		}
	}

	closeAt := total * 4 / 5
	closedOut := false
	var queue []*position // forced orders: opening buys, then closing sells
	queue = append(queue, w.positions...)

	// order places one order on p and fills it with up to fills trades.
	order := func(p *position, sell bool, quarters int64, fills int64) error {
		px := price[p.inst.symbol]
		px = round(px*math.Exp(rng.NormFloat64()*vol), 2)
		if px < 1 {
			px = 1
		}
		price[p.inst.symbol] = px
		w.orders++
		oid := w.orders
		side, sign := "buy", int64(1)
		if sell {
			side, sign = "sell", -1
		}
		agent := agents[rng.IntN(len(agents))]
		created := tick(0.3)
		limit := round(px*(1+float64(sign)*0.002), 2)
		// A few orders are cancelled before any fill.
		if rng.IntN(100) < 2 && fills > 0 && !p.closing {
			upd := tick(0.2)
			if _, err := insOrder.ExecContext(ctx, oid, p.accountID, p.inst.symbol, p.broker, side, float64(quarters)/4, limit, "cancelled", ts(created), ts(upd)); err != nil {
				return err
			}
			return audit(tick(0.01), agent, "order.cancelled", fmt.Sprintf("order %d %s %s %s %s cancelled before fill", oid, side, fmtQty(quarters), p.inst.symbol, p.broker))
		}
		// Split the quantity over the fills.
		parts := make([]int64, 0, fills)
		left := quarters
		for i := int64(0); i < fills-1 && left > 4; i++ {
			q := 1 + rng.Int64N(left-1)
			if p.broker == "ibkr" {
				q = (q + 3) / 4 * 4
				if q >= left {
					break
				}
			}
			parts = append(parts, q)
			left -= q
		}
		parts = append(parts, left)
		var when time.Time
		for _, q := range parts {
			if w.trades >= total {
				break
			}
			w.trades++
			when = tick(0.7)
			fpx := round(px*(1+rng.NormFloat64()*0.0005), 2)
			status := "filled"
			// About one trade in a hundred is busted by the broker.
			if rng.IntN(100) == 0 && !p.closing && !sell {
				status = "cancelled"
			} else {
				if !sell {
					p.avg = (p.avg*float64(p.quarters) + fpx*float64(q)) / float64(p.quarters+q)
				}
				p.quarters += sign * q
				if p.quarters == 0 {
					p.avg = 0
				}
				p.last = fpx
				p.updated = when
			}
			if _, err := insTrade.ExecContext(ctx, w.trades, oid, p.id, p.inst.symbol, side, float64(sign*q)/4, fpx, status, ts(when)); err != nil {
				return err
			}
			if w.trades%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if opts.Progress != nil && w.trades%65536 == 0 {
					opts.Progress(int(w.trades), int(total))
				}
			}
		}
		if _, err := insOrder.ExecContext(ctx, oid, p.accountID, p.inst.symbol, p.broker, side, float64(quarters)/4, limit, "filled", ts(created), ts(when)); err != nil {
			return err
		}
		line := fmt.Sprintf("order %d %s %s %s @ %.2f %s filled in %d", oid, side, fmtQty(quarters), p.inst.symbol, px, p.broker, len(parts))
		if len(w.recent) >= 200 {
			w.recent = w.recent[1:]
		}
		w.recent = append(w.recent, ts(when)+" "+agent+" "+line)
		return audit(tick(0.01), agent, "order.filled", line)
	}

	for w.trades < total {
		if w.trades >= closeAt && !closedOut {
			closedOut = true
			for _, p := range w.positions {
				if p.closing && p.quarters > 0 {
					queue = append(queue, p)
				}
			}
		}
		var p *position
		var sell bool
		var q int64
		fills := int64(1 + rng.IntN(3))
		if len(queue) > 0 {
			p, queue = queue[0], queue[1:]
			if p.quarters > 0 {
				sell, q, fills = true, p.quarters, 1 // close out
			} else {
				q = lot(rng, p.broker)
			}
		} else {
			for {
				p = w.positions[rng.IntN(len(w.positions))]
				if !(p.closing && closedOut) {
					break
				}
			}
			sell = p.quarters > 0 && rng.IntN(100) < 45
			if sell {
				q = 1 + rng.Int64N(p.quarters)
				if p.broker == "ibkr" {
					q = (q + 3) / 4 * 4
					if q > p.quarters {
						q = p.quarters
					}
				}
			} else {
				q = lot(rng, p.broker)
			}
		}
		if err := order(p, sell, q, fills); err != nil {
			return nil, err
		}
		if w.orders%1000 == 0 {
			if err := audit(tick(0.01), "risk_manager", "risk.check", fmt.Sprintf("gross exposure within limits after order %d", w.orders)); err != nil {
				return nil, err
			}
		}
	}
	w.last = clock
	if clock.After(end) {
		return nil, fmt.Errorf("internal error: history overran its span (%s > %s)", ts(clock), ts(end))
	}
	if opts.Progress != nil {
		opts.Progress(int(w.trades), int(total))
	}
	for _, p := range w.positions {
		p.avg = round(p.avg, 4)
		p.prev = round(p.last*(1-rng.NormFloat64()*0.01), 2)
		upd := p.updated
		if upd.IsZero() {
			upd = w.start
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO positions (id, account_id, symbol, broker, quantity, avg_price, updated_at) VALUES (?,?,?,?,?,?,?)`,
			p.id, p.accountID, p.inst.symbol, p.broker, p.qty(), p.avg, ts(upd)); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// lot draws a buy quantity in quarter shares: IBKR trades whole shares,
// often round lots; Alpaca allows fractional shares (quarters here, which
// float64 sums exactly).
func lot(rng *rand.Rand, broker string) int64 {
	if broker == "ibkr" {
		if rng.IntN(3) == 0 {
			return int64(100*(1+rng.IntN(5))) * 4
		}
		return int64(1+rng.IntN(300)) * 4
	}
	if rng.IntN(5) == 0 {
		return int64(1 + rng.IntN(400))
	}
	return int64(1+rng.IntN(150)) * 4
}

func fmtQty(quarters int64) string {
	s := fmt.Sprintf("%.2f", float64(quarters)/4)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
