package shell_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/shell"
)

// MustSystem makes a system root with data/quantai.db built from the pinned
// sandbox schema and n positions.
func MustSystem(tb testing.TB, n int) string {
	tb.Helper()
	root := tb.TempDir()
	schema, err := os.ReadFile(filepath.Join("..", "sandbox", "schema.sql"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		tb.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(root, "data", "quantai.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(string(schema)); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO accounts VALUES (1, 'main', 'margin', 'ibkr', 1000000, 'USD', '2026-11-26T00:00:00Z')`); err != nil {
		tb.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := db.Exec(`INSERT INTO positions (account_id, symbol, broker, quantity, avg_price, updated_at) VALUES (1, ?, 'ibkr', ?, 100.5, '2026-11-26T00:00:00Z')`,
			fmt.Sprintf("SYM%03d", i), i); err != nil {
			tb.Fatal(err)
		}
		// One filled trade per position, so that the position equals the
		// sum of its trades and the data passes the restore's checks.
		if _, err := db.Exec(`INSERT INTO trades (position_id, symbol, side, quantity, price, status, executed_at) VALUES (?, ?, 'buy', ?, 100.5, 'filled', '2026-11-26T00:00:00Z')`,
			i, fmt.Sprintf("SYM%03d", i), i); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func dbBytes(tb testing.TB, root string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(root, "data", "quantai.db"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func count(tb testing.TB, path, q string) int {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func runSQL(t *testing.T, root, code string, attrs runbook.Attrs, confirmed bool) (steps.Result, *recorder, error) {
	t.Helper()
	a, _ := steps.Lookup(steps.SQLAction)
	rec := &recorder{}
	res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root}, Block: &runbook.Block{Lang: "sql", Code: code, Attrs: attrs}, Confirmed: confirmed}, rec.emit)
	return res, rec, err
}

func TestSQLReadOnly(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		attrs   runbook.Attrs
		status  steps.Status
		wantErr error
		want    string // in the summary
		stdout  string // in the streamed output
	}{
		{"select", "SELECT symbol, quantity FROM positions ORDER BY id;", runbook.Attrs{}, steps.StatusOK, nil, "1 statement ran, 5 rows", "SYM005  5"},
		{"one row", "SELECT COUNT(*) AS n FROM positions;", runbook.Attrs{}, steps.StatusOK, nil, "1 statement ran, 1 row returned", "(1 row)"},
		{"row cap", "SELECT * FROM positions;", runbook.Attrs{Raw: map[string]string{"rows": "2"}}, steps.StatusOK, nil, "5 rows", "showing 2 of 5 rows (row cap 2"},
		{"integrity", "-- Verify database integrity\nPRAGMA integrity_check;\nSELECT COUNT(*) FROM positions", runbook.Attrs{}, steps.StatusOK, nil, "2 statements", "ok"},
		{"update refused", "SELECT 1;\nUPDATE positions SET quantity = 0;", runbook.Attrs{}, steps.StatusFailed, nil, "line 2: the block is read-only", ""},
		{"delete refused", "DELETE FROM positions", runbook.Attrs{}, steps.StatusFailed, nil, "read-only", ""},
		{"create refused", "CREATE TABLE x (a)", runbook.Attrs{}, steps.StatusFailed, nil, "read-only", ""},
		{"sql error", "SELECT 1;\n\nSELECT * FROM no_such_table;\nSELECT 2;", runbook.Attrs{}, steps.StatusFailed, nil, "line 3: no such table: no_such_table", "Error: "},
		{"tables", ".tables\n.schema control", runbook.Attrs{}, steps.StatusOK, nil, "2 statements", "audit_trail"},
		{"display settings said", ".headers on\n.mode column\nSELECT 1 AS one;", runbook.Attrs{}, steps.StatusOK, nil, "", "one"},
		{"unsupported dot", "SELECT 1;\n.import x.csv positions", runbook.Attrs{}, steps.StatusFailed, shell.ErrUnsupportedDot, "line 2: .import", ""},
		{"shell escape refused", ".shell rm -rf data", runbook.Attrs{}, steps.StatusFailed, shell.ErrUnsupportedDot, ".shell", ""},
		{"write unconfirmed", "UPDATE positions SET quantity = 0;", runbook.Attrs{Write: true}, steps.StatusFailed, steps.ErrNotConfirmed, "needs confirmation", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := MustSystem(t, 5)
			before := dbBytes(t, root)
			res, rec, err := runSQL(t, root, tt.code, tt.attrs, false)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if res.Status != tt.status || !strings.Contains(res.Summary, tt.want) {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Summary, tt.status, tt.want)
			}
			out := strings.Join(rec.lines(steps.Stdout), "\n") + strings.Join(rec.lines(steps.Info), "\n")
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("output does not contain %q:\n%s", tt.stdout, out)
			}
			if !bytes.Equal(before, dbBytes(t, root)) {
				t.Error("the database changed")
			}
		})
	}
}

