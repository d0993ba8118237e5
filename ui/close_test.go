package ui_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/ui"
)

// TestCloseWithoutSummary: closing from the TUI asks for no summary, so
// the report gets the step tally instead of "No summary given".
func TestCloseWithoutSummary(t *testing.T) {
	dir := t.TempDir()
	store, err := incident.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rb, err := runbook.Load("database-recovery", nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := incident.Declare(context.Background(), store, rb, incident.DeclareOptions{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := in.State()
	first, second := st.Phases[0].Steps[0].ID, st.Phases[0].Steps[1].ID
	if err := in.SkipStep(first, "halted at the gateway"); err != nil {
		t.Fatal(err)
	}
	if err := in.FailStep(second, "no phone line"); err != nil {
		t.Fatal(err)
	}
	sess := ui.NewSession(in, store, rb, steps.Env{Root: st.Declaration.Root}, dir)
	if err := sess.Close(incident.StatusResolved, ""); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(context.Background(), in.ID())
	if err != nil {
		t.Fatal(err)
	}
	want := "closed in the TUI: 0 of " + strconv.Itoa(rb.StepCount()) + " steps done, 1 skipped, 1 failed"
	if got.Summary != want {
		t.Errorf("summary %q, want %q", got.Summary, want)
	}
}
