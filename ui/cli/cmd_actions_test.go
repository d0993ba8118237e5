package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/killswitch"
	"github.com/drbook/drbook/steps/reconcile"
	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/ui/cli"
)

type actionCmdResult struct {
	code           int
	stdout, stderr string
}

func runActionCmd(t *testing.T, stdin string, terminal bool, env map[string]string, args ...string) actionCmdResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &cli.IO{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, IsTerminal: terminal,
		Getenv: func(k string) string { return env[k] },
	})
	return actionCmdResult{code, out.String(), errb.String()}
}

func actionSandbox(t *testing.T, faults ...string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "sys")
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Trades: 500, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if err := sandbox.Inject(root, f); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestKillswitchCommand(t *testing.T) {
	root := actionSandbox(t, "pending-orders")
	env := map[string]string{"USER": "dana"}

	r := runActionCmd(t, "", false, env, "killswitch", "status", "--root", root)
	if r.code != 0 || !strings.Contains(r.stdout, "not engaged") {
		t.Fatalf("status before: %+v", r)
	}
	r = runActionCmd(t, "", false, env, "killswitch", "on", "--root", root, "--reason", "ibkr outage")
	if r.code != 0 || !strings.Contains(r.stdout, "ENGAGED") || !strings.Contains(r.stdout, "done:      cancelled") {
		t.Fatalf("on: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
		t.Fatal("no flag file")
	}
	r = runActionCmd(t, "", false, env, "killswitch", "status", "--root", root, "--json")
	var st killswitch.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 || !st.Engaged || st.Flag.Who != "dana" || st.Flag.Why != "ibkr outage" || st.DB.OpenOrders != 0 {
		t.Fatalf("status --json: %v %+v", err, r)
	}

	for _, tt := range []struct {
		name     string
		stdin    string
		terminal bool
		args     []string
		code     int
		want     string
	}{
		{"off without reason", "", false, []string{"--yes"}, 2, "--reason is required"},
		{"off not on a terminal", "", false, []string{"--reason", "fixed"}, 2, "confirm with --yes"},
		{"off wrong word", "yes\n", true, []string{"--reason", "fixed"}, 1, "not confirmed"},
		{"bad mode", "", false, nil, 2, "unknown mode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mode := "off"
			if tt.name == "bad mode" {
				mode = "maybe"
			}
			r := runActionCmd(t, tt.stdin, tt.terminal, env, append([]string{"killswitch", mode, "--root", root}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("got %+v, want exit %d and %q", r, tt.code, tt.want)
			}
			if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
				t.Fatal("the halt was released")
			}
		})
	}
	r = runActionCmd(t, "RELEASE\n", true, env, "killswitch", "off", "--root", root, "--reason", "restored and reconciled")
	if r.code != 0 || !strings.Contains(r.stdout, "Type RELEASE") || !strings.Contains(r.stdout, "not engaged") {
		t.Fatalf("off: %+v", r)
	}
}

func TestKillswitchCommandWithoutDatabase(t *testing.T) {
	root := actionSandbox(t, "delete-db")
	r := runActionCmd(t, "", false, nil, "killswitch", "on", "--root", root)
	if r.code != 1 || !strings.Contains(r.stdout, "PROBLEM:   database not updated") {
		t.Fatalf("got %+v", r)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
		t.Fatal("the flag file alone must halt")
	}
	r = runActionCmd(t, "", false, nil, "killswitch", "off", "--root", root, "--reason", "x", "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "release refused") {
		t.Fatalf("off: %+v", r)
	}
}

