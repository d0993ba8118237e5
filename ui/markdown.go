package ui

import (
	"regexp"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/glamour"
	"github.com/muesli/termenv"
)

// markdownMsg is a step's Markdown rendered for a width. key names what was
// rendered so a late result for another step or width is dropped.
type markdownMsg struct {
	key   string
	width int
	out   string
}

// renderMarkdown renders md with glamour in a Cmd. The style is explicit
// ("dark", or "notty" without colour): glamour's auto style asks the
// terminal for its background, which can hang over SSH.
func renderMarkdown(profile termenv.Profile, key string, width int, md string) tea.Cmd {
	return func() tea.Msg {
		return markdownMsg{key: key, width: width, out: renderMarkdownNow(profile, width, md)}
	}
}

func renderMarkdownNow(profile termenv.Profile, width int, md string) string {
	style := "dark"
	if profile == termenv.Ascii {
		style = "notty"
	}
	r, err := glamour.NewTermRenderer(
		glamour.WithStandardStyle(style),
		glamour.WithColorProfile(profile),
		glamour.WithWordWrap(max(20, width-2)),
	)
	if err != nil {
		return md
	}
	out, err := r.Render(md)
	if err != nil {
		return md
	}
	// glamour prints an autolinked address again after the text
	// ("support@x mailto:support@x"); once is enough on a small screen.
	out = mailtoRE.ReplaceAllString(out, "")
	return strings.Trim(out, "\n")
}

// mailtoRE matches the repeated address, its leading space and the colour
// codes glamour puts between them (" ^[[4m^[[38;5;30mmailto:x"); the codes
// after it stay, and reset what those before it set.
var mailtoRE = regexp.MustCompile(` (?:\x1b\[[0-9;]*m)*mailto:[^\s\x1b]+`)
