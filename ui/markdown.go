package ui

import (
	"regexp"
	"strings"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/glamour"
	"github.com/charmbracelet/glamour/ansi"
	glamstyles "github.com/charmbracelet/glamour/styles"
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
// ("dark", or plainStyle without colour): glamour's auto style asks the
// terminal for its background, which can hang over SSH.
func renderMarkdown(profile termenv.Profile, key string, width int, md string) tea.Cmd {
	return func() tea.Msg {
		return markdownMsg{key: key, width: width, out: renderMarkdownNow(profile, width, md)}
	}
}

func renderMarkdownNow(profile termenv.Profile, width int, md string) string {
	style := glamour.WithStandardStyle(glamstyles.DarkStyle)
	if profile == termenv.Ascii {
		style = glamour.WithStyles(plainStyle())
	}
	r, err := glamour.NewTermRenderer(
		style,
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
	out = mailtoRE().ReplaceAllString(out, "")
	return strings.Trim(out, "\n")
}

// plainStyle is glamour's ASCII style for a terminal without colour, minus
// the Markdown markers it keeps around emphasis: "**Alpaca Support:**"
// reads as "Alpaca Support:". (Without colour termenv drops bold and
// italic too, so the markers were the only trace of emphasis, and they
// read as noise on an 80-column screen.) Inline code keeps its backticks:
// they say what to type. It is built on first use, like mailtoRE: package
// initialisation runs for every command, most of which render no Markdown.
var plainStyle = sync.OnceValue(func() ansi.StyleConfig {
	s := glamstyles.ASCIIStyleConfig
	s.Strong = ansi.StylePrimitive{}
	s.Emph = ansi.StylePrimitive{}
	s.Strikethrough = ansi.StylePrimitive{}
	s.Code.Prefix, s.Code.Suffix = "`", "`"
	return s
})

// mailtoRE matches the repeated address, its leading space and the colour
// codes glamour puts between them (" ^[[4m^[[38;5;30mmailto:x"); the codes
// after it stay, and reset what those before it set.
var mailtoRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(` (?:\x1b\[[0-9;]*m)*mailto:[^\s\x1b]+`)
})
