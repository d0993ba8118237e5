package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/checks"
	"github.com/drbook/drbook/steps/backup"
)

// mustEntry lists dir and returns the entry for archive.
func mustEntry(tb testing.TB, src backup.Source, name string) backup.Entry {
	tb.Helper()
	entries, err := backup.List(context.Background(), src)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == name {
			return e
		}
	}
	tb.Fatalf("%s not listed in %+v", name, entries)
	return backup.Entry{}
}

// TestDamagedSourceInManifest: a torn page in the live database gives an
// archive that reads back intact, kept, whose manifest records the failed
// integrity_check and never says verified.
func TestDamagedSourceInManifest(t *testing.T) {
	root := MustRoot(t, "torn", 3000)
	dir := t.TempDir()
	db := filepath.Join(root, "data", "quantai.db")
	// Checkpoint the WAL into the file, as a quiet system's database is.
	if got := Integrity(t, db); got != "ok" {
		t.Fatal(got)
	}
	fi, _ := os.Stat(db)
	page := fi.Size()/4096 - 2
	f, _ := os.OpenFile(db, os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte{0xa5}, 4096), page*4096)
	f.Close()

	out, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, Tier: 1, Passphrase: []byte(testPass)})
	if !errors.Is(err, backup.ErrDamagedSource) || out == nil {
		t.Fatalf("backup of a torn database: %v (%+v)", err, out)
	}
	if out.Status() != backup.StatusDamagedSource || out.Manifest.Source == nil || out.Manifest.Source.IntegrityCheck == "ok" {
		t.Errorf("outcome %s, source %+v", out.Status(), out.Manifest.Source)
	}
	raw := MustRead(t, out.ManifestPath)
	if strings.Contains(raw, `"verified"`) || !strings.Contains(raw, `"read_back"`) {
		t.Errorf("manifest of a damaged-source backup:\n%s", raw)
	}
	e := mustEntry(t, backup.Source{Dir: dir}, filepath.Base(out.ArchivePath))
	if e.Status != backup.StatusDamagedSource || e.Counts() || !strings.Contains(e.Problem, "integrity_check") {
		t.Errorf("entry %+v", e)
	}
}

// TestOldManifestsAreTreatedHonestly: a manifest written by an older drbook
// (format 1: quick_check only, no data validation) is unverified until a
// restore test passes on it; with a failed quick_check it is damaged-source.
func TestOldManifestsAreTreatedHonestly(t *testing.T) {
	root := MustRoot(t, "old", 20)
	dir := t.TempDir()
	out := MustBackup(t, root, dir, 1, time.Date(2026, 1, 4, 10, 0, 0, 0, time.UTC))
	// Rewrite it the way the older drbook wrote it.
	writeOld := func(quick string) {
		var m map[string]any
		json.Unmarshal([]byte(MustRead(t, out.ManifestPath)), &m)
		delete(m, "source")
		m["verified"] = m["read_back"]
		delete(m, "read_back")
		m["format"] = 1
		m["db"].(map[string]any)["quick_check"] = quick
		b, _ := json.MarshalIndent(m, "", "  ")
		MustWrite(t, out.ManifestPath, string(b))
	}
	writeOld("ok")
	name := filepath.Base(out.ArchivePath)
	e := mustEntry(t, backup.Source{Dir: dir}, name)
	if e.Status != backup.StatusUnverified || e.Counts() || !strings.Contains(e.Problem, "drbook verify") {
		t.Errorf("format 1 manifest: %+v", e)
	}
	if _, err := backup.Latest([]backup.Entry{e}); !errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("an untested format 1 backup is latest: %v", err)
	}
	// A passing restore test is the evidence it lacked.
	if _, err := backup.Verify(context.Background(), backup.VerifyOptions{From: out.ArchivePath, Passphrase: []byte(testPass)}); err != nil {
		t.Fatal(err)
	}
	if e = mustEntry(t, backup.Source{Dir: dir}, name); e.Status != backup.StatusVerified {
		t.Errorf("format 1 manifest after a passing restore test: %+v", e)
	}
	writeOld("*** in database main ***\nPage 7: btreeInitPage() returns error code 11")
	if e = mustEntry(t, backup.Source{Dir: dir}, name); e.Status != backup.StatusDamagedSource || !strings.Contains(e.Problem, "quick_check") {
		t.Errorf("format 1 manifest with a failed quick_check: %+v", e)
	}
}

