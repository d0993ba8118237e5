package cli_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The catalogue's promises, tried the way an operator meets them: a demo
// sandbox, real backups, a database damaged the way a disk damages it
// (random bytes over one 4 KiB page, as `dd if=/dev/urandom bs=4096
// seek=562 count=1 conv=notrunc` does), then every command that reads the
// catalogue.

type backupJSON struct {
	Archive  string `json:"archive"`
	Manifest string `json:"manifest"`
	Status   string `json:"status"`
	Verified bool   `json:"verified"`
}

type backupsJSON struct {
	Backups []struct {
		Name     string `json:"name"`
		Path     string `json:"path"`
		Status   string `json:"status"`
		Verified bool   `json:"verified"`
		Problem  string `json:"problem"`
	} `json:"backups"`
	Latest string `json:"latest"`
	RPOMet bool   `json:"rpo_met"`
}

// mustDemo creates a demo sandbox with drbook demo and returns its root,
// the backup directory and the environment the backup commands read.
func mustDemo(t *testing.T, trades string) (root, dir string, env map[string]string) {
	t.Helper()
	base := t.TempDir()
	root, dir = filepath.Join(base, "R"), filepath.Join(base, "B")
	if _, errOut, code := runCLI(t, nil, "demo", "--root", root, "--trades", trades); code != 0 {
		t.Fatalf("demo: %d %s", code, errOut)
	}
	return root, dir, map[string]string{"DRBOOK_BACKUP_DIR": dir, "DRBOOK_PASSPHRASE": "catalogue test"}
}

// damagePage overwrites one page of a file with random bytes, in place.
func damagePage(t *testing.T, path string, page int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Size() < (page+1)*4096 {
		t.Fatalf("%s is %d bytes: no page %d to damage", path, fi.Size(), page)
	}
	buf := make([]byte, 4096)
	io.ReadFull(rand.Reader, buf)
	if _, err := f.WriteAt(buf, page*4096); err != nil {
		t.Fatal(err)
	}
}

func mustBackupsJSON(t *testing.T, env map[string]string, args ...string) (backupsJSON, int) {
	t.Helper()
	out, errOut, code := runCLI(t, env, append([]string{"backups", "--json"}, args...)...)
	var l backupsJSON
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("backups --json: %d %v %q %s", code, err, out, errOut)
	}
	return l, code
}

// statusOf is the status `backups --json` gives the archive at path.
func (l backupsJSON) statusOf(path string) string {
	for _, b := range l.Backups {
		if b.Path == path {
			return b.Status
		}
	}
	return "(not listed)"
}

