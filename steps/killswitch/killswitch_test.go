package killswitch_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/killswitch"
)

var clock = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func now() time.Time { return clock }

// MustSystem builds a root with data/quantai.db from the pinned schema:
// orders 1-2 open, 3 pending, 4 filled; an audit trail whose last
// timestamp is after the test clock (a clock running behind).
func MustSystem(tb testing.TB) string {
	tb.Helper()
	root := tb.TempDir()
	schema, err := os.ReadFile(filepath.Join("..", "sandbox", "schema.sql"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		tb.Fatal(err)
	}
	db := mustDB(tb, root)
	defer db.Close()
	stmts := []string{string(schema),
		`INSERT INTO accounts VALUES (1, 'main', 'margin', 'ibkr', 1000000, 'USD', '2026-11-26T00:00:00.000000000Z')`,
		`INSERT INTO orders VALUES (1, 1, 'AAPL', 'ibkr', 'buy', 10, 180, 'open', 't', 't')`,
		`INSERT INTO orders VALUES (2, 1, 'MSFT', 'alpaca', 'sell', 5, 400, 'open', 't', 't')`,
		`INSERT INTO orders VALUES (3, 1, 'NVDA', 'ibkr', 'buy', 2.5, NULL, 'pending', 't', 't')`,
		`INSERT INTO orders VALUES (4, 1, 'AAPL', 'ibkr', 'buy', 10, 180, 'filled', 't', 't')`,
		`INSERT INTO audit_trail VALUES (1, '2026-11-26T09:00:00.000000000Z', 'execution_agent', 'order.placed', 'x')`,
		`INSERT INTO audit_trail VALUES (2, '2026-11-26T10:30:00.000000000Z', 'execution_agent', 'order.placed', 'y')`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func mustDB(tb testing.TB, root string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", filepath.Join(root, "data", "quantai.db"))
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

type auditRow struct {
	ID                        int64
	TS, Actor, Action, Detail string
}

func auditRows(tb testing.TB, root string) []auditRow {
	tb.Helper()
	db := mustDB(tb, root)
	defer db.Close()
	rows, err := db.Query(`SELECT id, timestamp, actor, action, detail FROM audit_trail ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.ID, &r.TS, &r.Actor, &r.Action, &r.Detail); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func queryString(tb testing.TB, root, q string) string {
	tb.Helper()
	db := mustDB(tb, root)
	defer db.Close()
	var s string
	if err := db.QueryRow(q).Scan(&s); err != nil {
		tb.Fatal(err)
	}
	return s
}

func opts(root string) killswitch.Options {
	return killswitch.Options{Root: root, Operator: "alice", Reason: "db corruption", IncidentID: "INC-7", Now: now, Getenv: func(string) string { return "" }}
}

func TestEngage(t *testing.T) {
	root := MustSystem(t)
	before := auditRows(t, root)
	st, err := killswitch.Engage(context.Background(), opts(root))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Engaged || len(st.Problems) != 0 || fmt.Sprint(st.Cancelled) != "[1 2 3]" {
		t.Fatalf("state %+v", st)
	}
	// The flag file.
	b, err := os.ReadFile(filepath.Join(root, killswitch.FlagFile))
	if err != nil {
		t.Fatal(err)
	}
	var f killswitch.Flag
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if !f.Engaged || f.Who != "alice" || !f.When.Equal(clock) || f.Why != "db corruption" || f.IncidentID != "INC-7" || f.OrdersCancelled != 3 {
		t.Errorf("flag %+v", f)
	}
	// The database.
	if v := queryString(t, root, `SELECT value || ' ' || updated_by FROM control WHERE key = 'trading_halted'`); v != "1 drbook:alice" {
		t.Errorf("control: %q", v)
	}
	if v := queryString(t, root, `SELECT group_concat(id || ':' || status) FROM (SELECT id, status FROM orders ORDER BY id)`); v != "1:cancelled,2:cancelled,3:cancelled,4:filled" {
		t.Errorf("orders: %s", v)
	}
	// The audit trail: the old rows untouched, new ones appended with the
	// next ids and timestamps after the last, although the clock is behind.
	after := auditRows(t, root)
	if len(after) != len(before)+4 {
		t.Fatalf("%d audit rows, want %d", len(after), len(before)+4)
	}
	for i := range before {
		if after[i] != before[i] {
			t.Errorf("audit row %d rewritten: %+v -> %+v", i, before[i], after[i])
		}
	}
	for i := len(before); i < len(after); i++ {
		if after[i].ID != after[i-1].ID+1 || after[i].TS <= after[i-1].TS || len(after[i].TS) != len(after[0].TS) {
			t.Errorf("audit row %+v does not follow %+v", after[i], after[i-1])
		}
	}
	if after[2].Action != "kill_switch.engaged" || after[3].Action != "order.cancelled" || !strings.Contains(after[3].Detail, "order 1") || !strings.Contains(after[5].Detail, "INC-7") {
		t.Errorf("audit rows %+v", after[2:])
	}

	// Idempotent: a second engage changes nothing and keeps who and when.
	o := opts(root)
	o.Operator, o.Now = "bob", func() time.Time { return clock.Add(time.Hour) }
	st2, err := killswitch.Engage(context.Background(), o)
	if err != nil || len(st2.Cancelled) != 0 || len(st2.Problems) != 0 {
		t.Fatalf("second engage: %v %+v", err, st2)
	}
	if n := len(auditRows(t, root)); n != len(after) {
		t.Errorf("second engage appended %d audit rows", n-len(after))
	}
	if st2.Flag.Who != "alice" || !st2.Flag.When.Equal(clock) {
		t.Errorf("second engage rewrote who/when: %+v", st2.Flag)
	}

	status, err := killswitch.Status(context.Background(), root)
	if err != nil || !status.Engaged || status.DB.OpenOrders != 0 || len(status.Problems) != 0 {
		t.Errorf("status %v %+v", err, status)
	}
}

func TestEngageWithoutDatabase(t *testing.T) {
	tests := []struct {
		name  string
		setup func(root string) error
	}{
		{"missing", func(root string) error { return os.MkdirAll(filepath.Join(root, "data"), 0o755) }},
		{"no data dir", func(root string) error { return nil }},
		{"corrupt", func(root string) error {
			if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "data", "quantai.db"), []byte(strings.Repeat("not a database ", 500)), 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := tt.setup(root); err != nil {
				t.Fatal(err)
			}
			dbPath := filepath.Join(root, "data", "quantai.db")
			orig, _ := os.ReadFile(dbPath)
			st, err := killswitch.Engage(context.Background(), opts(root))
			if err != nil {
				t.Fatalf("the flag file alone must halt: %v", err)
			}
			if !st.Engaged || len(st.Problems) == 0 || !strings.Contains(strings.Join(st.Problems, ";"), "database not updated") {
				t.Fatalf("state %+v", st)
			}
			// Missing is not damaged: the write was tried and failed, so
			// orders may be open in a database someone must find. Only a
			// damaged database deliberately left alone is a finding.
			outcome, findings := killswitch.Outcome(st)
			if want := map[bool]steps.Status{true: steps.StatusOK, false: steps.StatusFailed}[tt.name == "corrupt"]; outcome != want {
				t.Errorf("outcome %s %q, want %s", outcome, findings, want)
			}
			if outcome == steps.StatusOK && (len(findings) != 1 || !strings.Contains(findings[0], "looks damaged")) {
				t.Errorf("findings %q, want the damaged database", findings)
			}
			for _, p := range st.Problems { // the message names the database once
				if n := strings.Count(p, dbPath); n > 1 {
					t.Errorf("problem names the database %d times: %s", n, p)
				}
			}
			if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
				t.Fatal("no flag file")
			}
			now, _ := os.ReadFile(dbPath)
			if string(orig) != string(now) {
				t.Error("the database file was changed or created")
			}
			status, _ := killswitch.Status(context.Background(), root)
			if !status.Engaged {
				t.Errorf("status: %+v", status)
			}
			// Release is refused while the database cannot record it.
			_, err = killswitch.Release(context.Background(), opts(root))
			if !errors.Is(err, killswitch.ErrReleaseRefused) {
				t.Errorf("release: %v", err)
			}
			if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
				t.Error("a refused release removed the flag file")
			}
		})
	}
}

func TestRelease(t *testing.T) {
	root := MustSystem(t)
	if _, err := killswitch.Engage(context.Background(), opts(root)); err != nil {
		t.Fatal(err)
	}
	o := opts(root)
	o.Reason = ""
	if _, err := killswitch.Release(context.Background(), o); !errors.Is(err, killswitch.ErrNoReason) {
		t.Fatalf("release without reason: %v", err)
	}
	o.Reason, o.Operator = "restored and reconciled", "bob"
	o.Now = func() time.Time { return clock.Add(2 * time.Hour) }
	st, err := killswitch.Release(context.Background(), o)
	if err != nil || st.Engaged {
		t.Fatalf("release: %v %+v", err, st)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("flag file still there")
	}
	b, err := os.ReadFile(st.Released)
	if err != nil {
		t.Fatalf("no archived flag: %v", err)
	}
	var f killswitch.Flag
	_ = json.Unmarshal(b, &f)
	if f.Engaged || f.Who != "alice" || f.ReleasedBy != "bob" || f.ReleaseWhy != "restored and reconciled" {
		t.Errorf("archived flag %+v", f)
	}
	if v := queryString(t, root, `SELECT value FROM control WHERE key = 'trading_halted'`); v != "0" {
		t.Errorf("control %s", v)
	}
	rows := auditRows(t, root)
	if last := rows[len(rows)-1]; last.Action != "kill_switch.released" || !strings.Contains(last.Detail, "restored and reconciled") || last.Actor != "drbook:bob" {
		t.Errorf("last audit row %+v", last)
	}
	// Releasing again is a no-op.
	st, err = killswitch.Release(context.Background(), o)
	if err != nil || len(auditRows(t, root)) != len(rows) {
		t.Errorf("second release: %v %+v", err, st)
	}
}

// alpacaServer answers DELETE /v2/orders like Alpaca: 207 with one entry
// per order.
func alpacaServer(t *testing.T, status int, body string, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodDelete || r.URL.Path != "/v2/orders" {
			http.Error(w, "wrong endpoint "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		if r.Header.Get("APCA-API-KEY-ID") != "PKTESTKEY" || r.Header.Get("APCA-API-SECRET-KEY") != "s3cr3t-value" {
			http.Error(w, "forbidden PKTESTKEY", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEngageBrokers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		baseURL   func(srv string) string
		drill     bool
		ibkr      string
		wantOK    map[string]bool
		wantCalls int32
		problem   string
	}{
		{"alpaca 207", http.StatusMultiStatus, `[{"id":"a","status":200},{"id":"b","status":200}]`, nil, false, "", map[string]bool{"alpaca": true}, 1, ""},
		{"alpaca partial", http.StatusMultiStatus, `[{"id":"a","status":200},{"id":"b","status":500}]`, nil, false, "", map[string]bool{"alpaca": false}, 1, "1 NOT cancelled"},
		{"alpaca down", http.StatusInternalServerError, `oops`, nil, false, "", map[string]bool{"alpaca": false}, 1, "HTTP 500"},
		{"alpaca unreachable", 0, "", func(string) string { return "http://127.0.0.1:1" }, false, "", map[string]bool{"alpaca": false}, 0, "alpaca: cancel failed"},
		{"drill skips remote", 0, "", func(string) string { return "https://paper-api.alpaca.markets" }, true, "", map[string]bool{"alpaca": false}, 0, "drill: not calling"},
		{"drill calls local", http.StatusMultiStatus, `[]`, nil, true, "", map[string]bool{"alpaca": true}, 1, ""},
		{"ibkr command", 0, "", nil, false, `echo "global cancel sent to $IBKR_HOST:$IBKR_PORT"`, map[string]bool{"ibkr": true}, 0, ""},
		{"ibkr command fails", 0, "", nil, false, `echo "not connected" >&2; exit 4`, map[string]bool{"ibkr": false}, 0, "exited 4: stderr: not connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := MustSystem(t)
			var calls atomic.Int32
			srv := alpacaServer(t, tt.status, tt.body, &calls)
			base := srv.URL
			if tt.baseURL != nil {
				base = tt.baseURL(srv.URL)
			}
			o := opts(root)
			o.Drill = tt.drill
			o.Vars = map[string]string{killswitch.KeyAlpacaBaseURL: base, killswitch.KeyAlpacaKey: "PKTESTKEY", killswitch.KeyAlpacaSecret: "s3cr3t-value",
				killswitch.KeyIBKRCommand: tt.ibkr, "IBKR_HOST": "127.0.0.1", "IBKR_PORT": "7497"}
			for b := range tt.wantOK {
				o.Brokers = append(o.Brokers, b)
			}
			st, err := killswitch.Engage(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if calls.Load() != tt.wantCalls {
				t.Errorf("%d calls to the broker, want %d", calls.Load(), tt.wantCalls)
			}
			for _, r := range st.Flag.Brokers {
				if r.OK != tt.wantOK[r.Broker] {
					t.Errorf("%s ok=%v: %s", r.Broker, r.OK, r.Detail)
				}
			}
			problems := strings.Join(st.Problems, "; ")
			if (tt.problem == "") != (problems == "") || !strings.Contains(problems, tt.problem) {
				t.Errorf("problems %q, want %q", problems, tt.problem)
			}
			// The local halt holds whatever the broker said.
			if v := queryString(t, root, `SELECT value FROM control WHERE key = 'trading_halted'`); v != "1" || len(st.Cancelled) != 3 {
				t.Errorf("local halt undone: control=%s cancelled=%v", v, st.Cancelled)
			}
			flag, _ := os.ReadFile(filepath.Join(root, killswitch.FlagFile))
			all, _ := json.Marshal(st)
			for _, s := range []string{string(flag), string(all)} {
				if strings.Contains(s, "PKTESTKEY") || strings.Contains(s, "s3cr3t-value") {
					t.Errorf("broker key recorded: %s", s)
				}
			}
		})
	}
}

func TestAction(t *testing.T) {
	root := MustSystem(t)
	a, ok := steps.Lookup("kill-switch")
	if !ok || !steps.Implemented("kill-switch") {
		t.Fatal("kill-switch not registered")
	}
	env := steps.Env{Root: root, Operator: "carol", IncidentID: "INC-9", Now: now}
	if _, err := a.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{"mode": "on"}}, nil); !errors.Is(err, steps.ErrNotConfirmed) {
		t.Fatalf("unconfirmed engage: %v", err)
	}
	res, err := a.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{"mode": "on", "reason": "drill"}, DryRun: true}, nil)
	if err != nil || res.Status != steps.StatusSimulated || !strings.Contains(strings.Join(res.Data.(killswitch.State).Changed, ";"), "cancel 3 open") {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err == nil {
		t.Fatal("dry run wrote the flag file")
	}
	var lines []string
	res, err = a.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{"mode": "on", "reason": "outage"}, Confirmed: true},
		func(e steps.Event) { lines = append(lines, e.Line) })
	if err != nil || res.Status != steps.StatusOK || !strings.Contains(res.Summary, "HALTED by carol") || len(lines) == 0 {
		t.Fatalf("engage: %v %+v %q", err, res, lines)
	}
	res, err = a.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{"mode": "status"}}, nil)
	if err != nil || !res.Data.(killswitch.State).Engaged || !strings.Contains(res.Summary, "ENGAGED by carol") {
		t.Fatalf("status: %v %+v", err, res)
	}
	res, err = a.Run(context.Background(), steps.Request{Env: env, Params: map[string]string{"mode": "off", "reason": "recovered"}, Confirmed: true}, nil)
	if err != nil || res.Status != steps.StatusOK || res.Data.(killswitch.State).Engaged {
		t.Fatalf("release: %v %+v", err, res)
	}
}

// TestEngageWhileDatabaseLocked: a hung trading process holds the write
// lock. The flag file halts at once; the database failure is reported
// after the busy timeout and nothing in the database changes.
func TestEngageWhileDatabaseLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s busy timeout")
	}
	root := MustSystem(t)
	db := mustDB(t, root)
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	st, err := killswitch.Engage(context.Background(), opts(root))
	if err != nil {
		t.Fatalf("the flag file alone must halt: %v", err)
	}
	if !strings.Contains(strings.Join(st.Problems, ";"), "database not updated") || len(st.Cancelled) != 0 {
		t.Fatalf("state %+v", st)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
		t.Fatal("no flag file")
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if v := queryString(t, root, `SELECT COUNT(*) FROM orders WHERE status IN ('open', 'pending')`); v != "3" {
		t.Errorf("orders changed: %s open", v)
	}
	// Once the lock is gone, engaging again finishes the job.
	st, err = killswitch.Engage(context.Background(), opts(root))
	if err != nil || len(st.Problems) != 0 || len(st.Cancelled) != 3 || st.Flag.DBError != "" {
		t.Fatalf("second engage: %v %+v", err, st)
	}
}

// TestDescribeFits80Columns: the status an operator reads over SSH fits
// 80 columns and shows times to the second, the flag's and the database's
// alike.
func TestDescribeFits80Columns(t *testing.T) {
	root := MustSystem(t)
	if _, err := killswitch.Engage(context.Background(), opts(root)); err != nil {
		t.Fatal(err)
	}
	st, err := killswitch.Status(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	lines := killswitch.Describe(st)
	text := strings.Join(lines, "\n")
	for _, l := range lines {
		if n := len([]rune(l)); n > 80 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	stamp := clock.UTC().Format("2006-01-02 15:04:05Z")
	if !strings.Contains(text, "trading_halted=1 (set by drbook:alice, "+stamp+")") || !strings.Contains(text, "since:     "+stamp) ||
		!strings.Contains(text, "orders:    0 open or pending") {
		t.Errorf("status:\n%s", text)
	}
}

// TestBrokerSettingsAfterALongEnvLine: the broker settings come from the
// root's .env even after a 100 KiB line (a pasted certificate), which once
// silently ended the file for a line scanner.
func TestBrokerSettingsAfterALongEnvLine(t *testing.T) {
	root := MustSystem(t)
	var calls atomic.Int32
	srv := alpacaServer(t, http.StatusMultiStatus, `[]`, &calls)
	env := "TLS_CERT=" + strings.Repeat("A", 100<<10) + "\n" +
		"ALPACA_BASE_URL=" + srv.URL + "\nALPACA_API_KEY=PKTESTKEY\nALPACA_SECRET_KEY=s3cr3t-value\n"
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	o := opts(root)
	o.Brokers = []string{"alpaca"}
	st, err := killswitch.Engage(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || len(st.Problems) != 0 {
		t.Errorf("alpaca called %d times (want 1, with the keys from .env); problems %v", calls.Load(), st.Problems)
	}
}
