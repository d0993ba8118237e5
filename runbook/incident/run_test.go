package incident_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

func kinds(t *testing.T, s *incident.Store, id string) []incident.Kind {
	t.Helper()
	evs, err := s.Events(ctx, id)
	must(t, err)
	var out []incident.Kind
	for _, ev := range evs {
		out = append(out, ev.Kind)
	}
	return out
}

func TestStepLifecycle(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	in := MustDeclare(t, s, clock, incident.DeclareOptions{})
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"skip without a reason", func() error { return in.SkipStep("immediate/halt", "  ") }, incident.ErrReasonRequired},
		{"fail without a reason", func() error { return in.FailStep("immediate/halt", "") }, incident.ErrReasonRequired},
		{"unknown step", func() error { return in.StartStep("nope/nope") }, incident.ErrUnknownStep},
		{"unknown phase", func() error { return in.CompletePhase("nope") }, incident.ErrUnknownPhase},
		{"start", func() error { return in.StartStep("immediate/halt") }, nil},
		{"fail", func() error { return in.FailStep("immediate/halt", "gateway did not answer") }, nil},
		{"start again after failing", func() error { return in.StartStep("immediate/halt") }, nil},
		{"done", func() error { return in.DoneStep("immediate/halt", "halted by hand") }, nil},
		{"start a done step", func() error { return in.StartStep("immediate/halt") }, incident.ErrTransition},
		{"skip a done step", func() error { return in.SkipStep("immediate/halt", "x") }, incident.ErrTransition},
		{"run a manual step", func() error {
			_, err := in.RunStep(ctx, "assessment/estimate", steps.Env{}, false, nil)
			return err
		}, incident.ErrNotRunnable},
		{"note", func() error { return in.Note("bridge call opened") }, nil},
		{"severity", func() error { return in.SetSeverity(2, "trading unaffected") }, nil},
		{"bad severity", func() error { return in.SetSeverity(4, "") }, nil},
		{"close", func() error { return in.Close(incident.StatusResolved, "restored") }, nil},
		{"note after close", func() error { return in.Note("late") }, incident.ErrClosed},
	}
	for _, tt := range tests {
		clock.Advance(time.Minute)
		err := tt.do()
		switch {
		case tt.name == "bad severity":
			if err == nil {
				t.Errorf("%s: accepted", tt.name)
			}
		case tt.want == nil && err != nil, tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	st, err := s.Load(ctx, in.ID())
	must(t, err)
	halt := st.Step("immediate/halt")
	if halt.Status != incident.StepDone || halt.Reason != "halted by hand" || st.Severity != 2 || st.Status != incident.StatusResolved ||
		len(st.Notes) != 1 || st.Summary != "restored" || !st.FirstAck.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("state: halt %+v sev %d status %s notes %v ack %v", halt, st.Severity, st.Status, st.Notes, st.FirstAck)
	}
	if p := st.Phase("immediate"); p.StartedAt.IsZero() || !p.CompletedAt.IsZero() {
		t.Errorf("immediate phase: started %v completed %v (notify is still pending)", p.StartedAt, p.CompletedAt)
	}
	if _, err := incident.Open(ctx, s, in.ID(), nil, clock, incident.OpenOptions{Resume: true}); !errors.Is(err, incident.ErrClosed) {
		t.Errorf("resuming a closed incident: %v", err)
	}
}

