package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
	"github.com/spf13/pflag"
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
	// The registered backup action does the work, recorded in the
	// incident when linked; the passphrase reaches it through the request,
	// never as a (recorded) parameter, and is redacted from its output.
	params := map[string]string{"tier": fmt.Sprint(tier), "to": o.backupDir(iox)}
	o.s3Params(fs, params, "")
	req := steps.Request{Env: steps.Env{Root: o.root, Secrets: []string{string(pass)}}, Params: params,
		Passphrase: func() ([]byte, error) { return pass, nil }}
	emit, done := o.progress(iox)
	res, err, recErr := link.run(ctx, iox, "backup", mustAction("backup"), req, emit)
	done()
	if recErr != nil && res.Status == "" { // refused before it ran
		return recErr
	}
	if recErr != nil && err == nil {
		return recErr
	}
	var out *backup.Outcome
	if rep, ok := res.Data.(backup.BackupReport); ok {
		out = rep.Outcome
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

// s3Params adds the S3 flags to an action's parameters: s3 (else from,
// for an s3:// --from), s3-endpoint, s3-region and s3-path-style when
// given.
func (o *backupFlags) s3Params(fs *pflag.FlagSet, p map[string]string, from string) {
	if o.s3 == "" && !strings.HasPrefix(from, "s3://") {
		return
	}
	if o.s3 != "" {
		p["s3"] = o.s3
	}
	if o.s3Endpoint != "" {
		p["s3-endpoint"] = o.s3Endpoint
	}
	if o.s3Region != "" {
		p["s3-region"] = o.s3Region
	}
	if o.s3PathStyleSet {
		p["s3-path-style"] = fmt.Sprint(o.s3PathStyle)
	}
}
