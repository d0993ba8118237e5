package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drbook/drbook/steps/backup"
)

const pruneUsage = `
Usage: drbook prune [--to DIR] [--s3 URL] [--dry-run] [--keep-local 720h]
                    [--keep-tier1 61320h] [--keep-tier2 17520h]
                    [--keep-tier3 720h] [--json]

Delete backups past their retention (plan 1.1 and 1.3): local copies after
30 days; on S3 tier 1 after seven years, tier 2 after two, tier 3 after 30
days. Only verified backups protect the recovery point: never deleted are
the newest verified backup of each tier in each place, the newest verified
backup overall (whatever is newer does not count), and anything in a place
with no verified backup. A zero retention is refused. A manifest is deleted
before its archive. --dry-run also says why each backup is kept.

Exit codes: 0 pruned (or nothing to prune); 1 a deletion failed; 2 usage
error, an empty policy, or a store that cannot be listed (nothing deleted).
`

func runPrune(ctx context.Context, iox *IO, args []string) error {
	var o backupFlags
	var dryRun bool
	pol := backup.DefaultPolicy()
	t1, t2, t3 := pol.Tier[1], pol.Tier[2], pol.Tier[3]
	fs := newFlagSet("prune", pruneUsage, iox)
	o.addStore(fs)
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.BoolVar(&dryRun, "dry-run", false, "list what would be deleted, delete nothing")
	fs.DurationVar(&pol.Local, "keep-local", pol.Local, "keep local copies this long")
	fs.DurationVar(&t1, "keep-tier1", t1, "keep tier 1 backups on S3 this long")
	fs.DurationVar(&t2, "keep-tier2", t2, "keep tier 2 backups on S3 this long")
	fs.DurationVar(&t3, "keep-tier3", t3, "keep tier 3 backups on S3 this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.site(iox, fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("prune: unexpected argument %q", fs.Arg(0))
	}
	pol.Tier = map[int]time.Duration{1: t1, 2: t2, 3: t3}
	kept := []backup.Pruned{}
	pruned, err := backup.Prune(ctx, backup.PruneOptions{Source: backup.Source{Dir: o.backupDir(iox), S3: o.s3Config(fs)}, Policy: pol, DryRun: dryRun,
		Kept: func(p backup.Pruned) { kept = append(kept, p) }})
	if errors.Is(err, backup.ErrEmptyPolicy) { // nothing to report
		return prefixed("prune", err)
	}
	if o.json {
		if pruned == nil {
			pruned = []backup.Pruned{}
		}
		writeJSON(iox.Stdout, map[string]any{"dry_run": dryRun, "pruned": pruned, "kept": kept, "error": errString(err)})
	} else {
		verb := "deleted"
		if dryRun {
			verb = "would delete"
		}
		for _, p := range pruned {
			fmt.Fprintf(iox.Stdout, "%s %s (%s)\n", verb, p.Path, p.Reason)
		}
		if dryRun {
			for _, p := range kept {
				fmt.Fprintf(iox.Stdout, "keep %s (%s: %s)\n", p.Path, p.Status, p.Reason)
			}
		}
		if len(pruned) == 0 && err == nil {
			fmt.Fprintln(iox.Stdout, "nothing to prune")
		}
	}
	if err != nil {
		return prefixed("prune", err) // ExitCode: an unreadable store 2, else 1
	}
	return nil
}
