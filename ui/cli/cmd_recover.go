package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/drbook/drbook/steps/backup"
)

const recoverUsage = `
Usage: drbook recover DB -o NEW [--builtin] [--json]

Salvage a corrupt database with no good backup (plan 3.1) into a NEW file:
with the sqlite3 CLI's .recover when it is installed, otherwise (or with
--builtin, or when .recover fails) a table-by-table copy that skips
unreadable rows and reports what was lost. Says which was used. DB is never
written; NEW must not exist.

Exit codes: 0 salvaged and the new file passes integrity_check; 1 salvaged
with losses or the new file fails integrity_check; 2 usage error, DB
unreadable or NEW already exists.
`

func runRecover(ctx context.Context, iox *IO, args []string) error {
	var out string
	var builtin, asJSON bool
	fs := newFlagSet("recover", recoverUsage, iox)
	fs.StringVarP(&out, "output", "o", "", "the new database file to write (must not exist)")
	fs.BoolVar(&builtin, "builtin", false, "use the built-in table-by-table copy even if sqlite3 is installed")
	fs.BoolVar(&asJSON, "json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || out == "" {
		return usageErr("recover: want DB -o NEW (run 'drbook recover --help')")
	}
	rep, err := backup.Recover(ctx, fs.Arg(0), out, backup.RecoverOptions{Builtin: builtin})
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	lost := int64(0)
	for _, n := range rep.Lost {
		lost += n
	}
	if asJSON {
		writeJSON(iox.Stdout, rep)
	} else {
		fmt.Fprintf(iox.Stdout, "salvaged %s into %s with %s\n", fs.Arg(0), out, rep.Method)
		tw := tabwriter.NewWriter(iox.Stdout, 0, 0, 2, ' ', 0)
		for t, n := range rep.Tables {
			fmt.Fprintf(tw, "  %s\t%d rows\t", t, n)
			if l := rep.Lost[t]; l > 0 {
				fmt.Fprintf(tw, "%d unreadable rows lost", l)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
		for _, t := range rep.Unreadable {
			fmt.Fprintf(iox.Stdout, "  %s: unreadable, not salvaged\n", t)
		}
		for _, d := range rep.Diagnostics {
			fmt.Fprintf(iox.Stdout, "  note: %s\n", d)
		}
		fmt.Fprintf(iox.Stdout, "integrity_check of %s: %s\n", out, rep.Integrity)
	}
	if rep.Integrity != "ok" || lost > 0 || len(rep.Unreadable) > 0 {
		return failed(nil)
	}
	return nil
}