// TestS3RestoreTestFailureDemotesTheS3Copy: a restore test that fails on
// the S3 copy is recorded in the S3 manifest: every later listing sees it.
func TestS3RestoreTestFailureDemotesTheS3Copy(t *testing.T) {
	cfg, be := MustS3(t, nil)
	root := MustRoot(t, "s3v", 20)
	dir := t.TempDir()
	out, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, S3: cfg, Passphrase: []byte(testPass)})
	if err != nil {
		t.Fatal(err)
	}
	// Bit rot in the stored object: same size, other bytes.
	b := []byte(MustRead(t, out.ArchivePath))
	for i := len(b) / 2; i < len(b)/2+32; i++ {
		b[i] ^= 0xff
	}
	key := "quantai/daily/" + filepath.Base(out.ArchivePath)
	if _, err := be.DeleteObject("bk", key); err != nil {
		t.Fatal(err)
	}
	if _, err := be.PutObject("bk", key, map[string]string{}, bytes.NewReader(b), int64(len(b)), nil); err != nil {
		t.Fatal(err)
	}
	res, err := backup.Verify(context.Background(), backup.VerifyOptions{From: out.S3URL, S3: cfg, Passphrase: []byte(testPass)})
	if !errors.Is(err, backup.ErrCorrupt) || res == nil || !res.Recorded {
		t.Fatalf("verify of a rotten S3 copy: %v %+v", err, res)
	}
	e := mustEntry(t, backup.Source{S3: cfg}, filepath.Base(out.ArchivePath))
	if e.Status != backup.StatusRestoreTestFailed || e.Counts() {
		t.Errorf("S3 copy after a failed restore test: %+v", e)
	}
	// The local copy was not tested and is still verified; latest is it.
	all, _ := backup.List(context.Background(), backup.Source{Dir: dir, S3: cfg})
	if l, err := backup.Latest(all); err != nil || l.Location != "local" {
		t.Errorf("latest %+v %v", l, err)
	}
	rows, err := backup.Catalogue("", cfg)(context.Background())
	if err != nil || len(rows) != 1 || rows[0].Counts || rows[0].Status != "restore-test-failed" {
		t.Errorf("catalogue: %+v %v", rows, err)
	}
}

