package ui_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/ui"
)

const slowRunbook = `---
id: slow-drill
title: Slow Drill
rto: 1h
---

# Slow Drill

## Only Phase (0-60 minutes)

- Wait for a slow thing

  ` + "```sh {name=slow}" + `
  echo "slow step started"
  sleep 300
  echo "never printed"
  ` + "```" + `
`

// TestCancelAction: x cancels the running action; it is recorded as
// interrupted and may be run again.
func TestCancelAction(t *testing.T) {
	env := newTestEnv(t)
	path := filepath.Join(t.TempDir(), "slow.md")
	if err := os.WriteFile(path, []byte(slowRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := drill.Start(context.Background(), drill.Options{ID: "DRILL-SLOW", Runbook: rb, StateDir: env.cfg.StateDir,
		Store: env.cfg.Store, Operator: env.cfg.Operator, Clock: env.clock, Trades: 200})
	if err != nil {
		t.Fatal(err)
	}
	runs := &ui.Runs{}
	opts := env.options(runs)
	opts.Session = ui.NewSession(d.Incident, env.cfg.Store, rb, d.Env, env.cfg.StateDir)
	tm := startTUI(t, ui.New(opts), 80, 24)
	waitFor(t, tm, "enter: run the sh")
	enter(tm)
	waitFor(t, tm, "slow step started")
	key(tm, 'x')
	waitFor(t, tm, "Action cancelled: recorded as interrupted")
	waitFor(t, tm, "[~] Wait for a slow thing")
	finalScreen(t, tm)
	runs.CancelAndWait()
	st, err := env.cfg.Store.Load(context.Background(), "DRILL-SLOW")
	if err != nil {
		t.Fatal(err)
	}
	s := st.Step("only-phase/slow")
	if s == nil || s.Status != incident.StepInterrupted || len(st.Runs) != 1 || st.Runs[0].Status != "interrupted" {
		t.Fatalf("after x: step %+v runs %+v", s, st.Runs)
	}
	if strings.Contains(st.Runs[0].Output, "never printed") {
		t.Error("the action ran on after x")
	}
}

// TestLiveIncident: with --live and --root the form declares a LIVE
// incident against the given system, and the header says LIVE.
func TestLiveIncident(t *testing.T) {
	env := newTestEnv(t)
	root := filepath.Join(t.TempDir(), "quantai")
	if err := sandbox.Create(context.Background(), root, sandbox.Options{Trades: 200}); err != nil {
		t.Fatal(err)
	}
	env.cfg.Live, env.cfg.Root = true, root
	env.cfg.NewID = func() string { return "INC-TEST-0001" }
	opts := env.options(&ui.Runs{})
	opts.Live = true
	tm := startTUI(t, ui.New(opts), 80, 24)
	// With --live a live incident is the first choice, and LIVE the mode.
	waitFor(t, tm, "> Declare a LIVE incident")
	enter(tm)
	waitFor(t, tm, "Start a drill or incident")
	waitFor(t, tm, "LIVE on the real system")
	enter(tm)
	waitFor(t, tm, "[LIVE] INC-TEST-0001")
	waitFor(t, tm, "    kill-switch") // rendered Markdown
	screen := finalScreen(t, tm)
	if strings.Contains(screen, "DRILL") {
		t.Errorf("a live incident says DRILL:\n%s", screen)
	}
	st, err := env.cfg.Store.Load(context.Background(), "INC-TEST-0001")
	if err != nil {
		t.Fatal(err)
	}
	if st.Declaration.Mode != incident.Live || st.Declaration.Root != root {
		t.Errorf("declared %s on %q, want live on %s", st.Declaration.Mode, st.Declaration.Root, root)
	}
	golden.RequireEqual(t, []byte(screen))
}

// TestTinyTerminal: a terminal far smaller than 80x24 still draws (cut,
// not crashed), and growing back restores the layout.
func TestTinyTerminal(t *testing.T) {
	env := newTestEnv(t)
	tm := startTUI(t, ui.New(env.options(&ui.Runs{})), 80, 24)
	waitFor(t, tm, "Start a drill")
	enter(tm)
	waitFor(t, tm, "Activate the emergency kill switch")
	for _, size := range [][2]int{{30, 8}, {12, 4}, {1, 1}, {200, 60}, {80, 24}} {
		tm.Send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
	}
	waitFor(t, tm, "    kill-switch")
	key(tm, 'q')
	m := tm.FinalModel(t, teatest.WithFinalTimeout(waitLong))
	if s := m.(observed).Screen(); !strings.Contains(s, "[DRILL]") {
		t.Errorf("after resizing back:\n%s", s)
	}
}

// TestPreviews: t, r, m and e show the timeline, the report, the filled
// communication templates and the contacts; n adds a note; esc returns.
func TestPreviews(t *testing.T) {
	env := newTestEnv(t)
	rb, err := runbook.Load(ui.DefaultRunbook, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := drill.Start(context.Background(), drill.Options{ID: "DRILL-PREVIEW", Runbook: rb, Scenario: "corrupt-db",
		StateDir: env.cfg.StateDir, Store: env.cfg.Store, Operator: env.cfg.Operator, Clock: env.clock, Trades: 200})
	if err != nil {
		t.Fatal(err)
	}
	opts := env.options(&ui.Runs{})
	opts.Session = ui.NewSession(d.Incident, env.cfg.Store, rb, d.Env, env.cfg.StateDir)
	tm := startTUI(t, ui.New(opts), 80, 24)
	waitFor(t, tm, "Activate the emergency kill switch")
	esc := tea.KeyMsg{Type: tea.KeyEsc}
	for _, tc := range []struct {
		key  rune
		want []string
	}{
		{'t', []string{"Timeline", "declared"}},
		{'r', []string{"Report preview", "Post-incident report: DRILL-PREVIEW"}},
		{'m', []string{"Communications", "SUBJECT: [DRILL]", "Preview only"}},
		{'e', []string{"Emergency contacts", "IBKR Support"}},
		{'?', []string{"Keys", "cancel action", "type the incident code"}},
	} {
		key(tm, tc.key)
		for _, w := range tc.want {
			waitFor(t, tm, w)
		}
		tm.Send(esc)
		waitFor(t, tm, "> [ ] Activate the emergency")
	}
	// d on a step whose action has not run asks what was done instead.
	key(tm, 'd')
	waitFor(t, tm, "kill-switch has not run. What did you do instead?")
	tm.Send(esc)
	waitFor(t, tm, "> [ ] Activate the emergency")

	key(tm, 'n')
	waitFor(t, tm, "Note for the timeline")
	typeLine(tm, "bridge call opened")
	waitFor(t, tm, "Note added")
	finalScreen(t, tm)
	st, err := env.cfg.Store.Load(context.Background(), "DRILL-PREVIEW")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Notes) != 1 || st.Notes[0].Text != "bridge call opened" || st.Notes[0].Actor != "alice" {
		t.Errorf("notes %+v", st.Notes)
	}
}

// TestResumeSpedUpDrill: a drill at 60x left alone for 9 real minutes does
// not come back 9 drill hours on, everything overdue: its clock stood
// still while nobody attended, and the resume screen says so.
func TestResumeSpedUpDrill(t *testing.T) {
	env := newTestEnv(t)
	path := filepath.Join(t.TempDir(), "slow.md")
	if err := os.WriteFile(path, []byte(slowRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	env.cfg.RunbookDirs = []string{filepath.Dir(path)}
	d, err := drill.Start(context.Background(), drill.Options{ID: "DRILL-FAST", Runbook: rb, StateDir: env.cfg.StateDir,
		Store: env.cfg.Store, Operator: env.cfg.Operator, Clock: env.clock, Trades: 200, Speed: 60})
	if err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(time.Minute) // one attended minute: one drill hour
	if err := d.Incident.Note("an hour in"); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(9 * time.Minute) // away
	sess, err := ui.OpenSession(context.Background(), env.cfg, "DRILL-FAST")
	if err != nil {
		t.Fatal(err)
	}
	runs := &ui.Runs{}
	opts := env.options(runs)
	opts.Session = sess
	tm := startTUI(t, ui.New(opts), 80, 24)
	waitFor(t, tm, "Drill clock (60x) stopped while nobody attended")
	screen := finalScreen(t, tm)
	runs.CancelAndWait()
	if !strings.Contains(screen, "elapsed 1h00m") || strings.Contains(screen, "OVERDUE") {
		t.Errorf("resumed drill clock:\n%s", screen)
	}
}
