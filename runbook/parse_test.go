package runbook_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// MustParse parses src or fails the test.
func MustParse(tb testing.TB, src, name string) *runbook.Runbook {
	tb.Helper()
	rb, err := runbook.Parse([]byte(src), name)
	if err != nil {
		tb.Fatalf("Parse(%s): %v", name, err)
	}
	return rb
}

const planPath = "../testdata/dr-plan.md"

func TestPlanAsWritten(t *testing.T) {
	rb, err := runbook.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Title != "QuantAI Disaster Recovery Plan" || rb.ID != "dr-plan" {
		t.Errorf("id, title = %q, %q", rb.ID, rb.Title)
	}
	want := runbook.Objectives{RTO: 4 * time.Hour, RPO: 15 * time.Minute, MTD: 8 * time.Hour}
	if rb.Objectives != want {
		t.Errorf("objectives = %+v, want %+v", rb.Objectives, want)
	}
	if want := map[int]time.Duration{1: 15 * time.Minute, 2: time.Hour, 3: 4 * time.Hour}; !reflect.DeepEqual(rb.Response, want) {
		t.Errorf("response = %v, want %v", rb.Response, want)
	}

	// The five timed phases of Complete System Recovery, in order.
	type win struct {
		id         string
		start, end time.Duration
		line       int
	}
	wantWins := []win{
		{"immediate-actions", 0, 15 * time.Minute, 149},
		{"assessment-phase", 15 * time.Minute, time.Hour, 156},
		{"recovery-phase", time.Hour, 4 * time.Hour, 163},
		{"validation-phase", 4 * time.Hour, 6 * time.Hour, 170},
		{"resume-operations", 6 * time.Hour, 8 * time.Hour, 177},
	}
	var got []win
	for _, ph := range rb.Phases {
		if ph.Group == "Complete System Recovery" {
			if !ph.Window.Set {
				t.Errorf("phase %s has no window", ph.ID)
			}
			got = append(got, win{ph.ID, ph.Window.Start, ph.Window.End, ph.Line})
			if len(ph.Steps) < 4 {
				t.Errorf("phase %s has %d steps", ph.ID, len(ph.Steps))
			}
		}
	}
	if !reflect.DeepEqual(got, wantWins) {
		t.Errorf("complete system recovery phases:\n got %v\nwant %v", got, wantWins)
	}
	if p := rb.RTOStop(); p == nil || p.ID != "recovery-phase" {
		t.Errorf("RTOStop = %v, want recovery-phase", p)
	}
	if ph, st := rb.Step("immediate-actions/activate-emergency-kill-switch"); ph == nil || st.Line != 150 || st.Kind != runbook.KindManual {
		t.Errorf("Step(immediate-actions/activate-emergency-kill-switch) = %v, %+v", ph, st)
	}
	// Deadlines from "(< 5 minutes)" and "(< 15 minutes)".
	for id, end := range map[string]time.Duration{"automatic-failover": 5 * time.Minute, "manual-failover": 15 * time.Minute} {
		ph := rb.Phase(id)
		if ph == nil || !ph.Window.Set || !ph.Window.Deadline || ph.Window.Start != 0 || ph.Window.End != end {
			t.Errorf("phase %s window = %+v", id, ph)
		}
	}

	kinds := map[string]map[runbook.Kind]int{}
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			if st.Block == nil {
				continue
			}
			if kinds[st.Block.Lang] == nil {
				kinds[st.Block.Lang] = map[runbook.Kind]int{}
			}
			kinds[st.Block.Lang][st.Kind]++
			if st.Block.Lang == "sql" {
				if !strings.Contains(st.Block.Code, ".restore /backups/quantai/latest/quantai.db") || st.Block.Line != 184 {
					t.Errorf("sql block at line %d: %q", st.Block.Line, st.Block.Code)
				}
			}
		}
	}
	wantKinds := map[string]map[runbook.Kind]int{
		"bash":   {runbook.KindShell: 5},
		"sql":    {runbook.KindSQL: 1},
		"python": {runbook.KindReference: 3},
	}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("block kinds = %v, want %v", kinds, wantKinds)
	}
	if !strings.Contains(rb.Contacts, "IBKR Support:** +1-877-442-2757") || !strings.Contains(rb.Contacts, "FINRA") {
		t.Errorf("contacts = %q", rb.Contacts)
	}
	// The communication templates are shown on demand, not steps.
	if s := rb.Sections["5. Communication Plan"]; !strings.Contains(s, "SUBJECT: [URGENT] QuantAI System Incident") {
		t.Errorf("sections %v lack the communication templates", keys(rb.Sections))
	}
	// The plan restores with a dot-command and no confirmation: Validate
	// says so, and nothing else.
	ps := rb.Validate(steps.Catalog{})
	if len(ps) != 1 || ps[0].Line != 184 || !strings.Contains(ps[0].Msg, ".restore") {
		t.Errorf("Validate(plan) = %v", ps)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// EmbeddedIDs are the runbooks other packages rely on by id.
var EmbeddedIDs = []string{
	"complete-system-recovery", "compliance-validation", "configuration-recovery", "cross-platform-recovery",
	"database-recovery", "full-dr-simulation", "manual-backup", "monthly-database-recovery-test",
	"quarterly-system-recovery-test", "single-agent-failure", "site-failover", "site-failover-manual",
	"trading-platform-failover",
}

func TestEmbeddedRunbooksValidate(t *testing.T) {
	all, err := runbook.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rb := range all {
		ids = append(ids, rb.ID)
	}
	if !reflect.DeepEqual(ids, EmbeddedIDs) {
		t.Errorf("List(nil) ids = %v, want %v", ids, EmbeddedIDs)
	}
	for _, id := range EmbeddedIDs {
		t.Run(id, func(t *testing.T) {
			rb, err := runbook.Load(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rb.ID != id || rb.Source != "embedded:"+id+".md" {
				t.Errorf("id, source = %q, %q", rb.ID, rb.Source)
			}
			if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
				t.Errorf("problems:\n%v", ps)
			}
			if rb.Contacts == "" {
				t.Error("no emergency contacts")
			}
			actions := 0
			for _, ph := range rb.Phases {
				if id != "manual-backup" && !ph.Window.Set {
					t.Errorf("phase %s has no window", ph.ID)
				}
				for _, st := range ph.Steps {
					if st.Kind == runbook.KindAction {
						actions++
					}
					if st.Kind == runbook.KindReference {
						t.Errorf("step %s: embedded runbooks should run or ask, not just show code", st.ID)
					}
				}
			}
			if actions < 3 {
				t.Errorf("only %d steps bound to actions", actions)
			}
			// Site failover has the plan's own objectives (2.3): automatic in
			// under 5 minutes, manual in under 15.
			rto := map[string]time.Duration{"site-failover": 5 * time.Minute, "site-failover-manual": 15 * time.Minute}[id]
			if rto == 0 {
				rto = 4 * time.Hour
			}
			if id != "manual-backup" && (rb.Objectives.RTO != rto || rb.RTOStop() == nil) {
				t.Errorf("RTO %v, RTO stop phase %v", rb.Objectives.RTO, rb.RTOStop())
			}
		})
	}
}

func TestCompleteSystemRecoveryBindings(t *testing.T) {
	rb, err := runbook.Load("", nil) // the default
	if err != nil {
		t.Fatal(err)
	}
	if rb.ID != runbook.DefaultID || len(rb.Phases) != 5 {
		t.Fatalf("default runbook %s with %d phases", rb.ID, len(rb.Phases))
	}
	wantActions := map[string][]string{
		"immediate-actions": {"kill-switch", "notify"},
		"assessment-phase":  {"integrity-check", "validate-data", "validate-config", "notify"},
		"recovery-phase":    {"restore", "integrity-check", "validate-config"},
		"validation-phase":  {"validate-data", "reconcile"},
		"resume-operations": {"kill-switch"},
	}
	for _, ph := range rb.Phases {
		var got []string
		for _, st := range ph.Steps {
			if st.Kind == runbook.KindAction {
				got = append(got, st.Block.Action)
			}
		}
		if !reflect.DeepEqual(got, wantActions[ph.ID]) {
			t.Errorf("phase %s actions = %v, want %v", ph.ID, got, wantActions[ph.ID])
		}
	}
	_, st := rb.Step("recovery-phase/restore")
	if st == nil || !st.Destructive() || st.Block.Params["from"] != "${BACKUP_FROM}" {
		t.Fatalf("recovery-phase/restore = %+v", st)
	}
	if got := st.Block.ExpandParams(map[string]string{"BACKUP_FROM": "latest"})["from"]; got != "latest" {
		t.Errorf("expanded from = %q", got)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"4h", 4 * time.Hour}, {"15m", 15 * time.Minute}, {"1h30m", 90 * time.Minute},
		{"4 hours", 4 * time.Hour}, {"15 minutes", 15 * time.Minute}, {"1 hour", time.Hour},
		{"1.5 hrs", 90 * time.Minute}, {"2 days", 48 * time.Hour}, {"900", 15 * time.Minute},
		{"1 hour 30 minutes", 90 * time.Minute}, {" 8 Hours ", 8 * time.Hour},
	} {
		got, err := runbook.ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "soon", "4 parsecs", "-1h", "four hours", "4 hours later"} {
		if d, err := runbook.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in         string
		start, end time.Duration
		deadline   bool
	}{
		{"0-15 minutes", 0, 15 * time.Minute, false},
		{"15-60 minutes", 15 * time.Minute, time.Hour, false},
		{"1-4 hours", time.Hour, 4 * time.Hour, false},
		{"15m-1h", 15 * time.Minute, time.Hour, false},
		{"15 minutes - 1 hour", 15 * time.Minute, time.Hour, false},
		{"30 minutes-4 hours", 30 * time.Minute, 4 * time.Hour, false},
		{"4h to 6h", 4 * time.Hour, 6 * time.Hour, false},
		{"< 5 minutes", 0, 5 * time.Minute, true},
		{"<15 minutes", 0, 15 * time.Minute, true},
		{"4–6 hours", 4 * time.Hour, 6 * time.Hour, false},
	} {
		w, err := runbook.ParseWindow(tc.in)
		if err != nil || !w.Set || w.Start != tc.start || w.End != tc.end || w.Deadline != tc.deadline {
			t.Errorf("ParseWindow(%q) = %+v, %v", tc.in, w, err)
		}
	}
	for _, bad := range []string{"", "soon", "5", "a-b", "1-"} {
		if w, err := runbook.ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) = %+v, want an error", bad, w)
		}
	}
}

