package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
)

// maxOutputLines caps the live output kept per step; the timeline keeps
// its own (capped) copy.
const maxOutputLines = 5000

const settledText = "Every step is settled. Press C (or enter) to close the incident and see the report."

// runState is the action running now, if any.
type runState struct {
	id       int
	stepID   string
	cancel   context.CancelFunc
	started  time.Time
	progress *steps.Progress
	canceled bool
}

// incidentView is the incident screen: header, step list, step detail and
// output, status line and key help.
type incidentView struct {
	c    *common
	sess Session
	base context.Context // parent of every action's context
	runs *Runs

	st      *incident.State
	ck      incident.Clocks
	header  headerVM
	flat    []stepRef
	cursor  int
	touched bool // the operator moved the cursor; stop following progress

	detail    viewport.Model
	detailKey string
	md        map[string]string // rendered Markdown by "step@width"
	output    viewport.Model
	outStep   string
	outputs   map[string][]string // live output of this session's runs
	runSeq    int
	run       *runState
	spin      spinner.Model
	spinning  bool
	prog      progress.Model
	prompt    *prompt
	pager     *pager
	help      help.Model
	showHelp  bool

	// stale is set between a change (a run ending, a step marked) and the
	// reload of the state that shows it: keys acting on a step wait.
	stale bool

	status    string
	statusBad bool
	quitArmed bool
	tickGen   int
	closedMsg bool
}

type (
	stateMsg struct {
		st  *incident.State
		err error
	}
	tickMsg   struct{ gen int }
	opDoneMsg struct {
		what   string
		stepID string
		err    error
	}
)

func newIncidentView(c *common, sess Session, base context.Context, runs *Runs) incidentView {
	sp := spinner.New(spinner.WithSpinner(spinner.Line))
	pr := progress.New(progress.WithoutPercentage(), progress.WithSolidFill("42"))
	if c.noColor {
		pr = progress.New(progress.WithoutPercentage(), progress.WithFillCharacters('#', '.'), progress.WithColorProfile(c.profile))
	}
	h := newHelp(c)
	return incidentView{
		c: c, sess: sess, base: base, runs: runs,
		md: map[string]string{}, outputs: map[string][]string{},
		spin: sp, prog: pr, help: h,
		detail: viewport.New(40, 10), output: viewport.New(40, 5),
	}
}

// loadState reads the incident's state in a Cmd.
func loadState(sess Session) tea.Cmd {
	return func() tea.Msg {
		st, err := sess.State()
		return stateMsg{st: st, err: err}
	}
}

func (v incidentView) init() tea.Cmd { return loadState(v.sess) }

// nextTick schedules the clock redraw for the moment the displayed minute
// changes, so an idle screen is redrawn once a (displayed) minute.
func (v incidentView) nextTick() tea.Cmd {
	if v.st == nil {
		return nil
	}
	gen := v.tickGen
	now := v.sess.Now()
	el := now.Sub(v.st.Start())
	wait := time.Minute - (el % time.Minute)
	if el < 0 {
		wait = -el % time.Minute
	}
	speed := v.ck.Speed
	if speed <= 0 {
		speed = 1
	}
	real := time.Duration(float64(wait)/speed) + 5*time.Millisecond
	real = max(real, 50*time.Millisecond)
	return tea.Tick(real, func(time.Time) tea.Msg { return tickMsg{gen: gen} })
}

func (v incidentView) selected() *incident.StepState {
	if v.st == nil || v.cursor >= len(v.flat) {
		return nil
	}
	r := v.flat[v.cursor]
	return &v.st.Phases[r.phase].Steps[r.step]
}

func (v incidentView) runbookStep(id string) *runbook.Step {
	if v.sess == nil {
		return nil
	}
	rb := v.sess.Runbook()
	if rb == nil {
		return nil
	}
	for _, p := range rb.Phases {
		for _, s := range p.Steps {
			if s.ID == id {
				return s
			}
		}
	}
	return nil
}

func (v incidentView) setStatus(s string, bad bool) incidentView {
	v.status, v.statusBad = s, bad
	return v
}

