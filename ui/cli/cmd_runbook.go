package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// runbookOptions are the flags list, show and validate share.
type runbookOptions struct {
	dirs []string
	json bool
}

func (o *runbookOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.dirs, "runbooks", nil, "folder of extra runbooks, searched before the embedded ones (repeatable)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
}

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

const showUsage = `
Usage: drbook show RUNBOOK [--runbooks DIR]... [--json]

Show a runbook as drbook reads it: objectives, phases with their time
windows, and every step with its id, kind (manual, shell, sql, action,
reference), action, attributes and source line. RUNBOOK is an embedded id
(such as complete-system-recovery), a path to a Markdown file, a folder
holding one, or the id of a runbook in a --runbooks folder.

With --json, durations (objectives, windows, response times) are whole
seconds. Without it, problems 'drbook validate' would report are listed on
standard error (the exit code stays 0).

Exit codes: 0 shown; 1 the runbook could not be parsed; 2 usage error,
unknown runbook or unreadable file.
`

func runShow(ctx context.Context, iox *IO, args []string) error {
	var o runbookOptions
	fs := newFlagSet("show", showUsage, iox)
	o.AddFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("show: want one RUNBOOK, got %d arguments (run 'drbook show --help')", fs.NArg())
	}
	// An empty argument ("$RUNBOOK" unset) must not silently mean the
	// default runbook.
	if strings.TrimSpace(fs.Arg(0)) == "" {
		return usageErr("show: RUNBOOK is an empty argument (an unset variable?)")
	}
	rb, err := runbook.Load(fs.Arg(0), o.dirs)
	if err != nil {
		return loadErr("show", err)
	}
	if o.json {
		return writeJSON(iox.Stdout, detailJSON(rb))
	}
	printRunbook(iox.Stdout, rb)
	// Showing is not validating, but say so when there is something to fix.
	if ps := rb.Validate(steps.Catalog{}); len(ps) > 0 {
		fmt.Fprintf(iox.Stderr, "drbook: %d problem(s) in %s; 'drbook validate %s' explains:\n", len(ps), rb.Source, fs.Arg(0))
		for _, p := range ps {
			fmt.Fprintf(iox.Stderr, "  %s:%d: %s\n", p.File, p.Line, p.Msg)
		}
	}
	return nil
}

const validateUsage = `
Usage: drbook validate [PATH|ID]... [--runbooks DIR]... [--json]

Check runbooks and report every problem at once, each as file:line, what
is wrong, and a hint: malformed front matter, unterminated code fences,
unknown actions, parameters or attributes, destructive actions or
data-changing SQL without confirm=true, duplicate ids, inverted or
overlapping phase windows, variables used but not declared.

PATH is a Markdown file or a folder (every *.md directly inside it); ID is
an embedded runbook or one in a --runbooks folder. With no argument,
every runbook drbook knows is checked.

Exit codes: 0 all valid; 1 problems found (a file that is not a Markdown
runbook at all — binary, not UTF-8, over 10 MiB or 50,000 lines, nested
more than 32 deep — is a problem too); 2 usage error, or a path that does
not exist or cannot be read.
`

type validateResult struct {
	File     string        `json:"file"`
	ID       string        `json:"id,omitempty"`
	Valid    bool          `json:"valid"`
	Problems []problemJSON `json:"problems"`
	Error    string        `json:"error,omitempty"` // the file could not be read
}

