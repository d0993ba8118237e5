package backup_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/drbook/drbook/steps/backup"
)

// BenchmarkBackupRestore backs up and restores the sandbox named by
// $DRBOOK_BENCH_ROOT (bench/backup.sh makes one); without it, a small one.
func BenchmarkBackupRestore(b *testing.B) {
	root := os.Getenv("DRBOOK_BENCH_ROOT")
	if root == "" {
		root = MustRoot(b, "bench", 20000)
	}
	fi, err := os.Stat(filepath.Join(root, "data", "quantai.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		out, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, Passphrase: []byte(testPass)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := backup.Verify(context.Background(), backup.VerifyOptions{From: out.ArchivePath, Passphrase: []byte(testPass), Scratch: dir}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestore restores the archive named by $DRBOOK_BENCH_ARCHIVE
// (with $DRBOOK_BENCH_PASSFILE) into an empty root, the whole way: stage,
// checks, swap, quick_check. For profiling: go test -bench Restore -cpuprofile.
func BenchmarkRestore(b *testing.B) {
	archive := os.Getenv("DRBOOK_BENCH_ARCHIVE")
	if archive == "" {
		b.Skip("set DRBOOK_BENCH_ARCHIVE and DRBOOK_BENCH_PASSFILE")
	}
	pass, err := os.ReadFile(os.Getenv("DRBOOK_BENCH_PASSFILE"))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		root := b.TempDir()
		res, err := backup.Restore(context.Background(), backup.RestoreOptions{Root: root, From: archive,
			Passphrase: bytes.TrimRight(pass, "\n"), Confirmed: true, Only: []string{backup.PartDB, backup.PartConfig, backup.PartEnv, backup.PartLogs}})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("timings: %v", res.Timings)
	}
}
