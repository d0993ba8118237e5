package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/standby"
)

const standbyUsage = `
Usage: drbook standby sync [--root SECONDARY] [--from latest|PATH|s3://...]
                           [--backup-dir DIR] [--s3 URL] [--primary DIR]
                           [--passphrase-file F] --yes [--json]

Keep the secondary site warm (plan 2.3): restore the newest counted
(verified) backup of the primary into the secondary's QuantAI root, and say
how far behind the primary the secondary now is (the backup's age). Run it
after every backup, or from cron. The restore verifies and stages the
whole backup before it touches the secondary, and keeps the files it
replaces beside them as <name>.pre-restore-<stamp>.

--root defaults to failover.secondary of the site configuration, the backup
folder to backup.dirs, the S3 location to backup.s3, and the passphrase to
backup.passphrase_file ($DRBOOK_PASSPHRASE and $DRBOOK_PASSPHRASE_FILE
first). The secondary is never the primary: drbook refuses a --root that
is, holds or lies inside system.root (or --primary).

Exit codes: 0 synced; 1 the restore failed (it says what was kept where);
2 usage error, not confirmed, no backup, no or wrong passphrase, or a
corrupt backup; 130 interrupted.
`

// standbySyncJSON is the --json shape of a sync.
type standbySyncJSON struct {
	Secondary     string    `json:"secondary"`
	Source        string    `json:"source"`
	BackupTime    time.Time `json:"backup_time"`
	BehindSeconds int64     `json:"behind_seconds"`
	Restore       string    `json:"restore"`
}

func runStandby(ctx context.Context, iox *IO, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(iox.Stdout, strings.TrimLeft(standbyUsage, "\n"))
		if len(args) == 0 {
			return usageErr("standby: want a subcommand: sync")
		}
		return nil
	}
	if args[0] != "sync" {
		return usageErr("standby: unknown subcommand %q (want sync; run 'drbook standby --help')", args[0])
	}
	var root, from, dir, s3, s3Endpoint, s3Region, primary, passFile string
	var yes, asJSON bool
	fs := newFlagSet("standby", standbyUsage, iox)
	fs.StringVar(&root, "root", "", "the secondary's QuantAI root (default: failover.secondary)")
	fs.StringVar(&from, "from", "latest", "latest (newest counted backup), a backup file, or s3://bucket/key")
	fs.StringVar(&dir, "backup-dir", "", "local backup folder (default: $DRBOOK_BACKUP_DIR, backup.dirs, "+backup.DefaultDir+")")
	fs.StringVar(&s3, "s3", "", "s3://bucket/prefix to look for the latest backup in (default: backup.s3.url)")
	fs.StringVar(&s3Endpoint, "s3-endpoint", "", "S3-compatible endpoint")
	fs.StringVar(&s3Region, "s3-region", "", "S3 region")
	fs.StringVar(&primary, "primary", "", "the primary's root, never synced over (default: system.root)")
	fs.StringVar(&passFile, "passphrase-file", "", "read the backup passphrase from this file's first line")
	fs.BoolVar(&yes, "yes", false, "confirm: replace the secondary's database, config and .env")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("standby sync: unexpected argument %q (run 'drbook standby --help')", fs.Arg(0))
	}
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	if root == "" && cfg.Failover.Secondary != "" {
		root = cfg.Resolve(cfg.Failover.Secondary)
	}
	if root == "" {
		return usageErr("standby sync: no secondary: give --root SECONDARY or set failover.secondary in the site configuration")
	}
	if primary == "" && cfg.System.Root != "" {
		primary = cfg.Resolve(cfg.System.Root)
	}
	if dir == "" {
		switch {
		case iox.Getenv("DRBOOK_BACKUP_DIR") != "":
			dir = iox.Getenv("DRBOOK_BACKUP_DIR")
		case len(cfg.Backup.Dirs) > 0:
			dir = cfg.Resolve(cfg.Backup.Dirs[0])
		default:
			dir = backup.DefaultDir
		}
	}
	if s3 == "" && cfg.Backup.S3.URL != "" {
		s3, s3Endpoint, s3Region = cfg.Backup.S3.URL, cfg.Backup.S3.Endpoint, cfg.Backup.S3.Region
	}
	vars := map[string]string{}
	switch {
	case passFile != "":
		vars["DRBOOK_PASSPHRASE_FILE"] = passFile
	case iox.Getenv("DRBOOK_PASSPHRASE") != "":
		vars["DRBOOK_PASSPHRASE"] = iox.Getenv("DRBOOK_PASSPHRASE")
	case iox.Getenv("DRBOOK_PASSPHRASE_FILE") != "":
		vars["DRBOOK_PASSPHRASE_FILE"] = iox.Getenv("DRBOOK_PASSPHRASE_FILE")
	case cfg.Backup.PassphraseFile != "":
		vars["DRBOOK_PASSPHRASE_FILE"] = cfg.Resolve(cfg.Backup.PassphraseFile)
	default:
		return usageErr("standby sync: no passphrase: give --passphrase-file F, set DRBOOK_PASSPHRASE(_FILE) or backup.passphrase_file")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return usageErr("standby sync: --root: %w", err)
	}
	// SecondaryRoot refuses a secondary that overlaps the primary.
	env := steps.Env{Root: primary, BackupDir: dir, Vars: vars, Now: iox.Now, Operator: "drbook standby sync"}
	sec, err := standby.SecondaryRoot(env, abs)
	if err != nil {
		return usageErr("%w", err)
	}
	if fi, err := os.Stat(sec); err != nil || !fi.IsDir() {
		return usageErr("standby sync: --root %s: not a directory (create it first)", sec)
	}
	if !yes {
		return usageErr("standby sync: not confirmed: this replaces %s's database, config and .env (kept aside); add --yes", sec)
	}
	params := map[string]string{"from": from, "backups": dir}
	if s3 != "" {
		params["s3"], params["s3-endpoint"], params["s3-region"] = s3, s3Endpoint, s3Region
	}
	var emit steps.Emit
	if !asJSON {
		emit = func(e steps.Event) {
			if e.Line != "" && e.Stream != steps.Stdout {
				fmt.Fprintf(iox.Stderr, "standby: %s\n", e.Line)
			}
		}
	}
	res, err := standby.Sync(ctx, env, sec, params, emit)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return err // ExitCode: bad input (no backup, wrong passphrase, a corrupt archive) 2, else 1
	}
	if asJSON {
		return writeJSON(iox.Stdout, standbySyncJSON{Secondary: res.Secondary, Source: res.Source, BackupTime: res.BackupTime,
			BehindSeconds: int64(res.Behind.Seconds()), Restore: res.Restore})
	}
	fmt.Fprintf(iox.Stdout, "synced %s from %s (backup taken %s): %s behind the primary\n",
		res.Secondary, filepath.Base(res.Source), res.BackupTime.UTC().Format(time.RFC3339), standby.Behind(res.Behind))
	return nil
}
