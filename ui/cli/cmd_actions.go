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
	"time"

	"github.com/spf13/pflag"

	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/failover"
	"github.com/drbook/drbook/steps/killswitch"
	"github.com/drbook/drbook/steps/reconcile"
	"github.com/drbook/drbook/steps/redact"
	"github.com/drbook/drbook/steps/sandbox"
)

// actionOptions are the flags the kill switch, reconcile and failover share.
type actionOptions struct {
	root     string
	json     bool
	incident string
	stateDir string
}

func (o *actionOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.root, "root", ".", "the QuantAI system root (holds data/quantai.db, brokers/, .env; default system.root of the site configuration, else .)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.StringVar(&o.incident, "incident", "", "record the action, its output and result in this open incident's timeline")
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

// incidentLink is the open incident a command records its action into
// (--incident ID). Commands of other owners (backup, restore) can use it
// too: openIncidentLink before acting, so that a mistyped id is a usage
// error that changes nothing, then record when the action ends.
type incidentLink struct {
	store *incident.Store
	in    *incident.Incident
	root  string
	start time.Time
}

// openIncidentLink resolves ref (an id or a unique prefix) in the state
// directory and opens the incident for recording. A nil link and nil error
// mean ref is empty: nothing to record.
func openIncidentLink(ctx context.Context, iox *IO, cmd, ref, stateDir, root string) (*incidentLink, error) {
	if ref == "" {
		return nil, nil
	}
	if stateDir == "" {
		stateDir = incident.StateDir(iox.Getenv)
	}
	store, err := incident.OpenStore(stateDir)
	if err != nil {
		return nil, usageErr("%s: --incident %s: %v", cmd, ref, err)
	}
	id, err := store.Resolve(ctx, ref)
	if err == nil {
		var in *incident.Incident
		in, err = incident.Open(ctx, store, id, nil, nil, incident.OpenOptions{Operator: incident.OperatorFromEnv(iox.Getenv)})
		if err == nil && in.State().Status != incident.StatusOpen {
			err = fmt.Errorf("%s is %s: nothing more can be recorded in it", id, in.State().Status)
		}
		if err == nil && in.State().Declaration.Mode == incident.Drill && !sandbox.IsSandbox(root) {
			err = fmt.Errorf("%s is a drill, and --root %s is not a drbook sandbox: a drill's record never mixes with a real system", id, root)
		}
		if err == nil {
			return &incidentLink{store: store, in: in, root: root, start: time.Now()}, nil
		}
	}
	store.Close()
	return nil, usageErr("%s: --incident %s: %v", cmd, ref, err)
}

// record adds the action to the incident's timeline: started, its output
// (secrets of the root's .env redacted) and finished with its result. A
// nil link records nothing.
func (l *incidentLink) record(ctx context.Context, cmd, action string, params map[string]string, res steps.Result, runErr error, output string) error {
	if l == nil {
		return nil
	}
	err := l.in.RecordAction(ctx, incident.ActionRecord{Action: action, Params: params, Root: l.root,
		Duration: time.Since(l.start), Result: res, Err: runErr, Output: output})
	if err != nil {
		return failed(fmt.Errorf("%s: record in incident %s: %w", cmd, l.in.ID(), err))
	}
	return nil
}

// run runs a registered action for a command, the one way every action
// command does: through the incident's recorder when the command is linked
// to one (the same recording as a step's action), else directly, with the
// root's .env secrets and the backup passphrase kept out of what it
// prints. runErr is the action's own error (it could not be carried out;
// redacted); err says the run was refused before it started, or could not
// be recorded, and is an ExitFailure naming the incident.
func (l *incidentLink) run(ctx context.Context, iox *IO, cmd string, act steps.Action, req steps.Request, emit steps.Emit) (res steps.Result, runErr, err error) {
	if req.Env.Operator == "" {
		req.Env.Operator = incident.OperatorFromEnv(iox.Getenv).String()
	}
	if req.Env.Now == nil {
		req.Env.Now = iox.Now
	}
	if l != nil {
		run, err := l.in.RunAction(ctx, act, req, emit)
		if err != nil {
			err = failed(fmt.Errorf("%s: incident %s: %w", cmd, l.in.ID(), err))
		}
		return run.Result, run.Err, err
	}
	red := redact.New(append(incident.EnvSecrets(req.Env.Root), incident.PassphraseSecrets(req.Env.Vars, iox.Getenv)...)...)
	if emit == nil {
		emit = func(steps.Event) {}
	}
	res, runErr = act.Run(ctx, req, func(ev steps.Event) {
		ev.Line = red.String(ev.Line)
		emit(ev)
	})
	res.Summary = red.String(res.Summary)
	if runErr != nil && res.Status == "" {
		res.Status = steps.StatusFailed
	}
	return res, red.Error(runErr), nil
}

// mustAction returns the registered action called name: the action
// commands run the very action a runbook step runs.
func mustAction(name string) steps.Action {
	act, ok := steps.Lookup(name)
	if !ok {
		panic("cli: action " + name + " is not declared")
	}
	return act
}

func (l *incidentLink) close() {
	if l != nil {
		l.store.Close()
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

const killswitchUsage = `
Usage: drbook killswitch on|off|status [--root DIR] [--reason R]
                  [--broker alpaca,ibkr] [--yes] [--dry-run] [--json]
                  [--incident ID]

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

Brokers (settings from the environment, else the root's .env; secret
values, docs/secrets.md, are never printed or written):
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
	if err := o.site(iox, fs); err != nil {
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
	mode := fs.Arg(0)
	if mode != "on" && mode != "off" && mode != "status" {
		return usageErr("killswitch: unknown mode %q: want on, off or status", mode)
	}
	if mode == "off" && strings.TrimSpace(reason) == "" {
		return usageErr("killswitch off: --reason is required (why is it safe to resume trading?)")
	}
	// The incident is looked up first, so that a mistyped id changes
	// nothing, except for "on": a halt never waits for bookkeeping.
	var link *incidentLink
	var linkErr error
	if mode != "status" && !dryRun {
		link, linkErr = openIncidentLink(ctx, iox, "killswitch", o.incident, o.stateDir, o.root)
		if linkErr != nil && mode != "on" {
			return linkErr
		}
		defer link.close()
	}
	if mode == "off" && !yes && !dryRun {
		if !iox.IsTerminal {
			return usageErr("killswitch off: not on a terminal; confirm with --yes")
		}
		fmt.Fprint(iox.Stdout, "Releasing the kill switch lets automated trading resume.\nType RELEASE to confirm: ")
		line, _ := bufio.NewReader(iox.Stdin).ReadString('\n')
		if strings.TrimSpace(line) != "RELEASE" {
			return failed(errors.New("killswitch off: not confirmed; trading stays halted"))
		}
	}
	if mode == "on" && reason == "" {
		reason = "emergency kill switch (drbook killswitch on)"
	}
	// The registered kill-switch action does the work, recorded in the
	// incident when linked (status and dry runs change nothing and are not
	// recorded). Engaging needs no confirmation: a halt is always safe.
	params := map[string]string{"mode": mode, "reason": reason, "brokers": brokers}
	req := steps.Request{Env: steps.Env{Root: o.root, IncidentID: o.incident}, Params: params, Confirmed: true, DryRun: dryRun}
	emit := func(ev steps.Event) {
		if ev.Stream == steps.Info && !o.json {
			fmt.Fprintln(iox.Stderr, "killswitch: "+ev.Line)
		}
	}
	res, err, recErr := link.run(ctx, iox, "killswitch", mustAction("kill-switch"), req, emit)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if recErr != nil && res.Status == "" { // refused before it ran
		return recErr
	}
	st, _ := res.Data.(killswitch.State)
	if mode == "off" && err == nil && res.Status == steps.StatusFailed {
		err = errors.New(res.Summary) // the release was refused: trading stays halted
	}
	if linkErr != nil {
		recErr = failed(fmt.Errorf("%w (the kill switch itself was engaged)", linkErr))
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
		return errors.Join(failed(err), recErr)
	}
	if recErr != nil {
		return recErr
	}
	if len(st.Problems) > 0 {
		return failed(nil)
	}
	return nil
}

const reconcileUsage = `
Usage: drbook reconcile [--root DIR] [--broker FILE|alpaca-api|ibkr-api]...
                        [--format ibkr-csv|alpaca-json] [--tolerance N]
                        [--json] [--incident ID] [--evidence DIR]

Compare the positions in data/quantai.db with the brokers' statements and
with the positions the filled trades imply (plan 2.3, "Reconcile
positions"). Without --broker, the brokers of the site configuration are
read (each one's statement file, else its API), else the statements under
the root: brokers/ibkr_positions.csv and brokers/alpaca_positions.json.

Statement files: an IBKR Flex Query "Open Positions" CSV (with or without
headers and trailers), an IBKR Activity Statement CSV, another positions
CSV with Symbol and Quantity columns, or Alpaca's GET /v2/positions JSON.
The format is detected unless --format names it. Columns drbook does not
read are listed once and ignored.

Broker APIs, instead of a file:
  --broker alpaca-api     GET /v2/positions with ALPACA_API_KEY and
                          ALPACA_SECRET_KEY from the root's .env
  --alpaca-url URL        default ALPACA_BASE_URL from .env, else
                          https://paper-api.alpaca.markets
  --broker ibkr-api       the Client Portal gateway's positions, every
                          account it lists (or --ibkr-account ID)
  --ibkr-url URL          default IBKR_CP_URL from .env, else
                          https://localhost:5000/v1/api
  --ibkr-insecure         accept the gateway's self-signed certificate
  --api-timeout D         give up on an API after D (default 15s)
Rate limits (429) are retried up to 3 times as Retry-After asks. Keys
are never printed.

With --incident, the statements and API answers read are kept in
STATE_DIR/evidence/ID (or --evidence DIR), named with their SHA-256 in
the output and the timeline.

Prints a table of breaks (symbol, broker, database qty, broker qty,
trade-implied qty, difference, value at average price), summary counts,
and the pending trades (in flight when the system stopped). The database
is opened read-only.

Exit codes: 0 no breaks; 1 breaks found; 2 usage error, or a statement,
API or database that cannot be read (the message says which and why);
130 interrupted.
`

func runReconcile(ctx context.Context, iox *IO, args []string) error {
	var o actionOptions
	var statements []string
	var format, evidence string
	var api reconcile.APIOptions
	tolerance := reconcile.DefaultTolerance
	fs := newFlagSet("reconcile", reconcileUsage, iox)
	o.AddFlags(fs)
	fs.StringArrayVar(&statements, "broker", nil, "broker statement file, alpaca-api or ibkr-api (repeatable)")
	fs.StringVar(&format, "format", "", "statement format: ibkr-csv or alpaca-json (default: detected)")
	fs.Float64Var(&tolerance, "tolerance", reconcile.DefaultTolerance, "quantity difference to ignore (fractional shares)")
	fs.StringVar(&api.AlpacaURL, "alpaca-url", "", "Alpaca API base URL")
	fs.StringVar(&api.IBKRURL, "ibkr-url", "", "IBKR Client Portal gateway URL")
	fs.StringVar(&api.IBKRAccount, "ibkr-account", "", "IBKR account to read (default: all)")
	fs.BoolVar(&api.IBKRInsecure, "ibkr-insecure", false, "skip TLS verification for the IBKR gateway")
	fs.DurationVar(&api.Timeout, "api-timeout", reconcile.DefaultAPITimeout, "time limit for a broker API")
	fs.StringVar(&evidence, "evidence", "", "keep the statements read in DIR")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.site(iox, fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("reconcile: unexpected argument %q (run 'drbook reconcile --help')", fs.Arg(0))
	}
	if err := reconcileSite(iox, fs, &statements, &api); err != nil {
		return err
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
	if api.Timeout <= 0 {
		return usageErr("reconcile: --api-timeout %v: want a duration above 0", api.Timeout)
	}
	link, err := openIncidentLink(ctx, iox, "reconcile", o.incident, o.stateDir, o.root)
	if err != nil {
		return err
	}
	defer link.close()
	if evidence == "" && link != nil {
		evidence = reconcile.EvidenceDir(filepath.Dir(link.store.Path()), link.in.ID())
	}
	params := map[string]string{"broker": strings.Join(statements, ","), "format": format, "tolerance": fmt.Sprint(tolerance)}
	if evidence != "" {
		params["evidence"] = evidence
	}
	rep, err := reconcile.Run(ctx, reconcile.Options{Root: o.root, Statements: statements, Format: format, Tolerance: tolerance,
		API: api, EvidenceDir: evidence})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if rerr := link.record(ctx, "reconcile", "reconcile", params, steps.Result{Status: steps.StatusFailed, Summary: "reconcile: " + err.Error()}, err, ""); rerr != nil {
			return errors.Join(&ExitError{Code: ExitUsage, Err: err}, rerr)
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
	res := steps.Result{Status: steps.StatusOK, Summary: reconcile.SummaryLine(rep), Data: rep}
	if !rep.OK() {
		res.Status = steps.StatusFailed
	}
	if err := link.record(ctx, "reconcile", "reconcile", params, res, nil, strings.Join(reconcile.Render(rep), "\n")+"\n"); err != nil {
		return err
	}
	if !rep.OK() {
		return failed(nil)
	}
	return nil
}

const failoverUsage = `
Usage: drbook failover --from ibkr --to alpaca [--root DIR] [-o FILE] [--json]
                       [--incident ID]

Write a reviewable plan to move trading from one broker to another (plan
2.3, "IBKR → Alpaca Failover"): the positions held at --from (from the
database, cross-checked with the broker's statement, whose mark prices it
uses), the equivalent positions at --to, and the hedge orders at --to that
would offset the exposure stranded at --from (sell a long, buy back a
short). drbook never sends an order.

The plan is printed as a table that fits 80 columns, each note said once
below it (JSON with --json) and, with -o, written to FILE as CSV (.csv),
JSON (.json) or a Markdown table (.md) with the equivalent positions too.
An existing FILE is never overwritten.

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
	if err := o.site(iox, fs); err != nil {
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
	link, err := openIncidentLink(ctx, iox, "failover", o.incident, o.stateDir, o.root)
	if err != nil {
		return err
	}
	defer link.close()
	// The registered failover-plan action builds the plan and writes the
	// file; the command prints it for a terminal.
	params := map[string]string{"from": from, "to": to}
	if output != "" {
		abs, err := filepath.Abs(output) // -o is relative to where drbook runs, not to --root
		if err != nil {
			return usageErr("failover: -o %s: %v", output, err)
		}
		params["output"] = abs
	}
	res, runErr, recErr := link.run(ctx, iox, "failover", mustAction("failover-plan"), steps.Request{Env: steps.Env{Root: o.root}, Params: params}, nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if runErr != nil {
		return errors.Join(&ExitError{Code: ExitUsage, Err: runErr}, recErr)
	}
	if recErr != nil && res.Status == "" {
		return recErr
	}
	p, ok := res.Data.(failover.Plan)
	if !ok {
		return errors.Join(failed(fmt.Errorf("failover: the failover-plan action returned no plan: %s", res.Summary)), recErr)
	}
	if o.json {
		if _, err := iox.Stdout.Write(p.JSON()); err != nil {
			return err
		}
	} else {
		fmt.Fprint(iox.Stdout, p.Text(termWidth))
		if output != "" {
			fmt.Fprintf(iox.Stdout, "\nPlan written to %s.\nNo orders were sent.\n", output)
		}
	}
	if recErr != nil {
		return recErr
	}
	if len(p.Warnings) > 0 {
		return failed(nil)
	}
	return nil
}
