package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/ui"
)

// tuiOptions are the global flags of the TUI, drill and resume.
type tuiOptions struct {
	runbooks []string
	stateDir string
	live     bool
	root     string
	noColor  bool
	operator string
}

func (o *tuiOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.runbooks, "runbooks", nil, "directory of extra runbooks (repeatable)")
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory (default $DRBOOK_STATE_DIR, else $XDG_STATE_HOME/drbook, else ~/.local/state/drbook)")
	fs.BoolVar(&o.live, "live", false, "allow LIVE incidents against --root (otherwise everything is a drill)")
	fs.StringVar(&o.root, "root", "", "the real QuantAI system directory (with --live)")
	fs.BoolVar(&o.noColor, "no-color", false, "no colour (also honoured: NO_COLOR)")
	fs.StringVar(&o.operator, "operator", "", "who is at the keyboard (default $SUDO_USER, $USER)")
}

// check validates the flags and opens the state store.
func (o *tuiOptions) open(iox *IO) (ui.EngineConfig, error) {
	cfg, err := iox.Site()
	if err != nil {
		return ui.EngineConfig{}, err
	}
	// A live host described by its site configuration needs no flags:
	// system.live with system.root is --live --root.
	if r := cfg.Resolve(cfg.System.Root); r != "" && o.root == "" && (o.live || cfg.System.Live) {
		o.root, o.live = r, true
	}
	if o.live && o.root == "" {
		return ui.EngineConfig{}, usageErr("--live needs --root DIR: the real system's directory")
	}
	if o.root != "" && !o.live {
		return ui.EngineConfig{}, usageErr("--root without --live: drills build their own sandbox; add --live to act on %s", o.root)
	}
	if o.root != "" {
		if fi, err := os.Stat(o.root); err != nil || !fi.IsDir() {
			return ui.EngineConfig{}, usageErr("--root %s: not a directory", o.root)
		}
	}
	dir := stateDirOr(iox, cfg, o.stateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ui.EngineConfig{}, usageErr("state dir: %v", err)
	}
	store, err := incident.OpenStore(dir)
	if err != nil {
		return ui.EngineConfig{}, usageErr("%v", err)
	}
	op := incident.OperatorFromEnv(iox.Getenv)
	if o.operator != "" {
		op.Name = o.operator
	}
	ec := ui.EngineConfig{Store: store, StateDir: dir, RunbookDirs: o.runbooks, Live: o.live,
		Root: o.root, Operator: op}
	ec.Contacts, ec.Notices = siteContacts(iox, cfg, dir)
	ec.Sender, ec.SenderSecrets = siteSender(iox, cfg, cmp.Or(o.root, cfg.Resolve(cfg.System.Root)))
	return ec, nil
}

// siteContacts is the Emergency Contacts section from the site
// configuration (none when it lists no contacts) and a home-screen line
// when the list has placeholders, missing roles or stale entries.
func siteContacts(iox *IO, cfg *site.Config, stateDir string) (string, []string) {
	seen, err := site.LoadVerifications(stateDir)
	if err != nil {
		return "", []string{"contacts: " + err.Error()}
	}
	t := now(iox)
	var notices []string
	if ps := cfg.ContactProblems(t, seen); len(ps) > 0 && len(cfg.Contacts.People) > 0 {
		notices = append(notices, fmt.Sprintf("contacts: %d to fix (%s); drbook config check", len(ps), ps[0].Msg))
	}
	return cfg.ContactsMarkdown(t, seen), notices
}

func (o *tuiOptions) uiOptions(iox *IO) ui.Options {
	return ui.Options{Live: o.live, NoColor: o.noColor, Getenv: iox.Getenv}
}

func needTerminal(iox *IO, what string) error {
	if !iox.IsTerminal {
		return usageErr("%s needs a terminal (for an unattended drill: drbook drill --auto)", what)
	}
	return nil
}

