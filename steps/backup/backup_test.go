package backup_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/steps/backup"
)

// MustBackup takes a tier backup of root into dir.
func MustBackup(tb testing.TB, root, dir string, tier int, now time.Time) *backup.Outcome {
	tb.Helper()
	out, err := backup.Backup(context.Background(), backup.Options{
		Root: root, Dir: dir, Tier: tier, Passphrase: []byte(testPass),
		Now: func() time.Time { return now },
	})
	if err != nil {
		tb.Fatalf("backup: %v", err)
	}
	return out
}

func TestBackupWritesVerifiedArchiveAndManifest(t *testing.T) {
	for _, tier := range []int{1, 2} {
		root := MustRoot(t, "m1", 50)
		dir := t.TempDir()
		now := time.Date(2026, 1, 4, 10, 30, 0, 0, time.UTC)
		out := MustBackup(t, root, dir, tier, now)
		m := out.Manifest
		if got, want := filepath.Base(out.ArchivePath), "quantai_20260104T103000Z_t"+string(rune('0'+tier))+".tar.gz.gpg"; got != want {
			t.Errorf("archive name %q, want %q", got, want)
		}
		if m.DB == nil || m.Source == nil || m.Source.IntegrityCheck != "ok" || m.Source.Status != backup.StatusVerified || m.DB.PageCount == 0 || m.DB.Tables["trades"] != 50 {
			t.Errorf("db facts: %+v", m.DB)
		}
		paths := map[string]bool{}
		for _, f := range m.Files {
			paths[f.Path] = true
			if len(f.SHA256) != 64 {
				t.Errorf("%s: sha256 %q", f.Path, f.SHA256)
			}
		}
		for _, p := range []string{"data/quantai.db", "config/settings.yaml", "config/agents/momentum.json", ".env"} {
			if !paths[p] {
				t.Errorf("tier %d: manifest lacks %s: %v", tier, p, paths)
			}
		}
		if paths["logs/quantai.log"] != (tier >= 2) {
			t.Errorf("tier %d: logs present = %v", tier, paths["logs/quantai.log"])
		}
		if m.Verified.IsZero() {
			t.Error("manifest not marked verified")
		}
		fi, err := os.Stat(out.ArchivePath)
		if err != nil || fi.Size() != m.ArchiveSize {
			t.Errorf("archive size %v vs manifest %d (%v)", fi, m.ArchiveSize, err)
		}
		// Nothing but the archive and its manifest is left behind.
		des, _ := os.ReadDir(dir)
		if len(des) != 2 {
			var names []string
			for _, d := range des {
				names = append(names, d.Name())
			}
			t.Errorf("backup dir holds %v", names)
		}
		entries, err := backup.List(context.Background(), backup.Source{Dir: dir})
		if err != nil || len(entries) != 1 || !entries[0].Counts() || entries[0].Tier != tier {
			t.Errorf("list: %+v %v", entries, err)
		}
	}
}

// TestGPGOpensDrbookBackup: the plan's tools open drbook's archive with no
// drbook at all.
func TestGPGOpensDrbookBackup(t *testing.T) {
	for _, bin := range []string{"gpg", "tar", "sqlite3"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	root := MustRoot(t, "gpg", 200)
	out := MustBackup(t, root, t.TempDir(), 2, time.Now())
	work := t.TempDir()
	pf := filepath.Join(work, "pass")
	MustWrite(t, pf, testPass)
	gnupg := filepath.Join(work, "gnupg")
	os.Mkdir(gnupg, 0o700)
	cmd := exec.Command("sh", "-c", `gpg --homedir "$GNUPGHOME" --batch --pinentry-mode loopback --passphrase-file "$PF" --decrypt "$ARCHIVE" | tar xz -C "$OUT"`)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+gnupg, "PF="+pf, "ARCHIVE="+out.ArchivePath, "OUT="+work)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg | tar: %v\n%s", err, b)
	}
	base := filepath.Join(work, out.Manifest.Prefix)
	db := filepath.Join(base, "data", "quantai.db")
	b, err := exec.Command("sqlite3", db, "PRAGMA integrity_check").CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("sqlite3 integrity_check: %q %v", b, err)
	}
	if got := MustRead(t, filepath.Join(base, ".env")); got != MustRead(t, filepath.Join(root, ".env")) {
		t.Errorf(".env differs after gpg|tar: %q", got)
	}
	if got := MustMarker(t, db); got != "gpg" {
		t.Errorf("marker %q", got)
	}
}

// TestLatestIgnoresTempAndUnverified: neither a temp file nor a newer
// archive without a manifest (an interrupted backup) is ever "latest".
func TestLatestIgnoresTempAndUnverified(t *testing.T) {
	root := MustRoot(t, "l", 3)
	dir := t.TempDir()
	good := MustBackup(t, root, dir, 1, time.Date(2026, 1, 4, 10, 0, 0, 0, time.UTC))
	MustWrite(t, filepath.Join(dir, ".quantai_20991231T000000Z_t1.tar.gz.gpg.tmp-0a1b2c"), "partial")
	MustWrite(t, filepath.Join(dir, "quantai_20991231T000000Z_t1.tar.gz.gpg"), "no manifest")
	bad := filepath.Join(dir, "quantai_20991230T000000Z_t1.tar.gz.gpg")
	MustWrite(t, bad, "manifest lies about the size")
	m := *good.Manifest
	m.Archive = filepath.Base(bad)
	b, _ := json.Marshal(m)
	MustWrite(t, bad+backup.ManifestSuffix, string(b))

	entries, err := backup.List(context.Background(), backup.Source{Dir: dir})
	if err != nil || len(entries) != 3 {
		t.Fatalf("list: %+v %v", entries, err)
	}
	latest, err := backup.Latest(entries)
	if err != nil || latest.Path != good.ArchivePath {
		t.Errorf("latest is %+v (%v), want %s", latest, err, good.ArchivePath)
	}
	for _, e := range entries {
		if e.Path != good.ArchivePath && (e.Counts() || e.Problem == "") {
			t.Errorf("%s listed as verified or without a problem: %+v", e.Name, e)
		}
	}
}

// TestBackupRemovesStaleTempFiles: what a killed backup left behind a day
// ago goes; a running backup's fresh temp files stay.
func TestBackupRemovesStaleTempFiles(t *testing.T) {
	root := MustRoot(t, "s", 2)
	dir := t.TempDir()
	old := filepath.Join(dir, ".quantai_20260101T000000Z_t1.tar.gz.gpg.tmp-abc")
	fresh := filepath.Join(dir, ".quantai_20260104T000000Z_t1.tar.gz.gpg.tmp-def")
	oldDir := filepath.Join(dir, ".drbook-tmp-123")
	MustWrite(t, old, "x")
	MustWrite(t, fresh, "x")
	MustWrite(t, filepath.Join(oldDir, "quantai.db"), "x")
	long := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, long, long)
	os.Chtimes(oldDir, long, long)
	MustBackup(t, root, dir, 1, time.Now())
	if exists(old) || exists(oldDir) || !exists(fresh) {
		t.Errorf("stale removed: %v %v; fresh kept: %v", !exists(old), !exists(oldDir), exists(fresh))
	}
}
