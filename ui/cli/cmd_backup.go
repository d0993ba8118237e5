package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
)

const backupUsage = `
Usage: drbook backup [--root DIR] [--tier 1|2|3] [--to DIR]
                     [--s3 s3://bucket/prefix] [--s3-endpoint URL]
                     [--passphrase-file F] [--json] [--incident ID]

Take a consistent, compressed, AES-256 encrypted and verified backup of the
system (plan section 1): a snapshot of data/quantai.db with SQLite's online
backup API, config/ and .env (tier 1), plus logs/ (tier 2), plus caches and
temporary files (tier 3), as one archive quantai_<UTC stamp>_t<tier>.tar.gz.gpg
that 'gpg --decrypt | tar xz' opens on any machine. The archive is read back
and every file re-hashed before its JSON manifest is written beside it; an
archive without a manifest never counts. The snapshot gets a full
integrity_check and the plan's data validation: if the database is damaged
or empty, the archive is kept (it may be the best copy left) but marked
damaged-source, never counted, and the command exits 1 naming the problem.
With --s3 the archive and then its manifest are uploaded (multipart, SHA-256
checked, size checked).

The passphrase comes from --passphrase-file, $DRBOOK_PASSPHRASE, or a no-echo
prompt (asked twice); never from a flag value.

Exit codes: 0 backup verified (and uploaded); 1 the database is damaged or
empty (archive kept as damaged-source), or the backup or the upload failed
(a local backup that verified is kept and named); 2 usage error, unreadable
root or no passphrase; 130 interrupted (nothing is left behind).
`

func runBackup(ctx context.Context, iox *IO, args []string) error {
	var o backupFlags
	tier := 1
	fs := newFlagSet("backup", backupUsage, iox)
	o.addCommon(fs, true)
	o.addStore(fs)
	o.addIncident(fs)
	fs.IntVar(&tier, "tier", 1, "1: database, config, .env; 2: + logs; 3: + caches and temporary files")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.site(iox, fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("backup: unexpected argument %q (run 'drbook backup --help')", fs.Arg(0))
	}
	if tier < 1 || tier > 3 {
		return usageErr("backup: --tier %d: want 1, 2 or 3", tier)
	}
	if st, err := os.Stat(o.root); err != nil || !st.IsDir() {
		return usageErr("backup: --root %s: not a directory", o.root)
	}
	link, err := openIncidentLink(ctx, iox, "backup", o.incident, o.stateDir, o.root)
	if err != nil {
		return err
	}
	defer link.close()
	pass, err := o.passphrase(iox, true)
	if err != nil {
		return err
	}
	var log strings.Builder
	emit, done := o.progressTo(iox, &log)
	out, err := backup.Backup(ctx, backup.Options{Root: o.root, Tier: tier, Dir: o.backupDir(iox), S3: o.s3Config(fs),
		Passphrase: pass, Emit: emit, Tool: "drbook " + Version, Checker: iox.Checker})
	done()
	params := map[string]string{"tier": fmt.Sprint(tier), "to": o.backupDir(iox), "s3": o.s3}
	r := steps.Result{Status: steps.StatusOK}
	if out != nil {
		m := out.Manifest
		r.Summary = fmt.Sprintf("backup %s %s (tier %d, %d files, %s)", m.Archive, out.Status(), m.Tier, len(m.Files), backup.FormatSize(m.ArchiveSize))
		if out.S3URL != "" {
			r.Summary += "; copied to " + out.S3URL
		}
		r.Data = map[string]any{"archive": out.ArchivePath, "sha256": m.ArchiveSHA256, "created": m.Created, "s3": out.S3URL, "status": out.Status()}
	}
	if err != nil {
		r.Status = steps.StatusFailed
		r.Summary = strings.TrimSpace(r.Summary + " " + "failed: " + err.Error())
	}
	if recErr := link.record(ctx, "backup", "backup", params, r, err, log.String()); recErr != nil && err == nil {
		return recErr
	}
	if out == nil {
		if errors.Is(err, os.ErrNotExist) {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("backup: %w", err)}
		}
		return backupErr("backup", err)
	}
	st, why := out.Manifest.Status()
	if o.json {
		writeJSON(iox.Stdout, map[string]any{"archive": out.ArchivePath, "manifest": out.ManifestPath, "s3": out.S3URL,
			"created": out.Manifest.Created, "tier": out.Manifest.Tier, "size": out.Manifest.ArchiveSize,
			"sha256": out.Manifest.ArchiveSHA256, "files": out.Manifest.Files,
			"status": st, "problem": why, "verified": st.Counts(), "error": errString(err)})
	} else {
		fmt.Fprintf(iox.Stdout, "%s\n  %s: %d files, %s, sha256 %s\n", out.ArchivePath, st, len(out.Manifest.Files),
			backup.FormatSize(out.Manifest.ArchiveSize), out.Manifest.ArchiveSHA256)
		if why != "" {
			fmt.Fprintf(iox.Stdout, "  does not count: %s\n", why)
		}
		if out.S3URL != "" {
			fmt.Fprintf(iox.Stdout, "  copied to %s\n", out.S3URL)
		}
	}
	if err != nil {
		return failed(err)
	}
	return nil
}