// tuiExit prints how to get back to the incident and maps the error.
func tuiExit(iox *IO, cfg ui.EngineConfig, res ui.Result, err error) error {
	if s := res.Farewell(cfg.StateDir); s != "" {
		fmt.Fprintln(iox.Stderr, "drbook: "+s)
	}
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	return failed(err)
}

const tuiUsage = `
Usage: drbook [--runbooks DIR] [--state-dir DIR] [--live --root DIR] [--no-color] [--operator NAME]

Opens the TUI: start a drill (the first choice: complete system recovery
with a corrupted database, against a generated sandbox), start an incident,
or resume an open one. Without --live and --root everything is a DRILL.
q quits and leaves the incident open; 'drbook resume' reopens it.

Exit codes: 0 ok, 1 failure, 2 usage error (or no terminal), 130 interrupted.
`

func runTUI(ctx context.Context, iox *IO, args []string) error {
	var o tuiOptions
	fs := newFlagSet("drbook", tuiUsage, iox)
	o.AddFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (run 'drbook --help')", fs.Arg(0))
	}
	if err := needTerminal(iox, "the TUI"); err != nil {
		return err
	}
	ui.LimitMemory(iox.Getenv)
	cfg, err := o.open(iox)
	if err != nil {
		return err
	}
	defer cfg.Store.Close()
	// With a replicated timeline (state.s3, $DRBOOK_STATE_S3) every event
	// the TUI records is pushed in the background.
	_, stop, err := replicateWhileRunning(ctx, iox, "", cfg.Store, "")
	if err != nil {
		return err
	}
	defer stop()
	opts := o.uiOptions(iox)
	opts.Backend = ui.NewBackend(cfg)
	res, err := ui.Run(ctx, opts, iox.Stdin, iox.Stdout)
	return tuiExit(iox, cfg, res, err)
}

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
	var vars map[string]string
	for _, a := range varArgs {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return usageErr("drill: --var %q: want NAME=VALUE", a)
		}
		if vars == nil {
			vars = map[string]string{}
		}
		vars[name] = value
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
		var h interface{ Hint() string }
		if errors.As(err, &h) && h.Hint() != "" {
			return usageErr("drill: %v (%s)", err, h.Hint())
		}
		return usageErr("drill: %v", err)
	}
	cfg, err := o.open(iox)
	if err != nil {
		return err
	}
	defer cfg.Store.Close()
	_, stop, err := replicateWhileRunning(ctx, iox, "", cfg.Store, "")
	if err != nil {
		return err
	}
	defer stop()
	s3, err := drillS3(iox)
	if err != nil {
		return err
	}
	// A runbook that reads the site configuration in an action
	// (compliance-check) gets the one this command read, --config included.
	if sc, _ := iox.Site(); sc != nil && sc.Path != "" && declares(rb, "SITE_CONFIG") && vars["SITE_CONFIG"] == "" {
		if vars == nil {
			vars = map[string]string{}
		}
		vars["SITE_CONFIG"] = sc.Path
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
		if errors.Is(err, drill.ErrScenario) || errors.Is(err, drill.ErrNoS3) || errors.Is(err, sandbox.ErrUnknownFault) {
			return usageErr("%v", err)
		}
		return failed(err)
	}
	cfg.Wire(d.Incident)
	if cfg.Contacts != "" {
		rb.Contacts = cfg.Contacts
	}
	if !auto {
		opts := o.uiOptions(iox)
		opts.Backend = ui.NewBackend(cfg)
		opts.Session = ui.NewSession(d.Incident, cfg.Store, rb, d.Env, cfg.StateDir)
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

// declares reports whether the runbook has a variable called name.
func declares(rb *runbook.Runbook, name string) bool {
	for _, v := range rb.Vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

// drillS3 is the S3 location a drill copies its baseline backup to:
// $DRBOOK_S3 (with $DRBOOK_S3_ENDPOINT and $DRBOOK_S3_REGION), else the
// site configuration's backup.s3; none when neither is set.
func drillS3(iox *IO) (drill.S3, error) {
	if c := backup.S3FromEnv(iox.Getenv); c != nil {
		return drill.S3{URL: c.URL, Endpoint: c.Endpoint, Region: c.Region}, nil
	}
	cfg, err := iox.Site()
	if err != nil {
		return drill.S3{}, err
	}
	return drill.S3{URL: cfg.Backup.S3.URL, Endpoint: cfg.Backup.S3.Endpoint, Region: cfg.Backup.S3.Region}, nil
}

const resumeUsage = `
Usage: drbook resume [ID] [--follow] [flags]

Reopens an open incident in the TUI with the same clocks; ID may be a
unique prefix, and defaults to the most recently active open incident.
An action that was running when drbook died is shown as interrupted.

--follow shows the incident live and read-only (it polls the timeline),
for a second operator or a manager; it also works on a closed incident.

With --state-s3 s3://bucket/prefix (or $DRBOOK_STATE_S3) the timeline is
replicated while the TUI runs, and an incident this host does not hold
(its site is lost) is first rebuilt from S3, its hash chain verified.

Exit codes: 0 ok, 1 failure, 2 usage error or no such incident, 130 interrupted.
`

func runResume(ctx context.Context, iox *IO, args []string) error {
	var o tuiOptions
	var follow bool
	var s3 string
	fs := newFlagSet("resume", resumeUsage, iox)
	o.AddFlags(fs)
	fs.BoolVar(&follow, "follow", false, "read-only live view (polls the timeline)")
	fs.StringVar(&s3, "state-s3", "", "replicate timelines to s3://bucket/prefix (default $DRBOOK_STATE_S3)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("resume: one incident id at most")
	}
	if err := needTerminal(iox, "resume"); err != nil {
		return err
	}
	ui.LimitMemory(iox.Getenv)
	cfg, err := o.open(iox)
	if err != nil {
		return err
	}
	defer cfg.Store.Close()
	ref := fs.Arg(0)
	rep, stop, err := replicateWhileRunning(ctx, iox, s3, cfg.Store, ref)
	if err != nil {
		return err
	}
	defer stop()
	var sess ui.Session
	if follow {
		sess, err = ui.NewFollowSession(ctx, cfg, ref)
	} else {
		sess, err = ui.OpenSession(ctx, cfg, ref)
	}
	if err != nil {
		if errors.Is(err, incident.ErrNotFound) || errors.Is(err, incident.ErrAmbiguous) || errors.Is(err, incident.ErrClosed) {
			return usageErr("resume: %v", err)
		}
		return failed(err)
	}
	if !follow {
		if err := askSecrets(iox, sess); err != nil {
			return err
		}
	}
	if rep != nil {
		sess = ui.WithReplication(sess, rep.Status)
	}
	opts := o.uiOptions(iox)
	opts.Backend = ui.NewBackend(cfg)
	opts.Session = sess
	opts.Follow = follow
	res, err := ui.Run(ctx, opts, iox.Stdin, iox.Stdout)
	return tuiExit(iox, cfg, res, err)
}

// askSecrets asks, without echo, for the runbook's secret variables: the
// timeline never keeps them, so a resumed incident needs them again. An
// empty answer leaves a variable unset (a step that needs it will say so).
func askSecrets(iox *IO, sess ui.Session) error {
	rb := sess.Runbook()
	setter, ok := sess.(interface{ SetVars(map[string]string) })
	f, isFile := iox.Stdin.(*os.File)
	if rb == nil || !ok || !isFile {
		return nil
	}
	vars := map[string]string{}
	for _, v := range rb.Vars {
		if !v.Secret {
			continue
		}
		prompt := v.Prompt
		if prompt == "" {
			prompt = v.Name
		}
		fmt.Fprintf(iox.Stderr, "%s (%s, secret, not echoed; enter to leave unset): ", prompt, v.Name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(iox.Stderr)
		if err != nil {
			return failed(fmt.Errorf("read %s: %w", v.Name, err))
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			vars[v.Name] = s
		}
	}
	setter.SetVars(vars)
	return nil
}