func TestRunStepShell(t *testing.T) {
	s := MustStore(t)
	clock := incident.NewManualClock(t0)
	root := t.TempDir()
	in := MustDeclare(t, s, clock, incident.DeclareOptions{Root: root})
	var mu sync.Mutex
	var lines []string
	emit := func(ev steps.Event) {
		mu.Lock()
		lines = append(lines, ev.Line)
		mu.Unlock()
	}
	res, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, emit)
	must(t, err)
	if res.Status != steps.StatusOK {
		t.Fatalf("result %+v", res)
	}
	st := in.State()
	if got := st.Step("assessment/scope"); got.Status != incident.StepDone {
		t.Errorf("step %s", got.Status)
	}
	if len(st.Runs) != 1 || st.Runs[0].Status != "ok" || !strings.Contains(st.Runs[0].Output, "scope of primary ok") || st.Runs[0].Action != "shell" {
		t.Errorf("run %+v", st.Runs)
	}
	mu.Lock()
	if !strings.Contains(strings.Join(lines, "\n"), "scope of primary ok") {
		t.Errorf("emitted %q", lines)
	}
	mu.Unlock()
	want := []incident.Kind{incident.KindDeclared, incident.KindPhaseStarted, incident.KindStepStarted, incident.KindActionStarted,
		incident.KindActionOutput, incident.KindActionFinished, incident.KindStepDone}
	if got := kinds(t, s, in.ID()); strings.Join(kindStrings(got), " ") != strings.Join(kindStrings(want), " ") {
		t.Errorf("timeline %v, want %v", got, want)
	}

	// A destructive step is refused without confirmation, and nothing is recorded.
	before := len(kinds(t, s, in.ID()))
	if _, err := in.RunStep(ctx, "recovery/wipe", steps.Env{}, false, nil); !errors.Is(err, steps.ErrNotConfirmed) {
		t.Fatalf("unconfirmed destructive step: %v", err)
	}
	if after := len(kinds(t, s, in.ID())); after != before {
		t.Errorf("refusal recorded %d events", after-before)
	}
	res, err = in.RunStep(ctx, "recovery/wipe", steps.Env{}, true, nil)
	if err != nil || res.Status != steps.StatusOK {
		t.Errorf("confirmed: %+v %v", res, err)
	}
	if _, err := in.RunStep(ctx, "recovery/wipe", steps.Env{}, true, nil); !errors.Is(err, incident.ErrTransition) {
		t.Errorf("running a done step again: %v", err)
	}
}

func TestRunStepFailureAndOutputCap(t *testing.T) {
	s := MustStore(t)
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block.Code = `for i in $(seq 1 3000); do printf 'line %04d %s\n' $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done; echo last-line; exit 3`
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "INC-CAP", Root: t.TempDir()}, incident.NewManualClock(t0))
	must(t, err)
	res, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != steps.StatusFailed {
		t.Fatalf("exit 3: %+v", res)
	}
	st, err := s.Load(ctx, in.ID())
	must(t, err)
	run := st.Runs[0]
	if run.Truncated == 0 || len(run.Output) > incident.OutputCap+200 || !strings.Contains(run.Output, "line 0001") ||
		!strings.Contains(run.Output, "last-line") || !strings.Contains(run.Output, "bytes of output not kept") {
		t.Errorf("output: %d bytes kept, %d dropped; head %q tail %q", len(run.Output), run.Truncated, run.Output[:40], run.Output[len(run.Output)-40:])
	}
	if sc := st.Step("assessment/scope"); sc.Status != incident.StepFailed || sc.Reason == "" {
		t.Errorf("step: %s %q", sc.Status, sc.Reason)
	}
}

func TestRunStepNotify(t *testing.T) {
	s := MustStore(t)
	in := MustDeclare(t, s, incident.NewManualClock(t0), incident.DeclareOptions{})
	res, err := in.RunStep(ctx, "immediate/notify", steps.Env{}, false, nil)
	must(t, err)
	st := in.State()
	if res.Status != steps.StatusOK || len(st.Comms) != 1 || st.Comms[0].To != "CEO, CTO" ||
		!strings.Contains(st.Comms[0].Body, "Incident ID: INC-TEST-1") || st.Step("immediate/notify").Status != incident.StepDone {
		t.Errorf("notify: %+v, comms %+v", res, st.Comms)
	}
}

