package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/drbook/drbook/runbook"
)

const listUsage = `
Usage: drbook list [--runbooks DIR]... [--json]

List the runbooks drbook knows: the embedded ones and those in each
--runbooks folder (*.md directly inside it). A folder's runbook with the
same id as an embedded one replaces it.

Exit codes: 0 listed; 1 some runbook files could not be parsed (the others
are still listed); 2 usage error or an unreadable --runbooks folder.
`

func runList(ctx context.Context, iox *IO, args []string) error {
	var o runbookOptions
	fs := newFlagSet("list", listUsage, iox)
	o.AddFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("list: unexpected argument %q (run 'drbook list --help')", fs.Arg(0))
	}
	for _, d := range o.dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return usageErr("list: --runbooks %s: not a readable folder", d)
		}
	}
	rbs, listErr := runbook.List(o.dirs)
	if o.json {
		out := make([]runbookSummaryJSON, 0, len(rbs))
		for _, rb := range rbs {
			out = append(out, summaryJSON(rb))
		}
		if err := writeJSON(iox.Stdout, out); err != nil {
			return err
		}
	} else {
		printList(iox.Stdout, rbs)
	}
	if listErr != nil {
		return failed(fmt.Errorf("list: %w", listErr))
	}
	return nil
}

// listWidth is the width drbook list keeps to: an 80-column SSH terminal.
// Phase counts are left to 'drbook show' and --json.
const listWidth = 80

// printList prints one line per runbook, sized to the content and cut to
// listWidth. Runbooks from a --runbooks folder show their file name.
func printList(w io.Writer, rbs []*runbook.Runbook) {
	idw := len("ID")
	for _, rb := range rbs {
		idw = max(idw, len(rb.ID))
	}
	idw = min(idw, 34)
	fmt.Fprintln(w, fitWidth(fmt.Sprintf("%-*s  %5s  %4s  %s", idw, "ID", "STEPS", "RTO", "TITLE"), listWidth))
	for _, rb := range rbs {
		rto := "-"
		if rb.Objectives.RTO > 0 {
			rto = humanDuration(rb.Objectives.RTO)
		}
		title := rb.Title
		if !strings.HasPrefix(rb.Source, "embedded:") {
			title += " (" + filepath.Base(rb.Source) + ")"
		}
		fmt.Fprintln(w, fitWidth(fmt.Sprintf("%-*s  %5d  %4s  %s", idw, fitWidth(rb.ID, idw), rb.StepCount(), rto, title), listWidth))
	}
}

// fitWidth cuts s to n runes, marking the cut with an ellipsis.
func fitWidth(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// fitLines prints left and right on one line when they fit in listWidth,
// else right on a line of its own after indent. left is cut only when it
// alone is too wide; ids are never cut because operators copy them.
func fitLines(w io.Writer, left, right, indent string) {
	if len([]rune(left))+2+len([]rune(right)) <= listWidth {
		fmt.Fprintf(w, "%s  %s\n", left, right)
		return
	}
	fmt.Fprintln(w, left)
	fmt.Fprintln(w, indent+right)
}
