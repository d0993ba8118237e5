// Package salvage rescues what can be read from a damaged SQLite database
// into a new file (the plan's section 3.1): the sqlite3 CLI's .recover when
// it is installed, a table-by-table copy otherwise. The SQL runner's
// .recover command and 'drbook recover' share it.
package salvage

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
)

// RecoverReport says how a salvage went.
type RecoverReport struct {
	Method      string           `json:"method"` // "sqlite3 .recover" or "table-by-table copy"
	Output      string           `json:"output"`
	Tables      map[string]int64 `json:"tables"`                // rows in the new file
	Lost        map[string]int64 `json:"lost,omitempty"`        // rows known unreadable, by table
	Unreadable  []string         `json:"unreadable,omitempty"`  // tables that could not be read at all
	Integrity   string           `json:"integrity"`             // integrity_check of the new file
	Diagnostics []string         `json:"diagnostics,omitempty"` // messages from the salvage
}

// RecoverOptions tunes Recover.
type RecoverOptions struct {
	// Builtin skips the sqlite3 CLI even when it is installed.
	Builtin bool
}

// Recover salvages what it can of a corrupt database at src into a new
// file dst, which must not exist: with the sqlite3 CLI's .recover when it
// is installed (the plan's section 3.1), otherwise by copying table by
// table and skipping unreadable rows. src is never written.
func Recover(ctx context.Context, src, dst string, o RecoverOptions) (*RecoverReport, error) {
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Err: fmt.Errorf("recover: %s already exists", dst), Advice: "the salvage always writes a new file; name one that does not exist"}
	}
	rep := &RecoverReport{Output: dst, Tables: map[string]int64{}, Lost: map[string]int64{}}
	var err error
	if bin, lerr := exec.LookPath("sqlite3"); lerr == nil && !o.Builtin {
		rep.Method = "sqlite3 .recover"
		err = recoverCLI(ctx, bin, src, dst, rep)
		if err != nil {
			// Some builds of the CLI cannot run .recover; say so and
			// fall back rather than leave the operator with nothing.
			os.Remove(dst)
			rep.Diagnostics = append(rep.Diagnostics[:0], fmt.Sprintf("%s .recover failed (%v); fell back to a table-by-table copy", bin, err))
			rep.Method = "table-by-table copy"
			err = recoverCopy(ctx, src, dst, rep)
		}
	} else {
		rep.Method = "table-by-table copy"
		err = recoverCopy(ctx, src, dst, rep)
	}
	if err != nil {
		os.Remove(dst)
		return nil, fmt.Errorf("recover (%s): %w", rep.Method, err)
	}
	db, err := steps.OpenDB(dst, steps.ReadWrite)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rep.Integrity, err = Integrity(ctx, db, true)
	if err != nil {
		return nil, err
	}
	names, _ := tableNames(ctx, db)
	for _, t := range names {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(t, `"`, `""`)+`"`).Scan(&n); err == nil {
			rep.Tables[t] = n
		}
	}
	return rep, nil
}

func recoverCLI(ctx context.Context, bin, src, dst string, rep *RecoverReport) error {
	// .recover needs a writable connection; give it a copy so the
	// corrupt original is never written.
	work, err := os.MkdirTemp(filepath.Dir(dst), ".drbook-recover-")
	if err != nil {
		return diskErr("recover", err)
	}
	defer os.RemoveAll(work)
	cp := filepath.Join(work, "src.db")
	if err := CopyFile(src, cp); err != nil {
		return diskErr("copy "+src, err)
	}
	if exists(src + "-wal") {
		if err := CopyFile(src+"-wal", cp+"-wal"); err != nil {
			return diskErr("copy "+src+"-wal", err)
		}
	}
	dump := exec.CommandContext(ctx, bin, cp, ".recover")
	load := exec.CommandContext(ctx, bin, dst)
	pipe, err := dump.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var derr, lerr bytes.Buffer
	dump.Stderr, load.Stderr = &derr, &lerr
	if err := load.Start(); err != nil {
		return err
	}
	if err := dump.Start(); err != nil {
		load.Process.Kill()
		load.Wait()
		return err
	}
	e1 := dump.Wait()
	e2 := load.Wait()
	for _, s := range []string{derr.String(), lerr.String()} {
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			if l != "" {
				rep.Diagnostics = append(rep.Diagnostics, l)
			}
		}
	}
	if e1 != nil {
		return fmt.Errorf("sqlite3 .recover: %v: %s", e1, strings.TrimSpace(derr.String()))
	}
	if e2 != nil && !exists(dst) {
		return fmt.Errorf("sqlite3 load: %v: %s", e2, strings.TrimSpace(lerr.String()))
	}
	return nil
}

func tableNames(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		out = append(out, n)
	}
	return out, rows.Err()
}

