package incident_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	_ "github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/sandbox"
)

// TestRunActionRecordsLikeAStep runs registered actions outside the
// steps, as 'drbook run ACTION --incident ID' does: the run is recorded
// with the action's own output, redacted like a step's; a closed incident
// and a drill on a real system are refused before anything runs.
func TestRunActionRecordsLikeAStep(t *testing.T) {
	root := t.TempDir()
	const secret = "sk-live-0123456789abcdefghijklmnop"
	must(t, os.WriteFile(filepath.Join(root, ".env"), []byte("OPENAI_API_KEY="+secret+"\n"), 0o600))
	s := MustStore(t)
	in := MustDeclare(t, s, incident.NewManualClock(t0), incident.DeclareOptions{Root: root})

	sh, ok := steps.Lookup(steps.ShellAction)
	if !ok {
		t.Fatal("no shell action")
	}
	var seen []string
	run, err := in.RunAction(ctx, sh, steps.Request{Env: steps.Env{Root: root},
		Block: block("sh", "echo key is $(cut -d= -f2 .env); echo oops >&2; exit 3", runbook.Attrs{})},
		func(ev steps.Event) { seen = append(seen, ev.Line) })
	must(t, err)
	if run.Status != steps.StatusFailed || run.ExitCode != 3 {
		t.Errorf("shell exiting 3: %+v", run)
	}
	if strings.Contains(strings.Join(seen, "\n"), secret) || !strings.Contains(strings.Join(seen, "\n"), "key is [REDACTED]") {
		t.Errorf("streamed lines not redacted: %q", seen)
	}

	must(t, func() error {
		ic, _ := steps.Lookup("integrity-check")
		_, err := in.RunAction(ctx, ic, steps.Request{Env: steps.Env{Root: root}}, nil)
		return err
	}())

	st, err := s.Load(ctx, in.ID())
	must(t, err)
	if len(st.Runs) != 2 {
		t.Fatalf("runs: %+v", st.Runs)
	}
	r := st.Runs[0]
	if r.Action != steps.ShellAction || r.Mode != incident.ModeCommand || r.Status != "failed" ||
		!strings.Contains(r.Output, "key is [REDACTED]") || !strings.Contains(r.Output, "stderr: oops") {
		t.Errorf("shell run: %+v", r)
	}
	if r := st.Runs[1]; r.Action != "integrity-check" || r.Status != "failed" { // no database under root
		t.Errorf("integrity-check of an empty root: %+v", r)
	}
	evs, err := s.Events(ctx, in.ID())
	must(t, err)
	raw, _ := json.Marshal(evs)
	if strings.Contains(string(raw), secret) {
		t.Error("the .env secret reached the timeline")
	}

	// A drill takes only its sandbox.
	dr := MustDeclare(t, s, nil, incident.DeclareOptions{ID: "DRILL-TEST-1", Mode: incident.Drill, Root: root})
	if _, err := dr.RunAction(ctx, sh, steps.Request{Env: steps.Env{Root: root}, Block: block("sh", "touch ran", runbook.Attrs{})}, nil); !errors.Is(err, incident.ErrNotSandbox) {
		t.Errorf("drill on a real root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "ran")); !os.IsNotExist(err) {
		t.Error("the refused action ran")
	}

	// A closed incident records nothing more, and nothing runs.
	must(t, in.Close(incident.StatusResolved, "done"))
	if _, err := in.RunAction(ctx, sh, steps.Request{Env: steps.Env{Root: root}, Block: block("sh", "touch ran", runbook.Attrs{})}, nil); err == nil {
		t.Error("ran in a closed incident")
	}
	if _, err := os.Stat(filepath.Join(root, "ran")); !os.IsNotExist(err) {
		t.Error("the refused action ran")
	}
}

// TestRunStepOutcome checks that RunStep returns what it recorded: a
// diagnostic check that finds problems is done with its findings, a
// failing shell block is failed.
func TestRunStepOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a sandbox")
	}
	root := filepath.Join(t.TempDir(), "sys")
	must(t, sandbox.Create(ctx, root, sandbox.Options{Trades: 200, Seed: 3}))
	must(t, sandbox.Inject(root, "corrupt-db"))
	rb := testRunbook()
	rb.Phases[1].Steps[1] = &runbook.Step{ID: "assessment/estimate", Title: "Check the database", Kind: runbook.KindAction,
		Block: &runbook.Block{Lang: "drbook", Action: "integrity-check", Attrs: runbook.Attrs{Diagnostic: true}}}
	rb.Phases[1].Steps[0].Block = block("sh", "echo no; exit 1", runbook.Attrs{})
	s := MustStore(t)
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "INC-OUT", Root: root}, incident.NewManualClock(t0))
	must(t, err)

	out, err := in.RunStep(ctx, "assessment/estimate", steps.Env{}, false, nil)
	must(t, err)
	if out.Step != incident.StepDone || !out.DoneWithFindings() || out.Status != steps.StatusFailed || !strings.HasPrefix(out.Note, "findings: ") {
		t.Errorf("diagnostic check of a corrupt database: %+v", out)
	}
	if got := in.State().Step("assessment/estimate").Status; got != out.Step {
		t.Errorf("state says %s, outcome %s", got, out.Step)
	}
	out, err = in.RunStep(ctx, "assessment/scope", steps.Env{}, false, nil)
	must(t, err)
	if out.Step != incident.StepFailed || out.DoneWithFindings() {
		t.Errorf("failing shell block: %+v", out)
	}
	if got := in.State().Step("assessment/scope").Status; got != out.Step {
		t.Errorf("state says %s, outcome %s", got, out.Step)
	}
}
