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

// TestMarkdownHighlightsCode: a code block in a language chroma knows is
// highlighted token by token (a keyword in another colour than a name),
// one it does not know is drawn plain. chroma's lexers and styles are
// loaded on first use here (ui/third_party/chroma), not at start-up.
func TestMarkdownHighlightsCode(t *testing.T) {
	colourBefore := func(out, token string) string {
		i := strings.Index(out, token)
		if i < 0 {
			t.Fatalf("no %q in %q", token, out)
		}
		j := strings.LastIndex(out[:i], "\x1b[38;5;")
		if j < 0 {
			return ""
		}
		return out[j:i]
	}
	code := "SELECT count(*) FROM trades; -- rows\n"
	for _, lang := range []string{"sql", "SQL"} {
		out := renderMarkdownNow(termenv.ANSI256, 80, "```"+lang+"\n"+code+"```\n")
		kw, name, comment := colourBefore(out, "SELECT"), colourBefore(out, "trades"), colourBefore(out, "-- rows")
		if kw == "" || kw == name || comment == name {
			t.Errorf("%s: not highlighted: SELECT %q, trades %q, comment %q", lang, kw, name, comment)
		}
	}
	out := renderMarkdownNow(termenv.ANSI256, 80, "```nosuchlanguage\n"+code+"```\n")
	if !strings.Contains(out, strings.TrimSpace(code)) {
		t.Errorf("an unknown language is not drawn as one plain run:\n%q", out)
	}
	sh := renderMarkdownNow(termenv.ANSI256, 80, "```sh\necho \"halt\" > /var/run/quantai/halt # stop\n```\n")
	if colourBefore(sh, "echo") == colourBefore(sh, "# stop") {
		t.Errorf("sh: not highlighted:\n%q", sh)
	}
}
