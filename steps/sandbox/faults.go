package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/steps/dbfile"
)

// Fault is a fault scenario: a way to break a sandbox like a real incident.
type Fault struct {
	Name        string
	Description string
	// Checks names the checks (package checks) that must catch the fault;
	// the others still pass. Reconciliation is noted in the description.
	Checks []string
}

var faults = []Fault{
	{"corrupt-db", "append garbage to data/quantai.db, as the plan's monthly test does (section 4.2)", []string{"db-integrity"}},
	{"torn-page", "overwrite half of a b-tree page of the trades table, as a torn write would; integrity_check fails", []string{"db-integrity", "data-validation"}},
	{"delete-db", "delete data/quantai.db (and any -wal/-shm)", []string{"db-integrity", "critical-tables", "data-validation"}},
	{"stale-wal", "leave a -wal from a newer copy next to an older database, as after a careless restore", []string{"db-integrity", "critical-tables", "data-validation"}},
	{"bad-config", "truncate config/agents/risk_manager.json so it is no longer valid JSON", []string{"config"}},
	{"missing-env", "remove ALPACA_API_KEY from .env", []string{"config"}},
	{"orphan-trades", "delete a closed position so its trades point at nothing", []string{"data-validation"}},
	{"negative-balance", "set a cash account's balance below zero", []string{"data-validation"}},
	{"audit-gap", "delete 17 consecutive rows from the middle of audit_trail", []string{"data-validation"}},
	{"position-drift", "change an IBKR position's quantity so the database disagrees with its trades and the broker statement (reconcile finds it too)", []string{"data-validation"}},
	{"pending-orders", "add open and pending orders and pending trades, as if in flight when the system died (a warning: reconcile them)", []string{"data-validation"}},
	{"agent-down", "the execution agent dies: delete config/agents/execution_agent.json (listed in config/quantai.yaml) and log its process exiting, its heartbeat stale since", []string{"config"}},
	{"host-lost", "the host is lost: empty the whole root (database, config/, .env, logs/, statements); a drill also deletes its local backups, leaving S3 alone", []string{"db-integrity", "critical-tables", "data-validation", "config"}},
}

// LostAgent is the agent whose configuration and process the agent-down
// fault kills.
const LostAgent = "execution_agent"

// Faults lists the fault scenarios, in a stable order.
func Faults() []Fault {
	out := make([]Fault, len(faults))
	for i, f := range faults {
		out[i] = f
		out[i].Checks = append([]string(nil), f.Checks...)
	}
	return out
}

// LookupFault returns the fault scenario called name.
func LookupFault(name string) (Fault, bool) {
	for _, f := range Faults() {
		if f.Name == name {
			return f, true
		}
	}
	return Fault{}, false
}