func TestRunStepDrillModes(t *testing.T) {
	s := MustStore(t)
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, ".drbook-sandbox"), nil, 0o644))
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block = block("sh", "touch simulated-marker", runbook.Attrs{Drill: runbook.DrillSimulate})
	rb.Phases[2].Steps[0].Block = block("sh", "touch skipped-marker", runbook.Attrs{Drill: runbook.DrillSkip, Confirm: true})
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "DRILL-1", Mode: incident.Drill, Root: root}, incident.NewManualClock(t0))
	must(t, err)
	res, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, nil)
	if err != nil || res.Status != steps.StatusSimulated {
		t.Errorf("simulate: %+v %v", res, err)
	}
	// A skipped destructive block needs no confirmation: it does nothing.
	res, err = in.RunStep(ctx, "recovery/wipe", steps.Env{}, false, nil)
	if err != nil || res.Status != steps.StatusSkipped {
		t.Errorf("skip: %+v %v", res, err)
	}
	for _, f := range []string{"simulated-marker", "skipped-marker"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			t.Errorf("%s exists: the block ran", f)
		}
	}
	st := in.State()
	if a, b := st.Step("assessment/scope"), st.Step("recovery/wipe"); a.Status != incident.StepDone || b.Status != incident.StepSkipped || b.Reason == "" {
		t.Errorf("steps: %s, %s %q", a.Status, b.Status, b.Reason)
	}
	if len(st.Runs) != 2 || st.Runs[0].Mode != "simulate" || st.Runs[1].Mode != "skip" {
		t.Errorf("runs: %+v", st.Runs)
	}
}

func TestRunStepConcurrentWithState(t *testing.T) {
	s := MustStore(t)
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block.Code = "echo begin; sleep 0.5; echo end"
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "INC-CONC", Root: t.TempDir()}, incident.SystemClock{})
	must(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, nil)
		done <- err
	}()
	deadline := time.After(10 * time.Second)
	for in.State().Step("assessment/scope").Status != incident.StepRunning {
		select {
		case <-deadline:
			t.Fatal("step never showed as running")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := in.DoneStep("assessment/scope", ""); !errors.Is(err, incident.ErrTransition) {
		t.Errorf("marking a step done while its action runs: %v", err)
	}
	must(t, in.Note("while it runs"))
	for i := 0; i < 50; i++ {
		_ = in.Clocks()
	}
	must(t, <-done)
	if got := in.State().Step("assessment/scope").Status; got != incident.StepDone {
		t.Errorf("after: %s", got)
	}
}

func kindStrings(ks []incident.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func TestRunStepCancelledIsInterrupted(t *testing.T) {
	s := MustStore(t)
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block.Code = "echo started; sleep 5; echo finished"
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "INC-CANCEL", Root: t.TempDir()}, incident.NewManualClock(t0))
	must(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err = in.RunStep(runCtx, "assessment/scope", steps.Env{}, false, func(ev steps.Event) {
		if ev.Line == "started" {
			cancel() // the operator pressed x, or the SSH link dropped
		}
	})
	if err == nil {
		t.Fatal("a cancelled run returned no error")
	}
	st, err := s.Load(ctx, in.ID())
	must(t, err)
	step := st.Step("assessment/scope")
	if step.Status != incident.StepInterrupted || len(st.Runs) != 1 || st.Runs[0].Status != "interrupted" ||
		st.Runs[0].FinishedAt.IsZero() || strings.Contains(st.Runs[0].Output, "finished") {
		t.Errorf("after cancel: step %s %q, runs %+v", step.Status, step.Reason, st.Runs)
	}
	// Resuming finds nothing running to interrupt again.
	in2, err := incident.Open(ctx, s, in.ID(), rb, incident.NewManualClock(t0), incident.OpenOptions{Resume: true})
	must(t, err)
	if n := strings.Count(strings.Join(kindStrings(kinds(t, s, in.ID())), " "), string(incident.KindActionInterrupted)); n != 1 {
		t.Errorf("%d action_interrupted events", n)
	}
	must(t, in2.StartStep("assessment/scope"))
}

func TestDiagnosticStepWithFindingsIsDone(t *testing.T) {
	s := MustStore(t)
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block = block("sh", "echo 3 orphaned trades; exit 1", runbook.Attrs{Diagnostic: true})
	rb.Phases[2].Steps[0].Block = block("sh", "echo broken; exit 1", runbook.Attrs{Confirm: true})
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "INC-DIAG", Root: t.TempDir()}, incident.NewManualClock(t0))
	must(t, err)
	res, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, nil)
	if err != nil || res.Status != steps.StatusFailed {
		t.Fatalf("diagnostic: %+v %v", res, err)
	}
	_, err = in.RunStep(ctx, "recovery/wipe", steps.Env{}, true, nil)
	must(t, err)
	st := in.State()
	if d := st.Step("assessment/scope"); d.Status != incident.StepDone || !strings.HasPrefix(d.Reason, "findings: ") || st.Runs[0].Status != "failed" {
		t.Errorf("diagnostic step: %s %q, run %s", d.Status, d.Reason, st.Runs[0].Status)
	}
	if w := st.Step("recovery/wipe"); w.Status != incident.StepFailed {
		t.Errorf("ordinary failing step: %s", w.Status)
	}
}