func TestWindowsFromTitlesAndAttributes(t *testing.T) {
	rb := MustParse(t, `# W

## Immediate (0-15 minutes)
- a

## Later {window=15m-1h id=later-on}
- b

## Overridden (1-4 hours) {window=1h-2h}
- c

1. **Listed (2-3 hours)**
   - d
2. **Untimed**
   - e

## Plain
- f
`, "w.md")
	want := map[string][2]time.Duration{
		"immediate": {0, 15 * time.Minute}, "later-on": {15 * time.Minute, time.Hour},
		"overridden": {time.Hour, 2 * time.Hour}, "listed": {2 * time.Hour, 3 * time.Hour},
	}
	var ids []string
	for _, ph := range rb.Phases {
		ids = append(ids, ph.ID)
		w, timed := want[ph.ID]
		if ph.Window.Set != timed || timed && (ph.Window.Start != w[0] || ph.Window.End != w[1]) {
			t.Errorf("phase %s window = %+v, want %v", ph.ID, ph.Window, w)
		}
	}
	if want := []string{"immediate", "later-on", "overridden", "listed", "untimed", "plain"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("phase ids = %v, want %v", ids, want)
	}
	if ph := rb.Phase("later-on"); ph.Title != "Later" {
		t.Errorf("title %q keeps its attributes", ph.Title)
	}
	if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
}

