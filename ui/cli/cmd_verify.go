package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/drbook/drbook/steps/backup"
)

const verifyUsage = `
Usage: drbook verify [BACKUP|latest] [--to DIR] [--s3 URL]
                     [--passphrase-file F] [--json]

The plan's weekly restore test, fit for cron: restore a backup (default the
newest verified one) into a scratch directory, with every check a real
restore runs (archive hash, MDC, tar guard, file hashes, full
integrity_check, data validation), record the result in the backup's
manifest (local or on S3), and remove the scratch directory. The live
system is not touched. A failure of the backup demotes it to
restore-test-failed everywhere (backups, latest, check, prune); a later
pass promotes it again. A wrong passphrase is not held against the backup.

Exit codes: 0 the backup restores and passes its checks; 1 the restored data
fails its checks; 2 usage error, no backup, wrong passphrase, or a corrupt
or unsafe archive; 130 interrupted.
`

func runVerify(ctx context.Context, iox *IO, args []string) error {
	var o backupFlags
	fs := newFlagSet("verify", verifyUsage, iox)
	o.addCommon(fs, false)
	o.addStore(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.site(iox, fs); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("verify: one backup at a time")
	}
	from := "latest"
	if fs.NArg() == 1 {
		from = fs.Arg(0)
	}
	pass, err := o.passphrase(iox, false)
	if err != nil {
		return err
	}
	emit, done := o.progress(iox)
	res, err := backup.Verify(ctx, backup.VerifyOptions{From: from, Dir: o.backupDir(iox), S3: o.s3ConfigFor(fs, from),
		Passphrase: pass, Emit: emit, Checker: iox.Checker})
	done()
	if o.json && res != nil {
		writeJSON(iox.Stdout, map[string]any{"ok": res.OK, "summary": res.Summary, "restore": res.Restore,
			"archive": res.Archive, "recorded": res.Recorded})
	} else if res != nil && res.OK {
		fmt.Fprintf(iox.Stdout, "OK %s (taken %s)\n  %s\n", res.Restore.Source, res.Restore.BackupTime.Format(time.RFC3339), res.Summary)
	} else if res != nil {
		fmt.Fprintf(iox.Stdout, "FAILED %s\n", res.Archive)
		if res.Recorded {
			fmt.Fprintln(iox.Stdout, "  recorded in its manifest: it is restore-test-failed and no longer counts")
		}
	}
	return backupErr("verify", err)
}