type problemJSON struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"message"`
	Hint string `json:"hint,omitempty"`
}

func runValidate(ctx context.Context, iox *IO, args []string) error {
	var o runbookOptions
	fs := newFlagSet("validate", validateUsage, iox)
	o.AddFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var results []validateResult
	check := func(file string, rb *runbook.Runbook, err error) {
		r := validateResult{File: file, Problems: []problemJSON{}}
		var ps runbook.Problems
		switch {
		case err == nil:
			r.ID = rb.ID
			ps = rb.Validate(steps.Catalog{})
		case errors.As(err, &ps):
		default:
			r.Error = err.Error()
		}
		for _, p := range ps {
			r.Problems = append(r.Problems, problemJSON{File: p.File, Line: p.Line, Msg: p.Msg, Hint: p.Hint})
		}
		r.Valid = r.Error == "" && len(r.Problems) == 0
		results = append(results, r)
	}
	targets := fs.Args()
	// validate "$FILE" with FILE unset would validate the default runbook
	// and say "ok" about a file nobody checked.
	for _, t := range targets {
		if strings.TrimSpace(t) == "" {
			return usageErr("validate: an empty argument (an unset variable?)")
		}
	}
	if len(targets) == 0 {
		rbs, err := runbook.List(o.dirs)
		for _, rb := range rbs {
			check(rb.Source, rb, nil)
		}
		if err != nil {
			// List joins the parse errors of broken files; report each.
			for _, e := range unjoin(err) {
				var ps runbook.Problems
				if errors.As(e, &ps) && len(ps) > 0 {
					check(ps[0].File, nil, e)
				} else {
					check("", nil, e)
				}
			}
		}
	}
	for _, t := range targets {
		st, statErr := os.Stat(t)
		switch {
		case statErr == nil && st.IsDir():
			ents, err := os.ReadDir(t)
			if err != nil {
				check(t, nil, err)
				continue
			}
			n := 0
			for _, e := range ents {
				if e.IsDir() || !strings.HasSuffix(strings.ToLower(e.Name()), ".md") {
					continue
				}
				n++
				p := strings.TrimSuffix(t, "/") + "/" + e.Name()
				rb, err := runbook.ReadFile(p)
				check(p, rb, err)
			}
			if n == 0 {
				check(t, nil, errors.New("folder holds no .md files"))
			}
		case statErr == nil:
			rb, err := runbook.ReadFile(t)
			check(t, rb, err)
		default:
			rb, err := runbook.Load(t, o.dirs)
			if errors.Is(err, runbook.ErrNotFound) {
				err = fmt.Errorf("%s: no such file, folder or runbook id", t)
			}
			check(t, rb, err)
		}
	}

	unreadable, invalid := 0, 0
	for _, r := range results {
		if r.Error != "" {
			unreadable++
		} else if !r.Valid {
			invalid++
		}
	}
	if o.json {
		if err := writeJSON(iox.Stdout, struct {
			Valid    bool             `json:"valid"`
			Runbooks []validateResult `json:"runbooks"`
		}{unreadable == 0 && invalid == 0, results}); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			switch {
			case r.Error != "":
				fmt.Fprintf(iox.Stdout, "%s: cannot read: %s\n", r.File, r.Error)
			case r.Valid:
				fmt.Fprintf(iox.Stdout, "%s: ok\n", r.File)
			default:
				for _, p := range r.Problems {
					fmt.Fprintf(iox.Stdout, "%s:%d: %s\n", p.File, p.Line, p.Msg)
					if p.Hint != "" {
						fmt.Fprintf(iox.Stdout, "    hint: %s\n", p.Hint)
					}
				}
			}
		}
	}
	switch {
	case unreadable > 0:
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("validate: %s of %d could not be read", plural(unreadable, "runbook"), len(results))}
	case invalid > 0:
		n := 0
		for _, r := range results {
			n += len(r.Problems)
		}
		return failed(fmt.Errorf("validate: %s in %s of %d", plural(n, "problem"), plural(invalid, "runbook"), len(results)))
	}
	return nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// loadErr maps a runbook.Load error to an exit code: a runbook that does
// not parse is a problem (1); one that cannot be found or read is a usage
// error (2).
func loadErr(cmd string, err error) error {
	var ps runbook.Problems
	if errors.As(err, &ps) {
		return failed(fmt.Errorf("%s: %w", cmd, err))
	}
	var nf *runbook.NotFoundError
	if errors.As(err, &nf) {
		return usageErr("%s: %v (%s)", cmd, err, nf.Hint())
	}
	return usageErr("%s: %v", cmd, err)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// JSON shapes. Durations are whole seconds.

type objectivesJSON struct {
	RTO int64 `json:"rto"`
	RPO int64 `json:"rpo"`
	MTD int64 `json:"mtd"`
}

type runbookSummaryJSON struct {
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Source     string         `json:"source"`
	Severity   int            `json:"severity,omitempty"`
	Objectives objectivesJSON `json:"objectives"`
	Phases     int            `json:"phases"`
	Steps      int            `json:"steps"`
}

type varJSON struct {
	Name    string `json:"name"`
	Prompt  string `json:"prompt,omitempty"`
	Default string `json:"default,omitempty"`
	Secret  bool   `json:"secret,omitempty"`
}

type windowJSON struct {
	Start    int64 `json:"start"`
	End      int64 `json:"end"`
	Deadline bool  `json:"deadline,omitempty"`
}

type stepJSON struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Kind        runbook.Kind      `json:"kind"`
	Line        int               `json:"line"`
	Action      string            `json:"action,omitempty"`
	Lang        string            `json:"lang,omitempty"`
	BlockLine   int               `json:"block_line,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Destructive bool              `json:"destructive,omitempty"`
	Code        string            `json:"code,omitempty"`
	Detail      string            `json:"detail,omitempty"`
}

type phaseJSON struct {
	ID     string      `json:"id"`
	Title  string      `json:"title"`
	Line   int         `json:"line"`
	Group  string      `json:"group,omitempty"`
	Window *windowJSON `json:"window"`
	Detail string      `json:"detail,omitempty"`
	Steps  []stepJSON  `json:"steps"`
}

