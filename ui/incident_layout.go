package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
)

// Layout of the incident screen, top to bottom: two header lines, a rule,
// the body (step list | step pane), the status or prompt lines, the key
// help. At 80x24 the body has 18 lines.

func (v incidentView) leftWidth() int {
	return min(max(26, v.c.width*2/5), 44)
}

func (v incidentView) bottomLines() int {
	if v.prompt != nil {
		n := 2
		if v.prompt.errMsg != "" {
			n++
		}
		return n + 1
	}
	return len(v.statusLines()) + 1 // status + help
}

// statusLines is the status line, or for an error up to three wrapped
// lines: errors are what the operator must read in full.
func (v incidentView) statusLines() []string {
	line := v.status
	if v.quitArmed {
		line = "An action is running. q again cancels it (recorded as interrupted) and quits."
	}
	w := max(1, v.c.width)
	if !(v.statusBad || v.quitArmed) || ansi.StringWidth(line) <= w {
		return []string{ansi.Truncate(line, w, "…")}
	}
	lines := strings.Split(wrapText(line, w), "\n")
	if len(lines) > 3 {
		lines = lines[:3]
		lines[2] = ansi.Truncate(lines[2]+" …", w, "…")
	}
	return lines
}

func (v incidentView) bodySize() (w, h int) {
	return v.c.width, max(3, v.c.height-3-v.bottomLines())
}

// paneSizes are the right pane's parts: detail and output heights.
func (v incidentView) paneSizes() (rw, detailH, outH int, progress bool) {
	w, h := v.bodySize()
	rw = w - v.leftWidth() - 2
	avail := h - 2 // step title and hint
	if !v.hasOutput() {
		return rw, max(1, avail), 0, false
	}
	progress = v.run != nil && v.run.progress != nil
	outH = max(3, avail/2)
	rest := avail - outH - 1 // output rule
	if progress {
		rest--
	}
	return rw, max(1, rest), outH, progress
}

// layout sizes the viewports for the terminal and the selected step.
func (v incidentView) layout() incidentView {
	rw, dh, oh, _ := v.paneSizes()
	v.detail.Width, v.detail.Height = rw, dh
	v.output.Width, v.output.Height = rw, max(1, oh)
	v.prog.Width = max(10, rw-24)
	v.help.Width = v.c.width
	if v.prompt != nil {
		v.prompt.SetSize(v.c.width, 0)
	}
	return v
}

func (v incidentView) view() string {
	w := v.c.width
	st := v.c.styles
	if v.st == nil {
		return "opening incident..." + "\n" + v.status
	}
	var b strings.Builder
	b.WriteString(viewHeader(v.c, v.header, w))
	b.WriteString("\n")
	b.WriteString(st.dim.Render(strings.Repeat("-", w)))
	b.WriteString("\n")
	bw, bh := v.bodySize()
	switch {
	case v.pager != nil:
		b.WriteString(fit(v.pager.view(bw), bw, bh))
	case v.showHelp:
		v.help.ShowAll = true
		b.WriteString(fit(st.title.Render("Keys")+"\n\n"+v.help.View(incidentKeys{k: v.c.keys, readOnly: v.readOnly()})+
			"\n\nA destructive action asks you to type the incident code or 'yes'.\nq leaves the incident open: drbook resume reopens it.\n\n(any key closes this help)", bw, bh))
	default:
		lw := v.leftWidth()
		sel := v.selected()
		var cur stepRef
		if v.cursor < len(v.flat) {
			cur = v.flat[v.cursor]
		}
		left := viewStepList(v.c, v.st, v.ck, cur, lw, bh)
		right := v.viewPane(sel, bw-lw-2, bh)
		sep := strings.TrimRight(strings.Repeat(st.paneBorder.Render("|")+" \n", bh), "\n")
		b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, left, sep, right))
	}
	b.WriteString("\n")
	if v.prompt != nil {
		b.WriteString(v.prompt.view(w))
	} else {
		lines := v.statusLines()
		for i, line := range lines {
			if v.statusBad || v.quitArmed {
				line = st.errLine.Render(line)
			} else {
				line = st.info.Render(line)
			}
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(line)
		}
	}
	b.WriteString("\n")
	v.help.ShowAll = false
	b.WriteString(ansi.Truncate(v.help.View(incidentKeys{k: v.c.keys, readOnly: v.readOnly()}), w, ""))
	return b.String()
}