func TestSQLRowCapRecorded(t *testing.T) {
	root := MustSystem(t, 150)
	res, _, err := runSQL(t, root, "SELECT * FROM positions", runbook.Attrs{}, false)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatal(err, res)
	}
	st := res.Data.(shell.SQLOutput).Statements[0]
	if st.RowCount != 150 || len(st.Rows) != shell.DefaultRowCap || !st.Capped || !strings.Contains(st.Note, "showing 100 of 150") {
		t.Errorf("%d rows, %d kept, capped %v, note %q", st.RowCount, len(st.Rows), st.Capped, st.Note)
	}
}

func TestSQLWrite(t *testing.T) {
	root := MustSystem(t, 5)
	db := filepath.Join(root, "data", "quantai.db")

	// An error part-way rolls back everything before it.
	before := dbBytes(t, root)
	res, _, _ := runSQL(t, root, "UPDATE positions SET quantity = 0;\nINSERT INTO nope VALUES (1);", runbook.Attrs{Write: true}, true)
	if res.Status != steps.StatusFailed || !strings.Contains(res.Summary, "line 2") {
		t.Fatalf("got %+v", res)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM positions WHERE quantity = 0"); n != 0 {
		t.Fatalf("%d positions zeroed despite the rollback", n)
	}

	// A dry run reports and rolls back.
	a, _ := steps.Lookup(steps.SQLAction)
	res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: root}, Confirmed: true, DryRun: true,
		Block: &runbook.Block{Lang: "sql", Code: "UPDATE positions SET quantity = 0 WHERE id <= 2;", Attrs: runbook.Attrs{Write: true}}}, nil)
	if err != nil || res.Status != steps.StatusSimulated || res.Data.(shell.SQLOutput).Statements[0].RowsAffected != 2 {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if !bytes.Equal(before, dbBytes(t, root)) {
		t.Fatal("dry run changed the database")
	}

	res, _, err = runSQL(t, root, "UPDATE positions SET quantity = 0 WHERE id <= 2;", runbook.Attrs{Write: true}, true)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatal(err, res)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM positions WHERE quantity = 0"); n != 2 {
		t.Fatalf("%d positions changed, want 2", n)
	}
}

func TestSQLMissingDatabase(t *testing.T) {
	root := t.TempDir()
	res, _, err := runSQL(t, root, "SELECT 1", runbook.Attrs{}, false)
	if err == nil || res.Status != steps.StatusFailed || !strings.Contains(res.Summary, "quantai.db") {
		t.Fatalf("got %v %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(root, "data", "quantai.db")); err == nil {
		t.Error("a missing database was created")
	}
}

func TestSQLCorruptDatabase(t *testing.T) {
	root := MustSystem(t, 200)
	path := filepath.Join(root, "data", "quantai.db")
	b := dbBytes(t, root)
	for i := 4096; i < len(b); i++ { // keep the header page, break the rest
		b[i] = 0xA5
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	res, _, _ := runSQL(t, root, "PRAGMA integrity_check;", runbook.Attrs{}, false)
	if res.Status != steps.StatusFailed {
		t.Fatalf("a corrupt database passed: %+v", res)
	}
}

func TestSQLBackupDot(t *testing.T) {
	root := MustSystem(t, 7)
	res, _, err := runSQL(t, root, ".backup backups/copy.db\nSELECT 1;", runbook.Attrs{}, false)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatal(err, res)
	}
	copyPath := filepath.Join(root, "backups", "copy.db")
	if n := count(t, copyPath, "SELECT COUNT(*) FROM positions"); n != 7 {
		t.Fatalf("backup has %d positions, want 7", n)
	}
	// A second .backup to the same file is refused, and the file is kept.
	before, _ := os.ReadFile(copyPath)
	res, _, _ = runSQL(t, root, ".backup main backups/copy.db", runbook.Attrs{}, false)
	if res.Status != steps.StatusFailed || !strings.Contains(res.Summary, "already exists") {
		t.Fatalf("overwrote: %+v", res)
	}
	after, _ := os.ReadFile(copyPath)
	if !bytes.Equal(before, after) {
		t.Error("existing backup changed")
	}
}

// TestSQLPlanDatabaseRecoveryBlock runs the plan's own "Database Recovery"
// SQL block (section 2.2).
func TestSQLPlanDatabaseRecoveryBlock(t *testing.T) {
	const planBlock = `-- Verify database integrity
PRAGMA integrity_check;

-- Restore from backup
.restore /backups/quantai/latest/quantai.db

-- Verify critical tables
SELECT COUNT(*) FROM trades;
SELECT COUNT(*) FROM positions;
SELECT COUNT(*) FROM audit_trail;

-- Check data consistency
SELECT * FROM positions WHERE quantity != 0;
SELECT * FROM trades WHERE status = 'pending';
`
	root := MustSystem(t, 3)
	// The backup: a plain database file with 9 positions, where the plan
	// says /backups/quantai/latest/quantai.db.
	other := MustSystem(t, 9)
	bk := filepath.Join(t.TempDir(), "latest", "quantai.db")
	if err := shell.BackupDB(context.Background(), filepath.Join(other, "data", "quantai.db"), bk); err != nil {
		t.Fatal(err)
	}
	block := strings.Replace(planBlock, "/backups/quantai/latest/quantai.db", bk, 1)
	before := dbBytes(t, root)
	res, _, err := runSQL(t, root, block, runbook.Attrs{}, false)
	if !errors.Is(err, steps.ErrNotConfirmed) || !bytes.Equal(before, dbBytes(t, root)) {
		t.Fatalf("unconfirmed .restore: %v %+v", err, res)
	}
	res, rec, err := runSQL(t, root, block, runbook.Attrs{}, true)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("%v %+v\n%s", err, res, strings.Join(rec.lines(steps.Info), "\n"))
	}
	out := res.Data.(shell.SQLOutput)
	if len(out.Statements) != 7 || out.Statements[1].Line != 5 || out.Statements[6].Line != 14 {
		t.Errorf("statements %+v", out.Statements)
	}
	// The statements after .restore read the restored database.
	if got := out.Statements[3].Rows; len(got) != 1 || got[0][0] != "9" {
		t.Errorf("positions after restore: %v", got)
	}
	if !strings.Contains(strings.Join(rec.lines(steps.Stdout), "\n"), "SYM009") {
		t.Error("positions not shown")
	}
	if n := count(t, filepath.Join(root, "data", "quantai.db"), "SELECT COUNT(*) FROM positions"); n != 9 {
		t.Errorf("restored database has %d positions", n)
	}
}