func TestReconcileCommand(t *testing.T) {
	clean := actionSandbox(t)
	r := runActionCmd(t, "", false, nil, "reconcile", "--root", clean)
	if r.code != 0 || !strings.Contains(r.stdout, "0 breaks") {
		t.Fatalf("clean: %+v", r)
	}
	drift := actionSandbox(t, "position-drift", "pending-orders")
	r = runActionCmd(t, "", false, nil, "reconcile", "--root", drift)
	if r.code != 1 || !strings.Contains(r.stdout, "SYMBOL") || !strings.Contains(r.stdout, "+37") || !strings.Contains(r.stdout, "Pending trades") {
		t.Fatalf("drift: %+v", r)
	}
	r = runActionCmd(t, "", false, nil, "reconcile", "--root", drift, "--json", "--broker", filepath.Join(drift, reconcile.IBKRStatement))
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || len(rep.Breaks) != 1 || len(rep.Statements) != 1 {
		t.Fatalf("json: %v %+v", err, r)
	}
	bad := filepath.Join(t.TempDir(), "ibkr.csv")
	os.WriteFile(bad, []byte("Symbol,Quantity\nAAPL,10\nAAPL,12\n"), 0o644)
	r = runActionCmd(t, "", false, nil, "reconcile", "--root", clean, "--broker", bad)
	if r.code != 2 || !strings.Contains(r.stderr, bad+":3:") || !strings.Contains(r.stderr, "duplicate symbol AAPL") {
		t.Fatalf("bad statement: %+v", r)
	}
	for _, args := range [][]string{{"--format", "xls"}, {"--tolerance", "-1"}, {"--root", "/nonexistent"}, {"extra"}} {
		if r := runActionCmd(t, "", false, nil, append([]string{"reconcile", "--root", clean}, args...)...); r.code != 2 {
			t.Errorf("%v: exit %d", args, r.code)
		}
	}
}

func TestFailoverCommand(t *testing.T) {
	root := actionSandbox(t)
	out := filepath.Join(t.TempDir(), "plan.csv")
	r := runActionCmd(t, "", false, nil, "failover", "--from", "ibkr", "--to", "alpaca", "--root", root, "-o", out)
	if r.code != 0 || !strings.Contains(r.stdout, "HEDGE AT ALPACA") || !strings.Contains(r.stdout, "No orders were sent") {
		t.Fatalf("failover: %+v", r)
	}
	for _, l := range strings.Split(r.stdout, "\n") { // read over SSH at 80x24
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("failover output line of %d columns: %q", n, l)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(b), "symbol,to_symbol,from_qty") {
		t.Fatalf("plan file: %v %q", err, b)
	}
	r = runActionCmd(t, "", false, nil, "failover", "--root", root, "-o", out)
	if r.code != 2 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("overwrite: %+v", r)
	}
	after, _ := os.ReadFile(out)
	if !bytes.Equal(b, after) {
		t.Error("plan file changed")
	}
	for _, args := range [][]string{{"--from", "ibkr", "--to", "ibkr"}, {"--to", "schwab"}, {"-o", "plan.xlsx"}} {
		if r := runActionCmd(t, "", false, nil, append([]string{"failover", "--root", root}, args...)...); r.code != 2 {
			t.Errorf("%v: exit %d %s", args, r.code, r.stderr)
		}
	}
	drift := actionSandbox(t, "position-drift")
	r = runActionCmd(t, "", false, nil, "failover", "--root", drift, "--json")
	var p struct{ Warnings []string }
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || r.code != 1 || len(p.Warnings) != 1 {
		t.Fatalf("drift: %v %+v", err, r)
	}
}

func TestActionCommandsHelp(t *testing.T) {
	for _, c := range []string{"killswitch", "reconcile", "failover"} {
		r := runActionCmd(t, "", false, nil, c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: drbook "+c) || !strings.Contains(r.stdout, "Exit codes") {
			t.Errorf("%s --help: %+v", c, r)
		}
	}
}

