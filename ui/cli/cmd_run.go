package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

const runUsageHead = `
Usage: drbook run ACTION [--param K=V]... [--root DIR] [--incident ID]
                  [--yes] [--dry-run] [--json]

Run one of drbook's built-in actions, the same action a runbook step
runs, against the system at --root (default: the current directory).
Its output is printed as it comes; the last line is its status and
summary (with --json: one JSON object, the output going to stderr).

A destructive action needs confirmation: --yes, or typing the action's
name on a terminal. --dry-run asks the action to say what it would
change and change nothing. With --incident the run, its output (secrets
redacted) and its result are recorded in that open incident's timeline,
as a step's action is; a drill's incident takes only its own sandbox.

Exit codes: 0 done; 1 the action failed, found problems, could not be
carried out, or was not confirmed; 2 usage error (unknown action or
parameter, a required parameter missing, a bad --root or --incident);
130 interrupted.
`

// runnable lists the actions drbook run offers: every registered one but
// the block kinds (shell, sql), which need a runbook's code block, and
// notify, which sends through an incident's site channels.
func runnable() []steps.Spec {
	var out []steps.Spec
	for _, s := range steps.Specs() {
		switch s.Name {
		case steps.ShellAction, steps.SQLAction, "notify":
			continue
		}
		if _, ok := steps.Lookup(s.Name); ok {
			out = append(out, s)
		}
	}
	return out
}

// runUsage is the help text with the actions and their parameters, from
// their declarations.
func runUsage() string {
	var b strings.Builder
	b.WriteString(runUsageHead)
	b.WriteString("\nActions (* destructive: needs --yes or a typed confirmation):\n")
	for _, s := range runnable() {
		b.WriteString(describeSpec(s))
	}
	b.WriteString("\nNotify steps run within an incident ('drbook comms ID --send'); shell\nand sql are a runbook's code blocks.\n")
	return b.String()
}

// describeSpec renders one action's declaration for a terminal, wrapped
// to 80 columns.
func describeSpec(s steps.Spec) string {
	var b strings.Builder
	mark := " "
	if s.Destructive {
		mark = "*"
	}
	for i, l := range wrapWords(s.Summary, 80-20) {
		if i == 0 {
			fmt.Fprintf(&b, " %s%-17s %s\n", mark, s.Name, l)
		} else {
			fmt.Fprintf(&b, "%20s%s\n", "", l)
		}
	}
	for _, p := range s.Params {
		doc := p.Doc
		if p.Required {
			doc += " (required)"
		}
		if p.Default != "" {
			doc += " (default " + p.Default + ")"
		}
		for i, l := range wrapWords(doc, 80-24) {
			if i == 0 {
				fmt.Fprintf(&b, "      %-17s %s\n", p.Name, l)
			} else {
				fmt.Fprintf(&b, "%24s%s\n", "", l)
			}
		}
	}
	return b.String()
}

// wrapWords breaks s into lines of at most width characters.
func wrapWords(s string, width int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) <= width:
			line += " " + w
		default:
			out = append(out, line)
			line = w
		}
	}
	if line != "" || len(out) == 0 {
		out = append(out, line)
	}
	return out
}

// runJSON is what drbook run --json prints.
type runJSON struct {
	Action     string     `json:"action"`
	Status     string     `json:"status"`
	Summary    string     `json:"summary"`
	Error      string     `json:"error,omitempty"`
	ExitCode   int        `json:"exit_code,omitempty"`
	BackupTime *time.Time `json:"backup_time,omitempty"`
	Incident   string     `json:"incident,omitempty"`
	DryRun     bool       `json:"dry_run,omitempty"`
	Result     any        `json:"result,omitempty"`
}

