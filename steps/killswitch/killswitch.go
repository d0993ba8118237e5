// Package killswitch halts all automated trading and releases the halt.
//
// Engaging writes the flag file data/KILL_SWITCH first (trading processes
// poll it, and it works when the database does not), then sets
// trading_halted in the database's control table and cancels open and
// pending orders in the same transaction, appending one audit_trail row per
// order, and finally asks the configured brokers to cancel their open
// orders. A failure of any later part is reported and never undoes the
// parts that worked. Engaging is idempotent.
package killswitch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/proc"
	"github.com/drbook/drbook/steps/redact"
	"github.com/drbook/drbook/steps/system"
)

// FlagFile is the kill switch's flag file, relative to the system root. Its
// existence halts trading; its content says who, when and why.
const FlagFile = "data/KILL_SWITCH"

// ControlKey is the control table's halt flag.
const ControlKey = "trading_halted"

// TimeLayout is the fixed-width time format of the database's time
// columns, so that string order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// Errors callers test for.
var (
	// ErrNoReason: releasing needs a reason.
	ErrNoReason = errors.New("a reason is required")
	// ErrNotHalted: neither the flag file nor the database could be set, so
	// trading is NOT halted.
	ErrNotHalted = errors.New("trading is NOT halted")
	// ErrReleaseRefused: the database could not record the release, so the
	// halt stays.
	ErrReleaseRefused = errors.New("release refused; trading stays halted")
)