func TestActionCommandsRecordInIncident(t *testing.T) {
	root := actionSandbox(t, "position-drift", "pending-orders")
	state := t.TempDir()
	id := mustDeclare(t, state, "complete-system-recovery", root)
	env := map[string]string{"USER": "erin"}
	plan := filepath.Join(t.TempDir(), "plan.csv")

	// A mistyped incident is a usage error that changes nothing, except
	// that the kill switch still halts: a halt never waits for bookkeeping.
	for _, args := range [][]string{{"reconcile"}, {"failover", "-o", plan}, {"killswitch", "off", "--yes", "--reason", "r"}} {
		r := runActionCmd(t, "", false, env, append(args, "--root", root, "--incident", "NOPE", "--state-dir", state)...)
		if r.code != 2 || !strings.Contains(r.stderr, "--incident NOPE") || !strings.Contains(r.stderr, "no such incident") {
			t.Errorf("%v with an unknown incident: %+v", args, r)
		}
	}
	if _, err := os.Stat(plan); !os.IsNotExist(err) {
		t.Errorf("failover wrote its plan for an unknown incident: %v", err)
	}

	// A drill's timeline never records an action on a real system.
	sb := actionSandbox(t)
	st0, _ := incident.OpenStore(state)
	rb, err := runbook.Load("complete-system-recovery", nil)
	if err != nil {
		t.Fatal(err)
	}
	dr, err := incident.Declare(context.Background(), st0, rb, incident.DeclareOptions{Mode: incident.Drill, Root: sb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st0.Close()
	real := t.TempDir()
	if r := runActionCmd(t, "", false, env, "reconcile", "--root", real, "--incident", dr.ID(), "--state-dir", state); r.code != 2 ||
		!strings.Contains(r.stderr, "not a drbook sandbox") {
		t.Errorf("reconcile of a real root into a drill: %+v", r)
	}

	if r := runActionCmd(t, "", false, env, "reconcile", "--root", root, "--incident", id, "--state-dir", state); r.code != 1 {
		t.Fatalf("reconcile: %+v", r)
	}
	if r := runActionCmd(t, "", false, env, "failover", "--root", root, "-o", plan, "--incident", id[:len(id)-2], "--state-dir", state); r.code != 1 {
		t.Fatalf("failover (unique id prefix): %+v", r)
	}
	if r := runActionCmd(t, "", false, env, "killswitch", "on", "--root", root, "--incident", id, "--state-dir", state); r.code != 0 {
		t.Fatalf("killswitch: %+v", r)
	}
	if r := runActionCmd(t, "", false, env, "killswitch", "status", "--root", root, "--incident", id, "--state-dir", state); r.code != 0 {
		t.Fatalf("killswitch status: %+v", r)
	}

	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	st, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	type run struct{ action, status, summary, output string }
	want := []run{
		{"reconcile", "failed", "1 BREAK worth", "db vs broker"},
		// The failover-plan action's own output, as a runbook step records it.
		{"failover-plan", "ok", "written to " + plan, "| Hedge |"},
		{"kill-switch", "ok", "trading HALTED by erin", "orders cancelled"},
	}
	if len(st.Runs) != len(want) { // status changes nothing and is not recorded
		t.Fatalf("runs: %+v", st.Runs)
	}
	for i, w := range want {
		r := st.Runs[i]
		if r.Action != w.action || r.Status != w.status || r.Mode != incident.ModeCommand ||
			!strings.Contains(r.Summary, w.summary) || !strings.Contains(r.Output, w.output) {
			t.Errorf("run %d: %+v, want %+v", i, r, w)
		}
	}
	if st.FirstAck.IsZero() {
		t.Error("a recorded action did not acknowledge the incident")
	}
	b, _ := os.ReadFile(filepath.Join(root, killswitch.FlagFile))
	if !strings.Contains(string(b), id) {
		t.Errorf("flag file does not name the incident: %s", b)
	}
	if v, err := store.Verify(context.Background(), id); err != nil || !v.OK {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// mustDeclare declares an incident of runbook id on root, operated by
// "erin", in the state directory, and returns its id.
func mustDeclare(tb testing.TB, state, id, root string) string {
	tb.Helper()
	store, err := incident.OpenStore(state)
	if err != nil {
		tb.Fatal(err)
	}
	defer store.Close()
	rb, err := runbook.Load(id, nil)
	if err != nil {
		tb.Fatal(err)
	}
	in, err := incident.Declare(context.Background(), store, rb, incident.DeclareOptions{Root: root, Operator: incident.Operator{Name: "erin"}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return in.ID()
}
