package ui_test

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
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

// waitLong bounds each wait. Waits end as soon as the model reaches the
// state waited for, so it only matters when a test fails; it is generous
// because a machine busy with other work may run the program slowly.
const waitLong = 2 * time.Minute

// views records every screen the model produces and whether the model
// was settled then (ui.Model.Settled). bubbletea calls View after each
// Update, but its renderer writes only the latest view at each frame, and
// only the lines that changed: a state that lasts less than a frame on a
// busy machine may never reach the output. Waiting on the views waits on
// the model's states themselves, none skipped; waiting on settled ones
// means the next key is not dropped because the model still waits for the
// reload of the incident's state.
type views struct {
	mu      sync.Mutex
	all     []frame
	changed chan struct{} // closed and replaced on each new view
}

type frame struct {
	text    string
	settled bool
}

func (v *views) add(f frame) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.all = append(v.all, f)
	close(v.changed)
	v.changed = make(chan struct{})
}

// since returns the views from index i on and a channel closed when the
// next view arrives.
func (v *views) since(i int) ([]frame, <-chan struct{}) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.all[i:], v.changed
}

// observed is the root model with every view it returns recorded.
type observed struct {
	ui.Model
	views *views
}

func (o observed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := o.Model.Update(msg)
	o.Model = m.(ui.Model)
	return o, cmd
}

func (o observed) View() string {
	s := o.Model.View()
	o.views.add(frame{text: s, settled: o.Settled()})
	return s
}

// watch is a test program with the views its model produced and the bytes
// it wrote to the terminal.
type watch struct {
	*teatest.TestModel
	views   *views
	from    int    // the view the previous wait matched
	seen    []byte // output read so far, see readOutput
	written int    // how much of seen waitWritten has matched
}

// startTUI runs m in a test program on a w x h terminal.
func startTUI(t *testing.T, m ui.Model, w, h int) *watch {
	t.Helper()
	v := &views{changed: make(chan struct{})}
	tm := teatest.NewTestModel(t, observed{Model: m, views: v}, teatest.WithInitialTermSize(w, h))
	return &watch{TestModel: tm, views: v}
}

// waitFor waits until the model, settled, has produced a view holding any
// of want, in the view the previous wait matched or later.
func waitFor(t *testing.T, tm *watch, want ...string) {
	t.Helper()
	timeout := time.NewTimer(waitLong)
	defer timeout.Stop()
	for {
		vs, next := tm.views.since(tm.from)
		for i, f := range vs {
			for _, w := range want {
				if f.settled && strings.Contains(f.text, w) {
					tm.from += i // the next wait starts here: this view may hold more
					return
				}
			}
		}
		tm.from += max(len(vs)-1, 0)
		select {
		case <-next:
		case <-timeout.C:
			last := "(no view yet)"
			if vs, _ := tm.views.since(0); len(vs) > 0 {
				last = vs[len(vs)-1].text
			}
			t.Fatalf("waited %s for a view with %q; the last view:\n%s", waitLong, want, last)
		}
	}
}

// allViews returns every view the model produced, one after another.
func (tm *watch) allViews() string {
	vs, _ := tm.views.since(0)
	var b strings.Builder
	for _, f := range vs {
		b.WriteString(f.text + "\n")
	}
	return b.String()
}

// readOutput appends what the program has written to the terminal since
// the last call to tm.seen.
func (tm *watch) readOutput() {
	b, _ := io.ReadAll(tm.Output())
	tm.seen = append(tm.seen, b...)
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
	return m.(observed).Screen()
}

// TestDrillFlow starts the default drill from the home screen, confirms a
// destructive action by typing, runs steps, runs the integrity check (it
// finds the corruption), skips a step with a reason, quits, and resumes
// the drill.
func TestDrillFlow(t *testing.T) {
	env := newTestEnv(t)
	runs := &ui.Runs{}
	tm := startTUI(t, ui.New(env.options(runs)), 80, 24)
	waitFor(t, tm, "Start a drill: Complete System Recovery, fault corrupt-db")
	enter(tm)
	waitFor(t, tm, "Activate the emergency kill switch")

	// The kill switch is destructive: a wrong answer does not run it.
	enter(tm)
	waitFor(t, tm, "DESTRUCTIVE kill-switch on the SANDBOX")
	typeLine(tm, "y")
	waitFor(t, tm, "not confirmed")
	typeLine(tm, "YES") // case does not matter
	// corrupt-db: the flag file halts; the damaged database is not written.
	// The halt holds, so the step is done with that finding, shown in full.
	waitFor(t, tm, "DONE WITH FINDINGS: trading HALTED")
	waitFor(t, tm, "looks damaged")

	// Each finished step moves the cursor to the next open one.
	waitFor(t, tm, "> [ ] Stop all automated")
	enter(tm) // confirm-halt: a shell block
	waitFor(t, tm, "OK: shell")
	waitFor(t, tm, "> [ ] Notify key")
	enter(tm) // notify stakeholders
	waitFor(t, tm, "OK: notification:")
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
	if s := st.Step("immediate-actions/kill-switch"); s == nil || s.Status != incident.StepDone ||
		len(s.Findings) != 1 || !strings.Contains(s.Findings[0], "looks damaged") {
		t.Errorf("kill switch: %+v, want done with the damaged database as its finding", s)
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
		tm := startTUI(t, ui.New(opts), 120, 40)
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
