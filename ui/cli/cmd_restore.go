package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
)

const restoreUsage = `
Usage: drbook restore [--root DIR] [--from latest|PATH|s3://...]
                      [--only db,config,env,logs] [--to DIR] [--s3 URL]
                      [--passphrase-file F] [--dry-run] [--yes] [--json]
                      [--max-expand 100x|SIZE] [--incident ID]

Restore the system from a backup (plan sections 2.2 and 3). --from latest
(the default) picks the newest verified backup, local first, then S3; never
a damaged-source, unverified or restore-test-failed one (when none is
verified it says so and lists what exists). PATH may also be an archive of
the plan's own script or a drbook archive whose manifest is gone (no
manifest: reported as unverified, with what was checked instead), or a
plain SQLite file.

Everything is staged and checked first: archive hash, decryption with MDC,
gzip to EOF, a strict tar guard (regular files and directories only, local
names only), every file's hash against the manifest, full integrity_check on
the staged database. Only then are parts swapped in with renames; the
current files are kept as data/quantai.db.pre-restore-<stamp> (with -wal and
-shm), config.pre-restore-<stamp>, .env.pre-restore-<stamp>; nothing is
deleted. Logs are restored only with --only logs. The .env change summary
names variables, never values. If data/KILL_SWITCH exists the halt is
re-applied to the restored database. The backup's timestamp is reported
for the RPO achieved, and with --incident recorded in the incident's
timeline, which fills the report's RPO row.

Staging (<root>/.drbook-restore-*, removed afterwards, and at the next run
if a restore was killed) always leaves 5% of the root's filesystem free for
the live system (at least 16 MiB, at most 1 GiB). An archive without a
manifest may unpack to at most --max-expand: a multiple of its size (default
100x, at least 64 MiB) or a size such as 5GiB; given, it caps every archive.
Past either cap the restore stops before writing more; nothing is changed.

--dry-run stages and checks everything and reports what would change.
Without --yes it asks for confirmation on a terminal, and refuses without one.

Exit codes: 0 restored (or dry run clean); 1 the staged data failed its checks,
the swap failed (originals are kept and named), not enough disk to stage, or
restored but the check after the swap could not run (disk full; said so);
2 usage error, not confirmed, no backup, wrong passphrase, a corrupt or unsafe
archive, or one past --max-expand (nothing changed); 130 interrupted
(nothing half-restored).
`

func runRestore(ctx context.Context, iox *IO, args []string) error {
	var o backupFlags
	var from, only, maxExpand string
	var dryRun, yes bool
	fs := newFlagSet("restore", restoreUsage, iox)
	o.addCommon(fs, true)
	o.addStore(fs)
	o.addIncident(fs)
	fs.StringVar(&from, "from", "latest", "latest, a local archive or SQLite file, or s3://bucket/key")
	fs.StringVar(&only, "only", "", "comma-separated parts: db, config, env, logs (default db,config,env)")
	fs.BoolVar(&dryRun, "dry-run", false, "stage and check everything, change nothing, report what would change")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	fs.StringVar(&maxExpand, "max-expand", "", "cap on unpacked size: a multiple of the archive (200x) or a size (5GiB)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.site(iox, fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("restore: unexpected argument %q (use --from)", fs.Arg(0))
	}
	if maxExpand != "" {
		if _, err := backup.ParseExpansion(maxExpand); err != nil {
			return usageErr("restore: %w", err)
		}
	}
	if st, err := os.Stat(o.root); err != nil || !st.IsDir() {
		return usageErr("restore: --root %s: not a directory", o.root)
	}
	if !dryRun && !yes {
		if !iox.IsTerminal {
			return usageErr("restore: refusing to change %s without confirmation: pass --yes (or try --dry-run)", o.root)
		}
	}
	var pass []byte
	plainDB := from != "latest" && !strings.HasPrefix(from, "s3://") && backup.IsSQLite(from)
	if !plainDB {
		var err error
		if pass, err = o.passphrase(iox, false); err != nil {
			return err
		}
	}
	var link *incidentLink
	if !dryRun {
		l, err := openIncidentLink(ctx, iox, "restore", o.incident, o.stateDir, o.root)
		if err != nil {
			return err
		}
		link = l
		defer link.close()
	}
	// The registered restore action does the work, recorded in the
	// incident when linked (a dry run is not); the passphrase reaches it
	// through the request, never as a (recorded) parameter.
	params := map[string]string{"from": from, "only": only, "to": o.backupDir(iox)}
	if maxExpand != "" {
		params["max-expand"] = maxExpand
	}
	o.s3Params(fs, params, from)
	req := steps.Request{Env: steps.Env{Root: o.root}, Params: params, Confirmed: yes, DryRun: dryRun}
	if pass != nil {
		req.Env.Secrets = []string{string(pass)}
		req.Passphrase = func() ([]byte, error) { return pass, nil }
	}
	progress, done := o.progress(iox)
	emit := func(ev steps.Event) {
		if ev.Stream != steps.Stdout { // the report is printed below, from the result
			progress(ev)
		}
	}
	if !dryRun && !yes {
		// Asked after staging and checking, with what would change.
		req.Confirm = func(preview any) bool {
			res, ok := preview.(*backup.RestoreResult)
			if !ok {
				return false
			}
			done()
			printRestore(iox, false, res, nil)
			fmt.Fprintf(iox.Stdout, "Restore these parts into %s? The current files are kept aside. Type yes: ", o.root)
			line, _ := bufio.NewReader(iox.Stdin).ReadString('\n')
			return strings.TrimSpace(strings.ToLower(line)) == "yes"
		}
	}
	r, err, recErr := link.run(ctx, iox, "restore", mustAction("restore"), req, emit)
	done()
	if recErr != nil && r.Status == "" { // refused before it ran
		return recErr
	}
	res, _ := r.Data.(*backup.RestoreResult)
	if errors.Is(err, backup.ErrNotConfirmed) {
		return usageErr("restore: not confirmed; nothing changed")
	}
	if recErr != nil && err == nil && ctx.Err() == nil {
		printRestore(iox, o.json, res, nil)
		return recErr
	}
	if err != nil {
		if res != nil {
			printRestore(iox, o.json, res, err)
		}
		return backupErr("restore", err)
	}
	return printRestore(iox, o.json, res, nil)
}

func printRestore(iox *IO, asJSON bool, res *backup.RestoreResult, err error) error {
	if asJSON {
		return writeJSON(iox.Stdout, map[string]any{"restore": res, "error": errString(err)})
	}
	verb := "restored"
	if res.DryRun {
		verb = "would restore"
	}
	fmt.Fprintf(iox.Stdout, "%s %s from %s\n", verb, strings.Join(res.Parts, ", "), res.Source)
	fmt.Fprintf(iox.Stdout, "  backup taken %s (%s ago)\n", res.BackupTime.Format(time.RFC3339), checks.FormatAge(time.Since(res.BackupTime)))
	fmt.Fprintf(iox.Stdout, "  backup: %s\n", res.Verified)
	if res.PostCheck != "" && res.PostCheck != "ok" {
		fmt.Fprintf(iox.Stdout, "  quick_check after the swap: %s\n", res.PostCheck)
	}
	for _, c := range res.Changes {
		fmt.Fprintf(iox.Stdout, "  %s: %s\n", c.Path, c.Detail)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(iox.Stdout, "  warning: %s\n", w)
	}
	for _, a := range res.Aside {
		fmt.Fprintf(iox.Stdout, "  original kept: %s\n", a)
	}
	if res.DryRun {
		fmt.Fprintln(iox.Stdout, "dry run: nothing changed")
	}
	return nil
}
