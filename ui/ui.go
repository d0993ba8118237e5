// Package ui is drbook's terminal interface: one bubbletea program whose
// root model moves between the home screen, the start form and the
// incident screen. It does no I/O in Update: every read or write of the
// incident, every action and every Markdown render happens in a tea.Cmd,
// and running actions stream their output back through channels tagged
// with a run id.
package ui

import (
	"context"
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/drbook/drbook/runbook/hint"
)

// state is the screen the root model shows.
type state int

const (
	stateHome state = iota
	stateForm
	stateStarting
	stateIncident
)

func (s state) String() string {
	switch s {
	case stateHome:
		return "home"
	case stateForm:
		return "form"
	case stateStarting:
		return "starting"
	case stateIncident:
		return "incident"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Backend is what the home screen needs from the rest of drbook: what to
// list, how to start and how to reopen. It is implemented outside the
// package (ui/cli wires the engine in), so the screens stay testable.
type Backend interface {
	// Home lists runbooks, open incidents, recent drills, the schedule and
	// the sandbox faults.
	Home(ctx context.Context) (HomeData, error)
	// Start declares an incident or a drill (creating and breaking the
	// sandbox first) and returns its session.
	Start(ctx context.Context, spec StartSpec, progress func(string)) (Session, error)
	// Open reopens an incident by id.
	Open(ctx context.Context, id string) (Session, error)
}

// Options configure the TUI.
type Options struct {
	Backend Backend
	Live    bool // --live: incidents may act on the real system
	// Session opens the TUI directly on this incident (resume, drill).
	Session Session
	// Runs tracks running actions so the caller can cancel and wait for
	// them after the program exits. Required.
	Runs *Runs
	// Ctx is the parent of every action's context; cancelling it (SIGHUP)
	// interrupts running actions.
	Ctx     context.Context
	NoColor bool
	Getenv  func(string) string
	// Follow polls the incident instead of driving it (read-only).
	Follow bool
}

// Model is the root model.
type Model struct {
	c     *common
	opts  Options
	state state

	home     home
	form     form
	inc      incidentView
	haveInc  bool
	starting string
	err      string
	help     help.Model
	quitting bool
}

type (
	homeLoadedMsg struct {
		data HomeData
		err  error
	}
	sessionMsg struct {
		sess    Session
		err     error
		resumed bool // reopened from the home screen: ask for its secrets
	}
	startingMsg struct{ text string }
)

// New returns the root model.
func New(opts Options) Model {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	if opts.Runs == nil {
		opts.Runs = &Runs{}
	}
	c := newCommon(opts.NoColor, ColorProfile(opts.Getenv, opts.NoColor), nil)
	m := Model{c: c, opts: opts, help: newHelp(c)}
	m.home = newHome(c, opts.Live)
	if opts.Session != nil {
		m.state = stateIncident
		m.inc = newIncidentView(c, opts.Session, opts.Ctx, opts.Runs)
		m.haveInc = true
	}
	return m
}

// State returns the screen shown, for tests.
func (m Model) State() string { return m.state.String() }

// Settled reports whether the model waits for no state it asked for: until
// the incident's state is loaded, and again between a change (a run
// ending, a step marked) and the reload that shows it, the step keys are
// ignored. Tests wait for it besides what the screen shows, since a
// screen can show a run's result before the model takes step keys again.
func (m Model) Settled() bool {
	switch m.state {
	case stateStarting:
		return false
	case stateIncident:
		return m.inc.st != nil && !m.inc.stale
	}
	return true
}

// Init loads the home screen or the incident.
func (m Model) Init() tea.Cmd {
	if m.state == stateIncident {
		cmds := []tea.Cmd{m.inc.init()}
		if m.opts.Follow {
			cmds = append(cmds, pollCmd(m.inc.sess))
		}
		return tea.Batch(cmds...)
	}
	return m.loadHome()
}

func (m Model) loadHome() tea.Cmd {
	b, ctx := m.opts.Backend, m.opts.Ctx
	if b == nil {
		return nil
	}
	return func() tea.Msg {
		d, err := b.Home(ctx)
		return homeLoadedMsg{data: d, err: err}
	}
}

// Update handles global keys and sizes, then hands off by state.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		// A client that knows no size (some SSH clients and serial
		// consoles send 0x0) gets the size drbook is laid out for.
		if msg.Width <= 0 || msg.Height <= 0 {
			msg.Width, msg.Height = 80, 24
		}
		m.c.width, m.c.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		if m.haveInc {
			var cmd tea.Cmd
			m.inc, cmd = m.inc.refreshPanes()
			if m.inc.pager != nil {
				w, h := m.inc.bodySize()
				m.inc.pager.SetSize(w, h)
			}
			return m, cmd
		}
		return m, nil
	case tea.KeyMsg:
		if msg.Type == tea.KeyCtrlC {
			return m.quit()
		}
	}
	switch m.state {
	case stateHome:
		return m.handleHome(msg)
	case stateForm:
		return m.handleForm(msg)
	case stateStarting:
		return m.handleStarting(msg)
	case stateIncident:
		return m.handleIncident(msg)
	}
	return m, nil
}

// quit leaves the program. The incident stays open; an action still running
// is cancelled by the caller through Runs and recorded as interrupted.
func (m Model) quit() (tea.Model, tea.Cmd) {
	m.quitting = true
	return m, tea.Quit
}

