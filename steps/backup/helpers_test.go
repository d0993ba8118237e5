package backup_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/dbfile"
	_ "modernc.org/sqlite"
)

const testPass = "correct horse battery staple"

// MustRoot builds a small QuantAI system root: the pinned schema with a
// few rows (marker names the data set), config/, .env and logs/.
func MustRoot(tb testing.TB, marker string, trades int) string {
	tb.Helper()
	root := tb.TempDir()
	for _, d := range []string{"data", "config/agents", "logs"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	MustDB(tb, filepath.Join(root, "data", "quantai.db"), marker, trades)
	MustWrite(tb, filepath.Join(root, "config", "settings.yaml"), "risk:\n  max_position: 1000\nmarker: "+marker+"\n")
	MustWrite(tb, filepath.Join(root, "config", "agents", "momentum.json"), `{"name":"momentum","enabled":true}`)
	MustWrite(tb, filepath.Join(root, ".env"), "OPENAI_API_KEY=sk-"+marker+"\nIBKR_HOST=127.0.0.1\nIBKR_PORT=7497\nALPACA_API_KEY=ak\nTRADING_MODE=paper\n")
	MustWrite(tb, filepath.Join(root, "logs", "quantai.log"), "started "+marker+"\n")
	return root
}

// MustDB creates a database from the sandbox schema with trades rows.
func MustDB(tb testing.TB, path, marker string, trades int) {
	tb.Helper()
	schema, err := os.ReadFile(filepath.Join("..", "sandbox", "schema.sql"))
	if err != nil {
		tb.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	exec := func(q string, args ...any) {
		tb.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	exec("PRAGMA journal_mode=WAL")
	exec(string(schema))
	exec("BEGIN")
	now := "2026-01-04T10:00:00Z"
	exec(`INSERT INTO accounts VALUES (1,'main','margin','ibkr',100000,'USD',?)`, now)
	exec(`INSERT INTO positions VALUES (1,1,'AAPL','ibkr',?,150,?)`, trades, now)
	exec(`INSERT INTO control VALUES ('marker',?,?,'test')`, marker, now)
	for i := 1; i <= trades; i++ {
		exec(`INSERT INTO trades VALUES (?,NULL,1,'AAPL','buy',1,?,'filled',?)`, i, 100+float64(i%1000)/7, now)
		exec(`INSERT INTO audit_trail VALUES (?,?,'test','trade',?)`, i, fmt.Sprintf("2026-01-04T10:00:00.%09dZ", i), strings.Repeat("x", i%50))
	}
	exec("COMMIT")
}

// MustMarker reads the control row 'marker' from a database.
func MustMarker(tb testing.TB, path string) string {
	tb.Helper()
	v, err := queryString(path, "SELECT value FROM control WHERE key='marker'")
	if err != nil {
		tb.Fatalf("read marker from %s: %v", path, err)
	}
	return v
}

// Integrity runs PRAGMA integrity_check through the driver; an error is
// returned as the result.
func Integrity(tb testing.TB, path string) string {
	tb.Helper()
	v, err := queryString(path, "PRAGMA integrity_check")
	if err != nil {
		return err.Error()
	}
	return v
}

// queryString runs q on the database at path, read-only, and returns the
// first column of its first row.
func queryString(path, q string) (string, error) {
	// The path goes into a URI escaped: a subtest's temp dir may hold a
	// '#' ("after_275ms#01"), which would end the path there.
	db, err := sql.Open("sqlite", dbfile.ReadOnlyURI(path))
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	err = db.QueryRow(q).Scan(&v)
	return v, err
}

func MustWrite(tb testing.TB, path, data string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func MustRead(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