// Inject breaks the sandbox at root with the fault scenario called name. It
// refuses a root that is not a sandbox. Faults can be stacked; the marker
// file records them in order.
func Inject(root, name string) error {
	if _, ok := LookupFault(name); !ok {
		return fmt.Errorf("inject %q: %w (known: %s)", name, ErrUnknownFault, strings.Join(faultNames(), ", "))
	}
	if !IsSandbox(root) {
		return fmt.Errorf("inject %s into %s: %w (no %s)", name, root, ErrNotSandbox, MarkerFile)
	}
	m, err := ReadMarker(root)
	if err != nil {
		return fmt.Errorf("inject %s: %w", name, err)
	}
	ctx := context.Background()
	dbPath := filepath.Join(root, DBFile)
	if needsDB(name) {
		if _, err := os.Stat(dbPath); err != nil {
			return fmt.Errorf("inject %s: the database is gone: %w", name, err)
		}
	}
	switch name {
	case "corrupt-db":
		err = corruptDB(ctx, dbPath)
	case "torn-page":
		err = tornPage(ctx, dbPath, m.Seed)
	case "delete-db":
		for _, s := range []string{"", "-wal", "-shm", "-journal"} {
			if e := os.Remove(dbPath + s); e != nil && !errors.Is(e, os.ErrNotExist) {
				err = e
			}
		}
	case "stale-wal":
		err = staleWAL(ctx, dbPath)
	case "bad-config":
		err = badConfig(root)
	case "missing-env":
		err = missingEnv(root)
	case "orphan-trades":
		err = execDB(ctx, dbPath, `DELETE FROM positions WHERE id = (
			SELECT p.id FROM positions p WHERE p.quantity = 0
			AND EXISTS (SELECT 1 FROM trades t WHERE t.position_id = p.id) ORDER BY p.id LIMIT 1)`)
	case "negative-balance":
		err = execDB(ctx, dbPath, `UPDATE accounts SET balance = -18250.75
			WHERE id = (SELECT id FROM accounts WHERE account_type = 'cash' ORDER BY id LIMIT 1)`)
	case "audit-gap":
		err = execDB(ctx, dbPath, `DELETE FROM audit_trail
			WHERE id BETWEEN (SELECT MAX(id) / 2 FROM audit_trail) AND (SELECT MAX(id) / 2 + 16 FROM audit_trail)`)
	case "position-drift":
		err = execDB(ctx, dbPath, `UPDATE positions SET quantity = quantity - 37
			WHERE id = (SELECT id FROM positions WHERE broker = 'ibkr' AND quantity > 37 ORDER BY quantity DESC, id LIMIT 1)`)
	case "pending-orders":
		err = pendingOrders(ctx, dbPath)
	case "agent-down":
		err = agentDown(root)
	case "host-lost":
		err = hostLost(root)
	}
	if err != nil {
		return fmt.Errorf("inject %s: %w", name, err)
	}
	m.Faults = append(m.Faults, name)
	return writeMarker(root, m)
}

// needsDB reports whether the fault changes the database (and so needs
// one).
func needsDB(name string) bool {
	return !oneShot[name]
}

// oneShot faults cannot be injected twice: the second has nothing to do.
// None of them needs the database.
var oneShot = map[string]bool{"delete-db": true, "bad-config": true, "missing-env": true, "agent-down": true, "host-lost": true}

// CheckFaults says, before anything changes, whether injecting names in
// order can succeed on a sandbox that already has the faults in done and
// whose database is gone when dbGone: every name must be known, no fault
// that needs the database may come after delete-db, nothing may come after
// host-lost, and a one-shot fault (delete-db, bad-config, missing-env,
// agent-down, host-lost) cannot be given twice. A stack of
// faults then either goes in whole or is refused before the first.
func CheckFaults(done []string, dbGone bool, names []string) error {
	seen := map[string]bool{}
	for _, n := range done {
		seen[n] = true
	}
	for _, n := range names {
		if _, ok := LookupFault(n); !ok {
			return fmt.Errorf("fault %q: %w (known: %s)", n, ErrUnknownFault, strings.Join(faultNames(), ", "))
		}
		if oneShot[n] && seen[n] {
			return fmt.Errorf("fault %s is already injected: give it once", n)
		}
		if seen["host-lost"] {
			return fmt.Errorf("fault %s comes after host-lost, which leaves nothing to damage: inject host-lost last", n)
		}
		if needsDB(n) && (dbGone || seen["delete-db"]) {
			return fmt.Errorf("fault %s changes the database, and data/quantai.db is gone (delete-db): inject delete-db last, or recreate the sandbox with --force", n)
		}
		seen[n] = true
	}
	return nil
}

func faultNames() []string {
	var out []string
	for _, f := range faults {
		out = append(out, f.Name)
	}
	return out
}

