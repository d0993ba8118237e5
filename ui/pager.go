package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// pager shows a long text over the incident view: the timeline, the report
// preview, the filled communication templates or the emergency contacts.
type pager struct {
	c     *common
	title string
	text  string
	cut   bool // cut long lines with … instead of wrapping (the timeline)
	vp    viewport.Model
}

// pagerMsg carries a pager's content, produced in a Cmd.
type pagerMsg struct {
	title string
	text  string
	cut   bool
	err   error
}

func newPager(c *common, title, text string, cut bool, w, h int) pager {
	p := pager{c: c, title: title, text: text, cut: cut, vp: viewport.New(w, max(1, h-2))}
	p.vp.SetContent(p.fitText(w))
	return p
}

func (p *pager) SetSize(w, h int) {
	p.vp.Width = w
	p.vp.Height = max(1, h-2)
	p.vp.SetContent(p.fitText(w))
}

func (p pager) fitText(w int) string {
	if !p.cut {
		return wrapText(p.text, w)
	}
	lines := strings.Split(p.text, "\n")
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	return strings.Join(lines, "\n")
}

func (p pager) update(msg tea.Msg) (pager, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, p.c.keys.Up):
			p.vp.ScrollUp(1)
			return p, nil
		case key.Matches(k, p.c.keys.Down):
			p.vp.ScrollDown(1)
			return p, nil
		case key.Matches(k, p.c.keys.PageUp):
			p.vp.PageUp()
			return p, nil
		case key.Matches(k, p.c.keys.PageDown), k.String() == " ":
			p.vp.PageDown()
			return p, nil
		}
	}
	var cmd tea.Cmd
	p.vp, cmd = p.vp.Update(msg)
	return p, cmd
}

func (p pager) view(w int) string {
	st := p.c.styles
	pos := ""
	if p.vp.TotalLineCount() > p.vp.Height {
		pos = st.dim.Render(" " + strings.TrimSpace(percent(p.vp.ScrollPercent())))
	}
	head := st.title.Render(p.title) + pos + st.dim.Render("  (esc: back, ↑/↓ pgup/pgdn: scroll)")
	return ansi.Truncate(head, w, "…") + "\n" + st.dim.Render(strings.Repeat("-", w)) + "\n" + p.vp.View()
}

func percent(f float64) string { return fmt.Sprintf("%d%%", int(f*100+0.5)) }

// wrapText hard-wraps plain text to width w, keeping existing line breaks.
func wrapText(s string, w int) string {
	if w <= 0 {
		return s
	}
	return ansi.Hardwrap(ansi.Wordwrap(s, w, " -"), w, true)
}
