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
