package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/backup"
)

// needTools skips a test when a binary it drives is missing.
func needTools(t *testing.T, bins ...string) {
	t.Helper()
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
}

// planArchive packs dir (relative to its parent) the way the plan's script
// does, tar czf then gpg --symmetric with AES-256, plus any extra tar
// flags (gzip's level may be lowered for speed with
// --use-compress-program: the format is the same), and returns the archive's path. dir is removed afterwards, as the
// script's copy would be on another machine.
func planArchive(t *testing.T, dir string, tarFlags ...string) string {
	t.Helper()
	needTools(t, "tar", "gpg")
	// A short home: gpg-agent's socket path must fit in 108 bytes.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	pf := filepath.Join(home, "pass")
	MustWrite(t, pf, testPass)
	tgz := dir + ".tar.gz"
	if !strings.Contains(strings.Join(tarFlags, " "), "--use-compress-program") {
		tarFlags = append(tarFlags, "-z")
	}
	args := append(append([]string{"-C", filepath.Dir(dir)}, tarFlags...), "-cf", tgz, filepath.Base(dir))
	if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	out := tgz + ".gpg"
	gpg := exec.Command("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase-file", pf,
		"--cipher-algo", "AES256", "--compress-algo", "1", "--symmetric", "--output", out, tgz)
	if b, err := gpg.CombinedOutput(); err != nil {
		t.Fatalf("gpg: %v: %s", err, b)
	}
	os.Remove(tgz)
	os.RemoveAll(dir)
	return out
}

// planDir lays out what the plan's script copies: quantai_<stamp>.db,
// config/, env_<stamp>, logs/, from a small real system.
func planDir(t *testing.T, marker string) string {
	t.Helper()
	sys := MustRoot(t, marker, 20)
	stamp := "20260104_020000"
	dir := filepath.Join(t.TempDir(), stamp)
	os.MkdirAll(dir, 0o755)
	needTools(t, "cp")
	for _, c := range [][]string{
		{"cp", filepath.Join(sys, "data", "quantai.db"), filepath.Join(dir, "quantai_"+stamp+".db")},
		{"cp", "-r", filepath.Join(sys, "config"), filepath.Join(dir, "config")},
		{"cp", filepath.Join(sys, ".env"), filepath.Join(dir, "env_"+stamp)},
		{"cp", "-r", filepath.Join(sys, "logs"), filepath.Join(dir, "logs")},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", c, err, out)
		}
	}
	return dir
}

// sparse makes a file of size bytes that takes no disk: zeros to any reader.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// smallFS mounts a 64 MiB tmpfs, or skips the test saying which tests
// still cover what it would have.
func smallFS(t *testing.T, coveredBy string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); covered without one by %s", err, strings.TrimSpace(string(out)), coveredBy)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// noStaging fails if anything of a restore's staging is left in root.
func noStaging(t *testing.T, root string) {
	t.Helper()
	if m, _ := filepath.Glob(filepath.Join(root, ".drbook-restore-*")); len(m) > 0 {
		t.Errorf("staging left behind: %v", m)
	}
}

// TestRestoreRefusesExpansionBomb: small archives, encrypted the way the
// plan's script does, that unpack to far more than they weigh. A dry run
// must refuse each at the --max-expand cap before writing it, name the
// archive, the cap and how to raise it, and leave nothing behind.
func TestRestoreRefusesExpansionBomb(t *testing.T) {
	cases := []struct {
		name     string
		build    func(t *testing.T) string
		expand   string
		capShown string
	}{
		{"2 GiB sparse database, GNU tar --sparse (PAX)", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "20260104_020000")
			os.Mkdir(dir, 0o755)
			sparse(t, filepath.Join(dir, "quantai_20260104_020000.db"), 2<<30)
			return planArchive(t, dir, "--format=pax", "--sparse")
		}, "", ""},
		{"zero-filled 128 MiB database, plain tar czf", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "20260104_020000")
			os.Mkdir(dir, 0o755)
			sparse(t, filepath.Join(dir, "quantai_20260104_020000.db"), 128<<20) // tar reads the holes as zeros
			return planArchive(t, dir)
		}, "", ""},
		{"genuine plan archive under an explicit absolute cap", func(t *testing.T) string {
			return planArchive(t, planDir(t, "genuine"))
		}, "20KiB", "20.0 KiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			archive := c.build(t)
			fi, err := os.Stat(archive)
			if err != nil {
				t.Fatal(err)
			}
			capShown := c.capShown
			if capShown == "" { // the default: 100 times the archive, at least 64 MiB
				capShown = backup.FormatSize(max(100*fi.Size(), 64<<20))
			}
			live := MustRoot(t, "live", 3)
			before := snapshotTree(t, live)
			o := restoreOpts(live, archive)
			o.DryRun = true
			if c.expand != "" {
				e, err := backup.ParseExpansion(c.expand)
				if err != nil {
					t.Fatal(err)
				}
				o.MaxExpand = e
			}
			var staged int64
			o.Emit = func(ev steps.Event) {
				if p := ev.Progress; p != nil && p.Phase == "unpack" {
					staged = p.Done
				}
			}
			_, err = backup.Restore(context.Background(), o)
			if !errors.Is(err, backup.ErrTooLarge) {
				t.Fatalf("error %v, want ErrTooLarge", err)
			}
			for _, want := range []string{archive, capShown, "--max-expand", "before it was written"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if h := hint.Of(err); !strings.Contains(h, "--max-expand 5GiB") {
				t.Errorf("hint %q does not say how to raise the cap", h)
			}
			if staged > 0 {
				t.Errorf("%d bytes staged before the refusal", staged)
			}
			assertUnchanged(t, live, before)
			noStaging(t, live)
		})
	}
}