func TestBlockAttributesBothSyntaxes(t *testing.T) {
	rb := MustParse(t, "# A\n\n## P\n\n"+
		"```sh { name=restore-db confirm=true timeout=10m expect=3 drill=simulate cwd=data interpreter=\"bash -eu\" }\necho a\n```\n\n"+
		"```sh {\"name\":\"restore-db-2\",\"confirm\":true,\"timeout\":\"10m\",\"expect\":3,\"drill\":\"simulate\",\"cwd\":\"data\",\"interpreter\":\"bash -eu\"}\necho a\n```\n\n"+
		"```sql {write=true confirm=true diagnostic}\nDELETE FROM orders;\n```\n", "a.md")
	st := rb.Phases[0].Steps
	if len(st) != 3 {
		t.Fatalf("%d steps", len(st))
	}
	for i, s := range st[:2] {
		a := s.Block.Attrs
		if !a.Confirm || a.Timeout != 10*time.Minute || a.Expect != 3 || a.Drill != runbook.DrillSimulate || a.Cwd != "data" || a.Interpreter != "bash -eu" {
			t.Errorf("block %d attrs = %+v", i, a)
		}
		if s.Kind != runbook.KindShell || s.Block.Code != "echo a" {
			t.Errorf("block %d: kind %s code %q", i, s.Kind, s.Block.Code)
		}
	}
	if st[0].ID != "p/restore-db" || st[1].ID != "p/restore-db-2" || st[0].Title != "restore-db" {
		t.Errorf("ids %q %q, title %q", st[0].ID, st[1].ID, st[0].Title)
	}
	if a := st[2].Block.Attrs; !a.Write || !a.Confirm || !a.Diagnostic || st[2].Kind != runbook.KindSQL {
		t.Errorf("sql attrs %+v", a)
	}
	if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
}

