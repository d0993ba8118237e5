package checks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/drbook/drbook/steps/dbfile"
)

// dbFile is what a look at the database file's bytes found (see package
// dbfile, the floor the kill switch and backup share).
type dbFile = dbfile.File

// Errors of InspectDB (see package dbfile).
var (
	ErrNoDatabase      = dbfile.ErrNoDatabase
	ErrNotDatabase     = dbfile.ErrNotDatabase
	ErrDamagedDatabase = dbfile.ErrDamagedDatabase
)

// InspectDB looks at the database file's bytes without SQLite (see
// dbfile.Inspect).
func InspectDB(path string) error { return dbfile.InspectDB(path) }

func inspect(path string) (*dbFile, error) { return dbfile.Inspect(path) }

// open inspects and opens the database read-only.
func (r *run) open() (*sql.DB, *dbFile, error) {
	d, err := inspect(r.dbPath())
	if err != nil {
		return nil, nil, err
	}
	dsn, _ := d.DSN(r.mmap())
	db, err := dbfile.OpenURI(dsn)
	if err != nil {
		return nil, d, err
	}
	return db, d, nil
}

// openFailure turns an open error into a finding.
func openFailure(item string, err error) Finding {
	msg := err.Error()
	switch {
	case errors.Is(err, ErrNoDatabase):
		msg = "data/quantai.db does not exist: restore it from a backup"
	case errors.Is(err, ErrNotDatabase):
		// "PATH: not a SQLite database (detail)" -> the detail only once.
		_, detail, _ := strings.Cut(msg, ErrNotDatabase.Error())
		msg = "data/quantai.db is not a SQLite database" + detail
	}
	return Finding{Item: item, Status: Fail, Message: msg}
}

// openOrReport opens the database for a check; when it cannot, it reports
// the failure as the check's one finding (item) and returns a nil db;
// t times the finding.
func (r *run) openOrReport(item string, t func(Finding) Finding, out func(Finding)) (*sql.DB, *dbFile) {
	db, d, err := r.open()
	if err != nil {
		out(t(openFailure(item, err)))
		return nil, nil
	}
	return db, d
}

func checkDB(ctx context.Context, r *run, out func(Finding)) {
	t := timed()
	db, d := r.openOrReport("file", t, out)
	if db == nil {
		return
	}
	defer db.Close()
	_, mode := d.DSN(r.mmap())
	facts := map[string]string{
		"size":      strconv.FormatInt(d.Size, 10),
		"page_size": strconv.FormatInt(d.PageSize, 10),
		"opened":    mode,
		"mmap_size": strconv.FormatInt(r.mmap(), 10),
	}
	if d.Pages > 0 {
		facts["header_pages"] = strconv.FormatInt(d.Pages, 10)
	}
	if d.WAL >= 0 {
		facts["wal_size"] = strconv.FormatInt(d.WAL, 10)
	}
	f := Finding{Item: "file", Status: Pass, Message: fmt.Sprintf("%d bytes, %d-byte pages", d.Size, d.PageSize), Evidence: &Evidence{Facts: facts}}
	if extra := d.Size % d.PageSize; extra != 0 {
		facts["trailing_bytes"] = strconv.FormatInt(extra, 10)
		facts["trailing_start"] = strconv.Quote(string(d.Tail))
	}
	switch msg := d.Damage(); {
	case msg != "":
		f.Status, f.Message = Fail, msg
	case d.Journal:
		f.Status, f.Message = Warn, "a rollback journal (-journal) is present: the last write did not finish"
	case d.WAL > 0 && !d.SHMLive:
		f.Status, f.Message = Warn, fmt.Sprintf("a %d-byte WAL is present without a live -shm: the system stopped uncleanly; its frames are included in these checks", d.WAL)
	}
	out(t(f))

	t = timed()
	pragma := "quick_check"
	if r.opts.Full {
		pragma = "integrity_check"
	}
	lines, err := queryStrings(ctx, db, "PRAGMA "+pragma)
	switch {
	case err != nil:
		out(t(Finding{Item: pragma, Status: Fail, Message: pragma + " failed: " + sqlErr(err)}))
	case len(lines) == 1 && lines[0] == "ok":
		out(t(Finding{Item: pragma, Status: Pass, Message: "ok"}))
	default:
		ev := &Evidence{Columns: []string{pragma}}
		if len(lines) > 0 && strings.HasPrefix(lines[0], "***") {
			lines = lines[1:]
		}
		ev.Count = int64(len(lines))
		for i, l := range lines {
			if i == 10 {
				break
			}
			ev.Rows = append(ev.Rows, []string{l})
		}
		msg := fmt.Sprintf("%d problems", len(lines))
		if len(lines) > 0 {
			msg += ": " + firstProblem(lines)
		}
		out(t(Finding{Item: pragma, Status: Fail, Message: msg, Evidence: ev}))
	}
	if ctx.Err() != nil {
		return
	}

	t = timed()
	cols, rows, n, err := queryRows(ctx, db, "PRAGMA foreign_key_check", MaxRows)
	switch {
	case err != nil:
		out(t(Finding{Item: "foreign_key_check", Status: Fail, Message: "foreign_key_check failed: " + sqlErr(err)}))
	case n > 0:
		out(t(Finding{Item: "foreign_key_check", Status: Fail, Message: fmt.Sprintf("%d rows reference missing parents", n),
			Evidence: &Evidence{Count: n, Columns: cols, Rows: rows}}))
	default:
		out(t(Finding{Item: "foreign_key_check", Status: Pass, Message: "no dangling references"}))
	}
}

