package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/runbook/site"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/sandbox"
)

func checkUsage() string {
	var b strings.Builder
	b.WriteString(`
Usage: drbook check [--root DIR] [--only NAME,...] [--full] [--json]
                    [--rpo 15m] [--backup-dir DIR]

Check that a QuantAI system is sound. The checks only look: the database is
opened read-only without creating any -wal, -shm or journal file next to it,
and no byte of the system changes. Checks run concurrently; the table lists
them in a fixed order once all have finished.

Checks:
`)
	for _, n := range checks.Names() {
		fmt.Fprintf(&b, "  %-17s %s\n", n, wrap(checks.Describe(n), 58, 20))
	}
	b.WriteString(`
Statuses: pass; warn (worth a look: pending trades or open orders to
reconcile, no backup catalogue, a WAL left by a crash); fail.
--json prints one JSON report (documented in docs/checks.md).

Exit codes: 0 no check failed (warnings allowed); 1 a check failed;
2 usage error or unreadable --root; 130 interrupted.
`)
	return b.String()
}

func runCheck(ctx context.Context, iox *IO, args []string) error {
	var root string
	var only []string
	var full, asJSON bool
	var rpo time.Duration
	var backupDir string
	fs := newFlagSet("check", checkUsage(), iox)
	fs.StringVar(&root, "root", ".", "the QuantAI system root")
	fs.StringSliceVar(&only, "only", nil, "run only these checks (comma-separated)")
	fs.BoolVar(&full, "full", false, "integrity_check instead of quick_check (slower)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&rpo, "rpo", checks.DefaultRPO, "RPO for backup-freshness")
	fs.StringVar(&backupDir, "backup-dir", "", "local backup directory (default: as drbook backups)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("check: unexpected argument %q (run 'drbook check --help')", fs.Arg(0))
	}
	if rpo <= 0 {
		return usageErr("check: --rpo %s: want a positive duration such as 15m", rpo)
	}
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	if !fs.Changed("root") && cfg.System.Root != "" {
		root = cfg.Resolve(cfg.System.Root)
	}
	s3 := backup.S3FromEnv(iox.Getenv)
	if s3 == nil && cfg.Backup.S3.URL != "" {
		s3 = &backup.S3Config{URL: cfg.Backup.S3.URL, Endpoint: cfg.Backup.S3.Endpoint, Region: cfg.Backup.S3.Region}
		if cfg.Backup.S3.PathStyle {
			ps := true
			s3.PathStyle = &ps
		}
	}
	if backupDir == "" && iox.Getenv("DRBOOK_BACKUP_DIR") == "" && len(cfg.Backup.Dirs) > 0 {
		backupDir = cfg.Resolve(cfg.Backup.Dirs[0])
	}
	switch st, err := os.Stat(root); {
	case errors.Is(err, os.ErrNotExist):
		return usageErr("check: --root %s does not exist", root)
	case err != nil:
		return usageErr("check: --root %s: %w", root, err)
	case !st.IsDir():
		return usageErr("check: --root %s is a file, not a directory (the QuantAI root holds data/, config/ and .env)", root)
	}
	if !looksLikeRoot(root) {
		fmt.Fprintf(iox.Stderr, "check: %s holds none of data/quantai.db, config/, .env: is it the QuantAI root?\n", root)
	}
	opts := checks.Options{Root: root, Only: only, Full: full, RPO: rpo}
	if backupDir != "" {
		// A typo must not read as a bare "no backups exist".
		switch st, err := os.Stat(backupDir); {
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(iox.Stderr, "check: --backup-dir %s does not exist: no backups there (a typo?)\n", backupDir)
		case err != nil:
			return usageErr("check: --backup-dir %s: %w", backupDir, err)
		case !st.IsDir():
			return usageErr("check: --backup-dir %s is a file, not a directory", backupDir)
		}
		opts.Backups = backup.Catalogue(backupDir, s3)
	} else {
		opts.Backups = backup.Catalogue(backup.CatalogueDir(root, iox.Getenv), s3)
	}
	// The table is printed once every check has finished, in the report's
	// fixed order (checks in order, items in order): at 3 a.m. two runs
	// are compared by eye, and completion order changes from run to run.
	rep, err := checks.Run(ctx, opts, nil)
	if errors.Is(err, checks.ErrUnknownCheck) {
		return usageErr("check: %w", err)
	}
	if err != nil {
		return err
	}
	if len(only) == 0 {
		if err := addContactFindings(iox, &rep); err != nil {
			return err
		}
	}
	if asJSON {
		if err := printJSON(iox.Stdout, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(iox.Stdout, "%-4s  %-16s  %-19s  %s\n", "", "CHECK", "ITEM", "RESULT")
		for _, f := range rep.Findings {
			printFinding(iox.Stdout, f)
		}
		fmt.Fprintln(iox.Stdout, checkSummary(rep))
	}
	if rep.Failed() {
		return failed(nil)
	}
	return nil
}

// looksLikeRoot reports whether root holds any part of a QuantAI system.
func looksLikeRoot(root string) bool {
	for _, p := range []string{sandbox.DBFile, "config", ".env"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			return true
		}
	}
	return false
}

// checkSummary counts checks and items, so "5 checks fail" does not read
// as if nothing passed: "checks: 0 pass, 0 warn, 5 fail; items: 6 pass,
// 0 warn, 15 fail (1.2s)".
func checkSummary(rep checks.Report) string {
	count := func(statuses []checks.Status) string {
		n := map[checks.Status]int{}
		for _, s := range statuses {
			n[s]++
		}
		return fmt.Sprintf("%d pass, %d warn, %d fail", n[checks.Pass], n[checks.Warn], n[checks.Fail])
	}
	var cs, is []checks.Status
	for _, c := range rep.Checks {
		cs = append(cs, c.Status)
	}
	for _, f := range rep.Findings {
		is = append(is, f.Status)
	}
	return fmt.Sprintf("checks: %s; items: %s (%s)", count(cs), count(is), rep.Duration.Round(time.Millisecond))
}

// printFinding prints a finding as a row of at most 80 columns, the
// message wrapped, then its first offending rows for anything not passing.
func printFinding(w io.Writer, f checks.Finding) {
	status := strings.ToUpper(string(f.Status))
	fmt.Fprintf(w, "%-4s  %-16s  %-19s  %s\n", status, clip(f.Check, 16), clip(f.Item, 19), wrap(f.Message, 33, 45))
	if f.Status == checks.Pass || f.Evidence == nil || len(f.Evidence.Rows) == 0 {
		return
	}
	said := true // the message already names every row
	for _, r := range f.Evidence.Rows {
		said = said && strings.Contains(f.Message, strings.Join(r, " | "))
	}
	if said {
		return
	}
	// A file and its error read as "file: error", wrapped, never cut: the
	// error says where the file is broken.
	if slices.Equal(f.Evidence.Columns, []string{"file", "error"}) {
		for _, r := range f.Evidence.Rows {
			fmt.Fprintf(w, "      %s\n", wrap(strings.Join(r, ": "), 74, 8))
		}
		return
	}
	if len(f.Evidence.Columns) > 1 {
		fmt.Fprintf(w, "      %s\n", clip(strings.Join(f.Evidence.Columns, " | "), 74))
	}
	for _, r := range f.Evidence.Rows {
		fmt.Fprintf(w, "      %s\n", clip(strings.Join(r, " | "), 74))
	}
	if n := f.Evidence.Count; n > int64(len(f.Evidence.Rows)) && len(f.Evidence.Columns) > 0 {
		fmt.Fprintf(w, "      ... %d more\n", n-int64(len(f.Evidence.Rows)))
	}
}

// clip cuts s to n columns (runes), marking the cut with "~".
func clip(s string, n int) string {
	r := []rune(strings.ReplaceAll(s, "\n", " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "~"
}

// addContactFindings adds a "contacts" check from the site configuration:
// placeholders and roles nobody holds fail, stale verifications warn. No
// configured contacts, no check.
func addContactFindings(iox *IO, rep *checks.Report) error {
	cfg, err := iox.Site()
	if err != nil {
		return err
	}
	if len(cfg.Contacts.People) == 0 {
		return nil
	}
	seen, err := site.LoadVerifications(stateDirOr(iox, cfg, ""))
	if err != nil {
		return usageErr("check: %w", err)
	}
	res := checks.CheckResult{Name: "contacts", Status: checks.Pass}
	ps := cfg.ContactProblems(now(iox), seen)
	for _, p := range ps {
		st := checks.Fail
		if p.Level == site.Warning {
			st = checks.Warn
		}
		res.Status = checks.Worse(res.Status, st)
		rep.Findings = append(rep.Findings, checks.Finding{Check: "contacts", Item: "emergency-contacts", Status: st, Message: p.Msg})
	}
	if len(ps) == 0 {
		rep.Findings = append(rep.Findings, checks.Finding{Check: "contacts", Item: "emergency-contacts", Status: checks.Pass,
			Message: fmt.Sprintf("%d contacts, every role the plan names held, all verified within the window", len(cfg.Contacts.People))})
	}
	res.Findings = max(1, len(ps))
	rep.Checks = append(rep.Checks, res)
	return nil
}
