package shell

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/redact"
	"github.com/drbook/drbook/steps/salvage"
	"github.com/drbook/drbook/steps/table"
)

// DefaultRowCap is how many rows of a result are shown and recorded unless
// the block sets rows=N.
const DefaultRowCap = 100

// MaxCell is the widest a table cell is shown; longer values are cut.
const MaxCell = table.MaxCell

// ErrReadOnly is the cause when a read-only block tries to change data.
var ErrReadOnly = errors.New("the block is read-only")

// ErrUnsupportedDot is returned for a sqlite shell dot-command drbook has
// no equivalent for. Such a block does not run at all.
var ErrUnsupportedDot = errors.New("dot-command not supported by drbook")

// SQLOutput is what a SQL block's run records.
type SQLOutput struct {
	Database   string            `json:"database"`
	Write      bool              `json:"write"`
	RowCap     int               `json:"row_cap"`
	Statements []StatementResult `json:"statements"`
}

// StatementResult is one statement's or dot-command's outcome.
type StatementResult struct {
	Line         int        `json:"line"`
	SQL          string     `json:"sql"`
	Columns      []string   `json:"columns,omitempty"`
	Rows         [][]string `json:"rows,omitempty"` // at most the row cap
	RowCount     int        `json:"row_count"`      // every row the statement returned
	Capped       bool       `json:"capped,omitempty"`
	RowsAffected int64      `json:"rows_affected,omitempty"`
	Note         string     `json:"note,omitempty"`
	Error        string     `json:"error,omitempty"`
}

// SQL is the action that runs SQL blocks against the system database.
type SQL struct{}

// Spec implements steps.Action.
func (SQL) Spec() steps.Spec {
	return sqlSpec
}

// dotKind says what drbook does with a sqlite shell dot-command.
type dotKind int

const (
	dotUnsupported dotKind = iota
	dotDisplay             // a display setting: drbook always renders a table
	dotQuery               // answered by a query (.tables, .schema)
	dotBackup
	dotRestore
	dotRecover
)

var dotCommands = map[string]dotKind{
	".backup": dotBackup, ".save": dotBackup,
	".restore": dotRestore,
	".recover": dotRecover,
	".tables":  dotQuery, ".schema": dotQuery, ".indexes": dotQuery, ".indices": dotQuery,
	".headers": dotDisplay, ".header": dotDisplay, ".mode": dotDisplay, ".timer": dotDisplay,
	".echo": dotDisplay, ".bail": dotDisplay, ".width": dotDisplay, ".nullvalue": dotDisplay,
	".changes": dotDisplay,
}

