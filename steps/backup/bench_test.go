package backup_test

import (
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
