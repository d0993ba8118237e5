package backup

import (
	"context"
	"os"
	"path/filepath"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps/system"
)

// Catalogue lists the backups in dir (and on S3 when s3 is set) in the
// shape of the backup-freshness check, with the status every command shows:
// only a verified backup counts.
func Catalogue(dir string, s3 *S3Config) checks.BackupsFunc {
	return func(ctx context.Context) ([]checks.BackupInfo, error) {
		entries, err := List(ctx, Source{Dir: dir, S3: s3})
		out := make([]checks.BackupInfo, 0, len(entries))
		for _, e := range entries {
			out = append(out, checks.BackupInfo{Name: e.Name, Location: e.Location, Time: e.Created, Tier: e.Tier,
				Status: string(e.Status), Counts: e.Counts(), Problem: e.Problem, Size: e.Size})
		}
		return out, err
	}
}

// CatalogueDir is where the backups of a system root live when nothing
// says otherwise: <root>/backups or, for a drill's sandbox, the drill's
// backups beside it; else $DRBOOK_BACKUP_DIR; else DefaultDir.
func CatalogueDir(root string, getenv func(string) string) string {
	if d := filepath.Join(root, "backups"); isDir(d) {
		return d
	}
	if d := filepath.Join(filepath.Dir(root), "backups"); isSandbox(root) && isDir(d) {
		return d
	}
	if d := getenv("DRBOOK_BACKUP_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// isSandbox reports whether root is a drbook sandbox (system.IsSandbox).
func isSandbox(root string) bool { return system.IsSandbox(root) }

// S3FromEnv reads DRBOOK_S3 (s3://bucket/prefix), DRBOOK_S3_ENDPOINT and
// DRBOOK_S3_REGION; nil when DRBOOK_S3 is unset.
func S3FromEnv(getenv func(string) string) *S3Config {
	u := getenv("DRBOOK_S3")
	if u == "" {
		return nil
	}
	return &S3Config{URL: u, Endpoint: getenv("DRBOOK_S3_ENDPOINT"), Region: getenv("DRBOOK_S3_REGION")}
}

// validateStaged runs the checks that fit the parts being restored on a
// staged root: critical tables and the plan's data validation for the
// database, the configuration check for config and .env. It returns the
// failures, one line each; warnings (pending trades) do not stop a restore.
func validateStaged(ctx context.Context, root string, parts []string) ([]string, []string, error) {
	var only []string
	if contains(parts, PartDB) {
		only = append(only, checks.CriticalTables, checks.DataValidation)
	}
	if contains(parts, PartConfig) || contains(parts, PartEnv) {
		only = append(only, checks.Config)
	}
	if len(only) == 0 {
		return nil, nil, nil
	}
	var fails, warns []string
	// No memory-mapped reads: mapped pages count as resident memory, and
	// a restore stays within its memory budget whatever the database size.
	_, err := checks.Run(ctx, checks.Options{Root: root, Only: only, MmapSize: -1}, func(f checks.Finding) {
		line := f.Check + " " + f.Item + ": " + f.Message
		switch f.Status {
		case checks.Fail:
			fails = append(fails, line)
		case checks.Warn:
			warns = append(warns, line)
		}
	})
	return fails, warns, err
}