func TestDrbookBlockAndNesting(t *testing.T) {
	rb := MustParse(t, `# N

## Phase

Intro text for the phase.

- [ ] Restore the database

  Keep the old file.

  `+"```drbook {confirm=true}"+`
  # comment lines are ignored
  restore
  from: latest
  only: db
  `+"```"+`

  `+"```python"+`
  print("shown, not run")
  `+"```"+`
- [x] Tell people
  - nested detail item
`, "n.md")
	ph := rb.Phases[0]
	if ph.Detail != "Intro text for the phase." {
		t.Errorf("phase detail %q", ph.Detail)
	}
	if len(ph.Steps) != 3 {
		t.Fatalf("steps: %d", len(ph.Steps))
	}
	s0, s1, s2 := ph.Steps[0], ph.Steps[1], ph.Steps[2]
	if s0.Title != "Restore the database" || s0.Kind != runbook.KindAction || s0.Block.Action != "restore" ||
		!reflect.DeepEqual(s0.Block.Params, map[string]string{"from": "latest", "only": "db"}) || s0.Line != 7 || s0.Block.Line != 11 {
		t.Errorf("step 0 = %+v block %+v", s0, s0.Block)
	}
	if !strings.Contains(s0.Detail, "Keep the old file.") {
		t.Errorf("step 0 detail %q", s0.Detail)
	}
	if s1.Kind != runbook.KindReference || s1.Block.Lang != "python" {
		t.Errorf("second block in an item: %+v", s1)
	}
	if s2.Title != "Tell people" || s2.Kind != runbook.KindManual || !strings.Contains(s2.Detail, "nested detail item") {
		t.Errorf("step 2 = %+v", s2)
	}
	if s0.ID != "phase/restore-the-database" || s2.ID != "phase/tell-people" {
		t.Errorf("ids %q %q", s0.ID, s2.ID)
	}
}

// Step ids must survive light edits so that an incident in progress still
// finds its steps.
func TestStepIDsAreStable(t *testing.T) {
	before := `# S

## Immediate Actions (0-15 minutes)
- Activate emergency kill switch
- Notify key stakeholders
- Notify key stakeholders

## Recovery (1-4 hours)
- Restore from backup
  ` + "```drbook {name=restore confirm=true}\n  restore\n  ```\n"
	after := `---
rto: 4h
---
# S (edited)

Some new introduction.

## Immediate Actions (0-30 minutes)
- Activate emergency kill switch

  With more detail now.
- Notify key stakeholders
- Notify key stakeholders
- A brand new step

## Recovery (1-5 hours)
- Restore from the most recent backup
  ` + "```drbook {name=restore confirm=true}\n  restore\n  from: latest\n  ```\n"
	a, b := MustParse(t, before, "s.md"), MustParse(t, after, "s.md")
	for _, id := range []string{
		"immediate-actions/activate-emergency-kill-switch",
		"immediate-actions/notify-key-stakeholders",
		"immediate-actions/notify-key-stakeholders-2",
		"recovery/restore",
	} {
		if _, st := a.Step(id); st == nil {
			t.Errorf("before: no step %s", id)
		}
		if _, st := b.Step(id); st == nil {
			t.Errorf("after the edit: no step %s", id)
		}
	}
	if _, st := b.Step("immediate-actions/a-brand-new-step"); st == nil {
		t.Error("new step has no derived id")
	}
}

func TestValidateProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"unknown action", "# T\n## P\n```drbook\nteleport\n```\n", 3, `unknown action "teleport"`},
		{"shell as action", "# T\n## P\n```drbook\nshell\n```\n", 3, `unknown action "shell"`},
		{"unknown parameter", "# T\n## P\n```drbook\nintegrity-check\nfast: yes\n```\n", 3, `unknown parameter "fast"`},
		{"destructive without confirm", "# T\n## P\n```drbook\nrestore\n```\n", 3, "restore changes the system"},
		{"restore-config without confirm", "# T\n## P\n- x\n  ```drbook {name=r}\n  restore-config\n  ```\n", 4, "restore-config changes the system"},
		{"kill switch without confirm", "# T\n## P\n```drbook {confirm=false}\nkill-switch\n```\n", 3, "kill-switch changes the system"},
		{"write sql without confirm", "# T\n## P\n```sql {write=true}\nDELETE FROM orders;\n```\n", 3, "does not ask for confirmation"},
		{"sql that writes unmarked", "# T\n## P\n```sql\n-- tidy\nUPDATE orders SET status = 'cancelled';\n```\n", 3, "changes data (UPDATE)"},
		{"sql dot restore unmarked", "# T\n## P\n```sql\n.restore x.db\n```\n", 3, "changes data (.restore)"},
		{"duplicate step ids", "# T\n## P\n```sh {name=a}\ntrue\n```\n```sh {name=a}\ntrue\n```\n", 6, `duplicate step id "p/a"`},
		{"duplicate phase ids", "# T\n## P {id=x}\n- a\n## Q {id=x}\n- b\n", 4, `duplicate phase id "x"`},
		{"inverted window", "# T\n## P {window=1h-15m}\n- a\n", 2, "ends before it starts"},
		{"overlapping windows", "# T\n## P (0-30 minutes)\n- a\n## Q (15-60 minutes)\n- b\n", 4, "overlaps phase \"P (0-30 minutes)\""},
		{"undeclared shell var", "# T\n## P\n```sh\necho \"$TARGET\"\n```\n", 3, "variable $TARGET is used but not declared"},
		{"undeclared param var", "# T\n## P\n```drbook\nbackup\nto: ${DEST}\n```\n", 3, "variable $DEST is used but not declared"},
		{"undeclared sql var", "# T\n## P\n```sql\nSELECT * FROM trades WHERE symbol = '${SYMBOL}';\n```\n", 3, "variable $SYMBOL"},
		{"unknown attribute", "# T\n## P\n```sh {name=a colour=red}\ntrue\n```\n", 3, `unknown attribute "colour"`},
		{"bad confirm", "# T\n## P\n```sh {confirm=perhaps}\ntrue\n```\n", 3, `attribute confirm="perhaps"`},
		{"bad drill", "# T\n## P\n```sh {drill=maybe}\ntrue\n```\n", 3, "want run, skip or simulate"},
		{"bad timeout", "# T\n## P\n```sh {timeout=soon}\ntrue\n```\n", 3, "want a duration"},
		{"bad attr syntax", "# T\n## P\n```sh {name=\"a}\ntrue\n```\n", 3, "unterminated quote"},
		{"drbook param syntax", "# T\n## P\n```drbook\nbackup\nthis is not a parameter\n```\n", 5, "is not a \"key: value\" parameter"},
		{"drbook empty", "# T\n## P\n```drbook\n# nothing\n```\n", 3, "names no action"},
		{"unknown front matter key", "---\nrtp: 4h\n---\n# T\n## P\n- a\n", 2, `unknown front matter key "rtp"`},
		{"unknown rto phase", "---\nrto_phase: nowhere\n---\n# T\n## P\n- a\n", 1, `rto_phase "nowhere" names no phase`},
		{"rto beyond mtd", "---\nrto: 8h\nmtd: 4h\n---\n# T\n## P\n- a\n", 1, "longer than the MTD"},
		{"unknown phase attribute", "# T\n## P {colour=red}\n- a\n", 2, `unknown phase attribute "colour"`},
		{"no steps", "# Only a title\n\nSome prose.\n", 1, "runbook has no steps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb := MustParse(t, tc.src, "t.md")
			ps := rb.Validate(steps.Catalog{})
			for _, p := range ps {
				if p.File == "t.md" && p.Line == tc.line && strings.Contains(p.Msg, tc.msg) {
					if !strings.HasPrefix(p.String(), "t.md:") {
						t.Errorf("String() = %q", p.String())
					}
					return
				}
			}
			t.Errorf("want t.md:%d: ...%s...; got:\n%v", tc.line, tc.msg, ps)
		})
	}
}

func TestValidateReportsEverythingAtOnce(t *testing.T) {
	src := "# T\n## P (1-4 hours)\n```drbook\nteleport\n```\n```drbook\nrestore\n```\n## Q (2-3 hours)\n```sh {bogus=1}\necho $NOPE\n```\n"
	ps := MustParse(t, src, "t.md").Validate(steps.Catalog{})
	var lines []int
	for _, p := range ps {
		lines = append(lines, p.Line)
		if p.Hint == "" {
			t.Errorf("problem without a hint: %v", p)
		}
	}
	// unknown action (3), destructive restore (6), overlap (9), unknown attribute and undeclared var (10)
	if want := []int{3, 6, 9, 10, 10}; !reflect.DeepEqual(lines, want) {
		t.Errorf("problem lines = %v, want %v:\n%v", lines, want, ps)
	}
	var err error = ps
	if !strings.Contains(err.Error(), "t.md:3: unknown action") {
		t.Errorf("Problems.Error() = %q", err)
	}
}