func TestSQLRecoverDot(t *testing.T) {
	root := MustSystem(t, 6)
	before := dbBytes(t, root)
	res, _, err := runSQL(t, root, ".recover", runbook.Attrs{}, false)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("%v %+v", err, res)
	}
	if n := count(t, filepath.Join(root, "data", "quantai_recovered.db"), "SELECT COUNT(*) FROM positions"); n != 6 {
		t.Errorf("salvage has %d positions", n)
	}
	if !bytes.Equal(before, dbBytes(t, root)) {
		t.Error(".recover changed the database")
	}
	// A second salvage never overwrites the first.
	res, _, err = runSQL(t, root, ".recover", runbook.Attrs{}, false)
	if err != nil || res.Status != steps.StatusOK || !strings.Contains(res.Data.(shell.SQLOutput).Statements[0].Note, "quantai_recovered-") {
		t.Fatalf("second .recover: %v %+v", err, res)
	}
}

func TestSQLDrill(t *testing.T) {
	live := MustSystem(t, 2)
	a, _ := steps.Lookup(steps.SQLAction)
	res, err := a.Run(context.Background(), steps.Request{Env: steps.Env{Root: live, Drill: true}, Block: &runbook.Block{Lang: "sql", Code: "SELECT 1"}}, nil)
	if !errors.Is(err, shell.ErrLiveRootInDrill) || res.Status != steps.StatusFailed {
		t.Fatalf("live root in a drill: %v %+v", err, res)
	}
	sb := MustSystem(t, 2)
	if err := os.WriteFile(filepath.Join(sb, shell.SandboxMarker), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "copy.db")
	res, _ = a.Run(context.Background(), steps.Request{Env: steps.Env{Root: sb, Drill: true}, Block: &runbook.Block{Lang: "sql", Code: ".backup " + outside}}, nil)
	if res.Status != steps.StatusFailed || !strings.Contains(res.Summary, "outside the sandbox") {
		t.Fatalf(".backup outside the sandbox: %+v", res)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Error("a drill wrote outside the sandbox")
	}
	res, err = a.Run(context.Background(), steps.Request{Env: steps.Env{Root: sb, Drill: true}, Block: &runbook.Block{Lang: "sql", Code: "SELECT COUNT(*) FROM positions"}}, nil)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("sandbox: %v %+v", err, res)
	}
}

func TestSQLVariables(t *testing.T) {
	root := MustSystem(t, 4)
	a, _ := steps.Lookup(steps.SQLAction)
	env := steps.Env{Root: root, Vars: map[string]string{"SYMBOL": "SYM002", "TOKEN": "hunter2"}, Secrets: []string{"hunter2"}}
	run := func(code string) (steps.Result, error) {
		return a.Run(context.Background(), steps.Request{Env: env, Block: &runbook.Block{Lang: "sql", Code: code}}, nil)
	}
	res, err := run("SELECT quantity FROM positions WHERE symbol = '${SYMBOL}';\nSELECT '${LIMIT:-3}' AS lim, '$SYMBOL' AS b;")
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("%v %+v", err, res)
	}
	st := res.Data.(shell.SQLOutput).Statements
	if st[0].Rows[0][0] != "2" || st[1].Rows[0][0] != "3" || st[1].Rows[0][1] != "$SYMBOL" {
		t.Errorf("rows %v %v", st[0].Rows, st[1].Rows)
	}
	res, err = run("SELECT 1;\nSELECT '${NOT_SET}';")
	if err == nil || !strings.Contains(res.Summary, "line 2: ${NOT_SET} is not set") {
		t.Fatalf("unset variable: %v %+v", err, res)
	}
	res, err = run("SELECT '${TOKEN}' AS t;")
	b, _ := json.Marshal(res.Data)
	if err != nil || strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "[REDACTED]") {
		t.Errorf("secret recorded: %v %s", err, b)
	}
}
