package ui_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/ui"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	all.Install(all.Options{}) // every action, as the composition root registers them
	os.Exit(m.Run())
}

// testEnv is a real state store in a temp dir, a stopped clock and a fixed
// incident id, so that screens are the same on every run.
type testEnv struct {
	cfg   ui.EngineConfig
	clock *incident.ManualClock
}

func newTestEnv(t *testing.T) testEnv {
	t.Helper()
	dir := t.TempDir()
	store, err := incident.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := incident.NewManualClock(time.Date(2026, 3, 13, 20, 5, 0, 0, time.UTC))
	return testEnv{clock: clock, cfg: ui.EngineConfig{
		Store: store, StateDir: dir, Operator: incident.Operator{Name: "alice"},
		Clock: clock, Trades: 200, NewID: func() string { return "DRILL-TEST-0001" },
	}}
}

func (e testEnv) options(runs *ui.Runs) ui.Options {
	return ui.Options{Backend: ui.NewBackend(e.cfg), NoColor: true, Runs: runs,
		Getenv: func(string) string { return "" }}
}

const waitLong = 30 * time.Second

// watch reads everything a test program writes, so that successive
// waits see output in order, even when one read brings several frames.
type watch struct {
	*teatest.TestModel
	seen []byte
	from int
}

func newWatch(tm *teatest.TestModel) *watch { return &watch{TestModel: tm} }

// waitFor waits until the program has written any of want, in the frame
// the previous wait matched or later.
func waitFor(t *testing.T, tm *watch, want ...string) {
	t.Helper()
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(waitLong)
	for {
		for _, w := range want {
			if i := bytes.Index(tm.seen[tm.from:], []byte(w)); i >= 0 {
				// The next wait starts at this frame's start (the renderer
				// homes the cursor for each frame): it may hold more.
				if f := bytes.LastIndex(tm.seen[:tm.from+i], []byte("\x1b[H")); f > tm.from {
					tm.from = f
				}
				return
			}
		}
		if time.Now().After(deadline) {
			break
		}
		n, _ := tm.Output().Read(buf)
		tm.seen = append(tm.seen, buf[:n]...)
		if n == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Fatalf("waited %s for %q; the program wrote:\n%s", waitLong, want, tm.seen[tm.from:])
}

func typeLine(tm *watch, s string) {
	tm.Type(s)
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
}

func enter(tm *watch) { tm.Send(tea.KeyMsg{Type: tea.KeyEnter}) }

func key(tm *watch, r rune) {
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
}

func finalScreen(t *testing.T, tm *watch) string {
	t.Helper()
	key(tm, 'q')
	m := tm.FinalModel(t, teatest.WithFinalTimeout(waitLong))
	return m.(ui.Model).Screen()
}

// TestDrillFlow starts the default drill from the home screen, confirms a
// destructive action by typing, runs steps, runs the integrity check (it
// finds the corruption), skips a step with a reason, quits, and resumes
// the drill.
func TestDrillFlow(t *testing.T) {
	env := newTestEnv(t)
	runs := &ui.Runs{}
	tm := newWatch(teatest.NewTestModel(t, ui.New(env.options(runs)), teatest.WithInitialTermSize(80, 24)))
	waitFor(t, tm, "Start a drill: Complete System Recovery, fault corrupt-db")
	enter(tm)
	waitFor(t, tm, "Activate the emergency kill switch")

	// The kill switch is destructive: a wrong answer does not run it.
	enter(tm)
	waitFor(t, tm, "DESTRUCTIVE kill-switch on the SANDBOX")
	typeLine(tm, "y")
	waitFor(t, tm, "not confirmed")
	typeLine(tm, "YES") // case does not matter
	// corrupt-db: the flag file halts; the damaged database is not written,
	// so the step fails and says why. The operator marks it done by hand.
	waitFor(t, tm, "FAILED: trading HALTED")
	waitFor(t, tm, "looks damaged")
	key(tm, 'd')
	waitFor(t, tm, "What did you do instead?")
	typeLine(tm, "flag file holds; database left for the restore")

	// Each finished step moves the cursor to the next open one.
	waitFor(t, tm, "> [ ] Stop all automated")
	enter(tm) // confirm-halt: a shell block
	waitFor(t, tm, "OK: shell")
	waitFor(t, tm, "> [ ] Notify key")
	enter(tm) // notify stakeholders
	waitFor(t, tm, "NOT SENT: no channels")
	waitFor(t, tm, "> [ ] Assess the scope")
	enter(tm) // assess scope: shell
	waitFor(t, tm, "lines of output")
	waitFor(t, tm, "> [ ] Activate backup")
	enter(tm) // manual: activate backup systems
	waitFor(t, tm, "Acknowledged: Activate backup systems")
	waitFor(t, tm, "> [ ] Determine the root")
	enter(tm) // recent logs: shell
	waitFor(t, tm, "> [ ] Assess data integrity")

	// The integrity check finds the corrupted database: the check fails,
	// its findings are recorded and the step is done.
	enter(tm)
	waitFor(t, tm, "FINDINGS: db-integrity fail")
	waitFor(t, tm, "> [ ] Validate the trading")
	key(tm, 's')
	waitFor(t, tm, "why?")
	typeLine(tm, "validated by hand")
	waitFor(t, tm, "Skipped (validated by hand)")
	// The next step's Markdown, rendered by glamour (indented code block).
	waitFor(t, tm, "     validate-config")
	screen := finalScreen(t, tm)
	runs.CancelAndWait()

	st, err := env.cfg.Store.Load(context.Background(), "DRILL-TEST-0001")
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Step("immediate-actions/kill-switch"); s == nil || s.Status != incident.StepDone {
		t.Errorf("kill switch: %+v, want done", s)
	}
	s := st.Step("assessment-phase/integrity-check")
	if s == nil || s.Status != incident.StepDone || !strings.Contains(s.Reason, "db-integrity fail") {
		t.Fatalf("integrity check: %+v, want done with its findings", s)
	}
	s = st.Step("assessment-phase/validate-data")
	if s == nil || s.Status != incident.StepSkipped || s.Reason != "validated by hand" {
		t.Fatalf("validate data: %+v, want skipped with the reason", s)
	}
	if st.Status != incident.StatusOpen {
		t.Errorf("status %s: q must leave the incident open", st.Status)
	}
	golden.RequireEqual(t, []byte(screen))

	// Resume at 120x40 on the same clocks.
	t.Run("resume", func(t *testing.T) {
		sess, err := ui.OpenSession(context.Background(), env.cfg, "")
		if err != nil {
			t.Fatal(err)
		}
		opts := env.options(runs)
		opts.Session = sess
		tm := newWatch(teatest.NewTestModel(t, ui.New(opts), teatest.WithInitialTermSize(120, 40)))
		waitFor(t, tm, "[-] Validate the trading data")
		waitFor(t, tm, "     validate-config")
		screen := finalScreen(t, tm)
		golden.RequireEqual(t, []byte(screen))
		if !strings.Contains(screen, "DRILL-TEST-0001") {
			t.Errorf("resumed screen does not show the incident:\n%s", screen)
		}
	})
}

var keyDown = tea.KeyMsg{Type: tea.KeyDown}
