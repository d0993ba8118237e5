package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/failover"
)

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
			return usageErr("failover: -o %s: %w", output, err)
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