// Options are what every kill switch operation needs.
type Options struct {
	Root       string
	Operator   string
	Reason     string
	IncidentID string
	// Brokers to ask to cancel their open orders: "alpaca", "ibkr".
	Brokers []string
	// Vars are looked up before the environment and .env for broker
	// settings (see the Key constants).
	Vars   map[string]string
	Getenv func(string) string
	// Drill: broker endpoints are only called when they are local
	// (loopback); anything else is reported as skipped.
	Drill  bool
	DryRun bool
	Now    func() time.Time
	// HTTPClient calls Alpaca; nil means a client with a 15 s timeout.
	HTTPClient *http.Client
	// Log receives progress lines as they happen; may be nil.
	Log func(string)
	// Secrets are further values to redact from everything the kill
	// switch prints, returns or writes (the flag file), besides the
	// secret values of the root's .env and the broker keys.
	Secrets []string

	red *redact.Redactor // set by Engage and Release
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

func (o *Options) log(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}

// Flag is the content of the flag file.
type Flag struct {
	Engaged         bool           `json:"engaged"`
	Who             string         `json:"who"`
	When            time.Time      `json:"when"`
	Why             string         `json:"why"`
	IncidentID      string         `json:"incident_id,omitempty"`
	OrdersCancelled int            `json:"orders_cancelled"`
	Brokers         []BrokerResult `json:"brokers,omitempty"`
	DBError         string         `json:"db_error,omitempty"`
	// Release fields are set in the archived copy kept after a release.
	ReleasedBy  string    `json:"released_by,omitempty"`
	ReleasedAt  time.Time `json:"released_at,omitzero"`
	ReleaseWhy  string    `json:"release_reason,omitempty"`
	LastEngaged time.Time `json:"last_engaged,omitzero"` // last (repeated) engage
}

// BrokerResult is one broker's answer to "cancel all open orders".
type BrokerResult struct {
	Broker    string    `json:"broker"`
	OK        bool      `json:"ok"`
	Skipped   bool      `json:"skipped,omitempty"`
	Detail    string    `json:"detail"`
	Cancelled int       `json:"cancelled,omitempty"` // orders the broker reported cancelled
	At        time.Time `json:"at"`
}

// DBState is the database's side of the kill switch.
type DBState struct {
	Halted     bool   `json:"halted"`
	UpdatedBy  string `json:"updated_by,omitempty"`
	UpdatedAt  string `json:"updated_at,omitempty"`
	OpenOrders int    `json:"open_orders"` // open or pending orders left
	Error      string `json:"error,omitempty"`
}

// State is the kill switch as found or left by an operation.
type State struct {
	Engaged bool    `json:"engaged"`
	Flag    *Flag   `json:"flag,omitempty"` // nil when there is no flag file
	DB      DBState `json:"db"`
	// Changed is what this operation did, one line each.
	Changed []string `json:"changed,omitempty"`
	// Cancelled lists the ids of the orders this operation cancelled.
	Cancelled []int64 `json:"cancelled,omitempty"`
	// Problems are what the operator must look at: a database that could
	// not be updated, a broker that failed, flag and database disagreeing.
	Problems []string `json:"problems,omitempty"`
	// Findings are the Problems that leave the halt whole: a damaged
	// database deliberately left untouched while the flag file holds the
	// halt. Each is also in Problems; the operator must still look, but
	// the kill switch did its job (see Outcome).
	Findings []string `json:"findings,omitempty"`
	// Released is set by Release: the archived flag file.
	Released string `json:"released,omitempty"`
}

// engage does Engage's work; Engage redacts what it returns.
func engage(ctx context.Context, o Options) (State, error) {
	now := o.now()
	cfg := newConfig(o.Root, o.Vars, o.Getenv)
	st := State{}
	flagPath := filepath.Join(o.Root, FlagFile)
	prev, perr := readFlag(flagPath)
	if perr != nil && !errors.Is(perr, os.ErrNotExist) {
		st.Problems = append(st.Problems, fmt.Sprintf("existing flag file unreadable (%v); rewritten", perr))
	}
	flag := Flag{Engaged: true, Who: o.Operator, When: now, Why: o.Reason, IncidentID: o.IncidentID}
	if prev != nil && prev.Engaged {
		flag = *prev
		flag.LastEngaged = now
		o.log("kill switch already engaged by %s since %s", prev.Who, prev.When.Format(time.RFC3339))
	}
	if flag.Why == "" {
		flag.Why = "emergency kill switch"
	}

	if o.DryRun {
		st.Changed = append(st.Changed, "dry run: would write "+FlagFile)
		damage := checkDatabase(ctx, o.Root)
		db := o.dbStatus(ctx, damage)
		st.DB = db
		if errors.Is(damage, ErrDatabaseDamaged) {
			st.Problems = append(st.Problems, damage.Error()+": would be left untouched; the flag file alone would halt trading")
		} else {
			st.Changed = append(st.Changed, fmt.Sprintf("dry run: would set %s=1 and cancel %d open or pending orders", ControlKey, db.OpenOrders))
		}
		for _, b := range o.Brokers {
			st.Changed = append(st.Changed, "dry run: would ask "+b+" to cancel all open orders")
		}
		st.Engaged = prev != nil || db.Halted
		return st, nil
	}

	// 1. The flag file: the halt that needs nothing else to work.
	flagErr := writeFlag(flagPath, flag, o.red)
	if flagErr != nil {
		st.Problems = append(st.Problems, "flag file not written: "+flagErr.Error())
		o.log("FAILED to write %s: %v", FlagFile, flagErr)
	} else if prev == nil || !prev.Engaged {
		st.Changed = append(st.Changed, "wrote "+FlagFile)
		o.log("wrote %s: trading processes polling it halt now", FlagFile)
	}

	// 2. The database: halt flag, cancelled orders, audit trail — only
	// into a database that passes the sanity check.
	var cancelled []int64
	var dbChanged bool
	damage := checkDatabase(ctx, o.Root)
	dbErr := damage
	if damage == nil {
		cancelled, dbChanged, dbErr = engageDB(ctx, o, now)
	}
	if errors.Is(damage, ErrDatabaseDamaged) {
		msg := "database not updated: " + damage.Error() + ": left untouched; the flag file alone halts trading; restore or salvage the database before releasing"
		st.Problems = append(st.Problems, msg)
		if flagErr == nil {
			st.Findings = append(st.Findings, msg)
		}
		flag.DBError = damage.Error()
		o.log("%s", msg)
	} else if dbErr != nil {
		msg := "database not updated: " + dbErr.Error()
		st.Problems = append(st.Problems, msg)
		flag.DBError = dbErr.Error()
		o.log("%s", msg)
	} else {
		flag.DBError = ""
		flag.OrdersCancelled += len(cancelled)
		st.Cancelled = cancelled
		if dbChanged {
			st.Changed = append(st.Changed, "set "+ControlKey+"=1 in the control table")
		}
		if len(cancelled) > 0 {
			st.Changed = append(st.Changed, fmt.Sprintf("cancelled %d open or pending orders (one audit_trail row each)", len(cancelled)))
		}
		o.log("database: %s=1, %d orders cancelled", ControlKey, len(cancelled))
	}
	if flagErr != nil && dbErr != nil {
		st.DB = o.dbStatus(ctx, damage)
		return st, fmt.Errorf("kill switch: %w: flag file: %v; database: %v", ErrNotHalted, flagErr, dbErr)
	}

	// 3. The brokers. A failure here never undoes the local halt.
	for _, b := range o.Brokers {
		r := cancelAtBroker(ctx, o, cfg, b)
		flag.Brokers = append(flag.Brokers, r)
		switch {
		case r.Skipped:
			st.Problems = append(st.Problems, fmt.Sprintf("%s: not called: %s", r.Broker, r.Detail))
		case !r.OK:
			st.Problems = append(st.Problems, fmt.Sprintf("%s: cancel failed: %s", r.Broker, r.Detail))
		default:
			st.Changed = append(st.Changed, fmt.Sprintf("%s: %s", r.Broker, r.Detail))
		}
		o.log("%s: %s", r.Broker, r.Detail)
	}

	if flagErr == nil {
		if err := writeFlag(flagPath, flag, o.red); err != nil {
			st.Problems = append(st.Problems, "flag file not updated with the results: "+err.Error())
		}
		st.Flag = &flag
	}
	st.DB = o.dbStatus(ctx, damage)
	st.Engaged = true
	return st, nil
}

// release does Release's work; Release redacts what it returns.
func release(ctx context.Context, o Options) (State, error) {
	if strings.TrimSpace(o.Reason) == "" {
		return State{}, fmt.Errorf("release: %w", ErrNoReason)
	}
	now := o.now()
	st, err := Status(ctx, o.Root)
	if err != nil {
		return st, err
	}
	if !st.Engaged {
		st.Changed = append(st.Changed, "not engaged: nothing to release")
		return st, nil
	}
	if o.DryRun {
		st.Changed = append(st.Changed, "dry run: would set "+ControlKey+"=0 and archive "+FlagFile)
		return st, nil
	}
	if err := checkDatabase(ctx, o.Root); err != nil {
		st.Problems = append(st.Problems, err.Error()+": left untouched")
		return st, fmt.Errorf("kill switch: %w: %v (restore or salvage the database first)", ErrReleaseRefused, err)
	}
	if err := releaseDB(ctx, o, now); err != nil {
		st.Problems = append(st.Problems, "database not updated: "+err.Error())
		return st, fmt.Errorf("kill switch: %w: database: %v", ErrReleaseRefused, err)
	}
	st.Changed = append(st.Changed, "set "+ControlKey+"=0 in the control table")
	flagPath := filepath.Join(o.Root, FlagFile)
	if _, err := os.Stat(flagPath); err == nil {
		f, _ := readFlag(flagPath)
		if f == nil {
			f = &Flag{}
		}
		f.Engaged = false
		f.ReleasedBy, f.ReleasedAt, f.ReleaseWhy = o.Operator, now, o.Reason
		archive := flagPath + ".released-" + now.Format("20060102T150405Z")
		if err := writeFlag(archive, *f, o.red); err != nil {
			return st, fmt.Errorf("kill switch: keep %s: %w (flag file left in place; trading stays halted for processes polling it)", archive, err)
		}
		if err := os.Remove(flagPath); err != nil {
			return st, fmt.Errorf("kill switch: remove %s: %w (trading stays halted for processes polling it)", FlagFile, err)
		}
		st.Released = archive
		st.Changed = append(st.Changed, "archived "+FlagFile+" as "+filepath.Base(archive))
	}
	o.log("kill switch released by %s: %s", o.Operator, o.Reason)
	after, err := Status(ctx, o.Root)
	after.Changed, after.Released = st.Changed, st.Released
	after.Problems = append(after.Problems, st.Problems...)
	return after, err
}

// status does Status's work; Status redacts what it returns.
func status(ctx context.Context, root string) (State, error) {
	st := State{}
	flagPath := filepath.Join(root, FlagFile)
	f, err := readFlag(flagPath)
	switch {
	case err == nil:
		st.Flag = f
	case errors.Is(err, os.ErrNotExist):
	default:
		// An unreadable flag file still halts: it exists.
		st.Flag = &Flag{Engaged: true}
		st.Problems = append(st.Problems, "flag file unreadable: "+err.Error())
	}
	st.DB = dbStatus(ctx, root)
	if st.DB.Error != "" {
		st.Problems = append(st.Problems, "database: "+st.DB.Error)
	}
	flagOn := st.Flag != nil
	st.Engaged = flagOn || st.DB.Halted
	if st.DB.Error == "" && flagOn != st.DB.Halted {
		if flagOn {
			st.Problems = append(st.Problems, FlagFile+" exists but the database's "+ControlKey+" is not 1")
		} else {
			st.Problems = append(st.Problems, "the database's "+ControlKey+" is 1 but "+FlagFile+" is missing")
		}
	}
	if st.Engaged && st.DB.OpenOrders > 0 {
		st.Problems = append(st.Problems, fmt.Sprintf("%d open or pending orders remain in the database", st.DB.OpenOrders))
	}
	return st, nil
}

func readFlag(path string) (*Flag, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f Flag
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// writeFlag writes the flag file atomically: a temporary file, synced, then
// renamed over the old one, then the directory synced. Every secret red
// knows is redacted from it first.
func writeFlag(path string, f Flag, red *redact.Redactor) error {
	b, err := json.MarshalIndent(redactFlag(f, red), "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".KILL_SWITCH.tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// openDB opens the system database for writing without ever creating it.
func openDB(root string, write bool) (*sql.DB, error) {
	return openDBWith(root, write, false)
}

// openDBWith is openDB; immutable (read-only only) reads the file without
// locks, -wal or -shm.
func openDBWith(root string, write, immutable bool) (*sql.DB, error) {
	path, err := filepath.Abs(system.DB(root))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing: %w", path, os.ErrNotExist)
		}
		return nil, err // *PathError: names the path once
	}
	mode := steps.ReadOnly
	switch {
	case write:
		mode = steps.ReadWrite
	case immutable:
		mode = steps.Immutable
	}
	return steps.OpenDB(path, mode)
}

// engageDB sets the halt flag and cancels open and pending orders in one
// transaction. It reports whether the halt flag changed.
func engageDB(ctx context.Context, o Options, now time.Time) ([]int64, bool, error) {
	db, err := openDB(o.Root, true)
	if err != nil {
		return nil, false, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	// Write first so the transaction holds the write lock from the start.
	who := actor(o.Operator)
	res, err := tx.ExecContext(ctx, `INSERT INTO control (key, value, updated_at, updated_by) VALUES (?, '1', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = '1', updated_at = excluded.updated_at, updated_by = excluded.updated_by WHERE value != '1'`,
		ControlKey, now.Format(TimeLayout), who)
	if err != nil {
		return nil, false, fmt.Errorf("set %s: %w", ControlKey, err)
	}
	n, _ := res.RowsAffected()
	changed := n > 0
	a, err := steps.NewAudit(ctx, tx, now)
	if err != nil {
		return nil, false, err
	}
	incident := ""
	if o.IncidentID != "" {
		incident = " (incident " + o.IncidentID + ")"
	}
	if changed {
		if err := a.Append(ctx, tx, who, "kill_switch.engaged", "trading halted: "+o.Reason+incident); err != nil {
			return nil, false, err
		}
	}
	type order struct {
		id             int64
		symbol, broker string
		side, status   string
		qty            float64
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, symbol, broker, side, quantity, status FROM orders WHERE status IN ('open', 'pending') ORDER BY id`)
	if err != nil {
		return nil, false, fmt.Errorf("list open orders: %w", err)
	}
	var orders []order
	for rows.Next() {
		var x order
		if err := rows.Scan(&x.id, &x.symbol, &x.broker, &x.side, &x.qty, &x.status); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("list open orders: %w", err)
		}
		orders = append(orders, x)
	}
	if err := rows.Close(); err != nil {
		return nil, false, err
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list open orders: %w", err)
	}
	var ids []int64
	for _, x := range orders {
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = 'cancelled', updated_at = ? WHERE id = ?`, now.Format(TimeLayout), x.id); err != nil {
			return nil, false, fmt.Errorf("cancel order %d: %w", x.id, err)
		}
		detail := fmt.Sprintf("order %d %s %g %s at %s cancelled by kill switch (was %s)%s", x.id, x.side, x.qty, x.symbol, x.broker, x.status, incident)
		if err := a.Append(ctx, tx, who, "order.cancelled", detail); err != nil {
			return nil, false, err
		}
		ids = append(ids, x.id)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("commit: %w", err)
	}
	return ids, changed, db.Close()
}

func releaseDB(ctx context.Context, o Options, now time.Time) error {
	db, err := openDB(o.Root, true)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	who := actor(o.Operator)
	if _, err := tx.ExecContext(ctx, `INSERT INTO control (key, value, updated_at, updated_by) VALUES (?, '0', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = '0', updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		ControlKey, now.Format(TimeLayout), who); err != nil {
		return fmt.Errorf("clear %s: %w", ControlKey, err)
	}
	a, err := steps.NewAudit(ctx, tx, now)
	if err != nil {
		return err
	}
	detail := "trading resumed: " + o.Reason
	if o.IncidentID != "" {
		detail += " (incident " + o.IncidentID + ")"
	}
	if err := a.Append(ctx, tx, who, "kill_switch.released", detail); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return db.Close()
}

func actor(operator string) string {
	if operator == "" {
		operator = "unknown"
	}
	return "drbook:" + operator
}

// dbStatus is the database's state after an engage; a database that
// failed the sanity check is not opened again.
func (o *Options) dbStatus(ctx context.Context, damage error) DBState {
	if errors.Is(damage, ErrDatabaseDamaged) {
		return DBState{Error: damage.Error() + " (left untouched)"}
	}
	return dbStatus(ctx, o.Root)
}

// dbStatus reads the halt flag and open orders read-only.
func dbStatus(ctx context.Context, root string) DBState {
	var st DBState
	db, err := openDB(root, false)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer db.Close()
	var value, by, at sql.NullString
	err = db.QueryRowContext(ctx, `SELECT value, updated_by, updated_at FROM control WHERE key = ?`, ControlKey).Scan(&value, &by, &at)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		st.Error = err.Error()
		return st
	}
	st.Halted = value.String == "1"
	st.UpdatedBy, st.UpdatedAt = by.String, at.String
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE status IN ('open', 'pending')`).Scan(&st.OpenOrders); err != nil {
		st.Error = err.Error()
	}
	return st
}

// cancelAtBroker asks one broker to cancel all open orders.
func cancelAtBroker(ctx context.Context, o Options, cfg *config, broker string) BrokerResult {
	r := BrokerResult{Broker: broker, At: o.now()}
	switch broker {
	case "alpaca":
		cancelAlpaca(ctx, o, cfg, &r)
	case "ibkr":
		cancelIBKR(ctx, o, cfg, &r)
	default:
		r.Detail = fmt.Sprintf("unknown broker %q (known: alpaca, ibkr)", broker)
	}
	r.Detail = o.red.String(r.Detail)
	return r
}

// cancelAlpaca calls DELETE {base}/v2/orders, which cancels every open
// order and answers 207 Multi-Status with one entry per order.
func cancelAlpaca(ctx context.Context, o Options, cfg *config, r *BrokerResult) {
	base := strings.TrimRight(cfg.get(KeyAlpacaBaseURL), "/")
	key, secret := cfg.get(KeyAlpacaKey), cfg.get(KeyAlpacaSecret)
	if base == "" {
		r.Skipped, r.Detail = true, KeyAlpacaBaseURL+" is not set"
		return
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		r.Detail = fmt.Sprintf("%s %q is not a URL", KeyAlpacaBaseURL, base)
		return
	}
	if o.Drill && !isLoopback(u.Hostname()) {
		r.Skipped, r.Detail = true, "drill: not calling "+u.Host+" (only local endpoints are called in a drill)"
		return
	}
	if key == "" || secret == "" {
		r.Detail = KeyAlpacaKey + " or " + KeyAlpacaSecret + " is not set"
		return
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/v2/orders", nil)
	if err != nil {
		r.Detail = err.Error()
		return
	}
	req.Header.Set("APCA-API-KEY-ID", key)
	req.Header.Set("APCA-API-SECRET-KEY", secret)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		r.Detail = "DELETE /v2/orders: " + err.Error()
		return
	}
	defer resp.Body.Close()
	var body []struct {
		ID     string `json:"id"`
		Status int    `json:"status"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 4<<20))
	decodeErr := dec.Decode(&body)
	switch {
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusMultiStatus:
		r.Detail = fmt.Sprintf("DELETE /v2/orders: HTTP %s", resp.Status)
	case decodeErr != nil && resp.StatusCode == http.StatusMultiStatus:
		r.Detail = fmt.Sprintf("DELETE /v2/orders: HTTP %s, unreadable answer: %v", resp.Status, decodeErr)
	default:
		failed := 0
		for _, b := range body {
			if b.Status >= 200 && b.Status < 300 {
				r.Cancelled++
			} else {
				failed++
			}
		}
		if failed > 0 {
			r.Detail = fmt.Sprintf("DELETE /v2/orders: %d orders cancelled, %d NOT cancelled", r.Cancelled, failed)
			return
		}
		r.OK = true
		r.Detail = fmt.Sprintf("DELETE /v2/orders: %d open orders cancelled (HTTP %d)", r.Cancelled, resp.StatusCode)
	}
}

// cancelIBKR runs the configured command, in its own process group with a
// time limit.
func cancelIBKR(ctx context.Context, o Options, cfg *config, r *BrokerResult) {
	cmd := cfg.get(KeyIBKRCommand)
	if cmd == "" {
		r.Skipped, r.Detail = true, KeyIBKRCommand+" is not set"
		return
	}
	if o.Drill {
		host := cfg.get("IBKR_HOST")
		if host != "" && !isLoopback(host) {
			r.Skipped, r.Detail = true, "drill: IBKR_HOST "+host+" is not local; command not run"
			return
		}
	}
	root, _ := filepath.Abs(o.Root)
	env := append(os.Environ(), "DRBOOK_ROOT="+root)
	for _, k := range []string{"IBKR_HOST", "IBKR_PORT", "IBKR_CLIENT_ID"} {
		if v := cfg.get(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	out, err := proc.Exec(ctx, proc.Command{
		Interpreter: []string{"bash", "-euo", "pipefail"},
		Code:        cmd + "\n",
		Dir:         root,
		Env:         env,
		Timeout:     60 * time.Second,
		Secrets:     cfg.secrets(),
	}, nil)
	last := ""
	if len(out.Tail) > 0 {
		last = ": " + strings.TrimSpace(out.Tail[len(out.Tail)-1])
	}
	switch {
	case err != nil:
		r.Detail = "cancel command: " + err.Error()
	case out.TimedOut:
		r.Detail = "cancel command timed out after 60s" + last
	case out.ExitCode != 0:
		r.Detail = fmt.Sprintf("cancel command exited %d%s", out.ExitCode, last)
	default:
		r.OK = true
		r.Detail = "cancel command succeeded" + last
	}
}

func isLoopback(host string) bool {
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return strings.HasPrefix(host, "127.")
}
