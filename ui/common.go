package ui

import (
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// common is what every sub-model shares: the terminal size, the styles,
// the key map and the clock. It is passed by pointer and only the root
// model writes to it (on WindowSizeMsg).
type common struct {
	width, height int
	styles        styles
	keys          KeyMap
	noColor       bool
	profile       termenv.Profile
	now           func() time.Time
}

func newCommon(noColor bool, profile termenv.Profile, now func() time.Time) *common {
	if now == nil {
		now = time.Now
	}
	if noColor {
		profile = termenv.Ascii
	}
	return &common{
		width:   80,
		height:  24,
		styles:  newStyles(profile),
		keys:    DefaultKeyMap(),
		noColor: profile == termenv.Ascii,
		profile: profile,
		now:     now,
	}
}

// ColorProfile picks a colour profile from the environment alone, without
// querying the terminal (a query can hang over a slow SSH link). NO_COLOR,
// TERM=dumb or noColor give plain ASCII.
func ColorProfile(getenv func(string) string, noColor bool) termenv.Profile {
	if getenv == nil {
		getenv = os.Getenv
	}
	term := getenv("TERM")
	switch {
	case noColor, getenv("NO_COLOR") != "", term == "dumb":
		return termenv.Ascii
	case strings.Contains(getenv("COLORTERM"), "truecolor"), strings.Contains(getenv("COLORTERM"), "24bit"):
		return termenv.TrueColor
	case strings.Contains(term, "256color"):
		return termenv.ANSI256
	default:
		return termenv.ANSI
	}
}

// styles are the lipgloss styles of every screen. They are built from a
// renderer with an explicit profile and a dark background, so lipgloss
// never asks the terminal.
type styles struct {
	r *lipgloss.Renderer

	header, headerDim        lipgloss.Style
	drillBadge, liveBadge    lipgloss.Style
	onTrack, atRisk, overdue lipgloss.Style
	title, dim, bold         lipgloss.Style
	selected                 lipgloss.Style
	paneBorder               lipgloss.Style
	ok, warn, bad            lipgloss.Style
	errLine, info            lipgloss.Style
	input                    lipgloss.Style
	box                      lipgloss.Style
}

func newStyles(p termenv.Profile) styles {
	r := lipgloss.NewRenderer(os.Stdout)
	r.SetColorProfile(p)
	r.SetHasDarkBackground(true)
	c := func(s string) lipgloss.Color { return lipgloss.Color(s) }
	ascii := p == termenv.Ascii
	s := styles{r: r}
	s.header = r.NewStyle().Bold(true)
	s.headerDim = r.NewStyle().Foreground(c("245"))
	s.drillBadge = r.NewStyle().Bold(true).Foreground(c("0")).Background(c("220"))
	s.liveBadge = r.NewStyle().Bold(true).Foreground(c("15")).Background(c("160"))
	s.onTrack = r.NewStyle().Foreground(c("42"))
	s.atRisk = r.NewStyle().Bold(true).Foreground(c("214"))
	s.overdue = r.NewStyle().Bold(true).Foreground(c("196"))
	s.title = r.NewStyle().Bold(true).Foreground(c("81"))
	s.dim = r.NewStyle().Foreground(c("244"))
	s.bold = r.NewStyle().Bold(true)
	s.selected = r.NewStyle().Bold(true).Foreground(c("0")).Background(c("81"))
	s.paneBorder = r.NewStyle().Foreground(c("240"))
	s.ok = r.NewStyle().Foreground(c("42"))
	s.warn = r.NewStyle().Foreground(c("214"))
	s.bad = r.NewStyle().Bold(true).Foreground(c("196"))
	s.errLine = r.NewStyle().Bold(true).Foreground(c("196"))
	s.info = r.NewStyle().Foreground(c("81"))
	s.input = r.NewStyle().Foreground(c("15"))
	s.box = r.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(c("240")).Padding(0, 1)
	if ascii {
		// Without colour, selection and badges must still stand out.
		s.selected = r.NewStyle().Reverse(true)
		s.drillBadge = r.NewStyle().Bold(true)
		s.liveBadge = r.NewStyle().Bold(true)
		s.box = r.NewStyle().Border(lipgloss.ASCIIBorder()).Padding(0, 1)
	}
	return s
}

// newHelp returns a help model styled by our renderer (bubbles' default
// help styles use adaptive colours, which ask the terminal).
func newHelp(c *common) help.Model {
	h := help.New()
	r := c.styles.r
	key := r.NewStyle().Bold(true)
	desc := r.NewStyle().Foreground(lipgloss.Color("245"))
	sep := r.NewStyle().Foreground(lipgloss.Color("240"))
	h.Styles = help.Styles{
		ShortKey: key, ShortDesc: desc, ShortSeparator: sep, Ellipsis: sep,
		FullKey: key, FullDesc: desc, FullSeparator: sep,
	}
	h.ShortSeparator = "  "
	return h
}
