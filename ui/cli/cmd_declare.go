package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/session"
	"github.com/drbook/drbook/steps/sandbox"
)

const declareUsage = `
Usage: drbook declare RUNBOOK [--severity N] [--drill [--speed F]] [--title T]
                      [--detected-at TIME] [--var NAME=VALUE]... [flags]

Declare an incident (or, with --drill, a drill) running RUNBOOK and print
its id; with --json, its record. For alert hooks and automation: the clocks
(RTO, RPO, MTD, phase windows, the severity's response time) start at
--detected-at, else now. Continue it in the TUI with 'drbook resume ID', or
from scripts with 'drbook step', 'drbook note' and 'drbook close'.

RUNBOOK is an embedded id (complete-system-recovery...), a Markdown file,
or the id of a runbook in a --runbooks folder.

The runbook's variables take --var values, then (for a live incident) the
site configuration's (the failover section's, SITE_CONFIG), then their
defaults: 'drbook show RUNBOOK' lists them. A drill never takes the real
site's values. A secret variable is not given here: the TUI asks for it.

TIME is RFC 3339 (2026-03-02T08:55:00Z), "2026-03-02 08:55", "08:55"
(UTC, today) or a duration ago ("20m").

Exit codes: 0 declared; 1 the state database refused the write;
2 usage error, unknown runbook, bad time, unreadable state database.
`

func runDeclare(ctx context.Context, iox *IO, args []string) error {
	var (
		so                                         stateOptions
		rbDirs                                     []string
		sev                                        int
		drill, asJSON                              bool
		speed                                      float64
		title, detected, root, test, scenario, imp string
		varArgs                                    []string
	)
	fs := newFlagSet("declare", declareUsage, iox)
	so.AddFlags(fs)
	so.addS3(fs)
	so.addOperator(fs)
	fs.StringArrayVar(&rbDirs, "runbooks", nil, "folder of extra runbooks, searched before the embedded ones (repeatable)")
	fs.IntVar(&sev, "severity", 0, "severity 1 (critical), 2 (high) or 3 (medium); default: the runbook's, else 2")
	fs.BoolVar(&drill, "drill", false, "a drill, not a live incident")
	fs.StringVar(&title, "title", "", "short description (default: the runbook's title)")
	fs.StringVar(&detected, "detected-at", "", "when the problem was detected, if earlier than now")
	fs.StringVar(&root, "root", "", "the system's root directory (default for a live incident: system.root from the site configuration, else the current directory; for --drill, a drbook sandbox)")
	fs.StringVar(&test, "test", "", "drill: the scheduled test it counts as (see 'drbook drills'; default from the runbook)")
	fs.StringVar(&scenario, "scenario", "", "drill: the fault being exercised")
	fs.StringVar(&imp, "impact", "", "business impact, for the notification template")
	fs.Float64Var(&speed, "speed", 0, "drill: clock speed factor (60: one real minute counts as one hour)")
	fs.StringArrayVar(&varArgs, "var", nil, "set a runbook variable, NAME=VALUE (repeatable)")
	fs.BoolVar(&asJSON, "json", false, "print the incident's record as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("declare: want one RUNBOOK, got %d arguments (run 'drbook declare --help')", fs.NArg())
	}
	// An empty argument ("$RUNBOOK" unset) must not silently mean the
	// default runbook.
	if strings.TrimSpace(fs.Arg(0)) == "" {
		return usageErr("declare: RUNBOOK is an empty argument (an unset variable?)")
	}
	if sev != 0 && (sev < 1 || sev > 3) {
		return usageErr("declare: --severity %d: want 1, 2 or 3", sev)
	}
	rb, err := runbook.Load(fs.Arg(0), rbDirs)
	if err != nil {
		return loadErr("declare", err)
	}
	vars, err := runbookVars("declare", rb, varArgs, false)
	if err != nil {
		return err
	}
	sc, err := iox.Site()
	if err != nil {
		return err
	}
	if drill {
		if sc.Path != "" && declares(rb, "SITE_CONFIG") && vars["SITE_CONFIG"] == "" {
			vars = setVar(vars, "SITE_CONFIG", sc.Path)
		}
	} else {
		vars = session.LiveVars(rb, vars, sc.RunbookVars())
	}
	now := time.Now()
	var det time.Time
	if detected != "" {
		if det, err = parseWhen(detected, now); err != nil {
			return usageErr("declare: --detected-at: %w", err)
		}
		if det.After(now) {
			return usageErr("declare: --detected-at %s is in the future", det.Format(time.RFC3339))
		}
	}
	mode := incident.Live
	if drill {
		mode = incident.Drill
	} else if test != "" || scenario != "" || speed != 0 {
		return usageErr("declare: --test, --scenario and --speed are for drills (add --drill)")
	}
	if speed < 0 || speed > 3600 {
		return usageErr("declare: --speed %g: want a factor between 1 and 3600", speed)
	}
	if test != "" {
		known := false
		var ids []string
		for _, t := range incident.Tests {
			known = known || t.ID == test
			ids = append(ids, t.ID)
		}
		if !known {
			return usageErr("declare: --test %q: want one of %s", test, strings.Join(ids, ", "))
		}
	}
	if root == "" && !drill {
		// The site configuration's system root, else where the operator is.
		if sc.System.Root != "" {
			root = sc.Resolve(sc.System.Root)
		} else if root, err = os.Getwd(); err != nil {
			return usageErr("declare: %w", err)
		}
	}
	if root != "" {
		if root, err = filepath.Abs(root); err != nil {
			return usageErr("declare: --root: %w", err)
		}
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return usageErr("declare: --root %s: not a directory", root)
		}
		if drill && !sandbox.IsSandbox(root) {
			return usageErr("declare: --drill --root %s: not a drbook sandbox, and a drill never acts on a real system "+
				"(make one with 'drbook demo --root DIR', or run 'drbook drill')", root)
		}
	}
	s, err := so.open("declare", iox, false)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := so.replicator(ctx, iox, s); err != nil {
		return err
	}
	in, err := incident.Declare(ctx, s, rb, incident.DeclareOptions{Severity: sev, Mode: mode, Title: title, Operator: so.op(iox),
		DetectedAt: det, Root: root, Scenario: scenario, DrillTest: test, Impact: imp, Speed: speed, Vars: vars}, incident.SystemClock{})
	if err != nil {
		return incidentErr("declare", err)
	}
	pushNow(ctx, iox, so.rep, in.ID())
	if !asJSON {
		fmt.Fprintln(iox.Stdout, in.ID())
		return nil
	}
	return printIncident(ctx, iox.Stdout, s, in.ID())
}