type runbookJSON struct {
	runbookSummaryJSON
	RTOPhase string           `json:"rto_phase,omitempty"`
	Response map[string]int64 `json:"response,omitempty"`
	Vars     []varJSON        `json:"variables"`
	PhaseSet []phaseJSON      `json:"phases"`
	Contacts string           `json:"contacts,omitempty"`
	Sections []string         `json:"sections,omitempty"`
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

func summaryJSON(rb *runbook.Runbook) runbookSummaryJSON {
	return runbookSummaryJSON{
		ID: rb.ID, Title: rb.Title, Source: rb.Source, Severity: rb.Severity,
		Objectives: objectivesJSON{secs(rb.Objectives.RTO), secs(rb.Objectives.RPO), secs(rb.Objectives.MTD)},
		Phases:     len(rb.Phases), Steps: rb.StepCount(),
	}
}

func detailJSON(rb *runbook.Runbook) runbookJSON {
	out := runbookJSON{runbookSummaryJSON: summaryJSON(rb), Vars: []varJSON{}, PhaseSet: []phaseJSON{}, Contacts: rb.Contacts}
	if p := rb.RTOStop(); p != nil {
		out.RTOPhase = p.ID
	}
	if len(rb.Response) > 0 {
		out.Response = map[string]int64{}
		for sev, d := range rb.Response {
			out.Response[fmt.Sprint(sev)] = secs(d)
		}
	}
	for _, v := range rb.Vars {
		out.Vars = append(out.Vars, varJSON{v.Name, v.Prompt, v.Default, v.Secret})
	}
	for k := range rb.Sections {
		out.Sections = append(out.Sections, k)
	}
	sort.Strings(out.Sections)
	for _, ph := range rb.Phases {
		pj := phaseJSON{ID: ph.ID, Title: ph.Title, Line: ph.Line, Group: ph.Group, Detail: ph.Detail, Steps: []stepJSON{}}
		if ph.Window.Set {
			pj.Window = &windowJSON{secs(ph.Window.Start), secs(ph.Window.End), ph.Window.Deadline}
		}
		for _, st := range ph.Steps {
			sj := stepJSON{ID: st.ID, Title: st.Title, Kind: st.Kind, Line: st.Line, Detail: st.Detail, Destructive: st.Destructive()}
			if b := st.Block; b != nil {
				sj.Action, sj.Lang, sj.BlockLine, sj.Code = b.Action, b.Lang, b.Line, b.Code
				switch st.Kind {
				case runbook.KindShell:
					sj.Action = steps.ShellAction
				case runbook.KindSQL:
					sj.Action = steps.SQLAction
				}
				if len(b.Attrs.Raw) > 0 {
					sj.Attributes = b.Attrs.Raw
				}
				if len(b.Params) > 0 {
					sj.Params = b.Params
				}
			}
			pj.Steps = append(pj.Steps, sj)
		}
		out.PhaseSet = append(out.PhaseSet, pj)
	}
	return out
}

// humanDuration writes 4h, 15m, 1h30m, 90s.
func humanDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func printRunbook(w io.Writer, rb *runbook.Runbook) {
	fmt.Fprintf(w, "%s: %s\n", rb.ID, rb.Title)
	fmt.Fprintf(w, "source: %s\n", rb.Source)
	var obj []string
	for _, o := range []struct {
		name string
		d    time.Duration
	}{{"RTO", rb.Objectives.RTO}, {"RPO", rb.Objectives.RPO}, {"MTD", rb.Objectives.MTD}} {
		if o.d > 0 {
			obj = append(obj, o.name+" "+humanDuration(o.d))
		}
	}
	if len(obj) > 0 {
		fmt.Fprintln(w, "objectives: "+strings.Join(obj, ", "))
		if p := rb.RTOStop(); p != nil {
			fmt.Fprintln(w, "the RTO clock stops when phase "+p.ID+" is complete")
		}
	}
	if rb.Severity > 0 {
		fmt.Fprintf(w, "severity: %d\n", rb.Severity)
	}
	for _, v := range rb.Vars {
		s := "variable: " + v.Name
		if v.Default != "" {
			s += " (default " + v.Default + ")"
		}
		if v.Secret {
			s += " (secret)"
		}
		if v.Prompt != "" {
			s += ": " + v.Prompt
		}
		fmt.Fprintln(w, fitWidth(s, listWidth))
	}
	for i, ph := range rb.Phases {
		win := ""
		if ph.Window.Set {
			win = fmt.Sprintf("  [%s-%s]", humanDuration(ph.Window.Start), humanDuration(ph.Window.End))
			if ph.Window.Start == 0 {
				win = fmt.Sprintf("  [0-%s]", humanDuration(ph.Window.End))
			}
		}
		fmt.Fprintln(w)
		fitLines(w, fmt.Sprintf("%d. %s%s", i+1, ph.Title, win), fmt.Sprintf("(%s, line %d)", ph.ID, ph.Line), "   ")
		for _, st := range ph.Steps {
			kind := string(st.Kind)
			if st.Block != nil && st.Block.Action != "" {
				kind += " " + st.Block.Action
			}
			if st.Destructive() {
				kind += ", confirm"
			}
			fmt.Fprintln(w, fitWidth("   - "+st.Title, listWidth))
			fitLines(w, "     "+st.ID, fmt.Sprintf("[%s]  line %d", kind, st.Line), "       ")
		}
	}
	if rb.Contacts != "" {
		fmt.Fprintln(w, "\nEmergency contacts: see 'drbook show --json' (contacts) or the TUI.")
	}
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

// plural says "1 problem" or "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
