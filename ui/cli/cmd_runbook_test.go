package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/drbook/drbook/ui/cli"
)

type runbookCLIResult struct {
	code           int
	stdout, stderr string
}

// runbookCLI runs drbook with args the way main does and returns the exit
// code and output.
func runbookCLI(t *testing.T, args ...string) runbookCLIResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, &cli.IO{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" },
	})
	return runbookCLIResult{code, out.String(), errb.String()}
}

// shown is the part of 'drbook show --json' the tests read.
type shown struct {
	ID         string
	Title      string
	Objectives struct{ RTO, RPO, MTD int64 }
	RTOPhase   string `json:"rto_phase"`
	Contacts   string
	Phases     []struct {
		ID     string
		Title  string
		Line   int
		Window *struct {
			Start, End int64
			Deadline   bool
		}
		Steps []struct {
			ID         string
			Title      string
			Kind       string
			Line       int
			Action     string
			Lang       string
			Attributes map[string]string
			Params     map[string]string
		}
	}
}

func showJSON(t *testing.T, args ...string) shown {
	t.Helper()
	r := runbookCLI(t, append([]string{"show", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("show %v: exit %d: %s", args, r.code, r.stderr)
	}
	var s shown
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("show --json: %v\n%s", err, r.stdout)
	}
	return s
}

// The five phases of complete system recovery and their windows, seconds.
var csrWindows = [][3]any{
	{"immediate-actions", int64(0), int64(900)},
	{"assessment-phase", int64(900), int64(3600)},
	{"recovery-phase", int64(3600), int64(14400)},
	{"validation-phase", int64(14400), int64(21600)},
	{"resume-operations", int64(21600), int64(28800)},
}

func TestShowEmbeddedDefault(t *testing.T) {
	s := showJSON(t, "complete-system-recovery")
	if s.ID != "complete-system-recovery" || s.Objectives.RTO != 14400 || s.Objectives.RPO != 900 || s.Objectives.MTD != 28800 {
		t.Errorf("id %q objectives %+v", s.ID, s.Objectives)
	}
	if s.RTOPhase != "recovery-phase" || !strings.Contains(s.Contacts, "IBKR Support") {
		t.Errorf("rto_phase %q contacts %q", s.RTOPhase, s.Contacts)
	}
	var got [][3]any
	for _, p := range s.Phases {
		if p.Window == nil {
			t.Fatalf("phase %s has no window", p.ID)
		}
		got = append(got, [3]any{p.ID, p.Window.Start, p.Window.End})
	}
	if !reflect.DeepEqual(got, csrWindows) {
		t.Errorf("phases = %v, want %v", got, csrWindows)
	}
	restore := s.Phases[2].Steps[1]
	if restore.ID != "recovery-phase/restore" || restore.Kind != "action" || restore.Action != "restore" ||
		restore.Attributes["confirm"] != "true" || restore.Params["from"] != "${BACKUP_FROM}" || restore.Line == 0 {
		t.Errorf("restore step = %+v", restore)
	}
}

func TestShowPlanAsWritten(t *testing.T) {
	s := showJSON(t, "../../testdata/dr-plan.md")
	if s.Objectives.RTO != 4*3600 || s.Objectives.RPO != 15*60 || s.Objectives.MTD != 8*3600 {
		t.Errorf("objectives %+v", s.Objectives)
	}
	var timed [][3]any
	kinds := map[string]map[string]int{}
	for _, p := range s.Phases {
		if p.Window != nil && !p.Window.Deadline {
			timed = append(timed, [3]any{p.ID, p.Window.Start, p.Window.End})
		}
		for _, st := range p.Steps {
			if st.Lang == "" {
				continue
			}
			if kinds[st.Lang] == nil {
				kinds[st.Lang] = map[string]int{}
			}
			kinds[st.Lang][st.Kind]++
			if st.Kind == "shell" && st.Action != "shell" || st.Kind == "sql" && st.Action != "sql" {
				t.Errorf("step %s kind %s action %s", st.ID, st.Kind, st.Action)
			}
		}
	}
	if !reflect.DeepEqual(timed, csrWindows) {
		t.Errorf("timed phases = %v, want %v", timed, csrWindows)
	}
	want := map[string]map[string]int{"bash": {"shell": 5}, "sql": {"sql": 1}, "python": {"reference": 3}}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("block kinds = %v, want %v", kinds, want)
	}
}