func (v incidentView) update(msg tea.Msg) (incidentView, tea.Cmd) {
	switch msg := msg.(type) {
	case stateMsg:
		if msg.err != nil {
			return v.setStatus("cannot read incident: "+msg.err.Error(), true), nil
		}
		first := v.st == nil
		v.st = msg.st
		v.stale = false
		v.flat = flatten(v.st)
		v = v.refreshClocks()
		if first || !v.touched {
			v.cursor = v.firstOpen()
		}
		if v.cursor >= len(v.flat) {
			v.cursor = max(0, len(v.flat)-1)
		}
		if v.st.Status != incident.StatusOpen && !v.closedMsg {
			v.closedMsg = true
			v = v.setStatus(fmt.Sprintf("Incident %s. r: report   t: timeline   q: quit", strings.ToLower(string(v.st.Status))), false)
		} else if v.allSettled() && !v.readOnly() && v.st.Status == incident.StatusOpen && !v.statusBad {
			v = v.setStatus(settledText, false)
		}
		var cmds []tea.Cmd
		if first {
			v.tickGen++
			cmds = append(cmds, v.nextTick())
		}
		return v, tea.Batch(cmds...)
	case tickMsg:
		if msg.gen != v.tickGen || v.st == nil {
			return v, nil
		}
		v = v.refreshClocks()
		return v, v.nextTick()
	case markdownMsg:
		v.md[msg.key] = msg.out
		return v, nil
	case pagerMsg:
		if msg.err != nil {
			return v.setStatus(msg.err.Error(), true), nil
		}
		w, h := v.bodySize()
		p := newPager(v.c, msg.title, msg.text, w, h)
		v.pager = &p
		return v, nil
	case promptDoneMsg:
		return v.handlePromptDone(msg)
	case opDoneMsg:
		v.stale = true
		if msg.err != nil {
			v = v.setStatus(msg.what+": "+errText(msg.err), true)
		} else {
			v = v.setStatus(msg.what, false)
			if msg.stepID != "" {
				v.touched = false // follow progress to the next open step
			}
		}
		return v, loadState(v.sess)
	case runStartedMsg:
		if v.run == nil || msg.id != v.run.id {
			return v, nil
		}
		return v, tea.Batch(waitForEvent(msg.id, msg.ch), loadState(v.sess))
	case runEventMsg:
		if v.run != nil && msg.id == v.run.id {
			out := v.outputs[v.run.stepID]
			for _, e := range msg.evs {
				if e.Progress != nil {
					p := *e.Progress
					v.run.progress = &p
				}
				if e.Line != "" {
					out = append(out, e.Line)
				}
			}
			if len(out) > maxOutputLines {
				out = out[len(out)-maxOutputLines:]
			}
			v.outputs[v.run.stepID] = out
		}
		return v, waitForEvent(msg.id, msg.ch)
	case runDoneMsg:
		if v.run == nil || msg.id != v.run.id {
			return v, loadState(v.sess)
		}
		v.run = nil
		v.touched = false
		v.stale = true
		v = v.setStatus(runResultText(msg.runDone), msg.err != nil || msg.res.Status == steps.StatusFailed)
		return v, loadState(v.sess)
	case spinner.TickMsg:
		if v.run == nil {
			v.spinning = false
			return v, nil
		}
		var cmd tea.Cmd
		v.spin, cmd = v.spin.Update(msg)
		return v, cmd
	case tea.KeyMsg:
		return v.handleKey(msg)
	}
	return v, nil
}

func runResultText(d runDone) string {
	switch {
	case errors.Is(d.err, steps.ErrNotImplemented):
		return "NOT IMPLEMENTED in this build: the action did not run, the step is not done. Skip it (s) with a reason or do it by hand."
	case errors.Is(d.err, context.Canceled):
		return "Action cancelled: recorded as interrupted. enter runs it again."
	case d.err != nil:
		return "Action error: " + errText(d.err)
	}
	s := strings.ToUpper(string(d.res.Status))
	if d.res.Summary != "" {
		s += ": " + d.res.Summary
	}
	if d.res.Status == steps.StatusFailed {
		return s + "  (↑: its output)"
	}
	s += "  (↑: its output)"
	return s
}

