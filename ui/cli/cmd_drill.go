package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/ui"
)

const drillUsage = `
Usage: drbook drill [RUNBOOK] [--scenario FAULT] [--speed N] [--auto]
                    [--backup-age D] [--var NAME=VALUE]... [flags]

Runs a drill: builds a sandbox QuantAI system, takes its baseline backup,
injects the fault, declares a DRILL incident and starts the clock. RUNBOOK
is an embedded id, a file or an id in --runbooks (default
complete-system-recovery); FAULT defaults to the runbook's own damage
(bad-config for configuration-recovery, position-drift for
trading-platform-failover, agent-down for single-agent-failure, host-lost
for cross-platform-recovery, corrupt-db,bad-config,missing-env for
full-dr-simulation, none for compliance-validation, corrupt-db otherwise;
'none' for none). Several faults go in order, comma-separated.

The host-lost scenario (and a runbook with a BACKUP_S3 variable) needs an
S3 location: $DRBOOK_S3 (and $DRBOOK_S3_ENDPOINT), else backup.s3 of the
site configuration. The baseline backup is then also copied under
S3/drills/STAMP-HEX, named by the runbook variable BACKUP_S3; host-lost
deletes the local backups and the runbook rebuilds from S3 alone. Without
an S3 location a host-lost drill is refused.

Without --auto the TUI guides you through it. With --auto every automatable
step runs unattended, manual steps are acknowledged, progress is printed
and the drill report is written to STATE_DIR/reports/ID.md and printed:
the plan's monthly recovery test, fit for cron. After the last step the
system checks run on the sandbox: the drill passes only if no step failed
from the RTO phase on, the checks pass (the fault is gone) and the RTO
was met.

--backup-age 10m stamps the baseline backup as taken ten minutes before the
outage (the plan snapshots every 15 minutes), so the report's RPO achieved
reads 10m against the 15m objective; by default it is taken just before.

Exit codes: 0 recovered within the RTO, 1 recovery failed or the RTO was
missed, 2 usage error, 130 interrupted (the drill stays open: drbook resume).
`

func runDrill(ctx context.Context, iox *IO, args []string) error {
	var o tuiOptions
	var scenario, dir, title string
	var speed float64
	var auto, asJSON bool
	var severity, trades int
	var varArgs []string
	fs := newFlagSet("drill", drillUsage, iox)
	fs.StringArrayVar(&varArgs, "var", nil, "runbook variable NAME=VALUE (repeatable)")
	o.AddFlags(fs)
	fs.StringVar(&scenario, "scenario", "", "fault to inject (drbook demo --help lists them); none for none")
	fs.Float64Var(&speed, "speed", 1, "clock speed factor: 60 makes one real minute an hour")
	var backupAge time.Duration
	fs.DurationVar(&backupAge, "backup-age", 0, "stamp the baseline backup as taken this long before the outage (RPO achieved)")
	fs.BoolVar(&auto, "auto", false, "run unattended and print the report")
	fs.StringVar(&dir, "dir", "", "drill directory (default: a new one under STATE_DIR/drills)")
	fs.StringVar(&title, "title", "", "drill title")
	fs.IntVar(&severity, "severity", 0, "severity 1-3 (default: the runbook's)")
	fs.IntVar(&trades, "trades", 0, "sandbox size in trades (default: the sandbox default)")
	fs.BoolVar(&asJSON, "json", false, "with --auto: print the result as JSON after the report")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("drill: one runbook at most (run 'drbook drill --help')")
	}
	if o.live || o.root != "" {
		return usageErr("drill: drills never touch a live system; drop --live/--root")
	}
	if speed <= 0 {
		return usageErr("drill: --speed must be positive")
	}
	if backupAge < 0 {
		return usageErr("drill: --backup-age must not be negative")
	}
	if severity < 0 || severity > 3 {
		return usageErr("drill: --severity must be 1, 2 or 3")
	}
	ref := ui.DefaultRunbook
	if fs.NArg() == 1 {
		ref = fs.Arg(0)
		if strings.TrimSpace(ref) == "" {
			return usageErr("drill: RUNBOOK is an empty argument (an unset variable?); leave it out for the default runbook")
		}
	}
	switch scenario {
	case "none":
		scenario = ""
	case "":
		scenario = drill.DefaultScenario(ref)
	}
	if !auto {
		if err := needTerminal(iox, "a guided drill"); err != nil {
			return err
		}
	}
	// Unattended or guided, a drill keeps the Go heap tight: without the
	// limit the heap left by the baseline backup doubles before each
	// collection and the drill peaks at 130 MB RSS on 1,000,000 trades.
	// The limit is put back on return, for callers that live on (tests).
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	ui.LimitMemory(iox.Getenv)
	rb, err := runbook.Load(ref, o.runbooks)
	if err != nil {
		return usageErr("drill: %w", err) // Main prints the hint
	}
	vars, err := runbookVars("drill", rb, varArgs, true)
	if err != nil {
		return err
	}
	cfg, err := o.open(iox)
	if err != nil {
		return err
	}
	defer cfg.Store.Close()
	rep, stop, err := replicateWhileRunning(ctx, iox, "", cfg.Store, "")
	if err != nil {
		return err
	}
	defer stop()
	s3 := cfg.DrillS3
	// A runbook that reads the site configuration in an action
	// (compliance-check) gets the one this command read, --config included.
	if sc, _ := iox.Site(); sc != nil && sc.Path != "" && declares(rb, "SITE_CONFIG") && vars["SITE_CONFIG"] == "" {
		vars = setVar(vars, "SITE_CONFIG", sc.Path)
	}
	d, err := drill.Start(ctx, drill.Options{
		Runbook: rb, Scenario: scenario, Speed: speed, Dir: dir, StateDir: cfg.StateDir, Store: cfg.Store,
		Operator: cfg.Operator, Severity: severity, Title: title, Trades: trades, Vars: vars, BackupAge: backupAge,
		S3:       s3,
		Progress: func(s string) { fmt.Fprintln(iox.Stderr, "drbook: "+s) },
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err // ExitCode: a bad scenario, an unknown fault or no S3 for host-lost 2, else 1
	}
	cfg.Wire(d.Incident)
	if cfg.Contacts != "" {
		rb.Contacts = cfg.Contacts
	}
	if !auto {
		opts := o.uiOptions(iox)
		opts.Backend = ui.NewBackend(cfg)
		opts.Session = ui.NewSession(d.Incident, cfg.Store, rb, d.Env, cfg.StateDir)
		if rep != nil {
			opts.Backend = ui.ReplicatedBackend(opts.Backend, rep.Status)
			opts.Session = ui.WithReplication(opts.Session, rep.Status)
		}
		res, err := ui.Run(ctx, opts, iox.Stdin, iox.Stdout)
		return tuiExit(iox, cfg, res, err)
	}
	res, err := drill.Auto(ctx, d, cfg.Store, ui.ReportDir(cfg.StateDir), iox.Stdout)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(iox.Stderr, "drbook: drill %s interrupted; it stays open: drbook resume %s\n", d.Incident.ID(), d.Incident.ID())
			return ctx.Err()
		}
		return failed(err)
	}
	if asJSON {
		enc := json.NewEncoder(iox.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"id": res.ID, "recovered": res.Recovered, "rto": res.RTOVerdict,
			"failed_steps": res.Failed, "report": res.Report, "ok": res.OK()})
	}
	if !res.OK() {
		return failed(nil)
	}
	return nil
}