func runRun(ctx context.Context, iox *IO, args []string) error {
	var o actionOptions
	var params []string
	var yes, dryRun bool
	fs := newFlagSet("run", runUsage(), iox)
	o.AddFlags(fs)
	fs.StringArrayVar(&params, "param", nil, "an action parameter, K=V (repeatable)")
	fs.BoolVar(&yes, "yes", false, "confirm a destructive action without a prompt")
	fs.BoolVar(&dryRun, "dry-run", false, "say what would change, change nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("run: want one ACTION (run 'drbook run --help' for the list)")
	}
	name := fs.Arg(0)
	spec, act, err := findRunnable(name)
	if err != nil {
		return err
	}
	p, err := parseParams(spec, params)
	if err != nil {
		return err
	}
	if err := o.check("run"); err != nil {
		return err
	}
	// The incident is looked up first, so that a mistyped id changes
	// nothing.
	link, err := openIncidentLink(ctx, iox, "run", o.incident, o.stateDir, o.root)
	if err != nil {
		return err
	}
	defer link.close()
	confirmed := yes
	if spec.Destructive && !yes && !dryRun {
		if !iox.IsTerminal {
			return failed(fmt.Errorf("run %s: destructive: not on a terminal, so not confirmed; confirm with --yes (or try --dry-run); nothing was changed", spec.Name))
		}
		fmt.Fprintf(iox.Stdout, "%s is destructive: %s\nType %s to confirm: ", spec.Name, spec.Summary, spec.Name)
		line, _ := bufio.NewReader(iox.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != spec.Name {
			return failed(fmt.Errorf("run %s: not confirmed; nothing was changed", spec.Name))
		}
		confirmed = true
	}

	req := steps.Request{Env: steps.Env{Root: o.root}, Params: p, Confirmed: confirmed, DryRun: dryRun}
	// Lines go out as they come: to stdout, or to stderr when stdout is
	// kept for the JSON.
	var mu sync.Mutex
	lines := iox.Stdout
	if o.json {
		lines = iox.Stderr
	}
	emit := func(ev steps.Event) {
		if ev.Line == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if ev.Stream == steps.Stderr {
			fmt.Fprintln(iox.Stderr, ev.Line)
		} else {
			fmt.Fprintln(lines, ev.Line)
		}
	}
	res, runErr, recErr := link.run(ctx, iox, "run", act, req, emit)
	if recErr != nil && res.Status == "" { // refused before it ran
		return recErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if res.Status == "" {
		res.Status = steps.StatusOK
	}
	if o.json {
		j := runJSON{Action: spec.Name, Status: string(res.Status), Summary: res.Summary, ExitCode: res.ExitCode,
			DryRun: dryRun, Result: res.Data}
		if runErr != nil {
			j.Error = runErr.Error()
		}
		if !res.BackupTime.IsZero() {
			bt := res.BackupTime.UTC()
			j.BackupTime = &bt
		}
		if link != nil {
			j.Incident = link.in.ID()
		}
		if err := printJSON(iox.Stdout, j); err != nil {
			return err
		}
	} else {
		line := spec.Name + ": " + strings.ToUpper(string(res.Status))
		if res.Summary != "" {
			line += ": " + res.Summary
		}
		fmt.Fprintln(iox.Stdout, line)
		if link != nil {
			fmt.Fprintf(iox.Stdout, "Recorded in %s.\n", link.in.ID())
		}
	}
	switch {
	case runErr != nil:
		return errors.Join(failed(fmt.Errorf("run %s: %w", spec.Name, runErr)), recErr)
	case recErr != nil:
		return recErr
	case res.Status == steps.StatusFailed:
		return failed(nil)
	}
	return nil
}

// findRunnable looks an action up, suggesting the nearest name for a
// misspelt one.
func findRunnable(name string) (steps.Spec, steps.Action, error) {
	var names []string
	for _, s := range runnable() {
		if s.Name == name {
			act, _ := steps.Lookup(name)
			return act.Spec(), act, nil
		}
		names = append(names, s.Name)
	}
	hint := ""
	if c := runbook.Closest(name, names); c != "" {
		hint = fmt.Sprintf("did you mean %q? ", c)
	}
	switch name {
	case steps.ShellAction, steps.SQLAction:
		return steps.Spec{}, nil, usageErr("run: %s is a runbook code block, not an action drbook run offers (run 'drbook run --help')", name)
	case "notify":
		return steps.Spec{}, nil, usageErr("run: notify sends within an incident: use 'drbook comms ID --send'")
	}
	return steps.Spec{}, nil, usageErr("run: unknown action %q: %s(actions: %s)", name, hint, strings.Join(names, ", "))
}

// parseParams reads --param K=V against the action's declared parameters:
// an unknown one (with the nearest name), a repeated one, an empty key or
// a missing required one is a usage error.
func parseParams(spec steps.Spec, kvs []string) (map[string]string, error) {
	known := map[string]steps.Param{}
	var names []string
	for _, p := range spec.Params {
		known[p.Name] = p
		names = append(names, p.Name)
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageErr("run %s: --param %q: want KEY=VALUE", spec.Name, kv)
		}
		if _, ok := known[k]; !ok {
			hint := "it takes no parameters"
			if len(names) > 0 {
				hint = "its parameters: " + strings.Join(names, ", ")
			}
			if c := runbook.Closest(k, names); c != "" {
				hint = fmt.Sprintf("did you mean %q? (%s)", c, hint)
			}
			return nil, usageErr("run %s: unknown parameter %q: %s", spec.Name, k, hint)
		}
		if _, dup := out[k]; dup {
			return nil, usageErr("run %s: --param %s given twice", spec.Name, k)
		}
		out[k] = v
	}
	for _, p := range spec.Params {
		if _, ok := out[p.Name]; p.Required && !ok {
			return nil, usageErr("run %s: --param %s=... is required (%s)", spec.Name, p.Name, p.Doc)
		}
	}
	return out, nil
}
