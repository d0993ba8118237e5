package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/reconcile"
)

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
	// The registered reconcile action does the work, recorded in the
	// incident when linked (its report is the recorded output); --broker
	// paths are read as given, from the working directory. Within an
	// incident the statements are kept under STATE_DIR/evidence/ID unless
	// --evidence names a directory.
	params := map[string]string{"broker": strings.Join(statements, ","), "dir": ".", "format": format,
		"tolerance": fmt.Sprint(tolerance), "api-timeout": api.Timeout.String()}
	for k, v := range map[string]string{"evidence": evidence, "alpaca-url": api.AlpacaURL, "ibkr-url": api.IBKRURL, "ibkr-account": api.IBKRAccount} {
		if v != "" {
			params[k] = v
		}
	}
	if api.IBKRInsecure {
		params["ibkr-insecure"] = "true"
	}
	req := steps.Request{Env: steps.Env{Root: o.root}, Params: params}
	if link != nil {
		req.Env.StateDir = filepath.Dir(link.store.Path())
	}
	res, err, recErr := link.run(ctx, iox, "reconcile", mustAction("reconcile"), req, nil)
	if recErr != nil && res.Status == "" { // refused before it ran
		return recErr
	}
	rep, ok := res.Data.(reconcile.Report)
	if err != nil || !ok {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = fmt.Errorf("reconcile: %s", res.Summary)
		}
		if recErr != nil {
			return errors.Join(&ExitError{Code: ExitUsage, Err: err}, recErr)
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
	if recErr != nil {
		return recErr
	}
	if !rep.OK() {
		return failed(nil)
	}
	return nil
}