// runbookVars reads --var NAME=VALUE arguments for rb: a name it does not
// declare is a usage error naming those it does. A secret one is refused
// unless secrets is set (an unattended drill has no other way to get it;
// a declared incident asks for it when the TUI resumes it, as the
// timeline never keeps it).
func runbookVars(cmd string, rb *runbook.Runbook, args []string, secrets bool) (map[string]string, error) {
	var vars map[string]string
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usageErr("%s: --var %q: want NAME=VALUE", cmd, a)
		}
		var v *runbook.Var
		var names []string
		for i := range rb.Vars {
			names = append(names, rb.Vars[i].Name)
			if rb.Vars[i].Name == name {
				v = &rb.Vars[i]
			}
		}
		switch {
		case v == nil && len(names) == 0:
			return nil, usageErr("%s: --var %s: runbook %s has no variables", cmd, name, rb.ID)
		case v == nil:
			return nil, usageErr("%s: --var %s: runbook %s has no such variable (it has %s)", cmd, name, rb.ID, strings.Join(names, ", "))
		case v.Secret && !secrets:
			return nil, usageErr("%s: --var %s: a secret is not given here (the timeline never keeps it); 'drbook resume' asks for it", cmd, name)
		}
		vars = setVar(vars, name, value)
	}
	return vars, nil
}

// setVar sets vars[name], making the map if need be.
func setVar(vars map[string]string, name, value string) map[string]string {
	if vars == nil {
		vars = map[string]string{}
	}
	vars[name] = value
	return vars
}