func firstProblem(lines []string) string {
	for _, l := range lines {
		if !strings.HasPrefix(l, "***") {
			return l
		}
	}
	return lines[0]
}

// CriticalTableNames are the tables the plan (section 2.2) counts after a
// restore.
var CriticalTableNames = []string{"trades", "positions", "audit_trail", "accounts"}

func checkTables(ctx context.Context, r *run, out func(Finding)) {
	db, _ := r.openOrReport("database", timed(), out)
	if db == nil {
		return
	}
	defer db.Close()
	for _, table := range CriticalTableNames {
		t := timed()
		var n int64
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`"`).Scan(&n)
		switch {
		case err != nil && strings.Contains(err.Error(), "no such table"):
			out(t(Finding{Item: table, Status: Fail, Message: "table " + table + " is missing"}))
		case err != nil:
			out(t(Finding{Item: table, Status: Fail, Message: "count failed: " + sqlErr(err)}))
		case n == 0:
			out(t(Finding{Item: table, Status: Warn, Message: table + " is empty", Evidence: &Evidence{Count: 0}}))
		default:
			out(t(Finding{Item: table, Status: Pass, Message: fmt.Sprintf("%d rows", n), Evidence: &Evidence{Count: n}}))
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// validation is one of data-validation's queries.
type validation struct {
	item  string
	count string // SELECT COUNT(*) ... : offending rows
	rows  string // the first offending rows, run only when count > 0
	bad   Status // status when count > 0
	ok    string // message when count is 0
	found string // message format with the count (more than one)
	one   string // message when count is 1
}

// Validations are the DR plan's section 3.1 queries, verbatim, plus the
// pending and open items of section 2.2 and the positions invariant.
var validations = []validation{
	{
		item: "orphaned-trades",
		count: `SELECT COUNT(*) FROM trades t
        LEFT JOIN positions p ON t.position_id = p.id
        WHERE p.id IS NULL`,
		rows: `SELECT t.id, t.position_id, t.symbol, t.quantity, t.status, t.executed_at FROM trades t
        LEFT JOIN positions p ON t.position_id = p.id WHERE p.id IS NULL ORDER BY t.id LIMIT 5`,
		bad: Fail, ok: "every trade belongs to a position", found: "%d trades point at a missing position", one: "1 trade points at a missing position",
	},
	{
		item: "negative-balances",
		count: `SELECT COUNT(*) FROM accounts
        WHERE balance < 0 AND account_type != 'margin'`,
		rows: `SELECT id, name, account_type, broker, balance FROM accounts
        WHERE balance < 0 AND account_type != 'margin' ORDER BY id LIMIT 5`,
		bad: Fail, ok: "no cash account below zero", found: "%d cash accounts have a negative balance", one: "1 cash account has a negative balance",
	},
	{
		item: "audit-gaps",
		count: `SELECT COUNT(*) FROM (
            SELECT id, LAG(id) OVER (ORDER BY timestamp) as prev_id
            FROM audit_trail
        ) WHERE id - prev_id > 1`,
		rows: `SELECT prev_id, id, id - prev_id - 1 AS missing, timestamp FROM (
            SELECT id, timestamp, LAG(id) OVER (ORDER BY timestamp) AS prev_id FROM audit_trail
        ) WHERE id - prev_id > 1 LIMIT 5`,
		bad: Fail, ok: "audit trail is continuous", found: "%d gaps in the audit trail", one: "1 gap in the audit trail",
	},
	{
		item: "positions-vs-trades",
		count: `SELECT COUNT(*) FROM positions p
        LEFT JOIN (SELECT position_id, SUM(quantity) AS q FROM trades NOT INDEXED WHERE status = 'filled' GROUP BY position_id) s
        ON s.position_id = p.id WHERE abs(p.quantity - coalesce(s.q, 0)) > 1e-6`,
		rows: `SELECT p.id, p.broker, p.symbol, p.quantity, coalesce(s.q, 0) AS filled_sum FROM positions p
        LEFT JOIN (SELECT position_id, SUM(quantity) AS q FROM trades WHERE status = 'filled' GROUP BY position_id) s
        ON s.position_id = p.id WHERE abs(p.quantity - coalesce(s.q, 0)) > 1e-6 ORDER BY p.id LIMIT 5`,
		bad: Fail, ok: "every position equals the sum of its filled trades", found: "%d positions differ from the sum of their filled trades", one: "1 position differs from the sum of its filled trades",
	},
	{
		item:  "pending-trades",
		count: `SELECT COUNT(*) FROM trades WHERE status = 'pending'`,
		rows:  `SELECT id, order_id, position_id, symbol, side, quantity, price, executed_at FROM trades WHERE status = 'pending' ORDER BY id LIMIT 5`,
		bad:   Warn, ok: "no pending trades", found: "%d pending trades: confirm each with the broker", one: "1 pending trade: confirm it with the broker",
	},
	{
		item:  "open-orders",
		count: `SELECT COUNT(*) FROM orders WHERE status IN ('open', 'pending')`,
		rows:  `SELECT id, broker, symbol, side, quantity, limit_price, status, created_at FROM orders WHERE status IN ('open', 'pending') ORDER BY id LIMIT 5`,
		bad:   Warn, ok: "no open or pending orders", found: "%d open or pending orders: cancel or confirm each with the broker", one: "1 open or pending order: cancel or confirm it with the broker",
	},
}

func checkData(ctx context.Context, r *run, out func(Finding)) {
	t := timed()
	db, _ := r.openOrReport("database", t, out)
	if db == nil {
		return
	}
	defer db.Close()
	// The heavy queries each scan millions of rows: run them side by side,
	// each on its own connection.
	// Their findings are reported in the table's order, not the order they
	// finish in, so two runs read the same.
	db.SetMaxOpenConns(3)
	found := make([]Finding, len(validations))
	var wg sync.WaitGroup
	for i, v := range validations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i] = validate(ctx, db, v)
		}()
	}
	wg.Wait()
	for _, f := range found {
		out(f)
	}
	// Open positions are information, not a problem: the plan lists them
	// so the operator can compare them with the brokers.
	t = timed()
	cols, rows, _, err := queryRows(ctx, db, `SELECT broker, symbol, quantity, avg_price FROM positions WHERE quantity != 0 ORDER BY broker, symbol`, MaxRows)
	var n int64
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM positions WHERE quantity != 0`).Scan(&n)
	}
	if err != nil {
		out(t(Finding{Item: "open-positions", Status: Fail, Message: "query failed: " + sqlErr(err)}))
		return
	}
	out(t(Finding{Item: "open-positions", Status: Pass, Message: fmt.Sprintf("%d open positions (compare with the brokers: drbook reconcile)", n),
		Evidence: &Evidence{Count: n, Columns: cols, Rows: rows}}))
}

func validate(ctx context.Context, db *sql.DB, v validation) Finding {
	t := timed()
	var n int64
	if err := db.QueryRowContext(ctx, v.count).Scan(&n); err != nil {
		return t(Finding{Item: v.item, Status: Fail, Message: "query failed: " + sqlErr(err)})
	}
	if n == 0 {
		return t(Finding{Item: v.item, Status: Pass, Message: v.ok, Evidence: &Evidence{Count: 0}})
	}
	ev := &Evidence{Count: n}
	if cols, rows, _, err := queryRows(ctx, db, v.rows, MaxRows); err == nil {
		ev.Columns, ev.Rows = cols, rows
	}
	msg := fmt.Sprintf(v.found, n)
	if n == 1 {
		msg = v.one
	}
	return t(Finding{Item: v.item, Status: v.bad, Message: msg, Evidence: ev})
}

// queryStrings returns the first column of every row.
func queryStrings(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		// One row may hold several problems, a line each.
		out = append(out, strings.Split(strings.TrimRight(s.String, "\n"), "\n")...)
	}
	return out, rows.Err()
}

// queryRows returns the columns, the first max rows as text, and the
// number of rows.
func queryRows(ctx context.Context, db *sql.DB, q string, max int) ([]string, [][]string, int64, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, 0, err
	}
	var out [][]string
	var n int64
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		n++
		if len(out) >= max {
			continue
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, 0, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
			if !v.Valid {
				row[i] = "NULL"
			}
		}
		out = append(out, row)
	}
	return cols, out, n, rows.Err()
}

// sqlErr shortens a driver error to its message.
func sqlErr(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	return err.Error()
}
