package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/hint"
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
	// secrets asked after a resume from the home screen: the timeline
	// never keeps them. askVars are the ones still to ask.
	askVars  []runbook.Var
	gotVars  map[string]string
	help     help.Model
	showHelp bool

	// stale is set between a change (a run ending, a step marked) and the
	// reload of the state that shows it: keys acting on a step wait.
	stale     bool
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
	tickMsg struct{ gen int }
	// replMsg is the session's replication word for the header.
	replMsg   struct{ text string }
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

func (v incidentView) init() tea.Cmd {
	return tea.Batch(loadState(v.sess), pollReplication(v.sess, 0))
}

// replicationPoll is how often the header asks whether the timeline has
// reached the replica; the answer only redraws the header when it changes.
const replicationPoll = 5 * time.Second

// pollReplication asks a replicated session, after a pause, whether its
// timeline has reached S3; a session without a replica is never asked.
func pollReplication(sess Session, after time.Duration) tea.Cmd {
	r, ok := sess.(interface{ Replication() string })
	if !ok {
		return nil
	}
	ask := func(time.Time) tea.Msg { return replMsg{r.Replication()} }
	if after <= 0 {
		return func() tea.Msg { return ask(time.Time{}) }
	}
	return tea.Tick(after, ask)
}

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
			return v.setStatus("cannot read incident: "+hint.Message(msg.err), true), nil
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
		if d := v.st.Declaration; first && v.status == "" && v.st.Status == incident.StatusOpen && d.Speed > 1 && !v.st.ClockReal.IsZero() {
			// A resumed sped-up drill: its clock stood still while away.
			v = v.setStatus(fmt.Sprintf("Drill clock (%gx) stopped while nobody attended; it runs again from %s elapsed (t: timeline).",
				d.Speed, incident.FormatDuration(v.st.ClockAt.Sub(d.DetectedAt))), false)
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
	case replMsg:
		v.header.Replication = msg.text
		return v, pollReplication(v.sess, replicationPoll)
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
			return v.setStatus(hint.Message(msg.err), true), nil
		}
		w, h := v.bodySize()
		p := newPager(v.c, msg.title, msg.text, msg.cut, w, h)
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
		// Findings are shown like a failure's reason, in full, though
		// the step is done.
		v = v.setStatus(runResultText(msg.runDone), msg.err != nil || msg.res.Status == steps.StatusFailed || msg.res.WithFindings())
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
	// The step's recorded outcome says what happened: a check that found
	// problems closed its diagnostic step with its findings.
	s := strings.ToUpper(string(d.res.Status))
	if d.res.DoneWithFindings() {
		// The action did its job and left something to look at: the
		// step is done, and the findings are what to read.
		s = "DONE WITH FINDINGS"
	}
	if d.res.Summary != "" {
		s += ": " + d.res.Summary
	}
	return s + "  (↑: its output)"
}

func errText(err error) string { return hint.Message(err) }

func (v incidentView) readOnly() bool { return v.sess != nil && v.sess.ReadOnly() }

func (v incidentView) refreshClocks() incidentView {
	v.ck = v.st.Clocks(v.sess.Now())
	repl := v.header.Replication
	v.header = headerFrom(v.st, v.ck, v.readOnly())
	v.header.Replication = repl
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
