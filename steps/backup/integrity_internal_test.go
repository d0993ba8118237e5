package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps/dbfile"
)

// mkDB builds a small database with a table, an index and a freelist, then
// lets damage change it on its own connection.
func mkDB(t *testing.T, damage func(db *sql.DB) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quantai.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	stmts := []string{
		"CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b TEXT NOT NULL)",
		"CREATE INDEX t_a ON t(a)",
		"CREATE TABLE scratch(x TEXT)",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO t(a, b) SELECT i, 'row ' || i FROM n",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 200) INSERT INTO scratch SELECT hex(randomblob(500)) FROM n",
		"DELETE FROM scratch", // pages onto the freelist
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if damage != nil {
		if err := damage(db); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pragma runs one PRAGMA in process, the reference checkStagedDB must agree with.
func pragma(t *testing.T, path, q string) string {
	t.Helper()
	db, err := sql.Open("sqlite", dbfile.ImmutableURI(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var lines []string
	rows, err := db.Query(q)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		lines = append(lines, err.Error())
	}
	return strings.Join(lines, "\n")
}

// TestCheckStagedDB: the staged check, run in a checker process, is the
// full integrity_check: it finds what only integrity_check finds (an index
// that disagrees with its table, which quick_check passes) and what the
// page accounting finds (pages lost from the freelist).
func TestCheckStagedDB(t *testing.T) {
	patch := func(off int64, b []byte) func(*testing.T, string) {
		return func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name      string
		damage    func(*sql.DB) error
		after     func(*testing.T, string)
		want      string // in the error; "" for no error
		quickPass bool   // quick_check alone would pass this damage
	}{
		{name: "clean"},
		{name: "index-disagrees", quickPass: true, want: "t_a",
			// The index holds column a; the schema now says it holds b.
			damage: func(db *sql.DB) error {
				for _, q := range []string{"PRAGMA writable_schema=ON", "UPDATE sqlite_schema SET sql = 'CREATE INDEX t_a ON t(b)' WHERE name = 't_a'"} {
					if _, err := db.Exec(q); err != nil {
						return fmt.Errorf("%s: %w", q, err)
					}
				}
				return nil
			}},
		// Header bytes 32-39: the first freelist trunk page and the count.
		{name: "freelist-lost", want: "never used", after: patch(32, make([]byte, 8))},
		{name: "not-a-database", want: "not a database", after: patch(0, []byte("SQLite format 2\x00"))},
	} {
		for _, ck := range []struct {
			name string
			c    Checker
		}{{"child", SelfChecker()}, {"in-process", Checker{}}} {
			t.Run(c.name+"/"+ck.name, func(t *testing.T) {
				path := mkDB(t, c.damage)
				if c.after != nil {
					c.after(t, path)
				}
				err := checkStagedDB(context.Background(), ck.c, path)
				full := pragma(t, path, "PRAGMA integrity_check(3)")
				if c.want == "" {
					if err != nil || full != "ok" {
						t.Fatalf("checkStagedDB: %v; integrity_check: %q", err, full)
					}
					return
				}
				if !errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("checkStagedDB: %v, want ErrCheckFailed with %q (integrity_check says %q)", err, c.want, full)
				}
				if full == "ok" {
					t.Fatalf("the reference integrity_check passed the damage")
				}
				if quick := pragma(t, path, "PRAGMA quick_check"); c.quickPass && quick != "ok" {
					t.Fatalf("quick_check %q: the damage is not one only integrity_check finds", quick)
				}
			})
		}
	}
}

func TestCheckStagedDBCancelled(t *testing.T) {
	path := mkDB(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := checkStagedDB(ctx, SelfChecker(), path); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestLeaveCoreForChecker: one core fewer while any restore checks, and
// back as it was when the last one is done, whatever the order.
func TestLeaveCoreForChecker(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	a := leaveCoreForChecker()
	b := leaveCoreForChecker()
	if n := runtime.GOMAXPROCS(0); n != 3 {
		t.Fatalf("two restores checking: GOMAXPROCS %d, want 3", n)
	}
	a()
	a()
	if n := runtime.GOMAXPROCS(0); n != 3 {
		t.Fatalf("one restore still checking: GOMAXPROCS %d, want 3", n)
	}
	b()
	if n := runtime.GOMAXPROCS(0); n != 4 {
		t.Fatalf("none checking: GOMAXPROCS %d, want 4", n)
	}
	runtime.GOMAXPROCS(1)
	leaveCoreForChecker()()
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("one core: GOMAXPROCS %d, want 1", n)
	}
}