func TestValidateAcceptsGoodVariableUse(t *testing.T) {
	src := "---\nvariables:\n  - name: TARGET\n    prompt: where\n  - name: TOKEN\n    secret: true\n---\n# T\n## P\n" +
		"```sh\nBACKUP_DATE=$(date +%s)\nfor f in a b; do echo \"$f $BACKUP_DATE\"; done\necho \"$TARGET $DRBOOK_ROOT $HOME ${UNSET:-default}\"\nawk '{print $UNQUOTED}' /dev/null\n# echo $IN_COMMENT\nread -r LINE <<< x; echo $LINE $1 $@ $?\n```\n" +
		"```drbook\nbackup\nto: ${TARGET}\n```\n"
	rb := MustParse(t, src, "t.md")
	if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
	if len(rb.Vars) != 2 || !rb.Vars[1].Secret || rb.Vars[0].Prompt != "where" {
		t.Errorf("vars = %+v", rb.Vars)
	}
}

func TestFrontMatter(t *testing.T) {
	rb := MustParse(t, `---
id: my-runbook
title: From Front Matter
severity: 2
rto: 4 hours
rpo: 15m
mtd: "8h"
rto_phase: second
response:
  1: 15 minutes
  sev2: 1h
variables:
  SECRET_KEY: {prompt: "key?", secret: true}
  PLAIN:
---
# Heading Title

**Recovery Time Objective (RTO):** 1 hour

## First
- a
## Second
- b
`, "dir/x.md")
	if rb.ID != "my-runbook" || rb.Title != "From Front Matter" || rb.Severity != 2 || rb.RTOPhase != "second" {
		t.Errorf("rb = %+v", rb)
	}
	// The front matter wins over the body's bold style.
	if rb.Objectives != (runbook.Objectives{RTO: 4 * time.Hour, RPO: 15 * time.Minute, MTD: 8 * time.Hour}) {
		t.Errorf("objectives = %+v", rb.Objectives)
	}
	if rb.Response[1] != 15*time.Minute || rb.Response[2] != time.Hour {
		t.Errorf("response = %v", rb.Response)
	}
	if len(rb.Vars) != 2 || rb.Vars[0].Name != "SECRET_KEY" || !rb.Vars[0].Secret || rb.Vars[1].Name != "PLAIN" {
		t.Errorf("vars = %+v", rb.Vars)
	}
	if rb.Phases[0].Line != 20 || rb.Phases[0].Steps[0].Line != 21 {
		t.Errorf("lines after front matter: phase %d step %d", rb.Phases[0].Line, rb.Phases[0].Steps[0].Line)
	}
	if p := rb.RTOStop(); p == nil || p.ID != "second" {
		t.Errorf("RTOStop = %v", p)
	}
}

func TestAnyMarkdownLoads(t *testing.T) {
	for name, src := range map[string]string{
		"empty":           "",
		"prose":           "Just a paragraph.\n",
		"no headings":     "- one\n- two\n",
		"deep headings":   "# A\n## B\n### C\n#### D\n- step\n##### E\n1. first\n2. second\n",
		"quote and table": "# Q\n\n> - quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- real step\n",
		"html":            "<div>\n- not markdown\n</div>\n\n- step\n",
		"setext":          "Title\n=====\n\nPhase\n-----\n\n* a\n+ b\n",
		"indented code":   "# T\n## P\n\n    indented code\n",
		"crlf":            "# T\r\n## P (0-15 minutes)\r\n- a\r\n",
		"bom":             "\ufeff# T\n## P\n- a\n",
		"thematic":        "---\n",
	} {
		t.Run(name, func(t *testing.T) {
			rb, err := runbook.Parse([]byte(src), name+".md")
			if err != nil {
				if name == "thematic" && strings.Contains(err.Error(), "never closed") {
					return // a lone --- opens front matter that never closes
				}
				t.Fatal(err)
			}
			_ = rb.Validate(steps.Catalog{})
		})
	}
	rb := MustParse(t, "no headings\n\n- one\n- two\n", "list.md")
	if len(rb.Phases) != 1 || len(rb.Phases[0].Steps) != 2 || rb.Phases[0].Title != "Steps" {
		t.Errorf("phases = %+v", rb.Phases)
	}
	// A byte-order mark or CR LF line endings (a file saved on Windows)
	// change nothing: front matter, title, windows, lines and code.
	for name, src := range map[string]string{
		"plain": "---\nid: x\nrto: 4h\n---\n# T\n## P (0-15 minutes)\n- a\n```sh\necho hi\n```\n",
		"bom":   "\ufeff---\nid: x\nrto: 4h\n---\n# T\n## P (0-15 minutes)\n- a\n```sh\necho hi\n```\n",
		"crlf":  "---\r\nid: x\r\nrto: 4h\r\n---\r\n# T\r\n## P (0-15 minutes)\r\n- a\r\n```sh\r\necho hi\r\n```\r\n",
		"both":  "\ufeff---\r\nid: x\r\nrto: 4h\r\n---\r\n# T\r\n## P (0-15 minutes)\r\n- a\r\n```sh\r\necho hi\r\n```\r\n",
	} {
		rb := MustParse(t, src, name+".md")
		if rb.ID != "x" || rb.Title != "T" || rb.Objectives.RTO != 4*time.Hour || len(rb.Phases) != 1 {
			t.Errorf("%s: id %q title %q objectives %+v, %d phases", name, rb.ID, rb.Title, rb.Objectives, len(rb.Phases))
			continue
		}
		ph := rb.Phases[0]
		if ph.Title != "P (0-15 minutes)" || ph.Line != 6 || !ph.Window.Set || len(ph.Steps) != 2 ||
			ph.Steps[0].Title != "a" || ph.Steps[1].Block.Code != "echo hi" || ph.Steps[1].Block.Line != 8 {
			t.Errorf("%s: phase %+v", name, ph)
		}
	}
}

