package ui

import (
	"strings"
	"testing"

	"github.com/muesli/termenv"
)

// TestMarkdownAddressOnce: glamour repeats an autolinked address as
// "mailto:..." after it; with colour on, escape codes sit between the two.
// Either way the contacts screen shows the address once.
func TestMarkdownAddressOnce(t *testing.T) {
	md := "- **Alpaca Support:** support@alpaca.markets\n- **IBKR Support:** +1-877-442-2757\n"
	for _, p := range []termenv.Profile{termenv.Ascii, termenv.ANSI256, termenv.TrueColor} {
		out := renderMarkdownNow(p, 80, md)
		if strings.Contains(out, "mailto:") || strings.Count(out, "support@alpaca.markets") != 1 || !strings.Contains(out, "+1-877-442-2757") {
			t.Errorf("profile %v:\n%q", p, out)
		}
	}
}

// TestMarkdownPlainEmphasis: without colour, emphasis loses its Markdown
// markers instead of showing raw "**"; inline code keeps its backticks.
func TestMarkdownPlainEmphasis(t *testing.T) {
	md := "- **Alpaca Support:** call *now*, not ~~later~~; run `drbook check`\n\n**Do not** restart trading.\n"
	out := renderMarkdownNow(termenv.Ascii, 80, md)
	for _, bad := range []string{"**", "*now*", "~~"} {
		if strings.Contains(out, bad) {
			t.Errorf("raw %q in:\n%s", bad, out)
		}
	}
	for _, want := range []string{"Alpaca Support: call now, not later; run `drbook check`", "Do not restart trading."} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("escape codes without colour:\n%q", out)
	}
}