func errText(err error) string { return err.Error() }

func (v incidentView) readOnly() bool { return v.sess != nil && v.sess.ReadOnly() }

func (v incidentView) refreshClocks() incidentView {
	v.ck = v.st.Clocks(v.sess.Now())
	v.header = headerFrom(v.st, v.ck, v.readOnly())
	return v
}

func (v incidentView) firstOpen() int {
	for i, r := range v.flat {
		s := v.st.Phases[r.phase].Steps[r.step].Status
		if !s.Closed() {
			return i
		}
	}
	return max(0, len(v.flat)-1)
}

func (v incidentView) allSettled() bool {
	if v.st == nil {
		return false
	}
	closed, total := v.st.Progress()
	return total > 0 && closed == total
}

func (v incidentView) handleKey(k tea.KeyMsg) (incidentView, tea.Cmd) {
	keys := v.c.keys
	if v.prompt != nil {
		p, cmd, done := v.prompt.update(k)
		if done {
			v.prompt = nil
		} else {
			v.prompt = &p
		}
		return v, cmd
	}
	if v.pager != nil {
		if key.Matches(k, keys.Back) || key.Matches(k, keys.Quit) || k.String() == "t" || k.String() == "r" || k.String() == "m" || k.String() == "e" {
			v.pager = nil
			return v, nil
		}
		p, cmd := v.pager.update(k)
		v.pager = &p
		return v, cmd
	}
	if v.showHelp {
		v.showHelp = false
		return v, nil
	}
	if !key.Matches(k, keys.Quit) {
		v.quitArmed = false
	}
	if v.st == nil {
		return v, nil
	}
	sel := v.selected()
	switch {
	case key.Matches(k, keys.Help):
		v.showHelp = true
	case key.Matches(k, keys.Up):
		if v.cursor > 0 {
			v.cursor--
			v.touched = true
		}
	case key.Matches(k, keys.Down):
		if v.cursor < len(v.flat)-1 {
			v.cursor++
			v.touched = true
		}
	case key.Matches(k, keys.PageUp):
		if v.hasOutput() {
			v.output.HalfPageUp()
		} else {
			v.detail.HalfPageUp()
		}
	case key.Matches(k, keys.PageDown):
		if v.hasOutput() {
			v.output.HalfPageDown()
		} else {
			v.detail.HalfPageDown()
		}
	case key.Matches(k, keys.Timeline):
		return v, v.pagerCmd("Timeline", v.sess.Timeline, false)
	case key.Matches(k, keys.Report):
		return v, v.pagerCmd("Report preview", v.sess.Report, true)
	case key.Matches(k, keys.Comms):
		return v, v.pagerCmd("Communications (plan 5.2), filled", v.sess.Comms, false)
	case key.Matches(k, keys.Contacts):
		sess := v.sess
		return v, v.pagerCmd("Emergency contacts (plan 7)", func() (string, error) { return sess.Contacts(), nil }, true)
	case v.readOnly():
		if key.Matches(k, keys.Enter, keys.Done, keys.Skip, keys.Fail, keys.Note, keys.Cancel, keys.Close) {
			return v.setStatus("read-only: following the incident; another operator is running it", true), nil
		}
	case key.Matches(k, keys.Cancel):
		if v.run == nil {
			return v.setStatus("no action is running", false), nil
		}
		v.run.cancel()
		v.run.canceled = true
		return v.setStatus("cancelling the running action...", false), nil
	case key.Matches(k, keys.Note):
		p := newPrompt(v.c, promptNote, "", "Note for the timeline (enter saves, esc cancels):")
		v.prompt = &p
	case v.st.Status != incident.StatusOpen:
		if key.Matches(k, keys.Enter, keys.Done, keys.Skip, keys.Fail, keys.Close) {
			return v.setStatus("the incident is closed", true), nil
		}
	case key.Matches(k, keys.Close), key.Matches(k, keys.Enter) && v.allSettled():
		p := newPrompt(v.c, promptClose, "", "Close the incident as RESOLVED: type 'yes' or the code "+shortCode(v.st.ID)+" (esc cancels):", "yes", shortCode(v.st.ID))
		if !v.allSettled() {
			closed, total := v.st.Progress()
			p.label = fmt.Sprintf("%d of %d steps are settled. Close as RESOLVED anyway? Type 'yes' or %s:", closed, total, shortCode(v.st.ID))
		}
		v.prompt = &p
	case sel == nil:
	case v.stale && key.Matches(k, keys.Enter, keys.Done, keys.Skip, keys.Fail):
		return v, nil // the state that shows the last change is on its way
	case key.Matches(k, keys.Enter):
		return v.enter(sel)
	case key.Matches(k, keys.Done):
		if v.run != nil && v.run.stepID == sel.ID {
			return v.setStatus("the action is still running: wait, or x to cancel it", true), nil
		}
		id := sel.ID
		return v, opCmd("Marked done: "+sel.Title, id, func() error { return v.sess.Done(id, "") })
	case key.Matches(k, keys.Skip):
		p := newPrompt(v.c, promptSkip, sel.ID, "Skip \""+ansi.Truncate(sel.Title, 40, "…")+"\": why? (enter saves, esc cancels)")
		v.prompt = &p
	case key.Matches(k, keys.Fail):
		p := newPrompt(v.c, promptFail, sel.ID, "Mark \""+ansi.Truncate(sel.Title, 40, "…")+"\" FAILED: what went wrong?")
		v.prompt = &p
	}
	return v, nil
}