// Run implements steps.Action. Every statement runs in order and the block
// stops at the first error. A read-only block opens the database read-only
// and with query_only set, so it cannot change anything; a write=true block
// needs confirmation and runs each stretch of statements in a transaction,
// rolled back on error or in a dry run.
func (a SQL) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	b := req.Block
	if b == nil {
		return failedResult("sql", errors.New("no block to run"))
	}
	if r, ok := drillShortcut(req); ok {
		return r, nil
	}
	if req.Env.Drill && !IsSandbox(req.Env.Root) {
		return failedResult("sql", &Error{Err: fmt.Errorf("%w: %s", ErrLiveRootInDrill, req.Env.Root), Advice: "drills run in a sandbox made by 'drbook demo' or 'drbook drill'"})
	}
	code, err := ExpandSQL(b.Code, req.Env.Vars)
	if err != nil {
		return failedResult("sql", err)
	}
	segs, err := splitSQL(code)
	if err != nil {
		return failedResult("sql", err)
	}
	rowCap := DefaultRowCap
	if v := firstNonEmpty(b.Attrs.Raw["rows"], req.Params["rows"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return failedResult("sql", fmt.Errorf("rows=%s: want a positive number", v))
		}
		rowCap = n
	}
	write := b.Attrs.Write
	// Check every dot-command before anything runs: an unsupported one stops
	// the whole block, and .restore replaces the database, so it needs the
	// same confirmation as a write.
	needsConfirm := write || b.Attrs.Confirm
	for _, s := range segs {
		if !s.dot {
			continue
		}
		name := strings.Fields(s.text)[0]
		kind, ok := dotCommands[strings.ToLower(name)]
		switch {
		case !ok || kind == dotUnsupported:
			return failedResult("sql", &Error{Err: fmt.Errorf("line %d: %s: %w", s.line, name, ErrUnsupportedDot),
				Advice: "supported: .backup FILE, .restore FILE, .recover [FILE], .tables, .schema; run others in a shell block"})
		case kind == dotRestore:
			needsConfirm = true
		}
	}
	if needsConfirm && !req.Confirmed {
		return steps.Result{Status: steps.StatusFailed, Summary: "sql: block changes data (write=true or .restore) and needs confirmation"},
			fmt.Errorf("sql: %w", steps.ErrNotConfirmed)
	}
	dbPath := req.Env.DBPath()
	if _, err := os.Stat(dbPath); err != nil {
		return failedResult("sql", &Error{Err: fmt.Errorf("database %s: %w", dbPath, err), Advice: "restore it first, or check --root"})
	}

	timeout := b.Attrs.Timeout
	if timeout == 0 {
		timeout = a.Spec().Timeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	r := &sqlRun{req: req, red: req.Env.Redactor(), emit: emit, out: SQLOutput{Database: dbPath, Write: write, RowCap: rowCap}}
	mode := "read-only"
	if write {
		mode = "read-write"
		if req.DryRun {
			mode = "read-write, dry run: rolled back"
		}
	}
	r.info(fmt.Sprintf("database %s (%s)", dbPath, mode))
	runErr := r.run(ctx, segs)
	res := steps.Result{Data: r.out}
	switch {
	case runErr != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Status, res.Summary = steps.StatusFailed, "sql: timed out; "+runErr.Error()
	case runErr != nil && ctx.Err() != nil:
		res.Status, res.Summary = steps.StatusFailed, "sql: canceled"
		return res, fmt.Errorf("sql: %w", ctx.Err())
	case runErr != nil:
		res.Status, res.Summary = steps.StatusFailed, "sql: "+runErr.Error()
		if errors.Is(runErr, steps.ErrNotImplemented) || errors.Is(runErr, steps.ErrNotConfirmed) {
			return res, fmt.Errorf("sql: %w", runErr)
		}
	case r.bad != "":
		res.Status, res.Summary = steps.StatusFailed, "sql: "+r.bad
	default:
		res.Status = steps.StatusOK
		rows := 0
		for _, s := range r.out.Statements {
			rows += s.RowCount
		}
		res.Summary = fmt.Sprintf("sql: %s ran, %s returned", count(len(r.out.Statements), "statement"), count(rows, "row"))
		if write && req.DryRun {
			res.Status = steps.StatusSimulated
			res.Summary += " (dry run: every change rolled back)"
		}
	}
	return res, nil
}

type sqlRun struct {
	req  steps.Request
	red  *redact.Redactor
	emit steps.Emit
	out  SQLOutput
	bad  string // a check statement (integrity_check) that did not say ok
}

func (r *sqlRun) info(line string) {
	r.emit(steps.Event{Time: r.req.Env.Clock(), Stream: steps.Info, Line: line})
}

func (r *sqlRun) print(line string) {
	r.emit(steps.Event{Time: r.req.Env.Clock(), Stream: steps.Stdout, Line: r.red.String(line)})
}

