package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoreStagingCaps: the restore command's --max-expand and what it
// says about a backup without a manifest.
func TestRestoreStagingCaps(t *testing.T) {
	for _, bin := range []string{"tar", "gpg"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	sys := mustSystem(t, "backed-up")
	dir := t.TempDir()
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("s3cret\n"), 0o600)
	env := map[string]string{"DRBOOK_BACKUP_DIR": dir}
	if _, errOut, code := runCLI(t, env, "backup", "--root", sys, "--passphrase-file", pf); code != 0 {
		t.Fatalf("backup: %d %s", code, errOut)
	}
	archives, _ := filepath.Glob(filepath.Join(dir, "*.tar.gz.gpg"))
	if len(archives) != 1 {
		t.Fatalf("archives %v", archives)
	}
	archive := archives[0]
	live := mustSystem(t, "live")

	if _, errOut, code := runCLI(t, env, "restore", "--root", live, "--from", archive, "--passphrase-file", pf, "--dry-run", "--max-expand", "lots"); code != 2 || !strings.Contains(errOut, "--max-expand") {
		t.Errorf("--max-expand lots: %d %q", code, errOut)
	}
	// An explicit cap applies to every archive.
	if _, errOut, code := runCLI(t, env, "restore", "--root", live, "--from", archive, "--passphrase-file", pf, "--dry-run", "--max-expand", "1KiB"); code != 2 ||
		!strings.Contains(errOut, archive) || !strings.Contains(errOut, "1.0 KiB") || !strings.Contains(errOut, "hint:") {
		t.Errorf("--max-expand 1KiB: %d %q", code, errOut)
	}
	out, errOut, code := runCLI(t, env, "restore", "--root", live, "--from", archive, "--passphrase-file", pf, "--dry-run")
	if code != 0 || !strings.Contains(out, "backup: verified: ") {
		t.Errorf("restore --dry-run with a manifest: %d %q %q", code, out, errOut)
	}

	// The manifest is deleted: the archive still restores with an
	// explicit --from, and says it is unverified and what was checked.
	if err := os.Remove(archive + ".manifest.json"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, env, "restore", "--root", live, "--from", archive, "--passphrase-file", pf, "--dry-run")
	if code != 0 || !strings.Contains(out, "backup: unverified: no manifest") || !strings.Contains(out, "checked instead") {
		t.Errorf("restore --dry-run without a manifest: %d %q %q", code, out, errOut)
	}

	// A 2 GiB sparse database in an archive of a few hundred bytes, packed
	// and encrypted as the plan's script does.
	work := t.TempDir()
	stamp := filepath.Join(work, "20260104_020000")
	os.Mkdir(stamp, 0o755)
	f, _ := os.Create(filepath.Join(stamp, "quantai_20260104_020000.db"))
	f.Truncate(2 << 30)
	f.Close()
	home, err := os.MkdirTemp("", "gpg") // gpg-agent's socket path must be short
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	bomb := stamp + ".tar.gz.gpg"
	script := `set -e
tar -C "$W" --format=pax --sparse -czf "$W/b.tar.gz" 20260104_020000
gpg --homedir "$H" --batch --pinentry-mode loopback --passphrase-file "$PF" --cipher-algo AES256 --symmetric --output "$OUT" "$W/b.tar.gz"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "W="+work, "H="+home, "PF="+pf, "OUT="+bomb)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the archive: %v: %s", err, b)
	}
	os.RemoveAll(stamp)
	_, errOut, code = runCLI(t, env, "restore", "--root", live, "--from", bomb, "--passphrase-file", pf, "--dry-run")
	if code != 2 || !strings.Contains(errOut, "expands past the limit") || !strings.Contains(errOut, "64.0 MiB") || !strings.Contains(errOut, "--max-expand 5GiB") {
		t.Errorf("restore of a 2 GiB bomb: %d %q", code, errOut)
	}
	if m, _ := filepath.Glob(filepath.Join(live, ".drbook-restore-*")); len(m) > 0 {
		t.Errorf("staging left behind: %v", m)
	}
}
