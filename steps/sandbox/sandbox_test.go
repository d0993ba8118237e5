package sandbox_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/sandbox"
)

// MustCreate builds a sandbox in a fresh temporary directory.
func MustCreate(tb testing.TB, opts sandbox.Options) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "quantai")
	if err := sandbox.Create(context.Background(), root, opts); err != nil {
		tb.Fatal(err)
	}
	return root
}

// treeHashes maps every file under root to the hash of its bytes.
func treeHashes(tb testing.TB, root string) map[string][32]byte {
	tb.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestCreateIsDeterministic(t *testing.T) {
	a := treeHashes(t, MustCreate(t, sandbox.Options{Seed: 7}))
	b := treeHashes(t, MustCreate(t, sandbox.Options{Seed: 7}))
	if len(a) != len(b) {
		t.Fatalf("file sets differ: %d vs %d files", len(a), len(b))
	}
	for p, h := range a {
		if b[p] != h {
			t.Errorf("%s differs between two sandboxes with the same seed", p)
		}
	}
	c := treeHashes(t, MustCreate(t, sandbox.Options{Seed: 8}))
	if c[sandbox.DBFile] == a[sandbox.DBFile] {
		t.Error("different seeds gave the same database")
	}
}

func TestCreateLayout(t *testing.T) {
	root := MustCreate(t, sandbox.Options{Seed: 1})
	for _, p := range []string{sandbox.MarkerFile, sandbox.DBFile, sandbox.EnvFile, sandbox.IBKRStatement, sandbox.AlpacaStatement,
		"config/quantai.yaml", "config/risk.yaml", "logs/quantai.log", "logs/trading.log"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	for _, s := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(filepath.Join(root, sandbox.DBFile+s)); err == nil {
			t.Errorf("Create left %s behind", sandbox.DBFile+s)
		}
	}
	if !sandbox.IsSandbox(root) {
		t.Error("IsSandbox is false for a new sandbox")
	}
	agents, _ := filepath.Glob(filepath.Join(root, sandbox.AgentsDir, "*.json"))
	if len(agents) < 3 {
		t.Errorf("%d agent configurations, want several", len(agents))
	}
	for _, a := range agents {
		var v map[string]any
		b, _ := os.ReadFile(a)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	env, _ := os.ReadFile(filepath.Join(root, sandbox.EnvFile))
	for _, k := range sandbox.RequiredEnv {
		if !strings.Contains(string(env), "\n"+k+"=") {
			t.Errorf(".env lacks %s", k)
		}
	}
	m, err := sandbox.ReadMarker(root)
	if err != nil || m.Seed != 1 || m.Trades != sandbox.DefaultTrades || len(m.Faults) != 0 {
		t.Errorf("marker = %+v, %v", m, err)
	}
}

func openRO(tb testing.TB, root string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(root, sandbox.DBFile)+"?mode=ro&immutable=1")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func count(tb testing.TB, db *sql.DB, q string) int64 {
	tb.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestDatabaseIsConsistent(t *testing.T) {
	root := MustCreate(t, sandbox.Options{Seed: 3, Trades: 3000})
	db := openRO(t, root)
	var mode, ok string
	db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	db.QueryRow("PRAGMA integrity_check").Scan(&ok)
	if ok != "ok" {
		t.Errorf("integrity_check = %q", ok)
	}
	var hdr [20]byte
	f, _ := os.Open(filepath.Join(root, sandbox.DBFile))
	f.Read(hdr[:])
	f.Close()
	if hdr[18] != 2 || hdr[19] != 2 {
		t.Errorf("database is not in WAL mode (header bytes 18,19 = %d,%d)", hdr[18], hdr[19])
	}
	for q, want := range map[string]int64{
		"SELECT COUNT(*) FROM trades":                                 3000,
		"SELECT COUNT(*) FROM accounts WHERE account_type = 'cash'":   2,
		"SELECT COUNT(*) FROM accounts WHERE account_type = 'margin'": 2,
		// Each position equals the sum of its filled trades.
		`SELECT COUNT(*) FROM positions p WHERE p.quantity != (SELECT coalesce(SUM(quantity), 0) FROM trades t WHERE t.position_id = p.id AND t.status = 'filled')`: 0,
		// The plan's three validation queries find nothing.
		`SELECT COUNT(*) FROM trades t LEFT JOIN positions p ON t.position_id = p.id WHERE p.id IS NULL`:                         0,
		`SELECT COUNT(*) FROM accounts WHERE balance < 0 AND account_type != 'margin'`:                                           0,
		`SELECT COUNT(*) FROM (SELECT id, LAG(id) OVER (ORDER BY timestamp) as prev_id FROM audit_trail) WHERE id - prev_id > 1`: 0,
		// Ids grow with time.
		`SELECT COUNT(*) FROM (SELECT timestamp, LAG(timestamp) OVER (ORDER BY id) AS prev FROM audit_trail) WHERE timestamp <= prev`:  0,
		`SELECT COUNT(*) FROM (SELECT executed_at, LAG(executed_at) OVER (ORDER BY id) AS prev FROM trades) WHERE executed_at <= prev`: 0,
		`SELECT COUNT(*) FROM (SELECT created_at, LAG(created_at) OVER (ORDER BY id) AS prev FROM orders) WHERE created_at <= prev`:    0,
		// A clean sandbox has nothing in flight, and has closed positions.
		`SELECT COUNT(*) FROM trades WHERE status = 'pending'`:                                        0,
		`SELECT COUNT(*) FROM orders WHERE status IN ('open', 'pending')`:                             0,
		`SELECT COUNT(*) > 0 FROM positions WHERE quantity = 0`:                                       1,
		`SELECT COUNT(*) FROM trades WHERE sign(quantity) != CASE side WHEN 'buy' THEN 1 ELSE -1 END`: 0,
		`SELECT COUNT(*) FROM control WHERE key = 'trading_halted' AND value = '0'`:                   1,
		`SELECT MAX(id) = COUNT(*) FROM audit_trail`:                                                  1,
	} {
		if got := count(t, db, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	if rows, err := db.Query("PRAGMA foreign_key_check"); err != nil {
		t.Fatal(err)
	} else {
		if rows.Next() {
			t.Error("foreign_key_check reports dangling references")
		}
		rows.Close()
	}
}

type pos struct {
	qty, avg float64
}

func dbPositions(t *testing.T, db *sql.DB, broker string) map[string]pos {
	rows, err := db.Query("SELECT symbol, quantity, avg_price FROM positions WHERE broker = ? AND quantity != 0", broker)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]pos{}
	for rows.Next() {
		var s string
		var p pos
		rows.Scan(&s, &p.qty, &p.avg)
		out[s] = p
	}
	return out
}

func TestBrokerStatementsAgree(t *testing.T) {
	root := MustCreate(t, sandbox.Options{Seed: 5})
	db := openRO(t, root)

	f, err := os.Open(filepath.Join(root, sandbox.IBKRStatement))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	ibkr := map[string]pos{}
	for _, r := range recs[1:] {
		q, _ := strconv.ParseFloat(r[col["Quantity"]], 64)
		a, _ := strconv.ParseFloat(r[col["AvgCost"]], 64)
		ibkr[r[col["Symbol"]]] = pos{q, a}
	}
	comparePositions(t, "ibkr", dbPositions(t, db, "ibkr"), ibkr)

	b, err := os.ReadFile(filepath.Join(root, sandbox.AlpacaStatement))
	if err != nil {
		t.Fatal(err)
	}
	var arr []map[string]any
	if err := json.Unmarshal(b, &arr); err != nil {
		t.Fatal(err)
	}
	alp := map[string]pos{}
	for _, o := range arr {
		q, err1 := strconv.ParseFloat(o["qty"].(string), 64)
		a, err2 := strconv.ParseFloat(o["avg_entry_price"].(string), 64)
		if err1 != nil || err2 != nil || o["side"] != "long" {
			t.Errorf("alpaca entry %v: qty/avg_entry_price must be decimal strings", o)
		}
		alp[o["symbol"].(string)] = pos{q, a}
	}
	comparePositions(t, "alpaca", dbPositions(t, db, "alpaca"), alp)
}

func comparePositions(t *testing.T, broker string, db, stmt map[string]pos) {
	t.Helper()
	if len(db) == 0 || len(db) != len(stmt) {
		t.Errorf("%s: %d open positions in the database, %d in the statement", broker, len(db), len(stmt))
	}
	for s, p := range db {
		q, ok := stmt[s]
		if !ok || q.qty != p.qty || math.Abs(q.avg-p.avg) > 1e-9 {
			t.Errorf("%s %s: database %+v, statement %+v", broker, s, p, q)
		}
	}
}

func TestCreateRefusesWhatIsNotASandbox(t *testing.T) {
	root := t.TempDir()
	precious := filepath.Join(root, "quantai.db")
	os.WriteFile(precious, []byte("the real thing"), 0o644)
	err := sandbox.Create(context.Background(), root, sandbox.Options{Replace: true})
	if !errors.Is(err, sandbox.ErrNotSandbox) {
		t.Fatalf("Create into a non-empty directory: %v, want ErrNotSandbox", err)
	}
	if b, _ := os.ReadFile(precious); string(b) != "the real thing" {
		t.Fatal("Create touched a file it does not own")
	}
	if err := sandbox.Inject(root, "delete-db"); !errors.Is(err, sandbox.ErrNotSandbox) {
		t.Fatalf("Inject into a non-sandbox: %v", err)
	}
	if b, _ := os.ReadFile(precious); string(b) != "the real thing" {
		t.Fatal("Inject touched a file it does not own")
	}

	sb := MustCreate(t, sandbox.Options{})
	if err := sandbox.Create(context.Background(), sb, sandbox.Options{}); !errors.Is(err, sandbox.ErrExists) {
		t.Fatalf("Create over a sandbox without Replace: %v", err)
	}
	os.WriteFile(filepath.Join(sb, "leftover.txt"), []byte("x"), 0o644)
	if err := sandbox.Create(context.Background(), sb, sandbox.Options{Replace: true, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sb, "leftover.txt")); err == nil {
		t.Error("Replace kept files of the old sandbox")
	}
	if err := sandbox.Create(context.Background(), filepath.Join(t.TempDir(), "x"), sandbox.Options{Trades: 10}); err == nil {
		t.Error("Create accepted too few trades")
	}
}

func TestInject(t *testing.T) {
	if err := sandbox.Inject(t.TempDir(), "no-such-fault"); !errors.Is(err, sandbox.ErrUnknownFault) {
		t.Errorf("unknown fault: %v", err)
	}
	for _, f := range sandbox.Faults() {
		if f.Description == "" || len(f.Checks) == 0 {
			t.Errorf("fault %s lacks a description or the checks that catch it", f.Name)
		}
		t.Run(f.Name, func(t *testing.T) {
			root := MustCreate(t, sandbox.Options{Trades: sandbox.MinTrades})
			before := treeHashes(t, root)
			if err := sandbox.Inject(root, f.Name); err != nil {
				t.Fatal(err)
			}
			after := treeHashes(t, root)
			changed := 0
			for p, h := range before {
				if p != sandbox.MarkerFile && after[p] != h {
					changed++
				}
			}
			if changed == 0 && len(after) == len(before) {
				t.Error("the fault changed nothing")
			}
			m, _ := sandbox.ReadMarker(root)
			if len(m.Faults) != 1 || m.Faults[0] != f.Name {
				t.Errorf("marker faults = %v", m.Faults)
			}
			// The same fault on the same sandbox gives the same bytes.
			again := MustCreate(t, sandbox.Options{Trades: sandbox.MinTrades})
			if err := sandbox.Inject(again, f.Name); err != nil {
				t.Fatal(err)
			}
			twice := treeHashes(t, again)
			for p, h := range after {
				if twice[p] != h {
					t.Errorf("%s differs between two injections of %s", p, f.Name)
				}
			}
		})
	}
}

// TestTornPageIsATableLeaf checks that torn-page damages a b-tree page and
// not the header.
func TestTornPageIsATableLeaf(t *testing.T) {
	root := MustCreate(t, sandbox.Options{Seed: 11})
	if err := sandbox.Inject(root, "torn-page"); err != nil {
		t.Fatal(err)
	}
	db := openRO(t, root)
	var res string
	err := db.QueryRow("PRAGMA integrity_check").Scan(&res)
	if err == nil && res == "ok" {
		t.Fatal("integrity_check passes after torn-page")
	}
	// The header page is intact: the schema is still readable.
	if n := count(t, db, "SELECT COUNT(*) FROM sqlite_schema"); n == 0 {
		t.Error("the schema is gone: the header page was damaged")
	}
}

// TestDamageIsReal runs the real sqlite3 binary on a copy of each damaged
// database: what it reads must be broken.
func TestDamageIsReal(t *testing.T) {
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("sqlite3 not installed")
	}
	for _, name := range []string{"", "torn-page", "stale-wal"} {
		t.Run("fault="+name, func(t *testing.T) {
			root := MustCreate(t, sandbox.Options{Seed: 4})
			if name != "" {
				if err := sandbox.Inject(root, name); err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			for _, s := range []string{"", "-wal"} {
				b, err := os.ReadFile(filepath.Join(root, sandbox.DBFile+s))
				if err == nil {
					os.WriteFile(filepath.Join(dir, "q.db"+s), b, 0o644)
				}
			}
			out, _ := exec.Command(bin, filepath.Join(dir, "q.db"), "PRAGMA quick_check;").CombinedOutput()
			// The undamaged copy is the control: it shows that sqlite3 ran
			// and can say "ok", so "not ok" below means damage.
			if ok := strings.TrimSpace(string(out)) == "ok"; ok != (name == "") {
				t.Errorf("sqlite3 quick_check after fault %q: %q", name, out)
			}
		})
	}
}

func TestCreateCancelled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "sb")
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := sandbox.Create(ctx, root, sandbox.Options{Trades: 300000, Progress: func(done, total int) {
		calls++
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || calls == 0 {
		t.Fatalf("Create after cancel: %v (progress calls %d)", err, calls)
	}
	// What is left is still recognisably a sandbox, so it can be replaced.
	if !sandbox.IsSandbox(root) {
		t.Error("an interrupted Create left a tree that is not marked as a sandbox")
	}
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Replace: true}); err != nil {
		t.Errorf("replace after an interrupted Create: %v", err)
	}
}

func TestCheckFaults(t *testing.T) {
	for _, tc := range []struct {
		done   []string
		dbGone bool
		names  []string
		want   string // "" means accepted
	}{
		{nil, false, []string{"audit-gap", "bad-config", "delete-db"}, ""},
		{nil, false, []string{"audit-gap", "audit-gap"}, ""},
		{nil, false, []string{"delete-db", "corrupt-db"}, "inject delete-db last"},
		{[]string{"delete-db"}, true, []string{"bad-config"}, ""},
		{[]string{"delete-db"}, true, []string{"orphan-trades"}, "data/quantai.db is gone"},
		{nil, true, []string{"torn-page"}, "data/quantai.db is gone"},
		{[]string{"missing-env"}, false, []string{"missing-env"}, "already injected"},
		{nil, false, []string{"bad-config", "bad-config"}, "already injected"},
		{nil, false, []string{"meteor"}, "unknown fault"},
	} {
		err := sandbox.CheckFaults(tc.done, tc.dbGone, tc.names)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckFaults(%v, %v, %v) = %v, want %q", tc.done, tc.dbGone, tc.names, err, tc.want)
		}
	}
	// What CheckFaults accepts, Inject does: every accepted stack goes in.
	root := MustCreate(t, sandbox.Options{Trades: sandbox.MinTrades})
	stack := []string{"audit-gap", "missing-env", "bad-config", "delete-db"}
	if err := sandbox.CheckFaults(nil, false, stack); err != nil {
		t.Fatal(err)
	}
	for _, f := range stack {
		if err := sandbox.Inject(root, f); err != nil {
			t.Fatalf("inject %s after CheckFaults accepted the stack: %v", f, err)
		}
	}
}
