package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/killswitch"
)

func TestRunCommand(t *testing.T) {
	root := actionSandbox(t)
	env := map[string]string{"USER": "dana"}

	// A healthy sandbox passes its integrity check; the check's lines are
	// printed as they come, the status and summary last.
	r := runActionCmd(t, "", false, env, "run", "integrity-check", "--root", root, "--param", "full=true")
	if r.code != 0 || !strings.Contains(r.stdout, "PASS db-integrity") || !strings.Contains(r.stdout, "integrity-check: OK") {
		t.Fatalf("integrity-check: %+v", r)
	}
	r = runActionCmd(t, "", false, env, "run", "integrity-check", "--root", root, "--json")
	var j struct{ Action, Status, Summary string }
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 || j.Action != "integrity-check" || j.Status != "ok" {
		t.Fatalf("integrity-check --json: %v %+v", err, r)
	}

	// A damaged database is the action failing: exit 1.
	bad := actionSandbox(t, "corrupt-db")
	if r := runActionCmd(t, "", false, env, "run", "integrity-check", "--root", bad); r.code != 1 || !strings.Contains(r.stdout, "integrity-check: FAILED") {
		t.Errorf("integrity-check of a corrupt database: %+v", r)
	}

	// A destructive action is refused without confirmation, and nothing
	// changes; a wrong typed confirmation refuses too.
	r = runActionCmd(t, "", false, env, "run", "kill-switch", "--root", root, "--param", "reason=drill")
	if r.code != 1 || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("kill-switch without --yes: %+v", r)
	}
	r = runActionCmd(t, "kill\n", true, env, "run", "kill-switch", "--root", root)
	if r.code != 1 || !strings.Contains(r.stdout, "Type kill-switch to confirm") || !strings.Contains(r.stderr, "not confirmed") {
		t.Errorf("kill-switch with a wrong confirmation: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); !os.IsNotExist(err) {
		t.Fatalf("an unconfirmed kill switch engaged: %v", err)
	}
	r = runActionCmd(t, "kill-switch\n", true, env, "run", "kill-switch", "--root", root, "--param", "reason=typed")
	if r.code != 0 || !strings.Contains(r.stdout, "kill-switch: OK: trading HALTED by dana") {
		t.Fatalf("kill-switch confirmed on a terminal: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(root, killswitch.FlagFile)); err != nil {
		t.Fatalf("confirmed kill switch: %v", err)
	}

	// Usage errors: an unknown action or parameter (with the nearest
	// name), a block kind, no action.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "integrity-chek", "--root", root}, `did you mean "integrity-check"`},
		{[]string{"run", "integrity-check", "--root", root, "--param", "ful=true"}, `did you mean "full"`},
		{[]string{"run", "integrity-check", "--root", root, "--param", "full"}, "want KEY=VALUE"},
		{[]string{"run", "shell", "--root", root}, "code block"},
		{[]string{"run", "--root", root}, "want one ACTION"},
		{[]string{"run", "integrity-check", "--root", filepath.Join(root, "nope")}, "--root"},
	} {
		if r := runActionCmd(t, "", false, env, tt.args...); r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: %+v, want exit 2 and %q", tt.args, r, tt.want)
		}
	}

	// --help lists every action with its parameters and fits 80 columns.
	r = runActionCmd(t, "", false, env, "run", "--help")
	for _, w := range []string{"integrity-check", "*kill-switch", "reason", "failover-plan", "Exit codes"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("run --help lacks %q", w)
		}
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("run --help line over 80 columns: %q", l)
		}
	}
}

func TestRunCommandRecordsInIncident(t *testing.T) {
	root := actionSandbox(t, "position-drift")
	state := t.TempDir()
	id := mustDeclare(t, state, "complete-system-recovery", root)
	// A secret in the root's .env never reaches the timeline.
	if err := os.WriteFile(filepath.Join(root, ".env"), []byte("ALPACA_SECRET_KEY=sk-very-secret-4711\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"USER": "erin"}

	if r := runActionCmd(t, "", false, env, "run", "reconcile", "--root", root, "--incident", "NOPE", "--state-dir", state); r.code != 2 ||
		!strings.Contains(r.stderr, "no such incident") {
		t.Fatalf("unknown incident: %+v", r)
	}
	r := runActionCmd(t, "", false, env, "run", "reconcile", "--root", root, "--incident", id, "--state-dir", state)
	if r.code != 1 || !strings.Contains(r.stdout, "reconcile: FAILED") || !strings.Contains(r.stdout, "Recorded in "+id) {
		t.Fatalf("reconcile with breaks: %+v", r)
	}
	r = runActionCmd(t, "", false, env, "run", "kill-switch", "--yes", "--param", "reason=ibkr down", "--root", root, "--incident", id, "--state-dir", state)
	if r.code != 0 {
		t.Fatalf("kill-switch: %+v", r)
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
	if len(st.Runs) != 2 {
		t.Fatalf("runs: %+v", st.Runs)
	}
	for i, w := range []struct{ action, status, summary, output string }{
		{"reconcile", "failed", "BREAK", "Compared"},
		{"kill-switch", "ok", "trading HALTED by erin", "cancel"},
	} {
		r := st.Runs[i]
		if r.Action != w.action || r.Status != w.status || r.Mode != incident.ModeCommand ||
			!strings.Contains(r.Summary, w.summary) || !strings.Contains(r.Output, w.output) {
			t.Errorf("run %d: %+v, want %+v", i, r, w)
		}
	}
	b, _ := os.ReadFile(filepath.Join(root, killswitch.FlagFile))
	if !strings.Contains(string(b), id) {
		t.Errorf("flag file does not name the incident: %s", b)
	}
	evs, err := store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(evs)
	if strings.Contains(string(raw), "sk-very-secret-4711") {
		t.Error("the .env secret reached the timeline")
	}
	if v, err := store.Verify(context.Background(), id); err != nil || !v.OK {
		t.Errorf("verify: %+v %v", v, err)
	}
}

func TestCloseWritesTheReport(t *testing.T) {
	state := t.TempDir()
	root := actionSandbox(t)
	id := mustDeclare(t, state, "complete-system-recovery", root)
	code, out, errs := incCmd(t, state, "close", id, "--resolved")
	want := filepath.Join(state, "reports", id+".md")
	if code != 0 || !strings.Contains(out, "Report written to "+want) {
		t.Fatalf("close: %d %q %q", code, out, errs)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	// No summary given: the report tallies the steps instead.
	if !strings.Contains(string(b), "closed with drbook close: 0 of") {
		t.Errorf("report lacks the tally:\n%.600s", b)
	}

	// A drill on its sandbox gets the system checks, recorded.
	store, err := incident.OpenStore(state)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load("complete-system-recovery", nil)
	if err != nil {
		t.Fatal(err)
	}
	sb := actionSandbox(t, "corrupt-db")
	dr, err := incident.Declare(context.Background(), store, rb, incident.DeclareOptions{Mode: incident.Drill, Root: sb}, nil)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = incCmd(t, state, "close", dr.ID(), "--abandoned")
	if code != 0 || !strings.Contains(out, "system check still failing: db-integrity") || !strings.Contains(out, "Report written to") {
		t.Fatalf("close drill: %d %q %q", code, out, errs)
	}
	b, _ = os.ReadFile(filepath.Join(state, "reports", dr.ID()+".md"))
	if !strings.Contains(string(b), "system check after the drill") {
		t.Errorf("drill report lacks the system check:\n%.1200s", b)
	}
}
