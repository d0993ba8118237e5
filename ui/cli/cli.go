// Package cli is drbook's command line: it parses arguments and calls the
// domain packages (runbook, steps, checks) and the TUI (package ui).
// Each command lives in its own cmd_*.go file.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/ui/startgc"
)

// Version is set at build time with -ldflags "-X github.com/drbook/drbook/ui/cli.Version=..."
// (see .ci/release and cmd_version.go).
var Version = "dev"

// Exit codes, documented in every command's --help.
const (
	ExitOK       = 0
	ExitFailure  = 1   // the command ran and found problems (failed check, breaks, invalid runbook)
	ExitUsage    = 2   // bad arguments, unreadable input
	ExitCanceled = 130 // interrupted
)

// ExitError carries an exit code for main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageErr is an ExitUsage error with a message.
func usageErr(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// failed is an ExitFailure error: the command ran and found problems. A nil
// err means the command already printed what is wrong.
func failed(err error) error { return &ExitError{Code: ExitFailure, Err: err} }

// IO is a command's view of the process: streams, environment, terminal.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether stdin and stdout are terminals.
	IsTerminal bool
	// Now is the command line's clock; nil means time.Now.
	Now func() time.Time
	// ConfigPath is the site configuration named by --config; "" looks
	// in the default places (see site.Locate).
	ConfigPath string
	// Checker runs integrity checks in a child process. main sets it to
	// backup.SelfChecker(), since main dispatches backup.CheckerCommand;
	// the zero value (tests) checks in process.
	Checker backup.Checker

	site *site.Config // read on first use by Site
}

// Site returns the site configuration, read once on first use, so that a
// command that needs none (version, help) never fails on a broken file.
// A file that cannot be read or parsed is a usage error (exit 2) naming
// FILE:LINE.
func (iox *IO) Site() (*site.Config, error) {
	if iox.site != nil {
		return iox.site, nil
	}
	getenv := iox.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := site.Load(iox.ConfigPath, getenv)
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("config: %w", err)}
	}
	iox.site = cfg
	return cfg, nil
}

// takeConfigFlag removes a global --config FILE (or --config=FILE) from
// args, wherever it stands before "--".
func takeConfigFlag(args []string) (rest []string, path string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(rest, args[i:]...), path, nil
		case a == "--config":
			if i+1 >= len(args) {
				return nil, "", usageErr("--config needs a FILE")
			}
			path = args[i+1]
			i++
		case strings.HasPrefix(a, "--config="):
			if path = strings.TrimPrefix(a, "--config="); path == "" {
				return nil, "", usageErr("--config needs a FILE")
			}
		default:
			rest = append(rest, a)
		}
	}
	return rest, path, nil
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io *IO, args []string) error
}

// quickCommands finish in milliseconds with little memory: they run with
// the start-up collector setting (startgc) to their end, never collecting.
var quickCommands = map[string]bool{"version": true, "note": true, "step": true, "--version": true}

// commands is the command table; the functions live in cmd_*.go files.
var commands = []command{
	{"list", "list the runbooks drbook knows", runList},
	{"show", "show a runbook's parsed phases, steps and objectives", runShow},
	{"validate", "check runbooks for problems", runValidate},
	{"version", "print drbook's version", runVersion},

	{"drill", "run a tabletop drill against a generated sandbox", runDrill},
	{"resume", "reopen an incident in the TUI", runResume},
	{"serve", "serve the TUI over SSH to a team of operators", runServe},

	{"declare", "declare an incident (or a drill) and print its id", runDeclare},
	{"step", "mark a step done, skipped or failed", runStep},
	{"note", "add a note to an incident's timeline", runNote},
	{"close", "close an incident as resolved or abandoned", runClose},
	{"incidents", "list incidents, open ones first", runIncidents},
	{"timeline", "print or verify an incident's timeline", runTimeline},
	{"report", "write the post-incident report", runReport},
	{"comms", "fill a communication template from an incident", runComms},
	{"drills", "show the drill schedule and last results", runDrills},
	{"finding", "record or list a finding with owner and due date", runFinding},
	{"signoff", "sign off a closed incident or drill", runSignoff},
	{"evidence", "write, verify or key the signed record of a drill", runEvidence},

	{"config", "print or check the site configuration", runConfig},
	{"init", "write a starting site configuration for a system", runInit},
	{"contacts", "list emergency contacts or record a verification", runContacts},

	{"demo", "create a QuantAI sandbox, optionally with a fault", runDemo},
	{"check", "run integrity, data, config and backup checks", runCheck},

	{"backup", "take an encrypted, verified backup", runBackup},
	{"backups", "list local and S3 backups", runBackups},
	{"restore", "restore from a verified backup", runRestore},
	{"verify", "restore a backup into scratch space and check it", runVerify},
	{"prune", "delete backups past their retention", runPrune},
	{"recover", "salvage a corrupt database into a new file", runRecover},

	{"killswitch", "engage, release or show the trading kill switch", runKillswitch},
	{"reconcile", "compare database positions with broker statements", runReconcile},
	{"failover", "plan a move of positions from one broker to another", runFailover},
	{"run", "run any built-in action by name with its parameters", runRun},

	{"standby", "keep the secondary site warm from the newest backup", runStandby},
	{"watch", "probe the primary; declare and fail over when it dies", runWatch},
}