func TestDamagedPageNeverCounts(t *testing.T) {
	root, dir, env := mustDemo(t, "20000")
	db := filepath.Join(root, "data", "quantai.db")

	out, errOut, code := runCLI(t, env, "backup", "--root", root, "--json")
	var good backupJSON
	if err := json.Unmarshal([]byte(out), &good); code != 0 || err != nil {
		t.Fatalf("good backup: %d %v %q %s", code, err, out, errOut)
	}
	if good.Status != "verified" || !good.Verified {
		t.Errorf("good backup: status %q, verified %v", good.Status, good.Verified)
	}

	damagePage(t, db, 562)
	out, errOut, code = runCLI(t, env, "backup", "--root", root, "--json")
	var bad backupJSON
	json.Unmarshal([]byte(out), &bad)
	if code != 1 || bad.Status != "damaged-source" || bad.Verified || !strings.Contains(errOut, "integrity_check") {
		t.Errorf("backup of a damaged database: exit %d, want 1 naming the problem; %q %s", code, out, errOut)
	}
	// The archive is kept (it may be the best copy left), marked in its manifest.
	if _, err := os.Stat(bad.Archive); err != nil {
		t.Fatalf("damaged-source archive not kept: %v", err)
	}
	m, _ := os.ReadFile(bad.Manifest)
	if !strings.Contains(string(m), `"status": "damaged-source"`) || strings.Contains(string(m), `"verified"`) {
		t.Errorf("manifest of the damaged backup:\n%s", m)
	}

	// backups: both listed with their words; the RPO and latest from the good one.
	l, code := mustBackupsJSON(t, env)
	if code != 0 || len(l.Backups) != 2 || l.statusOf(good.Archive) != "verified" || l.statusOf(bad.Archive) != "damaged-source" ||
		l.Latest != good.Archive || !l.RPOMet {
		t.Errorf("backups: exit %d %+v", code, l)
	}
	text, _, _ := runCLI(t, env, "backups")
	if !strings.Contains(text, "damaged-source") || !strings.Contains(text, "integrity_check") {
		t.Errorf("backups does not show the damage:\n%s", text)
	}

	// check: backup-freshness counts only the good one, and warns of the damaged one.
	out, _, _ = runCLI(t, env, "check", "--root", root, "--backup-dir", dir, "--only", "backup-freshness", "--json")
	var rep struct {
		Findings []struct{ Item, Status, Message string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("check --json: %v %q", err, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Item == "newest" {
			found = true
			if f.Status == "pass" || !strings.Contains(f.Message, filepath.Base(good.Archive)) || !strings.Contains(f.Message, "damaged-source") {
				t.Errorf("backup-freshness: %+v", f)
			}
		}
	}
	if !found {
		t.Errorf("no backup-freshness finding: %s", out)
	}

	// restore --from latest picks the good one.
	out, errOut, code = runCLI(t, env, "restore", "--root", root, "--dry-run", "--json")
	var rr struct {
		Restore struct{ Source string }
	}
	json.Unmarshal([]byte(out), &rr)
	if code != 0 || rr.Restore.Source != good.Archive {
		t.Errorf("restore --dry-run picked %q (exit %d, %s), want %s", rr.Restore.Source, code, errOut, good.Archive)
	}

	// prune, with a retention shorter than both backups' age, keeps the
	// good one and says why.
	out, _, code = runCLI(t, env, "prune", "--dry-run", "--keep-local", "1ns")
	if code != 0 || strings.Contains(out, "would delete "+good.Archive) || !strings.Contains(out, "keep "+good.Archive) {
		t.Errorf("prune --dry-run: exit %d\n%s", code, out)
	}
	if _, _, code = runCLI(t, env, "prune", "--keep-local", "1ns"); code != 0 {
		t.Errorf("prune: exit %d", code)
	}
	if _, err := os.Stat(good.Archive); err != nil {
		t.Errorf("prune deleted the only good backup: %v", err)
	}
}

func TestEmptyDatabaseBackupNeverCounts(t *testing.T) {
	root, _, env := mustDemo(t, "200")
	db := filepath.Join(root, "data", "quantai.db")
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, env, "backup", "--root", root, "--json")
	var b backupJSON
	json.Unmarshal([]byte(out), &b)
	if code != 1 || b.Status != "damaged-source" || b.Verified || !strings.Contains(errOut, "empty") {
		t.Fatalf("backup of an empty database: exit %d, want 1 naming it empty; %q %s", code, out, errOut)
	}
	if _, err := os.Stat(b.Archive); err != nil {
		t.Errorf("archive not kept: %v", err)
	}
	l, code := mustBackupsJSON(t, env)
	if code != 1 || l.RPOMet || l.Latest != "" || l.statusOf(b.Archive) != "damaged-source" {
		t.Errorf("backups: exit %d %+v", code, l)
	}
	// restore latest: none counts; it says so and lists what exists.
	_, errOut, code = runCLI(t, env, "restore", "--root", root, "--dry-run")
	if code != 2 || !strings.Contains(errOut, "no verified backup") || !strings.Contains(errOut, filepath.Base(b.Archive)) ||
		!strings.Contains(errOut, "damaged-source") {
		t.Errorf("restore latest with only a damaged-source backup: exit %d %s", code, errOut)
	}
}

func TestFailedRestoreTestDemotes(t *testing.T) {
	root, _, env := mustDemo(t, "200")
	out, errOut, code := runCLI(t, env, "backup", "--root", root, "--json")
	var b backupJSON
	if err := json.Unmarshal([]byte(out), &b); code != 0 || err != nil {
		t.Fatalf("backup: %d %v %s", code, err, errOut)
	}
	orig, err := os.ReadFile(b.Archive)
	if err != nil {
		t.Fatal(err)
	}
	// Bit rot in the stored archive: same size, other bytes.
	rotten := append([]byte(nil), orig...)
	for i := len(rotten) / 2; i < len(rotten)/2+64; i++ {
		rotten[i] ^= 0x5a
	}
	os.WriteFile(b.Archive, rotten, 0o600)

	out, _, code = runCLI(t, env, "verify")
	if code != 2 || !strings.Contains(out, "restore-test-failed") {
		t.Errorf("verify of a rotten archive: exit %d %q", code, out)
	}
	l, code := mustBackupsJSON(t, env)
	if code != 1 || l.RPOMet || l.Latest != "" || l.statusOf(b.Archive) != "restore-test-failed" || l.Backups[0].Verified {
		t.Errorf("backups after a failed restore test: exit %d %+v", code, l)
	}
	if _, errOut, code = runCLI(t, env, "restore", "--root", root, "--dry-run"); code != 2 || !strings.Contains(errOut, "restore-test-failed") {
		t.Errorf("restore latest after a failed restore test: exit %d %s", code, errOut)
	}
	// A wrong passphrase says nothing about the backup and is not held against it.
	os.WriteFile(b.Archive, orig, 0o600)
	wrong := map[string]string{"DRBOOK_BACKUP_DIR": env["DRBOOK_BACKUP_DIR"], "DRBOOK_PASSPHRASE": "not it"}
	if _, _, code = runCLI(t, wrong, "verify", b.Archive); code != 2 {
		t.Errorf("verify with a wrong passphrase: exit %d", code)
	}
	if l, _ = mustBackupsJSON(t, env); l.statusOf(b.Archive) != "restore-test-failed" {
		t.Errorf("a wrong passphrase changed the record: %+v", l)
	}
	// The bytes are back (a transient read error, a re-copied file): a
	// passing restore test promotes it again.
	if out, errOut, code = runCLI(t, env, "verify", b.Archive); code != 0 {
		t.Fatalf("verify of the intact archive: exit %d %s %s", code, out, errOut)
	}
	if l, code = mustBackupsJSON(t, env); code != 0 || l.statusOf(b.Archive) != "verified" || l.Latest != b.Archive {
		t.Errorf("backups after a passing restore test: exit %d %+v", code, l)
	}
	if m, _ := os.ReadFile(b.Manifest); !strings.Contains(string(m), "last_failed_restore_test") {
		t.Errorf("the earlier failure is not kept in the manifest:\n%s", m)
	}
}

// TestUnreachableS3IsUnreadableInput: a store that cannot be reached is
// exit 2, as the help says, for every command that lists it; the local
// backups are still listed and nothing is deleted.
func TestUnreachableS3IsUnreadableInput(t *testing.T) {
	root, dir, env := mustDemo(t, "200")
	if _, errOut, code := runCLI(t, env, "backup", "--root", root); code != 0 {
		t.Fatalf("backup: %d %s", code, errOut)
	}
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	s3 := []string{"--s3", "s3://bk/quantai", "--s3-endpoint", endpoint}

	out, errOut, code := runCLI(t, env, append([]string{"backups"}, s3...)...)
	if code != 2 || !strings.Contains(out, "local") || !strings.Contains(errOut, "backup store") {
		t.Errorf("backups --s3 unreachable: exit %d, want 2\n%s%s", code, out, errOut)
	}
	if l, code := mustBackupsJSON(t, env, s3...); code != 2 || len(l.Backups) != 1 {
		t.Errorf("backups --json --s3 unreachable: exit %d %+v", code, l)
	}
	before, _ := os.ReadDir(dir)
	if out, errOut, code = runCLI(t, env, append([]string{"prune", "--keep-local", "1ns"}, s3...)...); code != 2 {
		t.Errorf("prune --s3 unreachable: exit %d, want 2\n%s%s", code, out, errOut)
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("prune deleted local backups while S3 was unreachable: %d files, was %d", len(after), len(before))
	}
	if _, errOut, code = runCLI(t, env, append([]string{"verify"}, s3...)...); code != 0 {
		// The newest verified backup is local: it is tested all the same.
		t.Errorf("verify with S3 unreachable and a local backup: exit %d %s", code, errOut)
	}
	obj := "s3://bk/quantai/quantai_20260101T000000Z_t1.tar.gz.gpg"
	if _, errOut, code = runCLI(t, env, "restore", "--root", root, "--dry-run", "--from", obj, "--s3-endpoint", endpoint); code != 2 {
		t.Errorf("restore --from s3:// unreachable: exit %d, want 2: %s", code, errOut)
	}
	if _, errOut, code = runCLI(t, env, "verify", obj, "--s3-endpoint", endpoint); code != 2 {
		t.Errorf("verify s3:// unreachable: exit %d, want 2: %s", code, errOut)
	}
	// backup: the local backup is good and kept, the upload failed: exit 1
	// (its help says so), and the local one counts.
	out, errOut, code = runCLI(t, env, append([]string{"backup", "--root", root, "--json"}, s3...)...)
	var b backupJSON
	json.Unmarshal([]byte(out), &b)
	if code != 1 || b.Status != "verified" || !strings.Contains(errOut, "S3 copy failed") {
		t.Errorf("backup --s3 unreachable: exit %d, want 1 with the local backup verified: %q %s", code, out, errOut)
	}
	if l, _ := mustBackupsJSON(t, env); l.Latest != b.Archive {
		t.Errorf("the local backup taken while S3 was unreachable is not latest: %+v", l)
	}
}