func TestShowText(t *testing.T) {
	r := runbookCLI(t, "show", "database-recovery")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"database-recovery: Database Recovery", "RTO 4h, RPO 15m, MTD 8h", "Restore (1-4 hours)  [1h-4h]", "restore/restore-db  [action restore, confirm]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("show of a valid runbook warns: %s", r.stderr)
	}
	r = runbookCLI(t, "show", "../../testdata/dr-plan.md")
	if r.code != 0 || !strings.Contains(r.stderr, "dr-plan.md:184: sql block changes data (.restore)") {
		t.Errorf("show of the plan: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, id := range []string{"complete-system-recovery", "trading-platform-failover", "../../testdata/dr-plan.md"} {
		r := runbookCLI(t, "show", id)
		for _, line := range strings.Split(r.stdout, "\n") {
			if n := len([]rune(line)); n > 80 {
				t.Errorf("show %s: line of %d columns: %q", id, n, line)
			}
		}
	}
}

func TestListRunbooks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "warehouse-failover.md"), []byte("# Warehouse Failover\n## Go (0-5 minutes)\n- switch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runbookCLI(t, "list", "--json", "--runbooks", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got []struct {
		ID            string
		Phases, Steps int
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range got {
		ids = append(ids, g.ID)
		if g.Phases == 0 || g.Steps == 0 {
			t.Errorf("%s: %d phases, %d steps", g.ID, g.Phases, g.Steps)
		}
	}
	want := []string{"complete-system-recovery", "compliance-validation", "configuration-recovery", "cross-platform-recovery",
		"database-recovery", "full-dr-simulation", "manual-backup", "monthly-database-recovery-test",
		"quarterly-system-recovery-test", "single-agent-failure", "site-failover", "site-failover-manual", "trading-platform-failover", "warehouse-failover"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	// Read over SSH at 80x24: every line fits in 80 columns.
	long := filepath.Join(t.TempDir(), strings.Repeat("very-long-folder-name-", 4))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(long, "x.md"), []byte("# A Runbook With A Rather Long Title Indeed\n- a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runbookCLI(t, "list", "--runbooks", long)
	if r.code != 0 || !strings.Contains(r.stdout, "trading-platform-failover") || !strings.HasPrefix(r.stdout, "ID") ||
		!strings.Contains(r.stdout, "A Runbook With A Rather Long Title") {
		t.Errorf("list: exit %d\n%s", r.code, r.stdout)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	// A broken file is reported and the others still listed.
	if err := os.WriteFile(filepath.Join(dir, "broken.md"), []byte("---\nrto: soon\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runbookCLI(t, "list", "--runbooks", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "warehouse-failover") || !strings.Contains(r.stderr, "broken.md:2") {
		t.Errorf("list with a broken file: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.md")
	bad := filepath.Join(dir, "bad.md")
	malformed := filepath.Join(dir, "malformed.md")
	other := t.TempDir()
	windows := filepath.Join(other, "windows.md") // BOM and CR LF
	latin1 := filepath.Join(other, "latin1.md")
	empty := t.TempDir()
	for p, src := range map[string]string{
		good:      "# Good\n## P (0-15 minutes)\n- a\n```drbook {confirm=true}\nrestore\n```\n",
		bad:       "# Bad\n## P (0-30 minutes)\n```drbook\nteleport\n```\n## Q (15-60 minutes)\n```drbook\nrestore\n```\n",
		malformed: "# M\n## P\n```sh\necho never closed\n",
		windows:   "\ufeff# W\r\n## P (0-15 minutes)\r\n- a\r\n",
		latin1:    "# L\n## P\n- caf\xe9\n",
	} {
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"all embedded", []string{"validate"}, 0, []string{"embedded:complete-system-recovery.md: ok", "embedded:trading-platform-failover.md: ok"}},
		{"embedded id", []string{"validate", "manual-backup"}, 0, []string{"ok"}},
		{"good file", []string{"validate", good}, 0, []string{good + ": ok"}},
		{"bad file", []string{"validate", good, bad}, 1, []string{
			bad + ":3: unknown action \"teleport\"", bad + ":6: phase \"Q (15-60 minutes)\" (15m-1h) overlaps phase \"P (0-30 minutes)\"",
			bad + ":7: action restore changes the system", "hint: add confirm=true"}},
		{"malformed", []string{"validate", malformed}, 1, []string{malformed + ":3: code fence opened here is never closed"}},
		{"folder", []string{"validate", dir}, 1, []string{good + ": ok", bad + ":3:"}},
		{"plan", []string{"validate", "../../testdata/dr-plan.md"}, 1, []string{"dr-plan.md:184: sql block changes data (.restore)"}},
		{"missing", []string{"validate", filepath.Join(dir, "missing.md")}, 2, []string{"cannot read"}},
		{"missing and bad", []string{"validate", bad, filepath.Join(dir, "missing.md")}, 2, []string{bad + ":3:"}},
		{"unknown flag", []string{"validate", "--strict"}, 2, nil},
		{"bom and crlf", []string{"validate", windows}, 0, []string{windows + ": ok"}},
		{"not utf-8", []string{"validate", latin1}, 1, []string{latin1 + ":3: file is not valid UTF-8"}},
		{"empty folder", []string{"validate", empty}, 2, []string{empty + ": cannot read: folder holds no .md files\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runbookCLI(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.out {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}

	r := runbookCLI(t, "validate", "--json", good, bad)
	var got struct {
		Valid    bool
		Runbooks []struct {
			File     string
			Valid    bool
			Problems []struct {
				File    string
				Line    int
				Message string
				Hint    string
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if r.code != 1 || got.Valid || len(got.Runbooks) != 2 || !got.Runbooks[0].Valid || got.Runbooks[1].Valid ||
		len(got.Runbooks[1].Problems) != 3 || got.Runbooks[1].Problems[0].Line != 3 || got.Runbooks[1].Problems[0].Hint == "" {
		t.Errorf("validate --json: exit %d %+v", r.code, got)
	}
}

func TestShowErrors(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "db.md")
	if err := os.WriteFile(bin, []byte("SQLite format 3\x00\x10\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"show"}, 2, "want one RUNBOOK"},
		{[]string{"show", "a", "b"}, 2, "want one RUNBOOK"},
		{[]string{"show", ""}, 2, "RUNBOOK is an empty argument"},
		{[]string{"validate", ""}, 2, "validate: an empty argument"},
		{[]string{"validate", "manual-backup", " "}, 2, "validate: an empty argument"},
		{[]string{"show", "no-such-runbook"}, 2, "known runbooks: complete-system-recovery"},
		{[]string{"show", filepath.Join(dir, "missing.md")}, 2, "no such file"},
		{[]string{"show", bin}, 1, bin + ":1: file is binary"},
		{[]string{"show", "--bogus", "x"}, 2, "unknown flag"},
		{[]string{"list", "extra"}, 2, "unexpected argument"},
		{[]string{"list", "--runbooks", filepath.Join(dir, "nope")}, 2, "not a readable folder"},
	} {
		r := runbookCLI(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, r.code, r.stderr, tc.code, tc.stderr)
		}
	}
}

func TestRunbookCommandsHelp(t *testing.T) {
	for _, cmd := range []string{"list", "show", "validate"} {
		r := runbookCLI(t, cmd, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: drbook "+cmd) || !strings.Contains(r.stdout, "Exit codes:") ||
			!strings.Contains(r.stdout, "--runbooks") || !strings.Contains(r.stdout, "--json") {
			t.Errorf("%s --help: exit %d\n%s", cmd, r.code, r.stdout)
		}
	}
}