func TestBadInput(t *testing.T) {
	big := make([]byte, runbook.MaxSize+1)
	for i := range big {
		big[i] = 'a'
	}
	for _, tc := range []struct {
		name string
		src  []byte
		line int
		msg  string
	}{
		{"too large", big, 1, "over the 10 MiB limit"},
		{"binary", []byte("# T\n\nok\n\x00\x01\x02"), 4, "binary"},
		{"not utf-8", []byte("# T\n## P\n- caf\xe9\n"), 3, "not valid UTF-8"},
		{"malformed yaml", []byte("---\nid: x\nrto: 4h\nfoo: : bar\n---\n# T\n"), 4, "malformed front matter"},
		{"yaml tabs", []byte("---\nid: x\n\trto: 4h\n---\n# T\n"), 3, "malformed front matter"},
		{"front matter not a map", []byte("---\n- a\n- b\n---\n# T\n"), 2, "must be a YAML mapping"},
		{"unclosed front matter", []byte("---\nid: x\n# T\n"), 1, "never closed"},
		{"bad rto", []byte("---\nrto: soon\n---\n# T\n"), 2, "rto"},
		{"bad severity", []byte("---\nseverity: 9\n---\n# T\n"), 2, "severity"},
		{"bad id", []byte("---\nid: Not An Id\n---\n# T\n"), 2, "lower case"},
		{"unterminated fence", []byte("# T\n## P\n- a\n\n```sh\necho never closed\n"), 5, "never closed"},
		{"unterminated fence in item", []byte("# T\n## P\n- a\n  ```sh\n  echo\nnot indented\n"), 4, "never closed"},
		{"short closing fence", []byte("# T\n````sh\necho\n```\n"), 2, "never closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rb, err := runbook.Parse(tc.src, "bad.md")
			if err == nil {
				t.Fatalf("no error; parsed %d phases", len(rb.Phases))
			}
			var ps runbook.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T %v is not Problems", err, err)
			}
			if ps[0].File != "bad.md" || ps[0].Line != tc.line || !strings.Contains(ps[0].Msg, tc.msg) || ps[0].Hint == "" {
				t.Errorf("got %v; want bad.md:%d: ...%s... with a hint", ps[0], tc.line, tc.msg)
			}
		})
	}
}

func TestReadFileRefusesLargeFilesUnread(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.md")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(runbook.MaxSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = runbook.ReadFile(p)
	var ps runbook.Problems
	if !errors.As(err, &ps) || !strings.Contains(ps[0].Msg, "10 MiB") || ps[0].File != p {
		t.Errorf("ReadFile(huge) = %v", err)
	}
}