// hint says what enter does on a step, for someone who has not read the docs.
func (v incidentView) hint(sel *incident.StepState) string {
	if v.readOnly() {
		return "read-only view"
	}
	if v.run != nil && v.run.stepID == sel.ID {
		if v.run.canceled {
			return "cancelling: waiting for the action to stop"
		}
		return "RUNNING: x cancels it"
	}
	if sel.Status.Closed() {
		return fmt.Sprintf("%s.  ↓ next step", sel.Status)
	}
	if sel.Status == incident.StepRunning {
		return "RUNNING in another drbook session"
	}
	switch runbook.Kind(sel.Kind) {
	case runbook.KindManual:
		return "manual: do it, then enter to acknowledge"
	case runbook.KindReference:
		return "reference only: enter acknowledges, s skips"
	}
	h := "enter: run " + sel.Action
	if sel.Action == "" || sel.Action == sel.Kind {
		h = "enter: run the " + sel.Kind + " block"
	}
	if sel.Destructive {
		h += " (DESTRUCTIVE: confirm)"
	}
	return h
}

func (v incidentView) viewPane(sel *incident.StepState, w, h int) string {
	st := v.c.styles
	if sel == nil {
		return fit("this runbook has no steps", w, h)
	}
	status := strings.ToUpper(string(sel.Status))
	if sel.Status == incident.StepDone && len(sel.Findings) > 0 {
		status = "DONE, FINDINGS"
	}
	title := ansi.Truncate(st.bold.Render(sel.Title), w-len(status)-1, "…")
	lines := []string{pad(title, w-len(status)) + status}
	hint := v.hint(sel)
	if sel.Reason != "" {
		hint = string(sel.Status) + ": " + sel.Reason
	}
	lines = append(lines, st.info.Render(ansi.Truncate(hint, w, "…")))
	lines = append(lines, v.detail.View())
	if v.hasOutput() {
		rule := "-- output "
		if v.run != nil && v.run.stepID == sel.ID {
			el := time.Since(v.run.started).Truncate(time.Second)
			rule += v.spin.View() + " running " + el.String() + " (x cancels) "
		} else if n := len(sel.Runs); n > 0 && sel.Runs[n-1] < len(v.st.Runs) {
			r := v.st.Runs[sel.Runs[n-1]]
			s := incident.RunStatus(r.Status, r.Findings)
			if s == "" {
				s = "running elsewhere"
			}
			rule += strings.ToUpper(s) + " "
			if r.Status == "" && r.By != "" {
				rule += "by " + r.By + " "
			}
			if r.Summary != "" {
				rule += r.Summary + " "
			}
		}
		lines = append(lines, st.dim.Render(ansi.Truncate(pad(rule, w), w, "")))
		if v.run != nil && v.run.stepID == sel.ID && v.run.progress != nil {
			p := v.run.progress
			frac := 0.0
			txt := fmt.Sprintf(" %s %d %s", p.Phase, p.Done, p.Unit)
			if p.Total > 0 {
				frac = float64(p.Done) / float64(p.Total)
				txt = fmt.Sprintf(" %s %3.0f%%", p.Phase, frac*100)
			}
			lines = append(lines, v.prog.ViewAs(frac)+ansi.Truncate(txt, 22, ""))
		}
		lines = append(lines, v.output.View())
	}
	return fit(strings.Join(lines, "\n"), w, h)
}

// fit pads or cuts s to exactly h lines of width w, so panes line up and
// unchanged lines stay byte-identical between frames.
func fit(s string, w, h int) string {
	w, h = max(w, 0), max(h, 0)
	ls := strings.Split(s, "\n")
	if len(ls) > h {
		ls = ls[:h]
	}
	for len(ls) < h {
		ls = append(ls, "")
	}
	for i, l := range ls {
		ls[i] = pad(ansi.Truncate(l, w, ""), w)
	}
	return strings.Join(ls, "\n")
}
