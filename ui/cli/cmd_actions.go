package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/failover"
	"github.com/drbook/drbook/steps/killswitch"
	"github.com/drbook/drbook/steps/reconcile"
)

// actionOptions are the flags the kill switch, reconcile and failover share.
type actionOptions struct {
	root     string
	json     bool
	incident string
	stateDir string
}

func (o *actionOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.root, "root", ".", "the QuantAI system root (holds data/quantai.db, brokers/, .env)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.StringVar(&o.incident, "incident", "", "record the outcome as a note in this open incident's timeline")
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory for --incident (default $DRBOOK_STATE_DIR, $XDG_STATE_HOME/drbook, ~/.local/state/drbook)")
}

// check refuses a root that is not a directory.
func (o *actionOptions) check(cmd string) error {
	st, err := os.Stat(o.root)
	if err != nil {
		return usageErr("%s: --root %s: %v", cmd, o.root, err)
	}
	if !st.IsDir() {
		return usageErr("%s: --root %s is not a directory", cmd, o.root)
	}
	return nil
}

// record adds a note to the incident's timeline when --incident is set.
func (o *actionOptions) record(ctx context.Context, iox *IO, text string) error {
	if o.incident == "" {
		return nil
	}
	dir := o.stateDir
	if dir == "" {
		dir = incident.StateDir(iox.Getenv)
	}
	store, err := incident.OpenStore(dir)
	if err != nil {
		return failed(fmt.Errorf("record in incident %s: %w", o.incident, err))
	}
	defer store.Close()
	id, err := store.Resolve(ctx, o.incident)
	if err != nil {
		return failed(fmt.Errorf("record in incident %s: %w", o.incident, err))
	}
	in, err := incident.Open(ctx, store, id, nil, nil, incident.OpenOptions{Operator: incident.OperatorFromEnv(iox.Getenv)})
	if err != nil {
		return failed(fmt.Errorf("record in incident %s: %w", o.incident, err))
	}
	if err := in.Note(text); err != nil {
		return failed(fmt.Errorf("record in incident %s: %w", o.incident, err))
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

const killswitchUsage = `
Usage: drbook killswitch on|off|status [--root DIR] [--reason R] [--broker alpaca,ibkr]
                                       [--yes] [--dry-run] [--json] [--incident ID]

Halt all automated trading (plan 2.2, "Activate emergency kill switch").

  on      write data/KILL_SWITCH (JSON: who, when, why, incident) first, then
          in one database transaction set control.trading_halted = 1 and
          cancel every open and pending order (one audit_trail row each,
          appended, never rewritten), then ask each --broker to cancel its
          open orders. Running it again changes nothing. If the database is
          missing or corrupt the flag file alone halts trading and the
          database failure is reported.
  off     release the halt. Needs --reason and confirmation (--yes, or
          typing RELEASE on a terminal). Refused, and trading stays halted,
          if the database cannot record the release. The flag file is kept
          as data/KILL_SWITCH.released-TIME.
  status  engaged or not, by whom, since when, orders cancelled, broker
          results, and any disagreement between flag file and database.

Brokers (settings from the environment, else the root's .env; key values
are never printed):
  alpaca  DELETE $ALPACA_BASE_URL/v2/orders with ALPACA_API_KEY and
          ALPACA_SECRET_KEY
  ibkr    runs $IBKR_CANCEL_COMMAND with bash (e.g. a reqGlobalCancel script)
A broker failure is reported and never undoes the local halt.
$DRBOOK_KILL_SWITCH_BROKERS sets the default --broker list.

Exit codes: 0 done (or, for status, engaged or not with nothing amiss);
1 the halt holds but something needs attention (database not updated, a
broker failed, orders left open, flag and database disagree), the release
was refused or not confirmed, or nothing could be halted (NOT HALTED);
2 usage error; 130 interrupted.
`

func runKillswitch(ctx context.Context, iox *IO, args []string) error {
	var o actionOptions
	var reason, brokers string
	var yes, dryRun bool
	fs := newFlagSet("killswitch", killswitchUsage, iox)
	o.AddFlags(fs)
	fs.StringVar(&reason, "reason", "", "why (required for off)")
	fs.StringVar(&brokers, "broker", "", "brokers to ask to cancel open orders: alpaca, ibkr (comma-separated)")
	fs.BoolVar(&yes, "yes", false, "confirm releasing the halt without a prompt")
	fs.BoolVar(&dryRun, "dry-run", false, "say what would change, change nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("killswitch: want one of on, off, status (run 'drbook killswitch --help')")
	}
	if err := o.check("killswitch"); err != nil {
		return err
	}
	if brokers == "" {
		brokers = iox.Getenv(killswitch.KeyBrokers)
	}
	op := incident.OperatorFromEnv(iox.Getenv)
	ko := killswitch.Options{Root: o.root, Operator: op.String(), Reason: reason, IncidentID: o.incident,
		Brokers: killswitch.SplitBrokers(brokers), Getenv: iox.Getenv, DryRun: dryRun}
	if !o.json {
		ko.Log = func(s string) { fmt.Fprintln(iox.Stderr, "killswitch: "+s) }
	}
	var st killswitch.State
	var err error
	var note string
	switch mode := fs.Arg(0); mode {
	case "status":
		st, err = killswitch.Status(ctx, o.root)
	case "on":
		if ko.Reason == "" {
			ko.Reason = "emergency kill switch (drbook killswitch on)"
		}
		st, err = killswitch.Engage(ctx, ko)
		note = "kill switch on: " + killswitch.EngageLine(st)
	case "off":
		if strings.TrimSpace(reason) == "" {
			return usageErr("killswitch off: --reason is required (why is it safe to resume trading?)")
		}
		if !yes && !dryRun {
			if !iox.IsTerminal {
				return usageErr("killswitch off: not on a terminal; confirm with --yes")
			}
			fmt.Fprint(iox.Stdout, "Releasing the kill switch lets automated trading resume.\nType RELEASE to confirm: ")
			line, _ := bufio.NewReader(iox.Stdin).ReadString('\n')
			if strings.TrimSpace(line) != "RELEASE" {
				return failed(errors.New("killswitch off: not confirmed; trading stays halted"))
			}
		}
		st, err = killswitch.Release(ctx, ko)
		if err == nil && !dryRun {
			note = "kill switch off: trading resumed: " + reason
		}
	default:
		return usageErr("killswitch: unknown mode %q: want on, off or status", mode)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if o.json {
		if perr := printJSON(iox.Stdout, st); perr != nil {
			return perr
		}
	} else {
		for _, l := range killswitch.Describe(st) {
			fmt.Fprintln(iox.Stdout, l)
		}
	}
	if err != nil {
		if errors.Is(err, killswitch.ErrNoReason) {
			return usageErr("%v", err)
		}
		if note != "" {
			_ = o.record(ctx, iox, note+"; "+err.Error())
		}
		return failed(err)
	}
	if note != "" && !dryRun {
		if rerr := o.record(ctx, iox, note); rerr != nil {
			return rerr
		}
	}
	if len(st.Problems) > 0 {
		return failed(nil)
	}
	return nil
}

const reconcileUsage = `
Usage: drbook reconcile [--root DIR] [--broker FILE]... [--format ibkr-csv|alpaca-json]
                        [--tolerance N] [--json] [--incident ID]

Compare the positions in data/quantai.db with the brokers' statements and
with the positions the filled trades imply (plan 2.3, "Reconcile
positions"). Without --broker, the statements under the root are read:
brokers/ibkr_positions.csv (IBKR positions export) and
brokers/alpaca_positions.json (Alpaca GET /v2/positions). The format is
detected from the extension unless --format names it.

Prints a table of breaks (symbol, broker, database qty, broker qty,
trade-implied qty, difference, value at average price), summary counts,
and the pending trades (in flight when the system stopped). The database
is opened read-only.

Exit codes: 0 no breaks; 1 breaks found; 2 usage error, or a statement or
database that cannot be read (the message names file and line).
`

func runReconcile(ctx context.Context, iox *IO, args []string) error {
	var o actionOptions
	var statements []string
	var format string
	tolerance := reconcile.DefaultTolerance
	fs := newFlagSet("reconcile", reconcileUsage, iox)
	o.AddFlags(fs)
	fs.StringArrayVar(&statements, "broker", nil, "broker statement file (repeatable)")
	fs.StringVar(&format, "format", "", "statement format: ibkr-csv or alpaca-json (default: detected)")
	fs.Float64Var(&tolerance, "tolerance", reconcile.DefaultTolerance, "quantity difference to ignore (fractional shares)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("reconcile: unexpected argument %q (run 'drbook reconcile --help')", fs.Arg(0))
	}
	if err := o.check("reconcile"); err != nil {
		return err
	}
	if format != "" && format != reconcile.FormatIBKRCSV && format != reconcile.FormatAlpacaJSON {
		return usageErr("reconcile: --format %q: want ibkr-csv or alpaca-json", format)
	}
	if tolerance < 0 {
		return usageErr("reconcile: --tolerance %v: want 0 or more", tolerance)
	}
	rep, err := reconcile.Run(ctx, reconcile.Options{Root: o.root, Statements: statements, Format: format, Tolerance: tolerance})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if o.json {
		if err := printJSON(iox.Stdout, rep); err != nil {
			return err
		}
	} else {
		for _, l := range reconcile.Render(rep) {
			fmt.Fprintln(iox.Stdout, l)
		}
	}
	if err := o.record(ctx, iox, "reconcile: "+reconcile.SummaryLine(rep)); err != nil {
		return err
	}
	if !rep.OK() {
		return failed(nil)
	}
	return nil
}

const failoverUsage = `
Usage: drbook failover --from ibkr --to alpaca [--root DIR] [-o FILE] [--json] [--incident ID]

Write a reviewable plan to move trading from one broker to another (plan
2.3, "IBKR → Alpaca Failover"): the positions held at --from (from the
database, cross-checked with the broker's statement, whose mark prices it
uses), the equivalent positions at --to, and the hedge orders at --to that
would offset the exposure stranded at --from (sell a long, buy back a
short). drbook never sends an order.

The plan is printed as a Markdown table (JSON with --json) and, with -o,
written to FILE as CSV (.csv), JSON (.json) or Markdown (.md). An existing
FILE is never overwritten.

Exit codes: 0 plan written; 1 plan written with warnings (the database
and the statement disagree: reconcile first); 2 usage error, unreadable
database or statement, or FILE exists.
`

func runFailover(ctx context.Context, iox *IO, args []string) error {
	var o actionOptions
	var from, to, output string
	fs := newFlagSet("failover", failoverUsage, iox)
	o.AddFlags(fs)
	fs.StringVar(&from, "from", "ibkr", "broker to leave: ibkr or alpaca")
	fs.StringVar(&to, "to", "alpaca", "broker to move to: ibkr or alpaca")
	fs.StringVarP(&output, "output", "o", "", "write the plan to FILE (.csv, .json or .md)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("failover: unexpected argument %q (run 'drbook failover --help')", fs.Arg(0))
	}
	if err := o.check("failover"); err != nil {
		return err
	}
	if output != "" {
		switch strings.ToLower(filepath.Ext(output)) {
		case ".csv", ".json", ".md":
		default:
			return usageErr("failover: -o %s: want a .csv, .json or .md file", output)
		}
		if _, err := os.Lstat(output); err == nil {
			return usageErr("failover: -o %s already exists; drbook never overwrites it", output)
		}
	}
	p, err := failover.Build(ctx, failover.Options{Root: o.root, From: from, To: to})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if output != "" {
		if err := p.Write(output); err != nil {
			return &ExitError{Code: ExitUsage, Err: err}
		}
	}
	if o.json {
		if _, err := iox.Stdout.Write(p.JSON()); err != nil {
			return err
		}
	} else {
		fmt.Fprint(iox.Stdout, p.Markdown())
		if output != "" {
			fmt.Fprintf(iox.Stdout, "\nPlan written to %s. No orders were sent.\n", output)
		}
	}
	note := fmt.Sprintf("failover plan %s → %s: %d positions, hedge gross notional %.2f", p.From, p.To, len(p.Rows), p.Gross)
	if output != "" {
		note += ", written to " + output
	}
	if err := o.record(ctx, iox, note); err != nil {
		return err
	}
	if len(p.Warnings) > 0 {
		return failed(nil)
	}
	return nil
}