// Run is drbook's entry point after main: it dispatches on the first
// argument. With no command it opens the TUI.
func Run(ctx context.Context, args []string, iox *IO) error {
	if iox.Getenv == nil {
		iox.Getenv = os.Getenv
	}
	// Start-up ran with the collector held back (startgc); a command that
	// is not one of the few quick ones gets the usual target back first.
	if len(args) == 0 || !quickCommands[args[0]] {
		startgc.Done()
	}
	// The composition root: every action is registered here, explicitly,
	// with what it needs of the others.
	all.Install(all.Options{Checker: iox.Checker, Tool: "drbook " + Version})
	args, cfgPath, err := takeConfigFlag(args)
	if err != nil {
		return err
	}
	if cfgPath != "" {
		iox.ConfigPath = cfgPath
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" && args[0] != "--version" {
		return runTUI(ctx, iox, args)
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if name == "help" && len(args) > 1 {
			return Run(ctx, []string{args[1], "--help"}, iox)
		}
		fmt.Fprint(iox.Stdout, mainUsage())
		return nil
	case "--version":
		return runVersion(ctx, iox, nil)
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, iox, args[1:])
		}
	}
	hint := ""
	if s := closest(name); s != "" {
		hint = fmt.Sprintf("; did you mean %q?", s)
	}
	return usageErr("unknown command %q%s (run 'drbook --help' for the list)", name, hint)
}

func mainUsage() string {
	var b strings.Builder
	b.WriteString(`drbook: executable disaster-recovery runbooks in the terminal.

Usage:
  drbook [--config FILE] [--runbooks DIR] [--state-dir DIR]
         [--live --root DIR] [--operator NAME] [--no-color]
                       open the TUI (drills against a sandbox unless --live)
  drbook COMMAND [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run 'drbook COMMAND --help' for a command's flags.

--config FILE names the site configuration (else $DRBOOK_CONFIG, else
$XDG_CONFIG_HOME/drbook/drbook.yaml, else /etc/drbook/drbook.yaml); flags
override it. 'drbook config' shows what is used and from where.

Exit codes: 0 success; 1 the command found problems (failed checks, invalid
runbooks, breaks, a missed RTO); 2 usage errors or unreadable input;
130 interrupted.
`)
	return b.String()
}

// closest suggests a command for a mistyped name.
func closest(name string) string {
	names := make([]string, 0, len(commands))
	for _, c := range commands {
		names = append(names, c.name)
	}
	return runbook.Closest(name, names)
}

// newFlagSet returns a flag set for a command with its usage text. Parse
// errors become usage errors (exit 2); --help prints usage and exits 0.
func newFlagSet(name, usage string, iox *IO) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(iox.Stdout, strings.TrimLeft(usage, "\n"))
		fmt.Fprint(iox.Stdout, "\nFlags:\n"+fs.FlagUsagesWrapped(80))
	}
	return fs
}

// parseFlags parses args into fs. It returns errHelpShown after printing
// usage for --help, and a usage error for anything it cannot parse.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelpShown // pflag has already called fs.Usage
		}
		if fs.Name() == "drbook" { // the TUI's own flags
			return usageErr("%w (run 'drbook --help')", err)
		}
		return usageErr("%s: %v (run 'drbook %s --help')", fs.Name(), err, fs.Name())
	}
	return nil
}

// errHelpShown tells a command to return nil: usage was printed.
var errHelpShown = errors.New("help shown")

// ExitCode maps an error returned by Run to a process exit code. It is the
// one place that decides: an *ExitError's own code, context.Canceled 130,
// bad input (hint.IsInput: the domain packages mark their conditions where
// they declare them) 2, anything else 1. It never reads an error's text.
func ExitCode(err error) int {
	var ee *ExitError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.Is(err, context.Canceled):
		return ExitCanceled
	case hint.IsInput(err):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// Main runs drbook and returns the process exit code. It prints any error
// to stderr, then the first hint in its chain on a line of its own, once.
func Main(ctx context.Context, args []string, iox *IO) int {
	err := Run(ctx, args, iox)
	code := ExitCode(err)
	if err != nil && code != ExitOK {
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Err != nil {
			fmt.Fprintf(iox.Stderr, "drbook: %v\n", err)
		}
		if h := hint.Of(err); h != "" {
			fmt.Fprintf(iox.Stderr, "hint: %s\n", h)
		}
	}
	return code
}