func TestLoadAndList(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("ops-drill.md", "# Ops Drill\n## P\n- a\n")
	write("renamed.md", "---\nid: by-front-matter\n---\n# Renamed\n## P\n- a\n")
	write("complete-system-recovery.md", "# Local Override\n## P\n- a\n")
	write("broken.md", "---\nrto: [\n---\n")
	write("notes.txt", "not a runbook")

	for _, tc := range []struct{ ref, wantTitle string }{
		{"ops-drill", "Ops Drill"},
		{"by-front-matter", "Renamed"},
		{"complete-system-recovery", "Local Override"}, // the folder wins over the embedded copy
		{filepath.Join(dir, "ops-drill.md"), "Ops Drill"},
		{"database-recovery", "Database Recovery"},
	} {
		rb, err := runbook.Load(tc.ref, []string{dir})
		if err != nil || rb.Title != tc.wantTitle {
			t.Errorf("Load(%q) = %v, %v; want %q", tc.ref, rb, err, tc.wantTitle)
		}
	}
	_, err := runbook.Load("no-such-runbook", []string{dir})
	var nf *runbook.NotFoundError
	if !errors.Is(err, runbook.ErrNotFound) || !errors.As(err, &nf) || !strings.Contains(nf.Hint(), "database-recovery") {
		t.Errorf("Load(unknown) = %v", err)
	}
	if _, err := runbook.Load(filepath.Join(dir, "missing.md"), nil); err == nil || errors.Is(err, runbook.ErrNotFound) {
		t.Errorf("Load(missing path) = %v, want a read error", err)
	}
	if _, err := runbook.Load(dir, nil); err == nil || !strings.Contains(err.Error(), "name one") {
		t.Errorf("Load(folder of many) = %v", err)
	}
	one := t.TempDir()
	if err := os.WriteFile(filepath.Join(one, "only.md"), []byte("# Only\n- a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rb, err := runbook.Load(one, nil); err != nil || rb.ID != "only" {
		t.Errorf("Load(folder of one) = %v, %v", rb, err)
	}

	all, err := runbook.List([]string{dir})
	var ps runbook.Problems
	if !errors.As(err, &ps) || !strings.Contains(ps[0].File, "broken.md") {
		t.Errorf("List error = %v, want broken.md's problem", err)
	}
	byID := map[string]*runbook.Runbook{}
	for _, rb := range all {
		byID[rb.ID] = rb
	}
	if len(all) != len(EmbeddedIDs)+2 || byID["complete-system-recovery"].Title != "Local Override" || byID["ops-drill"] == nil {
		t.Errorf("List = %d runbooks: %v", len(all), byID)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "EMPTY": ""}
	for in, want := range map[string]string{
		"$A and ${A}":       "1 and 1",
		"${MISSING}":        "${MISSING}",
		"${MISSING:-dflt}":  "dflt",
		"${EMPTY:-dflt}":    "dflt",
		"${A:-dflt}":        "1",
		"no vars":           "no vars",
		"cost $5 $EMPTY!":   "cost $5 !",
		"$A_B stays, $A.ok": "$A_B stays, 1.ok",
	} {
		if got := runbook.Expand(in, vars); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStepsAfterPhaseListJoinItsLastPhase(t *testing.T) {
	rb := MustParse(t, "# T\n## Procedure\n1. **One (0-1 hours)**\n   - a\n2. **Two (1-2 hours)**\n   - b\n\n```sh\necho after\n```\n\n- c\n## Next\n- d\n", "t.md")
	var got []string
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			got = append(got, ph.ID+":"+st.Title)
		}
	}
	want := []string{"one:a", "two:b", "two:$ echo after", "two:c", "next:d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("steps = %v, want %v", got, want)
	}
}

// A notebook written for Runme loads and validates: its front matter and
// its cells' JSON attributes are understood or accepted.
func TestRunmeNotebook(t *testing.T) {
	rb, err := runbook.ReadFile("../testdata/runme-example.md")
	if err != nil {
		t.Fatal(err)
	}
	if ps := rb.Validate(steps.Catalog{}); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
	var ids []string
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			ids = append(ids, st.ID+":"+string(st.Kind))
		}
	}
	want := []string{"look-around/disk-space:shell", "look-around/list-data:shell", "query/open-orders:sql"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("steps = %v, want %v", ids, want)
	}
}

func TestUnknownActionHint(t *testing.T) {
	rb := MustParse(t, "# T\n## P\n```drbook\nrestor\n```\n", "t.md")
	ps := rb.Validate(steps.Catalog{})
	if len(ps) != 1 || !strings.Contains(ps[0].Hint, `did you mean "restore"?`) || !strings.Contains(ps[0].Hint, "kill-switch") {
		t.Errorf("problems = %v", ps)
	}
	// A catalog that cannot list its actions points at the docs instead.
	ps = rb.Validate(struct{ runbook.Catalog }{steps.Catalog{}})
	if len(ps) != 1 || !strings.Contains(ps[0].Hint, "docs/actions.md") {
		t.Errorf("problems = %v", ps)
	}
}

// TestReadFileRefusesAFIFO: opening a named pipe blocks until someone
// writes to it, and no signal interrupts the wait; ReadFile must refuse it
// without opening it. (The 30 s only guards against hanging the suite.)
func TestReadFileRefusesAFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe.md")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := runbook.ReadFile(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("ReadFile(FIFO) = %v, want 'not a regular file'", err)
		}
	case <-time.After(30 * time.Second):
		// Unblock the reader so the suite can go on.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("ReadFile blocked opening a FIFO")
	}
}