// enter runs the selected step's action, or acknowledges a manual step.
func (v incidentView) enter(sel *incident.StepState) (incidentView, tea.Cmd) {
	if v.run != nil {
		return v.setStatus("an action is running: wait for it, or x to cancel it", true), nil
	}
	if sel.Status.Closed() {
		// Enter on a settled step goes to the next open one, so that
		// pressing enter walks a newcomer through the whole runbook.
		v.cursor, v.touched = v.firstOpen(), false
		return v.setStatus("That step is "+string(sel.Status)+": here is the next open one.", false), nil
	}
	switch runbook.Kind(sel.Kind) {
	case runbook.KindManual, runbook.KindReference:
		id := sel.ID
		return v, opCmd("Acknowledged: "+sel.Title, id, func() error { return v.sess.Ack(id) })
	}
	if sel.Destructive {
		code := shortCode(v.st.ID)
		mode := "the SANDBOX (drill)"
		if v.st.Declaration.Mode == incident.Live {
			mode = "the LIVE system"
		}
		p := newPrompt(v.c, promptConfirm, sel.ID,
			fmt.Sprintf("DESTRUCTIVE: %s changes %s. Type %s or 'yes' to run it (esc cancels):", sel.Action, mode, code),
			code, "yes")
		v.prompt = &p
		return v, nil
	}
	return v.startRun(sel.ID, false)
}

func (v incidentView) startRun(stepID string, confirmed bool) (incidentView, tea.Cmd) {
	v.runSeq++
	ctx, cancel := context.WithCancel(v.base)
	v.run = &runState{id: v.runSeq, stepID: stepID, cancel: cancel, started: time.Now()}
	v.outputs[stepID] = []string{}
	v = v.setStatus("running...", false)
	cmds := []tea.Cmd{startRun(v.runs, v.sess, ctx, cancel, v.runSeq, stepID, confirmed)}
	if !v.spinning {
		v.spinning = true // one tick chain, however many runs follow
		cmds = append(cmds, v.spin.Tick)
	}
	return v, tea.Batch(cmds...)
}