// TestRestoreMaxExpandRaised: the same genuine archive restores with the
// default cap and with a raised one; only the explicit cap refused it.
func TestRestoreMaxExpandRaised(t *testing.T) {
	archive := planArchive(t, planDir(t, "genuine"))
	for _, expand := range []string{"", "5GiB", "200x"} {
		live := MustRoot(t, "live", 3)
		o := restoreOpts(live, archive)
		o.DryRun = true
		if expand != "" {
			e, err := backup.ParseExpansion(expand)
			if err != nil {
				t.Fatal(err)
			}
			o.MaxExpand = e
		}
		res, err := backup.Restore(context.Background(), o)
		if err != nil {
			t.Fatalf("--max-expand %q: %v", expand, err)
		}
		if res.Kind != "plan-script" || res.Status != "unverified" {
			t.Errorf("--max-expand %q: kind %q status %q", expand, res.Kind, res.Status)
		}
		noStaging(t, live)
	}
}

func TestParseExpansion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64 // Limit for a 1 MiB archive
	}{
		{"5GiB", 5 << 30}, {"5G", 5 << 30}, {"500MiB", 500 << 20}, {"1.5GiB", 3 << 29}, {"1073741824", 1 << 30},
		{"200x", 200 << 20}, {"2x", 64 << 20}, {"", 100 << 20},
	} {
		e, err := backup.ParseExpansion(c.in)
		if c.in == "" {
			e, err = backup.Expansion{}, nil
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := e.Limit(1 << 20); got != c.want {
			t.Errorf("%q: limit %d, want %d", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"lots", "0", "0.5x", "-1GiB", "5 parsecs", "x"} {
		if _, err := backup.ParseExpansion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestRestoreStagingKeepsFreeSpace puts the live system on a small
// filesystem and restores archives that unpack to more than it holds,
// with --max-expand out of the way: staging stops at the free space less
// the margin kept for the live system, before the disk fills.
func TestRestoreStagingKeepsFreeSpace(t *testing.T) {
	mnt := smallFS(t, "TestBudget and TestRestoreRefusesExpansionBomb (the --max-expand cap)")
	cases := []struct {
		name  string
		build func(t *testing.T) string
	}{
		{"many zero-filled logs, plain tar czf", func(t *testing.T) string {
			dir := planDir(t, "bomb")
			for i := 0; i < 12; i++ {
				sparse(t, filepath.Join(dir, "logs", fmt.Sprintf("trades-%02d.log", i)), 8<<20)
			}
			return planArchive(t, dir, "--use-compress-program=gzip -1")
		}},
		{"2 GiB sparse database, GNU tar --sparse (PAX)", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "20260104_020000")
			os.Mkdir(dir, 0o755)
			sparse(t, filepath.Join(dir, "quantai_20260104_020000.db"), 2<<30)
			return planArchive(t, dir, "--format=pax", "--sparse")
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			archive := c.build(t)
			live := filepath.Join(mnt, fmt.Sprint("sys", i))
			if out, err := exec.Command("cp", "-a", MustRoot(t, "live", 3), live).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v: %s", err, out)
			}
			before := snapshotTree(t, live)
			freeBefore := freeBytes(t, mnt)
			// After each file staged, the filesystem must still have the
			// margin free (16 MiB: 5% of 64 MiB is less).
			minFree, files := freeBefore, 0
			backup.SetCrashHook(func(point string) {
				if point == "unpacked" {
					files++
					minFree = min(minFree, freeBytes(t, mnt))
				}
			})
			defer backup.SetCrashHook(func(string) {})
			o := restoreOpts(live, archive)
			o.DryRun = true
			o.MaxExpand = backup.Expansion{Bytes: 1 << 40}
			_, err := backup.Restore(context.Background(), o)
			if !errors.Is(err, backup.ErrDiskFull) || !strings.Contains(err.Error(), "kept free for the live system") || !strings.Contains(err.Error(), archive) {
				t.Fatalf("error %v, want a refusal at the free-space cap naming the archive", err)
			}
			if strings.Contains(err.Error(), "no space left") {
				t.Errorf("the filesystem filled up: %v", err)
			}
			if h := hint.Of(err); !strings.Contains(h, "free at least") {
				t.Errorf("hint %q", h)
			}
			if minFree < 15<<20 {
				t.Errorf("staging left only %d bytes free", minFree)
			}
			t.Logf("%d files staged before the refusal; least free %d MiB", files, minFree>>20)
			assertUnchanged(t, live, before)
			noStaging(t, live)
			if after := freeBytes(t, mnt); after < freeBefore-(1<<20) {
				t.Errorf("free space %d before, %d after", freeBefore, after)
			}
		})
	}
}

// TestRestoreCleansKilledStaging kills a restore while it unpacks, then
// runs another: the killed one's staging is removed, a directory that
// only looks like staging is not.
func TestRestoreCleansKilledStaging(t *testing.T) {
	src := MustRoot(t, "new", 200)
	out := MustBackup(t, src, t.TempDir(), 1, time.Now())
	live := MustRoot(t, "base", 5)

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DRBOOK_TEST_CHILD=restore", "ROOT="+live, "FROM="+out.ArchivePath, "CRASH_POINT=unpacked")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() {
		t.Errorf("restore child was not killed while unpacking: %v\n%s", err, stderr.String())
	}
	killed, _ := filepath.Glob(filepath.Join(live, ".drbook-restore-*"))
	if len(killed) != 1 {
		t.Errorf("a killed restore left %v", killed)
	}
	if MustMarker(t, filepath.Join(live, "data", "quantai.db")) != "base" {
		t.Error("a restore killed while staging changed the live database")
	}
	// And one left as a killed restore of this format leaves it (the
	// marker's first line is the format: a later drbook must know it).
	byHand := filepath.Join(live, ".drbook-restore-1234567")
	MustWrite(t, filepath.Join(byHand, ".drbook-staging"), "drbook restore staging v1\npid 4242\nroot "+live+"\n")
	MustWrite(t, filepath.Join(byHand, "x", "quantai_20260104T103000Z_t1", "data", "quantai.db"), "half a database")
	killed = append(killed, byHand)

	// Not drbook's: a directory without the marker, one whose marker is a
	// symbolic link, one whose marker says something else.
	mine := filepath.Join(live, ".drbook-restore-notes")
	MustWrite(t, filepath.Join(mine, "keep.txt"), "operator's notes\n")
	linked := filepath.Join(live, ".drbook-restore-linked")
	os.Mkdir(linked, 0o755)
	MustWrite(t, filepath.Join(t.TempDir(), "m"), "drbook restore staging v1\n")
	os.Symlink(filepath.Join(t.TempDir(), "m"), filepath.Join(linked, ".drbook-staging"))
	other := filepath.Join(live, ".drbook-restore-other")
	MustWrite(t, filepath.Join(other, ".drbook-staging"), "something else\n")

	o := restoreOpts(live, out.ArchivePath)
	o.DryRun = true
	var lines []string
	o.Emit = func(ev steps.Event) { lines = append(lines, ev.Line) }
	res, err := backup.Restore(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range killed {
		if exists(k) {
			t.Errorf("the killed restore's staging %s is still there", k)
		}
	}
	if !strings.Contains(strings.Join(lines, "\n"), "interrupted") {
		t.Errorf("the cleanup was not reported: %q", lines)
	}
	for _, d := range []string{mine, linked, other} {
		if !exists(d) {
			t.Errorf("%s, not drbook's, was deleted", d)
		}
		if !strings.Contains(strings.Join(res.Warnings, "\n"), d) {
			t.Errorf("no warning names %s: %q", d, res.Warnings)
		}
	}
	if MustRead(t, filepath.Join(mine, "keep.txt")) != "operator's notes\n" {
		t.Error("the operator's file changed")
	}
}

// TestRestoreManifestDeletedIsUnverified: an intact drbook archive whose
// manifest was deleted restores with an explicit --from, and says it is
// unverified and what was checked instead; with its manifest it is
// verified.
func TestRestoreManifestDeletedIsUnverified(t *testing.T) {
	src := MustRoot(t, "intact", 50)
	out := MustBackup(t, src, t.TempDir(), 1, time.Date(2026, 1, 4, 10, 30, 0, 0, time.UTC))

	res, err := backup.Restore(context.Background(), restoreOpts(MustRoot(t, "live", 3), out.ArchivePath))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "verified" || !strings.HasPrefix(res.Verified, "verified: ") {
		t.Errorf("with its manifest: status %q, %q", res.Status, res.Verified)
	}

	if err := os.Remove(out.ManifestPath); err != nil {
		t.Fatal(err)
	}
	live := MustRoot(t, "live", 3)
	res, err = backup.Restore(context.Background(), restoreOpts(live, out.ArchivePath))
	if err != nil {
		t.Fatalf("restore without its manifest: %v", err)
	}
	if res.Status != "unverified" {
		t.Errorf("status %q, want unverified", res.Status)
	}
	for _, want := range []string{"unverified", filepath.Base(out.ManifestPath) + " is missing", "checked instead", "MDC", "integrity_check"} {
		if !strings.Contains(res.Verified, want) {
			t.Errorf("%q does not say %q", res.Verified, want)
		}
	}
	if !res.BackupTime.Equal(time.Date(2026, 1, 4, 10, 30, 0, 0, time.UTC)) {
		t.Errorf("backup time %v, want the archive name's", res.BackupTime)
	}
	if MustMarker(t, filepath.Join(live, "data", "quantai.db")) != "intact" {
		t.Error("not restored")
	}
}

// fill writes zeros into a file in dir until the filesystem is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	if f == nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Whatever small writes still fit.
	for _, n := range []int{4096, 512, 1} {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
}

// TestRestorePostSwapDiskFull: the disk fills up after the swap completed
// (the trading system, or anything else, took the space). The quick_check
// after the swap cannot run; the restore must say it is done and that the
// check could not run because the disk is full, never that the restored
// data failed its checks.
func TestRestorePostSwapDiskFull(t *testing.T) {
	mnt := smallFS(t, "TestPostSwapCheckTellsDamageFromNotRun (the classification alone)")
	out := MustBackup(t, MustRoot(t, "restored", 200), t.TempDir(), 1, time.Now())
	live := filepath.Join(mnt, "sys")
	if b, err := exec.Command("cp", "-a", MustRoot(t, "old", 5), live).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, b)
	}
	backup.SetCrashHook(func(point string) {
		if point == "renamed" { // the database is swapped in
			fill(t, mnt)
		}
	})
	defer backup.SetCrashHook(func(string) {})
	res, err := backup.Restore(context.Background(), restoreOpts(live, out.ArchivePath))
	os.Remove(filepath.Join(mnt, "filler"))
	if err == nil {
		t.Fatalf("no error from a restore whose check after the swap could not run (post check %q)", res.PostCheck)
	}
	t.Logf("error: %v\nhint: %s", err, hint.Of(err))
	if errors.Is(err, backup.ErrCheckFailed) || strings.Contains(err.Error(), "failed its checks") {
		t.Errorf("a full disk reported as restored data that failed its checks: %v", err)
	}
	if !errors.Is(err, backup.ErrPostCheckNotRun) || !errors.Is(err, backup.ErrDiskFull) {
		t.Errorf("error %v, want ErrPostCheckNotRun and ErrDiskFull", err)
	}
	for _, want := range []string{"done", "disk is full", "could not run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if res == nil || res.PostCheck != "could not run: disk full" || len(res.Aside) == 0 {
		t.Fatalf("result %+v", res)
	}
	if h := hint.Of(err); !strings.Contains(h, "free space") {
		t.Errorf("hint %q", h)
	}
	// The restore did complete: the restored database is live and whole.
	db := filepath.Join(live, "data", "quantai.db")
	if MustMarker(t, db) != "restored" || Integrity(t, db) != "ok" {
		t.Error("the restored database is not in place")
	}
}

// TestRestoreReportsUnpackProgress: the bytes staged are reported while a
// backup unpacks, against the manifest's total when there is one; the
// archive's own progress moves slowly when it expands a lot.
func TestRestoreReportsUnpackProgress(t *testing.T) {
	out := MustBackup(t, bigRoot(t), t.TempDir(), 1, time.Now())
	o := restoreOpts(MustRoot(t, "live", 3), out.ArchivePath)
	o.DryRun = true
	var got []steps.Progress
	o.Emit = func(ev steps.Event) {
		if ev.Progress != nil && ev.Progress.Phase == "unpack" {
			got = append(got, *ev.Progress)
		}
	}
	if _, err := backup.Restore(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no unpack progress for 12 MiB staged")
	}
	for i, p := range got {
		if p.Total != out.Manifest.TotalSize() || p.Done > p.Total || p.Unit != "bytes" || i > 0 && p.Done <= got[i-1].Done {
			t.Errorf("progress %+v (total %d)", p, out.Manifest.TotalSize())
		}
	}
}