// run executes the segments in order: consecutive statements share one
// connection (and, when writing, one transaction); a dot-command closes it,
// since .restore replaces the file underneath.
func (r *sqlRun) run(ctx context.Context, segs []segment) error {
	for i := 0; i < len(segs); {
		if segs[i].dot {
			if err := r.dot(ctx, segs[i]); err != nil {
				return err
			}
			i++
			continue
		}
		j := i
		for j < len(segs) && !segs[j].dot {
			j++
		}
		if err := r.statements(ctx, segs[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// openDB opens the system database: read-only with query_only unless the
// block writes; never creating a missing file.
func openDB(path string, write bool) (*sql.DB, error) {
	if write {
		return steps.OpenDB(path, steps.ReadWrite)
	}
	return steps.OpenDB(path, steps.ReadOnly)
}

func (r *sqlRun) statements(ctx context.Context, segs []segment) error {
	write := r.out.Write
	db, err := openDB(r.out.Database, write)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer conn.Close()
	if write {
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
	}
	for _, s := range segs {
		if err := r.statement(ctx, conn, s); err != nil {
			if write {
				_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
				r.info("rolled back: nothing in this block was changed")
			}
			return err
		}
	}
	if write {
		end := "COMMIT"
		if r.req.DryRun {
			end = "ROLLBACK"
		}
		if _, err := conn.ExecContext(ctx, end); err != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			return fmt.Errorf("%s: %w", strings.ToLower(end), err)
		}
	}
	return nil
}

func (r *sqlRun) statement(ctx context.Context, conn *sql.Conn, s segment) error {
	shown := r.red.String(s.text)
	res := StatementResult{Line: s.line, SQL: shown}
	r.info(fmt.Sprintf("line %d: %s", s.line, oneLine(shown)))
	err := r.query(ctx, conn, s.text, &res)
	if err != nil {
		err = explainSQLError(err, r.out.Write)
		res.Error = r.red.String(hint.Message(err))
		r.out.Statements = append(r.out.Statements, res)
		r.print("Error: " + res.Error)
		return fmt.Errorf("line %d: %w", s.line, err)
	}
	r.out.Statements = append(r.out.Statements, res)
	if isCheckPragma(s.text) && !(res.RowCount == 1 && len(res.Rows) == 1 && len(res.Rows[0]) == 1 && res.Rows[0][0] == "ok") && r.bad == "" {
		r.bad = fmt.Sprintf("line %d: %s did not report ok", s.line, oneLine(s.text))
	}
	return nil
}

// query runs one statement, rendering and recording up to the row cap.
func (r *sqlRun) query(ctx context.Context, conn *sql.Conn, text string, res *StatementResult) error {
	rows, err := conn.QueryContext(ctx, text)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	res.Columns = cols
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		res.RowCount++
		if res.RowCount > r.out.RowCap {
			res.Capped = true
			continue
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = r.red.String(cellString(v))
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if len(cols) == 0 {
		if r.out.Write {
			var n int64
			if err := conn.QueryRowContext(ctx, "SELECT changes()").Scan(&n); err == nil {
				res.RowsAffected = n
				r.print("(" + count(int(n), "row") + " changed)")
			}
		}
		return nil
	}
	for _, l := range RenderTable(cols, res.Rows) {
		r.print(l)
	}
	switch {
	case res.Capped:
		res.Note = fmt.Sprintf("showing %d of %d rows (row cap %d; set rows=N on the block for more)", len(res.Rows), res.RowCount, r.out.RowCap)
		r.print(res.Note)
	default:
		r.print("(" + count(res.RowCount, "row") + ")")
	}
	return nil
}

func cellString(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// RenderTable lays rows out as a plain-text table (see table.Render).
func RenderTable(cols []string, rows [][]string) []string { return table.Render(cols, rows) }

var sqliteCode = regexp.MustCompile(` \(\d+\)$`)

// explainSQLError drops the driver's noise ("SQL logic error: ... (1)")
// and names the read-only refusal plainly.
func explainSQLError(err error, write bool) error {
	msg := sqliteCode.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "SQL logic error: ")
	err = errors.New(msg)
	if !write && (strings.Contains(msg, "readonly") || strings.Contains(msg, "read-only") || strings.Contains(msg, "query_only")) {
		return &Error{Err: fmt.Errorf("%w: %s", ErrReadOnly, msg), Advice: "a block that changes data needs write=true and confirmation"}
	}
	return err
}

func isCheckPragma(s string) bool {
	t := strings.ToLower(strings.Join(strings.Fields(strings.TrimSuffix(s, ";")), " "))
	return strings.HasPrefix(t, "pragma integrity_check") || strings.HasPrefix(t, "pragma quick_check") ||
		strings.HasPrefix(t, "pragma main.integrity_check") || strings.HasPrefix(t, "pragma main.quick_check")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// dot carries out one dot-command (already checked to be supported).
func (r *sqlRun) dot(ctx context.Context, s segment) error {
	f := strings.Fields(s.text)
	name := strings.ToLower(f[0])
	args := f[1:]
	res := StatementResult{Line: s.line, SQL: r.red.String(s.text)}
	r.info(fmt.Sprintf("line %d: %s", s.line, res.SQL))
	var err error
	switch dotCommands[name] {
	case dotDisplay:
		res.Note = name + " is a display setting of the sqlite3 shell; drbook always shows results as a table, so it has no effect"
		r.info(res.Note)
	case dotQuery:
		q := dotQuerySQL(name, args)
		err = r.statements(ctx, []segment{{text: q, line: s.line}})
		if err == nil {
			// statements recorded the query; label it with the dot-command.
			last := &r.out.Statements[len(r.out.Statements)-1]
			last.SQL = s.text
			return nil
		}
		return err
	case dotBackup:
		err = r.backup(ctx, args, &res)
	case dotRestore:
		err = r.restore(ctx, args, &res)
	case dotRecover:
		err = r.recover(ctx, args, &res)
	}
	if err != nil {
		res.Error = hint.Message(err)
		r.print("Error: " + res.Error)
		err = fmt.Errorf("line %d: %s: %w", s.line, name, err)
	}
	r.out.Statements = append(r.out.Statements, res)
	return err
}

func dotQuerySQL(name string, args []string) string {
	like := "%"
	if len(args) > 0 {
		like = strings.ReplaceAll(args[0], "'", "''")
	}
	switch name {
	case ".tables":
		return fmt.Sprintf("SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%%' AND name LIKE '%s' ORDER BY name", like)
	case ".indexes", ".indices":
		return fmt.Sprintf("SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index' AND tbl_name LIKE '%s' ORDER BY name", like)
	default: // .schema
		return fmt.Sprintf("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name LIKE '%s' ORDER BY tbl_name, type DESC, name", like)
	}
}

// resolvePath makes a dot-command's file relative to the system root.
func (r *sqlRun) resolvePath(p string) string {
	p = strings.Trim(p, `'"`)
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(r.req.Env.Root, p)
}

// backup copies the database with sqlite's online backup API into a new
// file, as the sqlite3 shell's .backup does. It never overwrites a file.
func (r *sqlRun) backup(ctx context.Context, args []string, res *StatementResult) error {
	if len(args) == 2 && args[0] != "main" {
		return fmt.Errorf("only the main database can be backed up, not %q", args[0])
	}
	if len(args) == 0 || len(args) > 2 {
		return errors.New("usage: .backup [main] FILE")
	}
	dst := r.resolvePath(args[len(args)-1])
	if r.req.Env.Drill && !within(r.req.Env.Root, dst) {
		return &Error{Err: fmt.Errorf("drill: %s is outside the sandbox", dst), Advice: "back up to a path inside the root"}
	}
	if _, err := os.Stat(dst); err == nil {
		return &Error{Err: fmt.Errorf("%s already exists", dst), Advice: "drbook never overwrites a file; choose a new name"}
	}
	if r.req.DryRun {
		res.Note = "dry run: would back up the database to " + dst
		r.info(res.Note)
		return nil
	}
	if err := BackupDB(ctx, r.out.Database, dst); err != nil {
		return err
	}
	res.Note = "backed up to " + dst
	r.print(res.Note)
	return nil
}

// BackupDB copies the SQLite database at src into the new file dst with
// the online backup API, through a temporary file renamed into place, so
// dst is either complete or absent.
func BackupDB(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	db, err := openDB(src, false)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		bc, ok := dc.(interface {
			NewBackup(string) (*sqlite.Backup, error)
		})
		if !ok {
			return errors.New("driver has no backup API")
		}
		bk, err := bc.NewBackup(tmpName)
		if err != nil {
			return err
		}
		for {
			more, err := bk.Step(256)
			if err != nil {
				bk.Finish()
				return err
			}
			if !more {
				break
			}
			if ctx.Err() != nil {
				bk.Finish()
				return ctx.Err()
			}
		}
		return bk.Finish()
	})
	if err != nil {
		return fmt.Errorf("backup %s: %w", src, err)
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup: %s appeared meanwhile; not overwritten", dst)
	}
	if err := os.Rename(tmpName, dst); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// recover salvages the database into a new file with salvage.Recover (the
// sqlite3 shell's .recover prints SQL for another sqlite3 to load; drbook
// writes the loaded file directly). The database itself is never written.
// The file defaults to data/quantai_recovered.db, as in the plan, or a
// timestamped name beside it when that exists.
func (r *sqlRun) recover(ctx context.Context, args []string, res *StatementResult) error {
	if len(args) > 1 {
		return errors.New("usage: .recover [FILE]")
	}
	var dst string
	if len(args) == 1 {
		dst = r.resolvePath(args[0])
	} else {
		dst = filepath.Join(r.req.Env.Root, "data", "quantai_recovered.db")
		if _, err := os.Lstat(dst); err == nil {
			dst = filepath.Join(r.req.Env.Root, "data", "quantai_recovered-"+r.req.Env.Clock().UTC().Format("20060102T150405Z")+".db")
		}
	}
	if r.req.Env.Drill && !within(r.req.Env.Root, dst) {
		return &Error{Err: fmt.Errorf("drill: %s is outside the sandbox", dst), Advice: "recover into a path inside the root"}
	}
	if r.req.DryRun {
		res.Note = "dry run: would salvage the database into " + dst
		r.info(res.Note)
		return nil
	}
	r.info("salvaging " + r.out.Database + " into " + dst + " (the original is not changed)")
	rep, err := salvage.Recover(ctx, r.out.Database, dst, salvage.RecoverOptions{})
	if err != nil {
		return err
	}
	var lost int64
	for _, n := range rep.Lost {
		lost += n
	}
	res.Note = fmt.Sprintf("salvaged into %s by %s: %d tables, %d rows known lost, %d tables unreadable; integrity_check: %s",
		dst, rep.Method, len(rep.Tables), lost, len(rep.Unreadable), rep.Integrity)
	r.print(res.Note)
	for _, d := range rep.Diagnostics {
		r.info(d)
	}
	return nil
}

// restore hands .restore FILE to the restore action, which keeps the
// current database aside.
func (r *sqlRun) restore(ctx context.Context, args []string, res *StatementResult) error {
	if len(args) == 2 && args[0] != "main" {
		return fmt.Errorf("only the main database can be restored, not %q", args[0])
	}
	if len(args) == 0 || len(args) > 2 {
		return errors.New("usage: .restore [main] FILE")
	}
	from := strings.Trim(args[len(args)-1], `'"`)
	a, ok := steps.Lookup("restore")
	if !ok {
		return fmt.Errorf("restore: %w", steps.ErrNotImplemented)
	}
	sub := r.req
	sub.Block = nil
	sub.Params = map[string]string{"from": from, "only": "db"}
	r.info("running the restore action: from " + from + ", only db")
	out, err := a.Run(ctx, sub, r.emit)
	res.Note = out.Summary
	if err != nil {
		return err
	}
	if out.Status != steps.StatusOK && out.Status != steps.StatusSimulated {
		return fmt.Errorf("restore %s: %s", out.Status, out.Summary)
	}
	return nil
}

func within(root, p string) bool {
	ar, err1 := filepath.Abs(root)
	ap, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(ar, ap)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

var sqlVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandSQL substitutes the runbook's variables written ${NAME} (or
// ${NAME:-default}) into a SQL block. The bare $NAME form is left alone:
// in SQLite it is a bind parameter. An unset variable without a default is
// an error naming its line, and nothing runs.
func ExpandSQL(code string, vars map[string]string) (string, error) {
	var missing []string
	out := sqlVar.ReplaceAllStringFunc(code, func(m string) string {
		sub := sqlVar.FindStringSubmatch(m)
		if v, ok := vars[sub[1]]; ok && v != "" {
			return v
		}
		if sub[2] != "" {
			return sub[3]
		}
		missing = append(missing, sub[1])
		return m
	})
	if len(missing) > 0 {
		name := missing[0]
		line := 1 + strings.Count(code[:strings.Index(code, "${"+name)], "\n")
		return "", &Error{Err: fmt.Errorf("line %d: ${%s} is not set", line, name), Advice: "give the runbook variable a value when declaring the incident"}
	}
	return out, nil
}

// count says "1 row" or "2 rows".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
