package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

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
