package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
)

// Keys of the incident screen and the state changes they ask for. Every
// change runs in a Cmd (opCmd, startRun); Update only records intent.

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
		if key.Matches(k, keys.Enter, keys.Done, keys.Skip, keys.Fail, keys.Note, keys.Cancel, keys.Close, keys.Severity) {
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
	case key.Matches(k, keys.Severity) && v.st.Status == incident.StatusOpen:
		p := newPrompt(v.c, promptSeverity, "", fmt.Sprintf("Severity is %d. New severity and why, e.g. '2 contained to one broker':", v.st.Severity))
		v.prompt = &p
	case v.st.Status != incident.StatusOpen:
		if key.Matches(k, keys.Enter, keys.Done, keys.Skip, keys.Fail, keys.Close) {
			return v.setStatus("the incident is closed", true), nil
		}
	case key.Matches(k, keys.Close), key.Matches(k, keys.Enter) && v.allSettled():
		p := newPrompt(v.c, promptClose, "", "Close the incident as RESOLVED: type yes or "+shortCode(v.st.ID)+" (esc cancels)", "yes", shortCode(v.st.ID))
		if !v.allSettled() {
			closed, total := v.st.Progress()
			p.label = fmt.Sprintf("Only %d of %d steps settled. Close as RESOLVED? Type yes or %s", closed, total, shortCode(v.st.ID))
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
		if sel.Action != "" && !v.ranOK(sel) {
			// One key next to enter must not make anyone believe trading
			// is halted: a step whose action has not run asks what was
			// done instead.
			p := newPrompt(v.c, promptDoneByHand, sel.ID, sel.Action+" has not run. What did you do instead? (enter: done, esc: cancel)")
			v.prompt = &p
			return v, nil
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
		mode := "SANDBOX"
		if v.st.Declaration.Mode == incident.Live {
			mode = "LIVE system"
		}
		p := newPrompt(v.c, promptConfirm, sel.ID,
			fmt.Sprintf("DESTRUCTIVE %s on the %s: type %s or yes (esc cancels)", sel.Action, mode, code),
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
	case promptSeverity:
		n, why, _ := parseSeverity(m.value)
		return v, opCmd(fmt.Sprintf("Severity %d (%s)", n, why), "", func() error { return sess.SetSeverity(n, why) })
	case promptDoneByHand:
		return v, opCmd("Marked done by hand ("+m.value+")", m.stepID, func() error { return sess.Done(m.stepID, m.value) })
	case promptSecretVar:
		if m.value != "" {
			v.gotVars[m.stepID] = m.value
		}
		return v.askNextSecret()
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
		return pagerMsg{title: title, text: s, cut: title == "Timeline"}
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

// ranOK reports whether the step's action has run successfully (or was
// simulated, in a drill).
func (v incidentView) ranOK(sel *incident.StepState) bool {
	for _, i := range sel.Runs {
		if i < len(v.st.Runs) && (v.st.Runs[i].Status == "ok" || v.st.Runs[i].Status == "simulated") {
			return true
		}
	}
	return false
}

// askSecrets starts asking, one prompt each and without echo, for the
// runbook's secret variables: after a resume the timeline does not have
// them ('drbook resume' asks on the terminal before the TUI starts; a
// resume from the home screen asks here). An empty answer leaves one unset.
func (v incidentView) askSecrets() incidentView {
	rb := v.sess.Runbook()
	if rb == nil || v.sess.ReadOnly() {
		return v
	}
	if _, ok := v.sess.(interface{ SetVars(map[string]string) }); !ok {
		return v
	}
	for _, rv := range rb.Vars {
		if rv.Secret {
			v.askVars = append(v.askVars, rv)
		}
	}
	v.gotVars = map[string]string{}
	v, _ = v.askNextSecret()
	return v
}

// askNextSecret opens the prompt for the next secret variable, or hands the
// answers to the session when all have been asked.
func (v incidentView) askNextSecret() (incidentView, tea.Cmd) {
	if len(v.askVars) == 0 {
		if len(v.gotVars) > 0 {
			v.sess.(interface{ SetVars(map[string]string) }).SetVars(v.gotVars)
			v = v.setStatus(fmt.Sprintf("%d secret variable(s) set for this session", len(v.gotVars)), false)
		}
		v.gotVars = nil
		return v, nil
	}
	rv := v.askVars[0]
	v.askVars = v.askVars[1:]
	label := rv.Prompt
	if label == "" {
		label = rv.Name
	}
	p := newPrompt(v.c, promptSecretVar, rv.Name, label+" ("+rv.Name+", secret, not echoed; enter alone leaves it unset)")
	p.input.EchoMode = textinput.EchoPassword
	v.prompt = &p
	return v, nil
}
