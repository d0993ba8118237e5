package ui

import (
	"errors"
	"strings"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/drbook/drbook/runbook/hint"
)

// promptKind says what a prompt's answer is for.
type promptKind int

const (
	promptSkip       promptKind = iota // the reason for skipping a step
	promptFail                         // what went wrong, for a failed step
	promptNote                         // a free note on the timeline
	promptConfirm                      // typed confirmation of a destructive action
	promptClose                        // typed confirmation of closing the incident
	promptDoneByHand                   // what was done instead of a step's action
	promptSeverity                     // a new severity and why
	promptSecretVar                    // a secret runbook variable, not echoed (stepID holds its name)
)

// prompt is a one-line text input shown at the bottom of the incident view.
// A confirmation prompt accepts only the incident's short code or "yes":
// a destructive action is never one key away.
type prompt struct {
	c      *common
	kind   promptKind
	stepID string
	label  string
	accept []string // for promptConfirm: the answers that confirm
	errMsg string
	input  textinput.Model
}

// promptDoneMsg carries a submitted answer to the root model.
type promptDoneMsg struct {
	kind   promptKind
	stepID string
	value  string
}

func newPrompt(c *common, kind promptKind, stepID, label string, accept ...string) prompt {
	in := textinput.New()
	in.Prompt = "> "
	in.CharLimit = 500
	in.Width = max(10, c.width-4)
	in.Focus()
	return prompt{c: c, kind: kind, stepID: stepID, label: label, accept: accept, input: in}
}

// update handles a key while the prompt is open. done is true when the
// prompt should close: ok says whether it was answered or cancelled.
func (p prompt) update(msg tea.Msg) (prompt, tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch k.Type {
		case tea.KeyEsc:
			return p, nil, true
		case tea.KeyEnter:
			v := strings.TrimSpace(p.input.Value())
			switch p.kind {
			case promptConfirm, promptClose:
				if !p.confirms(v) {
					p.errMsg = "not confirmed: type " + strings.Join(quoteAll(p.accept), " or ") + " (esc cancels)"
					p.input.SetValue("")
					return p, nil, false
				}
			case promptSkip, promptFail, promptDoneByHand:
				if v == "" {
					p.errMsg = "a reason is required (esc cancels)"
					return p, nil, false
				}
			case promptNote:
				if v == "" {
					return p, nil, true
				}
			case promptSecretVar:
				v = p.input.Value() // as typed: a secret may have spaces at its ends
			case promptSeverity:
				if _, _, err := parseSeverity(v); err != nil {
					p.errMsg = hint.Message(err) + " (esc cancels)"
					return p, nil, false
				}
			}
			done := promptDoneMsg{kind: p.kind, stepID: p.stepID, value: v}
			return p, func() tea.Msg { return done }, true
		}
	}
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return p, cmd, false
}

// confirms compares case-insensitively: the operator types the code as the
// header shows it (lower case in the id), and it is still a typed word.
func (p prompt) confirms(v string) bool {
	for _, a := range p.accept {
		if strings.EqualFold(v, a) {
			return true
		}
	}
	return false
}

func (p *prompt) SetSize(w, _ int) { p.input.Width = max(10, w-4) }

func (p prompt) view(w int) string {
	st := p.c.styles
	lines := []string{st.bold.Render(p.label)}
	if p.errMsg != "" {
		lines = append(lines, st.errLine.Render(p.errMsg))
	}
	lines = append(lines, p.input.View())
	return strings.Join(lines, "\n")
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + s + "'"
	}
	return out
}

// parseSeverity reads "2 contained to one broker": a severity 1-3, then
// the reason, which is required.
func parseSeverity(v string) (int, string, error) {
	f := strings.Fields(v)
	if len(f) == 0 || len(f[0]) != 1 || f[0][0] < '1' || f[0][0] > '3' {
		return 0, "", errors.New("start with the severity, 1, 2 or 3")
	}
	reason := strings.TrimSpace(strings.TrimPrefix(v, f[0]))
	if reason == "" {
		return 0, "", errors.New("give the reason after the severity")
	}
	return int(f[0][0] - '0'), reason, nil
}