func (m Model) handleHome(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case homeLoadedMsg:
		if msg.err != nil {
			m.err = hint.Message(msg.err)
		}
		m.home = m.home.setData(msg.data)
		return m, nil
	case homeChoiceMsg:
		switch msg.act {
		case actQuickDrill:
			return m.start(StartSpec{Runbook: DefaultRunbook, Drill: true, Scenario: DefaultScenario, Speed: 1})
		case actForm:
			m.form = newForm(m.c, m.opts.Live, m.home.data, DefaultRunbook)
			m.state = stateForm
		case actRunbook:
			m.form = newForm(m.c, m.opts.Live, m.home.data, msg.id)
			m.state = stateForm
		case actResume:
			m.state = stateStarting
			m.starting = "reopening " + msg.id + "..."
			b, ctx, id := m.opts.Backend, m.opts.Ctx, msg.id
			return m, func() tea.Msg {
				s, err := b.Open(ctx, id)
				return sessionMsg{sess: s, err: err, resumed: true}
			}
		}
		return m, nil
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, m.c.keys.Quit):
			return m.quit()
		case key.Matches(msg, m.c.keys.Help):
			m.help.ShowAll = !m.help.ShowAll
			return m, nil
		}
	}
	var cmd tea.Cmd
	m.home, cmd = m.home.update(msg)
	return m, cmd
}

func (m Model) handleForm(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case formStartMsg:
		return m.start(msg.spec)
	case tea.KeyMsg:
		if msg.Type == tea.KeyEsc {
			m.state = stateHome
			return m, nil
		}
	}
	var cmd tea.Cmd
	m.form, cmd = m.form.update(msg)
	return m, cmd
}

// start declares the incident or drill in a Cmd; creating and breaking a
// sandbox takes a moment, so progress lines come back as startingMsg.
func (m Model) start(spec StartSpec) (tea.Model, tea.Cmd) {
	if !spec.Drill && !m.opts.Live {
		m.err = "live incidents need drbook --live --root DIR"
		return m, nil
	}
	m.state = stateStarting
	m.err = ""
	m.starting = "starting " + spec.Runbook + "..."
	b, ctx := m.opts.Backend, m.opts.Ctx
	return m, func() tea.Msg {
		progress := make(chan string, 16)
		done := make(chan sessionMsg, 1)
		go func() {
			s, err := b.Start(ctx, spec, func(line string) {
				select {
				case progress <- line:
				default: // a slow screen skips progress lines, never the start
				}
			})
			close(progress)
			done <- sessionMsg{sess: s, err: err}
		}()
		return waitStarting(progress, done)()
	}
}

// waitStarting relays start-up progress lines, then the session.
func waitStarting(progress <-chan string, done <-chan sessionMsg) tea.Cmd {
	return func() tea.Msg {
		if line, ok := <-progress; ok {
			return startingProgressMsg{text: line, progress: progress, done: done}
		}
		return <-done
	}
}

type startingProgressMsg struct {
	text     string
	progress <-chan string
	done     <-chan sessionMsg
}

func (m Model) handleStarting(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case startingProgressMsg:
		m.starting = msg.text
		return m, waitStarting(msg.progress, msg.done)
	case sessionMsg:
		if msg.err != nil {
			m.state = stateHome
			m.err = hint.Message(msg.err)
			return m, m.loadHome()
		}
		m.inc = newIncidentView(m.c, msg.sess, m.opts.Ctx, m.opts.Runs)
		if msg.resumed {
			m.inc = m.inc.askSecrets()
		}
		m.haveInc = true
		m.state = stateIncident
		var cmd tea.Cmd
		m.inc, cmd = m.inc.refreshPanes()
		return m, tea.Batch(m.inc.init(), cmd)
	case tea.KeyMsg:
		if key.Matches(msg, m.c.keys.Quit) {
			return m.quit()
		}
	}
	return m, nil
}

func (m Model) handleIncident(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case pollMsg:
		return m, tea.Batch(loadState(m.inc.sess), pollCmd(m.inc.sess))
	case RefreshMsg:
		return m, loadState(m.inc.sess)
	case tea.KeyMsg:
		if key.Matches(msg, m.c.keys.Quit) && m.inc.prompt == nil && m.inc.pager == nil && !m.inc.showHelp {
			if m.inc.run != nil && !m.inc.quitArmed {
				m.inc.quitArmed = true
				return m, nil
			}
			return m.quit()
		}
	}
	var cmd, cmd2 tea.Cmd
	m.inc, cmd = m.inc.update(msg)
	m.inc, cmd2 = m.inc.refreshPanes()
	return m, tea.Batch(cmd, cmd2)
}

// View draws the screen for the current state.
func (m Model) View() string {
	if m.quitting {
		return ""
	}
	w, h := m.c.width, m.c.height
	st := m.c.styles
	var body string
	footer := ""
	switch m.state {
	case stateIncident:
		return m.inc.view()
	case stateHome:
		body = m.home.view(w, h-2)
		footer = m.help.View(homeKeys{m.c.keys})
	case stateForm:
		body = m.form.view(w, h-2)
		footer = m.help.View(formKeys{m.c.keys})
	case stateStarting:
		body = st.title.Render("drbook") + "\n\n" + m.starting + "\n\n" + st.dim.Render("(creating the sandbox and declaring the drill)")
	}
	errLine := ""
	if m.err != "" {
		errLine = st.errLine.Render(ansi.Truncate(m.err, w, "…"))
	}
	return fit(body, w, h-2) + "\n" + errLine + "\n" + ansi.Truncate(footer, w, "")
}

// pollMsg asks a follower to reread the incident.
type pollMsg struct{}

// pollInterval is how often a follower rereads the timeline.
const pollInterval = 2 * time.Second

func pollCmd(Session) tea.Cmd {
	return tea.Tick(pollInterval, func(time.Time) tea.Msg { return pollMsg{} })
}

// Screen is the current frame, also after the program has quit: tests
// read it from the final model.
func (m Model) Screen() string {
	m.quitting = false
	return m.View()
}