// TestPruneKeepsWhatCounts: prune keeps the newest verified backup of each
// tier, the newest verified one overall while only uncounted ones are
// newer, and everything in a place with no verified backup; it says why.
func TestPruneKeepsWhatCounts(t *testing.T) {
	root := MustRoot(t, "pk", 5)
	dir := t.TempDir()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	t1 := MustBackup(t, root, dir, 1, now.Add(-90*day))
	t2 := MustBackup(t, root, dir, 2, now.Add(-80*day))
	t1newer := MustBackup(t, root, dir, 1, now.Add(-70*day))
	// A newer backup demoted by a failed restore test, and a newer
	// damaged-source one.
	demoted := MustBackup(t, root, dir, 1, now.Add(-60*day))
	var m map[string]any
	json.Unmarshal([]byte(MustRead(t, demoted.ManifestPath)), &m)
	m["restore_test"] = map[string]any{"time": now.Add(-59 * day), "ok": false, "summary": "backup archive is corrupt"}
	b, _ := json.Marshal(m)
	MustWrite(t, demoted.ManifestPath, string(b))
	os.Truncate(filepath.Join(root, "data", "quantai.db"), 0)
	os.Remove(filepath.Join(root, "data", "quantai.db-wal"))
	damaged, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, Tier: 1, Passphrase: []byte(testPass),
		Now: func() time.Time { return now.Add(-50 * day) }})
	if !errors.Is(err, backup.ErrDamagedSource) {
		t.Fatalf("backup of an empty database: %v", err)
	}

	why := map[string]string{}
	opts := backup.PruneOptions{Source: backup.Source{Dir: dir}, Policy: backup.DefaultPolicy(), DryRun: true,
		Now: func() time.Time { return now }, Kept: func(p backup.Pruned) { why[p.Path] = p.Reason }}
	pruned, err := backup.Prune(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, p := range pruned {
		gone[p.Path] = true
	}
	for _, k := range []*backup.Outcome{t1newer, t2} {
		if gone[k.ArchivePath] || why[k.ArchivePath] == "" {
			t.Errorf("%s: deleted %v, kept because %q", k.ArchivePath, gone[k.ArchivePath], why[k.ArchivePath])
		}
	}
	if !strings.Contains(why[t1newer.ArchivePath], "the newest verified backup: the 2 newer ones do not count") ||
		!strings.Contains(why[t2.ArchivePath], "the newest verified tier 2 backup in local") {
		t.Errorf("reasons: %q", why)
	}
	for _, d := range []*backup.Outcome{t1, demoted, damaged} {
		if !gone[d.ArchivePath] {
			t.Errorf("%s past retention and not protected, yet kept (%q)", d.ArchivePath, why[d.ArchivePath])
		}
	}

	// A place with no verified backup keeps everything.
	only := t.TempDir()
	os.Rename(damaged.ArchivePath, filepath.Join(only, filepath.Base(damaged.ArchivePath)))
	os.Rename(damaged.ManifestPath, filepath.Join(only, filepath.Base(damaged.ManifestPath)))
	opts.Source.Dir, opts.DryRun = only, false
	if pruned, err := backup.Prune(context.Background(), opts); err != nil || len(pruned) != 0 {
		t.Errorf("prune where nothing counts: %+v %v", pruned, err)
	}
}

// TestFreshnessIgnoresBackupsThatDoNotCount: the check holds the RPO to the
// newest verified backup and warns of newer ones that are damaged.
func TestFreshnessIgnoresBackupsThatDoNotCount(t *testing.T) {
	ctx := context.Background()
	root := MustRoot(t, "fr", 5)
	dir := t.TempDir()
	MustBackup(t, root, dir, 1, time.Now().Add(-time.Hour))
	os.Truncate(filepath.Join(root, "data", "quantai.db"), 0)
	os.Remove(filepath.Join(root, "data", "quantai.db-wal"))
	if _, err := backup.Backup(ctx, backup.Options{Root: root, Dir: dir, Passphrase: []byte(testPass)}); !errors.Is(err, backup.ErrDamagedSource) {
		t.Fatalf("backup of an empty database: %v", err)
	}
	var newest checks.Finding
	checks.Run(ctx, checks.Options{Root: root, Only: []string{checks.BackupFreshness}, Backups: backup.Catalogue(dir, nil)}, func(f checks.Finding) {
		if f.Item == "newest" {
			newest = f
		}
	})
	if newest.Status != checks.Fail || !strings.Contains(newest.Message, "older than the RPO") || !strings.Contains(newest.Message, "damaged-source") {
		t.Errorf("newest: %+v", newest)
	}
}

// TestDestroyedHeaderIsNamed: a database whose first page is random bytes
// cannot be snapshotted at all; the backup says so, names the problem and
// leaves nothing behind.
func TestDestroyedHeaderIsNamed(t *testing.T) {
	root := MustRoot(t, "hdr", 20)
	dir := t.TempDir()
	db := filepath.Join(root, "data", "quantai.db")
	Integrity(t, db) // the last connection checkpoints the WAL
	os.Remove(db + "-wal")
	f, _ := os.OpenFile(db, os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte("not sqlite"), 410), 0)
	f.Close()
	out, err := backup.Backup(context.Background(), backup.Options{Root: root, Dir: dir, Passphrase: []byte(testPass)})
	if !errors.Is(err, backup.ErrDamagedSource) || out != nil || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Fatalf("backup of a database with a destroyed header: %v %+v", err, out)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("left behind: %v", des)
	}
}