func (v incidentView) handlePromptDone(m promptDoneMsg) (incidentView, tea.Cmd) {
	sess := v.sess
	switch m.kind {
	case promptConfirm:
		return v.startRun(m.stepID, true)
	case promptSkip:
		return v, opCmd("Skipped ("+m.value+")", m.stepID, func() error { return sess.Skip(m.stepID, m.value) })
	case promptFail:
		return v, opCmd("Marked FAILED ("+m.value+")", m.stepID, func() error { return sess.Fail(m.stepID, m.value) })
	case promptNote:
		return v, opCmd("Note added", "", func() error { return sess.Note(m.value) })
	case promptClose:
		return v, tea.Sequence(
			opCmd("Incident closed as resolved", "", func() error { return sess.Close(incident.StatusResolved, "") }),
			v.pagerCmd("Report", sess.Report, true))
	}
	return v, nil
}

// opCmd runs a state change in a Cmd and reports how it went.
func opCmd(what, stepID string, f func() error) tea.Cmd {
	return func() tea.Msg { return opDoneMsg{what: what, stepID: stepID, err: f()} }
}

// pagerCmd produces a pager's text in a Cmd; Markdown (the report, the
// contacts) is rendered by glamour for the current width.
func (v incidentView) pagerCmd(title string, f func() (string, error), markdown bool) tea.Cmd {
	profile, width := v.c.profile, v.c.width
	return func() tea.Msg {
		s, err := f()
		if err != nil {
			return pagerMsg{title: title, err: fmt.Errorf("%s: %w", strings.ToLower(title), err)}
		}
		if markdown {
			s = renderMarkdownNow(profile, width, s)
		}
		return pagerMsg{title: title, text: s}
	}
}

// shortCode is the code typed to confirm a destructive action: the last
// four characters of the incident id, upper case.
func shortCode(id string) string {
	id = strings.ToUpper(strings.ReplaceAll(id, "-", ""))
	if len(id) > 4 {
		return id[len(id)-4:]
	}
	return id
}

func (v incidentView) hasOutput() bool {
	sel := v.selected()
	return sel != nil && (len(sel.Runs) > 0 || v.outputs[sel.ID] != nil || (v.run != nil && v.run.stepID == sel.ID))
}

// syncOutput puts the selected step's output in the output viewport: this
// session's live lines, else the last recorded run's output.
func (v incidentView) syncOutput() incidentView {
	sel := v.selected()
	if sel == nil {
		return v
	}
	var text string
	if lines, ok := v.outputs[sel.ID]; ok {
		text = strings.Join(lines, "\n")
	} else if n := len(sel.Runs); n > 0 && sel.Runs[n-1] < len(v.st.Runs) {
		r := v.st.Runs[sel.Runs[n-1]]
		text = strings.TrimRight(r.Output, "\n")
		if r.Truncated > 0 {
			text += fmt.Sprintf("\n[%d bytes of output not kept]", r.Truncated)
		}
	}
	atBottom := v.output.AtBottom() || v.outStep != sel.ID
	v.output.SetContent(wrapText(text, v.output.Width))
	if atBottom {
		v.output.GotoBottom()
	}
	v.outStep = sel.ID
	return v
}

func (v incidentView) mdKey(stepID string) string {
	return fmt.Sprintf("%s@%d", stepID, v.detail.Width)
}

func (v incidentView) stepMarkdown(sel *incident.StepState) string {
	if s := v.runbookStep(sel.ID); s != nil && strings.TrimSpace(s.Detail) != "" {
		return s.Detail
	}
	return sel.Title
}

// refreshPanes fits the panes to the terminal and the selected step, puts
// the step's output and Markdown in them, and asks for the Markdown to be
// rendered at the current width if it has not been yet.
func (v incidentView) refreshPanes() (incidentView, tea.Cmd) {
	v = v.layout()
	v = v.syncOutput()
	sel := v.selected()
	if sel == nil {
		return v, nil
	}
	k := v.mdKey(sel.ID)
	text, ok := v.md[k]
	if !ok {
		text = wrapText(v.stepMarkdown(sel), v.detail.Width)
	}
	if k != v.detailKey {
		v.detail.SetContent(text)
		v.detail.GotoTop()
		v.detailKey = ""
		if ok {
			v.detailKey = k
		}
	}
	if ok {
		return v, nil
	}
	return v, renderMarkdown(v.c.profile, k, v.detail.Width, v.stepMarkdown(sel))
}