func TestNotifyOutsideAnIncidentFails(t *testing.T) {
	a, ok := steps.Lookup("notify")
	if !ok || !steps.Implemented("notify") {
		t.Fatal("notify not registered")
	}
	res, err := a.Run(ctx, steps.Request{Params: map[string]string{"template": "update"}}, func(steps.Event) {})
	if !errors.Is(err, incident.ErrNeedsIncident) || res.Status != steps.StatusFailed {
		t.Errorf("notify outside an incident: %+v %v", res, err)
	}
}

func TestRunStepTwiceAtOnceRunsOnce(t *testing.T) {
	s := MustStore(t)
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block.Code = "sleep 0.3; echo ran >> runs.txt"
	root := t.TempDir()
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "INC-TWICE", Root: root}, incident.SystemClock{})
	must(t, err)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, nil)
			errs <- err
		}()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || !errors.Is(errors.Join(e1, e2), incident.ErrTransition) {
		t.Errorf("two concurrent runs: %v, %v; want one to run and one refused", e1, e2)
	}
	data, _ := os.ReadFile(filepath.Join(root, "runs.txt"))
	if string(data) != "ran\n" {
		t.Errorf("block ran %q", data)
	}
}

// TestDrillNeverActsOnARealSystem: a drill declared against a root that is
// not a drbook sandbox refuses to run its actions there (a kill switch, a
// shell block), records nothing, and leaves the root untouched; notify,
// which touches no system, still works. The same step runs once the root
// is a sandbox.
func TestDrillNeverActsOnARealSystem(t *testing.T) {
	s := MustStore(t)
	live := t.TempDir()
	rb := testRunbook()
	rb.Phases[1].Steps[0].Block = block("sh", "touch ran-marker", runbook.Attrs{})
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{ID: "DRILL-LIVE", Mode: incident.Drill, Root: live}, incident.NewManualClock(t0))
	must(t, err)
	for _, env := range []steps.Env{{}, {Root: live}} {
		_, err := in.RunStep(ctx, "assessment/scope", env, true, nil)
		if !errors.Is(err, incident.ErrNotSandbox) || !strings.Contains(err.Error(), live) || !strings.Contains(hint.Of(err), "drbook drill") {
			t.Errorf("env %+v: %v, want ErrNotSandbox naming the root and a way out", env, err)
		}
	}
	if _, err := os.Stat(filepath.Join(live, "ran-marker")); err == nil {
		t.Error("the block ran against a root that is not a sandbox")
	}
	st := in.State()
	if len(st.Runs) != 0 || st.Step("assessment/scope").Status != incident.StepPending {
		t.Errorf("a refused run was recorded: %+v", st.Runs)
	}
	if _, err := in.RunStep(ctx, "immediate/notify", steps.Env{}, false, nil); err != nil {
		t.Errorf("notify in a drill without a sandbox: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(live, ".drbook-sandbox"), nil, 0o644))
	if res, err := in.RunStep(ctx, "assessment/scope", steps.Env{}, false, nil); err != nil || res.Status != steps.StatusOK {
		t.Errorf("in a sandbox: %+v %v", res, err)
	}
}
