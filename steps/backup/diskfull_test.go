package backup_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps/backup"
)

// MustTmpfs mounts a small tmpfs (needs root; skips otherwise).
func MustTmpfs(tb testing.TB, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		tb.Skipf("cannot mount a tmpfs (%v: %s); the disk-full path is covered by TestArchiveDiskFull", err, out)
	}
	tb.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

func TestBackupDiskFull(t *testing.T) {
	dir := MustTmpfs(t, "1m")
	root := bigRoot(t)
	_, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, Passphrase: []byte(testPass)})
	if !errors.Is(err, backup.ErrDiskFull) {
		t.Fatalf("error %v, want disk full", err)
	}
	if hint.Of(err) == "" {
		t.Error("no hint for a full disk")
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 0 {
		t.Errorf("backup dir not cleaned: %v", des)
	}
	entries, _ := backup.List(context.Background(), backup.Source{Dir: dir})
	if len(entries) != 0 {
		t.Errorf("listed after a failed backup: %+v", entries)
	}
}

func TestRestoreDiskFull(t *testing.T) {
	src := bigRoot(t)
	out := MustBackup(t, src, t.TempDir(), 1, time.Now())
	mnt := MustTmpfs(t, "3m")
	live := filepath.Join(mnt, "sys")
	// A small live system on the small filesystem.
	small := MustRoot(t, "live", 3)
	if err := exec.Command("cp", "-a", small, live).Run(); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, live)
	_, err := backup.Restore(context.Background(), restoreOpts(live, out.ArchivePath))
	if !errors.Is(err, backup.ErrDiskFull) {
		t.Fatalf("error %v, want disk full", err)
	}
	assertUnchanged(t, live, before)
}
