package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/killswitch"
)

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
			return usageErr("%w", err)
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