// openDB opens the sandbox database for writing.
func openDB(ctx context.Context, dbPath string) (*sql.DB, error) {
	db, err := dbfile.Open(dbPath, dbfile.ReadWrite)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// inTx runs fn in one write transaction on the sandbox database and
// commits; closing the last connection checkpoints the WAL into the
// database file.
func inTx(ctx context.Context, dbPath string, fn func(tx *sql.Tx) error) error {
	db, err := openDB(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return db.Close()
}

// execDB runs statements in one transaction; each must change a row.
func execDB(ctx context.Context, dbPath string, stmts ...string) error {
	return inTx(ctx, dbPath, func(tx *sql.Tx) error {
		for _, s := range stmts {
			res, err := tx.ExecContext(ctx, s)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err == nil && n == 0 {
				return fmt.Errorf("nothing to damage: %s", strings.Join(strings.Fields(s), " "))
			}
		}
		return nil
	})
}

// checkpoint folds any WAL into the database file and removes it, so that
// byte-level damage lands on the data SQLite will actually read.
func checkpoint(ctx context.Context, dbPath string) error {
	db, err := openDB(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	for _, s := range []string{"-wal", "-shm"} {
		if err := os.Remove(dbPath + s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func corruptDB(ctx context.Context, dbPath string) error {
	if err := checkpoint(ctx, dbPath); err != nil {
		return err
	}
	f, err := os.OpenFile(dbPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("CORRUPT DATA\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tornPage overwrites the first half of a leaf page in the middle of the
// trades table's b-tree with garbage, as a write torn by a power cut would.
func tornPage(ctx context.Context, dbPath string, seed int64) error {
	if err := checkpoint(ctx, dbPath); err != nil {
		return err
	}
	var rootPage, pageSize int64
	err := func() error {
		db, err := openDB(ctx, dbPath)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.QueryRowContext(ctx, "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = 'trades'").Scan(&rootPage); err != nil {
			return err
		}
		return db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize)
	}()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dbPath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	leaf, err := middleLeaf(f, rootPage, pageSize)
	if err != nil {
		return err
	}
	if leaf <= 1 {
		return fmt.Errorf("no leaf page of trades to tear")
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(leaf)))
	junk := make([]byte, pageSize/2)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	// Make sure the page type byte is not a valid b-tree page type.
	switch junk[0] {
	case 0x02, 0x05, 0x0a, 0x0d:
		junk[0] ^= 0x80
	}
	if _, err := f.WriteAt(junk, (leaf-1)*pageSize); err != nil {
		return err
	}
	return f.Close()
}

// middleLeaf walks a table b-tree from its root, always into the middle
// child, and returns the leaf page it reaches.
func middleLeaf(f io.ReaderAt, page, pageSize int64) (int64, error) {
	buf := make([]byte, pageSize)
	for depth := 0; depth < 32; depth++ {
		if _, err := f.ReadAt(buf, (page-1)*pageSize); err != nil {
			return 0, fmt.Errorf("read page %d: %w", page, err)
		}
		hdr := buf
		if page == 1 {
			hdr = buf[100:]
		}
		switch hdr[0] {
		case 0x0d: // table leaf
			return page, nil
		case 0x05: // table interior
			n := int(binary.BigEndian.Uint16(hdr[3:5]))
			if n == 0 {
				page = int64(binary.BigEndian.Uint32(hdr[8:12]))
				continue
			}
			ptr := int(binary.BigEndian.Uint16(hdr[12+2*(n/2):]))
			page = int64(binary.BigEndian.Uint32(buf[ptr : ptr+4]))
		default:
			return 0, fmt.Errorf("page %d is not a table b-tree page (type %#x)", page, hdr[0])
		}
	}
	return 0, fmt.Errorf("b-tree too deep")
}

// staleWAL builds a WAL that belongs to a newer copy of the database (one
// that has since grown and been checkpointed) and leaves it next to the
// current, older file: what an operator gets by copying a backup over
// quantai.db while the crashed system's quantai.db-wal stays behind.
func staleWAL(ctx context.Context, dbPath string) error {
	if err := checkpoint(ctx, dbPath); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "drbook-stale-wal-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	newer := filepath.Join(tmp, "quantai.db")
	if err := copyFile(dbPath, newer); err != nil {
		return err
	}
	db, err := openDB(ctx, newer)
	if err != nil {
		return err
	}
	defer db.Close()
	var lastTS string
	var lastTrade, lastAudit int64
	if err := db.QueryRowContext(ctx, "SELECT (SELECT MAX(timestamp) FROM audit_trail), (SELECT MAX(id) FROM trades), (SELECT MAX(id) FROM audit_trail)").Scan(&lastTS, &lastTrade, &lastAudit); err != nil {
		return err
	}
	t, err := time.Parse(TimeLayout, lastTS)
	if err != nil {
		return err
	}
	// The newer copy's later life: more trades, checkpointed into its file...
	grow := func(n int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for i := 0; i < n; i++ {
			lastTrade++
			lastAudit++
			t = t.Add(time.Second)
			if _, err := tx.ExecContext(ctx, `INSERT INTO trades (id, order_id, position_id, symbol, side, quantity, price, status, executed_at)
				SELECT ?, NULL, id, symbol, 'buy', 1, avg_price + 1, 'cancelled', ? FROM positions ORDER BY id LIMIT 1`, lastTrade, ts(t)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_trail (id, timestamp, actor, action, detail) VALUES (?,?,?,?,?)`,
				lastAudit, ts(t), "execution_agent", "order.rejected", fmt.Sprintf("trade %d busted by broker, padding %s", lastTrade, strings.Repeat("x", 64))); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	if err := grow(3000); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return err
	}
	// ...then a few transactions still in its WAL when it crashed.
	if _, err := db.ExecContext(ctx, "PRAGMA wal_autocheckpoint=0"); err != nil {
		return err
	}
	if err := grow(300); err != nil {
		return err
	}
	wal, err := os.ReadFile(newer + "-wal")
	if err != nil {
		return err
	}
	if len(wal) < 32 || !bytes.Equal(wal[:3], []byte{0x37, 0x7f, 0x06}) {
		return fmt.Errorf("newer copy left no WAL to reuse")
	}
	if err := reseal(wal, 0x5eed0001, 0x5eed0002); err != nil {
		return err
	}
	return os.WriteFile(dbPath+"-wal", wal, 0o644)
}

// reseal replaces a WAL's random salts with fixed ones and recomputes its
// checksums, so the same sandbox always gets the same stale WAL. The WAL
// stays valid: SQLite replays every frame.
func reseal(wal []byte, salt1, salt2 uint32) error {
	be := binary.BigEndian
	var order binary.ByteOrder = binary.LittleEndian
	if be.Uint32(wal[0:4]) == 0x377f0683 {
		order = binary.BigEndian
	}
	pageSize := int(be.Uint32(wal[8:12]))
	sum := func(s0, s1 uint32, b []byte) (uint32, uint32) {
		for i := 0; i+8 <= len(b); i += 8 {
			s0 += order.Uint32(b[i:]) + s1
			s1 += order.Uint32(b[i+4:]) + s0
		}
		return s0, s1
	}
	oldSalt := append([]byte(nil), wal[16:24]...)
	be.PutUint32(wal[16:20], salt1)
	be.PutUint32(wal[20:24], salt2)
	s0, s1 := sum(0, 0, wal[:24])
	be.PutUint32(wal[24:28], s0)
	be.PutUint32(wal[28:32], s1)
	for off := 32; off+24+pageSize <= len(wal); off += 24 + pageSize {
		fh := wal[off : off+24]
		if !bytes.Equal(fh[8:16], oldSalt) {
			break // frames of an earlier generation are not part of the log
		}
		copy(fh[8:16], wal[16:24])
		s0, s1 = sum(s0, s1, fh[:8])
		s0, s1 = sum(s0, s1, wal[off+24:off+24+pageSize])
		be.PutUint32(fh[16:20], s0)
		be.PutUint32(fh[20:24], s1)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func badConfig(root string) error {
	p := filepath.Join(root, AgentsDir, "risk_manager.json")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	// A half-written file: cut mid-way, with an edit's trailing comma.
	cut := b[:len(b)*3/5]
	cut = append(bytes.TrimRight(cut, " \n\t,"), []byte(",\n")...)
	return os.WriteFile(p, cut, 0o644)
}

func missingEnv(root string) error {
	p := filepath.Join(root, EnvFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	var out []string
	found := false
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "ALPACA_API_KEY=") {
			found = true
			continue
		}
		out = append(out, l)
	}
	if !found {
		return fmt.Errorf("ALPACA_API_KEY is already missing from %s", p)
	}
	return os.WriteFile(p, []byte(strings.Join(out, "")), 0o600)
}

// pendingOrders adds orders and trades in flight: open and pending orders,
// the pending trades of the pending ones, with their audit rows.
func pendingOrders(ctx context.Context, dbPath string) error {
	return inTx(ctx, dbPath, func(tx *sql.Tx) error { return addPendingOrders(ctx, tx) })
}

func addPendingOrders(ctx context.Context, tx *sql.Tx) error {
	var lastTS string
	var order, trade, audit int64
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT MAX(timestamp) FROM audit_trail), (SELECT MAX(id) FROM orders),
		(SELECT MAX(id) FROM trades), (SELECT MAX(id) FROM audit_trail)`).Scan(&lastTS, &order, &trade, &audit); err != nil {
		return err
	}
	t, err := time.Parse(TimeLayout, lastTS)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, account_id, symbol, broker, avg_price FROM positions WHERE quantity > 0 ORDER BY id LIMIT 5`)
	if err != nil {
		return err
	}
	type pos struct {
		id, account    int64
		symbol, broker string
		price          float64
	}
	var ps []pos
	for rows.Next() {
		var p pos
		if err := rows.Scan(&p.id, &p.account, &p.symbol, &p.broker, &p.price); err != nil {
			rows.Close()
			return err
		}
		ps = append(ps, p)
	}
	rows.Close()
	if len(ps) == 0 {
		return fmt.Errorf("no open position to trade against")
	}
	for i, p := range ps {
		order++
		audit++
		t = t.Add(700 * time.Millisecond)
		status := "open"
		if i%2 == 1 {
			status = "pending"
		}
		qty := float64(10 * (i + 1))
		px := round(p.price*1.01, 2)
		if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, account_id, symbol, broker, side, quantity, limit_price, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			order, p.account, p.symbol, p.broker, "buy", qty, px, status, ts(t), ts(t)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_trail (id, timestamp, actor, action, detail) VALUES (?,?,?,?,?)`,
			audit, ts(t), "execution_agent", "order.submit", fmt.Sprintf("order %d buy %g %s @ %.2f %s %s", order, qty, p.symbol, px, p.broker, status)); err != nil {
			return err
		}
		if status == "pending" {
			trade++
			t = t.Add(300 * time.Millisecond)
			if _, err := tx.ExecContext(ctx, `INSERT INTO trades (id, order_id, position_id, symbol, side, quantity, price, status, executed_at) VALUES (?,?,?,?,?,?,?,?,?)`,
				trade, order, p.id, p.symbol, "buy", qty/2, px, "pending", ts(t)); err != nil {
				return err
			}
		}
	}
	return nil
}

// agentDown deletes the lost agent's configuration and logs what the
// operator sees when its process dies on it: the process exiting, then the
// other agents noticing its heartbeat is stale.
func agentDown(root string) error {
	cfg := filepath.Join(root, AgentsDir, LostAgent+".json")
	if err := os.Remove(cfg); err != nil {
		return err
	}
	p := filepath.Join(root, LogsDir, "agents.log")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	// The log's newest line gives the time the agent died.
	last := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	t, err := time.Parse(TimeLayout, strings.Fields(last + " x")[0])
	if err != nil {
		return fmt.Errorf("agents.log: no timestamp on its last line: %w", err)
	}
	a := LostAgent
	lines := []string{
		fmt.Sprintf("%s ERROR agents.%s: reload failed: open config/agents/%s.json: no such file or directory", ts(t.Add(2*time.Second)), a, a),
		fmt.Sprintf("%s ERROR agents.%s: process exited with status 1", ts(t.Add(2100*time.Millisecond)), a),
		fmt.Sprintf("%s WARN  agents.supervisor: %s heartbeat stale (last seen %s, expected every 15s)", ts(t.Add(47*time.Second)), a, ts(t.Add(2*time.Second))),
		fmt.Sprintf("%s WARN  agents.risk_manager: no acknowledgement from %s for 3 orders", ts(t.Add(61*time.Second)), a),
	}
	return os.WriteFile(p, append(b, []byte(strings.Join(lines, "\n")+"\n")...), 0o644)
}

// hostLost empties the root as a replacement host would be: everything
// goes but the sandbox marker, which keeps the tree a sandbox drbook may
// restore into.
func hostLost(root string) error {
	des, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, de := range des {
		if de.Name() == MarkerFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, de.Name())); err != nil {
			return err
		}
	}
	return nil
}
