package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps/backup"
)

const backupsUsage = `
Usage: drbook backups [--to DIR] [--s3 s3://bucket/prefix] [--rpo 15m] [--json]

List local and S3 backups, newest first, with age, tier, size, status and
the last restore test. Status is one of:
  verified             read back intact, its snapshot passed a full
                       integrity_check and the data validation: it counts
  damaged-source       the database was damaged or empty when backed up
  unverified           no manifest (interrupted, or the plan's script), a
                       manifest that disagrees, or an old manifest untested
  restore-test-failed  its last restore test (drbook verify) failed
Only verified backups count toward the RPO (15 minutes by default).

Exit codes: 0 listed and the newest verified backup meets the RPO; 1 no
verified backup, or the newest is older than the RPO; 2 usage error or an
unreadable store (S3 unreachable: the local backups are still listed).
`

func runBackups(ctx context.Context, iox *IO, args []string) error {
	var o backupFlags
	rpo := 15 * time.Minute
	fs := newFlagSet("backups", backupsUsage, iox)
	o.addStore(fs)
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.DurationVar(&rpo, "rpo", rpo, "recovery point objective the newest backup is held to")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.site(iox, fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("backups: unexpected argument %q", fs.Arg(0))
	}
	entries, err := backup.List(ctx, backup.Source{Dir: o.backupDir(iox), S3: o.s3Config(fs)})
	if err != nil && len(entries) == 0 {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("backups: %w", err)}
	}
	now := time.Now()
	latest, lerr := backup.Latest(entries)
	met := lerr == nil && now.Sub(latest.Created) <= rpo
	if o.json {
		type row struct {
			backup.Entry
			// Verified is Status == verified, for scripts written against
			// drbook before statuses.
			Verified   bool               `json:"verified"`
			AgeSeconds int64              `json:"age_seconds"`
			Files      int                `json:"files,omitempty"`
			Tested     *backup.TestResult `json:"restore_test,omitempty"`
		}
		rows := make([]row, 0, len(entries))
		for _, e := range entries {
			r := row{Entry: e, Verified: e.Counts(), AgeSeconds: int64(now.Sub(e.Created) / time.Second)}
			if e.Manifest != nil {
				r.Files, r.Tested = len(e.Manifest.Files), e.Manifest.RestoreTest
			}
			rows = append(rows, r)
		}
		out := map[string]any{"backups": rows, "rpo_seconds": int64(rpo / time.Second), "rpo_met": met}
		if lerr == nil {
			out["latest"] = latest.Path
		}
		if err != nil {
			out["error"] = err.Error()
		}
		writeJSON(iox.Stdout, out)
	} else {
		tw := tabwriter.NewWriter(iox.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "AGE\tTIER\tSIZE\tSTATUS\tTESTED\tWHERE\tNAME")
		var problems []string
		for _, e := range entries {
			tested := "-"
			if e.Manifest != nil && e.Manifest.RestoreTest != nil {
				t := e.Manifest.RestoreTest
				tested = "ok " + checks.FormatAge(now.Sub(t.Time)) + " ago"
				if !t.OK {
					tested = "FAILED " + checks.FormatAge(now.Sub(t.Time)) + " ago"
				}
			}
			tier := "-"
			if e.Tier > 0 {
				tier = fmt.Sprint(e.Tier)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", checks.FormatAge(now.Sub(e.Created)), tier, backup.FormatSize(e.Size), e.Status, tested, e.Location, e.Name)
			if e.Problem != "" {
				problems = append(problems, fmt.Sprintf("  %s: %s: %s", e.Name, e.Status, e.Problem))
			}
		}
		tw.Flush()
		for _, p := range problems {
			fmt.Fprintln(iox.Stdout, p)
		}
		switch {
		case len(entries) == 0:
			fmt.Fprintf(iox.Stdout, "no backups in %s\n", o.backupDir(iox))
		case lerr != nil:
			fmt.Fprintln(iox.Stdout, "RPO NOT MET: no verified backup")
		case met:
			fmt.Fprintf(iox.Stdout, "RPO %s met: newest verified backup is %s old\n", checks.FormatAge(rpo), checks.FormatAge(now.Sub(latest.Created)))
		default:
			fmt.Fprintf(iox.Stdout, "RPO %s NOT MET: newest verified backup is %s old\n", checks.FormatAge(rpo), checks.FormatAge(now.Sub(latest.Created)))
		}
		if err != nil {
			fmt.Fprintln(iox.Stdout, "(the RPO above is of the backups that could be listed)")
		}
	}
	if err != nil {
		// The listing is incomplete: unreadable input, whatever the RPO.
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("backups: %w", err)}
	}
	if !met {
		return failed(nil)
	}
	return nil
}
