package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/steps/backup"
)

// backupFlags are the flags the backup commands share.
type backupFlags struct {
	root        string
	dir         string
	s3          string
	s3Endpoint  string
	s3Region    string
	s3PathStyle bool
	passFile    string
	json        bool
	noProgress  bool
	incident    string
	stateDir    string
}

func (o *backupFlags) addStore(fs *pflag.FlagSet) {
	fs.StringVar(&o.dir, "to", "", "local backup directory (default $DRBOOK_BACKUP_DIR, backup.dirs of the site configuration, else "+backup.DefaultDir+")")
	fs.StringVar(&o.s3, "s3", "", "S3 destination s3://bucket/prefix (default backup.s3 of the site configuration; credentials from the standard AWS chain)")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (MinIO, Ceph...); implies path-style addressing")
	fs.StringVar(&o.s3Region, "s3-region", "", "S3 region (default from the AWS configuration, else us-east-1)")
	fs.BoolVar(&o.s3PathStyle, "s3-path-style", false, "use path-style S3 addressing")
}

func (o *backupFlags) addCommon(fs *pflag.FlagSet, root bool) {
	if root {
		fs.StringVar(&o.root, "root", ".", "the QuantAI system directory (holds data/quantai.db, config/, .env, logs/; default system.root of the site configuration, else .)")
	}
	fs.StringVar(&o.passFile, "passphrase-file", "", "read the passphrase from this file's first line (else $DRBOOK_PASSPHRASE, $DRBOOK_PASSPHRASE_FILE, backup.passphrase_file of the site configuration, else a prompt)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.BoolVar(&o.noProgress, "no-progress", false, "no progress line on the terminal")
}

func (o *backupFlags) addIncident(fs *pflag.FlagSet) {
	fs.StringVar(&o.incident, "incident", "", "record the run, its output and result (the backup time, for the RPO) in this open incident's timeline")
	fs.StringVar(&o.stateDir, "state-dir", "", "state directory for --incident (default $DRBOOK_STATE_DIR, $XDG_STATE_HOME/drbook, ~/.local/state/drbook)")
}

func (o *backupFlags) backupDir(iox *IO) string {
	if o.dir != "" {
		return o.dir
	}
	if d := iox.Getenv("DRBOOK_BACKUP_DIR"); d != "" {
		return d
	}
	return backup.DefaultDir
}

func (o *backupFlags) s3Config(fs *pflag.FlagSet) *backup.S3Config {
	if o.s3 == "" {
		return nil
	}
	c := &backup.S3Config{URL: o.s3, Endpoint: o.s3Endpoint, Region: o.s3Region}
	if fs.Changed("s3-path-style") {
		c.PathStyle = &o.s3PathStyle
	}
	return c
}

// s3ConfigFor is the S3 configuration for an s3:// --from without --s3.
func (o *backupFlags) s3ConfigFor(fs *pflag.FlagSet, from string) *backup.S3Config {
	if c := o.s3Config(fs); c != nil {
		return c
	}
	if strings.HasPrefix(from, "s3://") {
		c := &backup.S3Config{URL: from, Endpoint: o.s3Endpoint, Region: o.s3Region}
		if fs.Changed("s3-path-style") {
			c.PathStyle = &o.s3PathStyle
		}
		return c
	}
	return nil
}

// passphrase reads the passphrase: --passphrase-file, $DRBOOK_PASSPHRASE,
// then a no-echo prompt on a terminal (twice when confirm is set). It is
// never a flag value.
func (o *backupFlags) passphrase(iox *IO, confirm bool) ([]byte, error) {
	if o.passFile != "" {
		p, err := backup.ReadPassphraseFile(o.passFile)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		return p, nil
	}
	if p := iox.Getenv("DRBOOK_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	f, ok := iox.Stdin.(*os.File)
	if !iox.IsTerminal || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, usageErr("no passphrase: give --passphrase-file FILE or set DRBOOK_PASSPHRASE (no terminal to prompt on)")
	}
	fmt.Fprint(iox.Stderr, "Backup passphrase: ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(iox.Stderr)
	if err != nil {
		return nil, usageErr("read passphrase: %v", err)
	}
	if len(p) == 0 {
		return nil, usageErr("empty passphrase")
	}
	if confirm {
		fmt.Fprint(iox.Stderr, "Repeat passphrase: ")
		q, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(iox.Stderr)
		if err != nil {
			return nil, usageErr("read passphrase: %v", err)
		}
		if string(p) != string(q) {
			return nil, usageErr("the passphrases differ")
		}
	}
	return p, nil
}

// progress returns an emit that prints commentary lines to stderr and, on
// a terminal, one rewritten progress line.
func (o *backupFlags) progress(iox *IO) (steps.Emit, func()) {
	return o.progressTo(iox, nil)
}

// progressTo is progress that also copies commentary lines into out.
func (o *backupFlags) progressTo(iox *IO, out *strings.Builder) (steps.Emit, func()) {
	showBar := iox.IsTerminal && !o.noProgress
	var last time.Time
	dirty := false
	clear := func() {
		if dirty {
			fmt.Fprint(iox.Stderr, "\r\033[K")
			dirty = false
		}
	}
	emit := func(ev steps.Event) {
		if ev.Progress != nil {
			if !showBar || time.Since(last) < 200*time.Millisecond && ev.Progress.Done != ev.Progress.Total {
				return
			}
			last = time.Now()
			p := ev.Progress
			line := fmt.Sprintf("%-16s %s", p.Phase, progressAmount(p))
			fmt.Fprint(iox.Stderr, "\r\033[K"+line)
			dirty = true
			return
		}
		if ev.Line != "" && out != nil {
			out.WriteString(ev.Line + "\n")
		}
		if ev.Line != "" && !o.json {
			clear()
			fmt.Fprintln(iox.Stderr, ev.Line)
		}
	}
	return emit, clear
}

func progressAmount(p *steps.Progress) string {
	amt := func(n int64) string {
		if p.Unit == "bytes" {
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		}
		return fmt.Sprintf("%d %s", n, p.Unit)
	}
	if p.Total > 0 {
		return fmt.Sprintf("%3d%%  %s of %s", p.Done*100/p.Total, amt(p.Done), amt(p.Total))
	}
	return amt(p.Done)
}

// backupErr maps a domain error to an exit code and prints its hint.
func backupErr(iox *IO, cmd string, err error) error {
	if err == nil {
		return nil
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if h := backup.Hint(err); h != "" {
		defer fmt.Fprintf(iox.Stderr, "hint: %s\n", h)
	}
	switch {
	case errors.Is(err, backup.ErrDamagedSource):
		// A finding about the data, not about the input.
	case errors.Is(err, backup.ErrCorrupt), errors.Is(err, backup.ErrWrongPassphrase),
		errors.Is(err, backup.ErrUnsafeArchive), errors.Is(err, backup.ErrNoPassphrase),
		errors.Is(err, backup.ErrNoBackup), errors.Is(err, backup.ErrStore), errors.Is(err, os.ErrNotExist),
		errors.Is(err, backup.ErrTooLarge):
		return &ExitError{Code: ExitUsage, Err: prefixed(cmd, err)}
	}
	return failed(prefixed(cmd, err))
}

// prefixed names the command in an error unless it already does.
func prefixed(cmd string, err error) error {
	if strings.HasPrefix(err.Error(), cmd+":") {
		return err
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

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
		return backupErr(iox, "backup", err)
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
		if h := backup.Hint(err); h != "" {
			defer fmt.Fprintf(iox.Stderr, "hint: %s\n", h)
		}
		return failed(err)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

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
	var expand backup.Expansion
	if maxExpand != "" {
		e, err := backup.ParseExpansion(maxExpand)
		if err != nil {
			return usageErr("restore: %v", err)
		}
		expand = e
	}
	if st, err := os.Stat(o.root); err != nil || !st.IsDir() {
		return usageErr("restore: --root %s: not a directory", o.root)
	}
	var parts []string
	for _, p := range strings.Split(only, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
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
	op := incident.OperatorFromEnv(iox.Getenv)
	var log strings.Builder
	emit, done := o.progressTo(iox, &log)
	ro := backup.RestoreOptions{Root: o.root, From: from, Only: parts, Dir: o.backupDir(iox), S3: o.s3ConfigFor(fs, from),
		Passphrase: pass, Emit: emit, Operator: op.String(), MaxExpand: expand,
		Checker: iox.Checker, KillSwitch: all.KillSwitch{}}
	if link != nil {
		ro.IncidentID = link.in.ID()
	}
	ro.DryRun, ro.Confirmed = dryRun, yes
	if !dryRun && !yes {
		// Asked after staging and checking, with what would change.
		ro.Confirm = func(res *backup.RestoreResult) bool {
			done()
			printRestore(iox, false, res, nil)
			fmt.Fprintf(iox.Stdout, "Restore these parts into %s? The current files are kept aside. Type yes: ", o.root)
			line, _ := bufio.NewReader(iox.Stdin).ReadString('\n')
			return strings.TrimSpace(strings.ToLower(line)) == "yes"
		}
	}
	res, err := backup.Restore(ctx, ro)
	done()
	if errors.Is(err, backup.ErrNotConfirmed) {
		return usageErr("restore: not confirmed; nothing changed")
	}
	if !dryRun && ctx.Err() == nil {
		r := steps.Result{Status: steps.StatusOK}
		if res != nil {
			r.BackupTime, r.Data = res.BackupTime, res
			r.Summary = fmt.Sprintf("restored %s from %s (backup taken %s)", strings.Join(res.Parts, ", "), res.Source, res.BackupTime.Format(time.RFC3339))
		}
		if err != nil {
			r.Status = steps.StatusFailed
			if errors.Is(err, backup.ErrPostCheckNotRun) {
				r.Summary += "; " + err.Error() // restored; only the check after it could not run
			} else {
				r.Summary = strings.TrimSpace(r.Summary + " failed: " + err.Error())
			}
		}
		params := map[string]string{"from": from, "only": only}
		if recErr := link.record(ctx, "restore", "restore", params, r, err, log.String()); recErr != nil && err == nil {
			printRestore(iox, o.json, res, nil)
			return recErr
		}
	}
	if err != nil {
		if res != nil {
			printRestore(iox, o.json, res, err)
		}
		return backupErr(iox, "restore", err)
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
	return backupErr(iox, "verify", err)
}

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
	if errors.Is(err, backup.ErrEmptyPolicy) {
		return usageErr("prune: %v", err)
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
	if errors.Is(err, backup.ErrStore) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return failed(prefixed("prune", err))
	}
	return nil
}

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