// recoverCopy copies schema and rows through the driver, skipping what it
// cannot read. Rows are read in rowid chunks; a chunk that fails is
// retried row by row so one bad page costs only its own rows.
func recoverCopy(ctx context.Context, src, dst string, rep *RecoverReport) error {
	in, err := steps.OpenDB(src, steps.Immutable)
	if err != nil {
		return err
	}
	defer in.Close()
	type obj struct{ typ, name, sql string }
	rows, err := in.QueryContext(ctx, "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'")
	if err != nil {
		return fmt.Errorf("read the schema: %w", err)
	}
	var objs []obj
	for rows.Next() {
		var o obj
		if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
			rows.Close()
			return fmt.Errorf("read the schema: %w", err)
		}
		objs = append(objs, o)
	}
	if err := rows.Err(); err != nil {
		rep.Diagnostics = append(rep.Diagnostics, "schema partly unreadable: "+err.Error())
	}
	rows.Close()
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].typ == "table" && objs[j].typ != "table" })

	out, err := steps.OpenDB(dst, steps.Create)
	if err != nil {
		return err
	}
	defer out.Close()
	out.SetMaxOpenConns(1)
	for _, o := range objs {
		if o.typ != "table" {
			continue
		}
		if _, err := out.ExecContext(ctx, o.sql); err != nil {
			rep.Diagnostics = append(rep.Diagnostics, fmt.Sprintf("create %s: %v", o.name, err))
		}
	}
	for _, o := range objs {
		if o.typ != "table" {
			continue
		}
		if err := copyTable(ctx, in, out, o.name, rep); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.typ == "table" {
			continue
		}
		if _, err := out.ExecContext(ctx, o.sql); err != nil {
			rep.Diagnostics = append(rep.Diagnostics, fmt.Sprintf("create %s %s: %v", o.typ, o.name, err))
		}
	}
	return nil
}

func copyTable(ctx context.Context, in, out *sql.DB, table string, rep *RecoverReport) error {
	q := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
	var maxID sql.NullInt64
	if err := in.QueryRowContext(ctx, "SELECT max(rowid) FROM "+q).Scan(&maxID); err != nil {
		rep.Unreadable = append(rep.Unreadable, table)
		rep.Diagnostics = append(rep.Diagnostics, fmt.Sprintf("%s: %v", table, err))
		return nil
	}
	cols, err := columns(ctx, in, q)
	if err != nil {
		rep.Unreadable = append(rep.Unreadable, table)
		return nil
	}
	ins := "INSERT OR IGNORE INTO " + q + " (rowid," + strings.Join(cols, ",") + ") VALUES (?" + strings.Repeat(",?", len(cols)) + ")"
	tx, err := out.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, ins)
	if err != nil {
		rep.Diagnostics = append(rep.Diagnostics, fmt.Sprintf("%s: %v", table, err))
		return nil
	}
	sel := "SELECT rowid," + strings.Join(cols, ",") + " FROM " + q
	const chunk = 1000
	for lo := int64(-1 << 62); ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		vals, last, n, err := readRows(ctx, in, sel+" WHERE rowid > ? ORDER BY rowid LIMIT ?", len(cols)+1, lo, chunk)
		for _, v := range vals {
			if _, err := stmt.ExecContext(ctx, v...); err != nil {
				return err
			}
		}
		if err == nil {
			if n < chunk {
				break
			}
			lo = last
			continue
		}
		// A bad page: probe the ids after the last good one one by one.
		start := lo + 1
		if len(vals) > 0 {
			start = last + 1
		}
		if start < 0 {
			start = 0
		}
		for id := start; id < start+chunk; id++ {
			v, _, _, err := readRows(ctx, in, sel+" WHERE rowid = ? LIMIT ?", len(cols)+1, id, 1)
			if err != nil {
				rep.Lost[table]++
				continue
			}
			for _, r := range v {
				stmt.ExecContext(ctx, r...)
			}
		}
		lo = start + chunk - 1
		if maxID.Valid && lo >= maxID.Int64 {
			break
		}
	}
	return tx.Commit()
}

func columns(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+q+" LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	for i, c := range cols {
		cols[i] = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
	}
	return cols, err
}

func readRows(ctx context.Context, db *sql.DB, q string, ncol int, arg int64, limit int) (out [][]any, last int64, n int, err error) {
	rows, err := db.QueryContext(ctx, q, arg, limit)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		v := make([]any, ncol)
		p := make([]any, ncol)
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			return out, last, n, err
		}
		last, _ = v[0].(int64)
		out = append(out, v)
		n++
	}
	return out, last, n, rows.Err()
}

// ErrDiskFull means a write failed because the filesystem is full.
var ErrDiskFull = errors.New("disk full")

// Error is a problem the operator can fix, with advice saying how.
type Error struct {
	Err    error
	Advice string // what to do next; may be empty
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Hint returns the advice; it makes *Error a hint.Hinter.
func (e *Error) Hint() string { return e.Advice }

var _ hint.Hinter = (*Error)(nil)

// diskErr turns ENOSPC and EDQUOT into ErrDiskFull with a hint.
func diskErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrDiskFull) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || strings.Contains(err.Error(), "database or disk is full") {
		return &Error{Err: fmt.Errorf("%s: %w: %v", what, ErrDiskFull, err),
			Advice: "free space on that filesystem or choose another directory; nothing was changed"}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// CopyFile copies src to a new file dst (mode 0600; an existing dst is an
// error) and syncs it before closing.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func Integrity(ctx context.Context, db *sql.DB, full bool) (string, error) {
	q := "PRAGMA quick_check(20)"
	if full {
		q = "PRAGMA integrity_check(20)"
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		if ce := ctx.Err(); ce != nil {
			return "", ce
		}
		return strings.TrimSpace(err.Error()), nil
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		if ce := ctx.Err(); ce != nil {
			return "", ce
		}
		lines = append(lines, err.Error())
	}
	return strings.Join(lines, "\n"), nil
}
