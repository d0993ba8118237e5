package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/drill"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/backup"
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
		return ui.EngineConfig{}, usageErr("state dir: %w", err)
	}
	store, err := incident.OpenStore(dir)
	if err != nil {
		return ui.EngineConfig{}, usageErr("%w", err)
	}
	op := incident.OperatorFromEnv(iox.Getenv)
	if o.operator != "" {
		op.Name = o.operator
	}
	ec := ui.EngineConfig{Store: store, StateDir: dir, RunbookDirs: o.runbooks, Live: o.live,
		Root: o.root, Operator: op}
	ec.Contacts, ec.Notices = siteContacts(iox, cfg, dir)
	if o.live {
		ec.SiteVars = cfg.RunbookVars()
	}
	if ec.DrillS3, err = drillS3(iox); err != nil {
		store.Close()
		return ui.EngineConfig{}, err
	}
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
	rep, stop, err := replicateWhileRunning(ctx, iox, "", cfg.Store, "")
	if err != nil {
		return err
	}
	defer stop()
	opts := o.uiOptions(iox)
	opts.Backend = ui.NewBackend(cfg)
	if rep != nil {
		opts.Backend = ui.ReplicatedBackend(opts.Backend, rep.Status)
	}
	res, err := ui.Run(ctx, opts, iox.Stdin, iox.Stdout)
	return tuiExit(iox, cfg, res, err)
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
