package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/drbook/drbook/steps/all"
	"github.com/drbook/drbook/steps/backup"
)

func restoreOpts(root, from string) backup.RestoreOptions {
	return backup.RestoreOptions{Root: root, From: from, Passphrase: []byte(testPass), Confirmed: true,
		Now:     func() time.Time { return time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) },
		Checker: backup.SelfChecker(), KillSwitch: all.KillSwitch{}}
}

// snapshotTree returns every file under root with its content, to prove a
// failed restore changed nothing.
func snapshotTree(tb testing.TB, root string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, _ := os.ReadFile(p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func assertUnchanged(tb testing.TB, root string, before map[string]string) {
	tb.Helper()
	after := snapshotTree(tb, root)
	for k, v := range before {
		if av, ok := after[k]; !ok || av != v {
			tb.Errorf("%s changed or vanished", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			tb.Errorf("%s appeared", k)
		}
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	src := MustRoot(t, "backup-time", 100)
	dir := t.TempDir()
	taken := time.Date(2026, 1, 4, 10, 30, 0, 0, time.UTC)
	out := MustBackup(t, src, dir, 1, taken)

	// The live system has moved on since the backup.
	live := MustRoot(t, "live-now", 7)
	MustWrite(t, filepath.Join(live, ".env"), "OPENAI_API_KEY=other\nIBKR_HOST=127.0.0.1\nIBKR_PORT=7497\nALPACA_API_KEY=ak\nTRADING_MODE=live\nEXTRA=1\n")
	MustWrite(t, filepath.Join(live, "config", "new.yaml"), "x: 1\n")

	// Dry run: reports, changes nothing.
	before := snapshotTree(t, live)
	o := restoreOpts(live, "latest")
	o.Dir = dir
	o.DryRun = true
	o.Confirmed = false
	res, err := backup.Restore(context.Background(), o)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	assertUnchanged(t, live, before)
	changes := map[string]string{}
	for _, c := range res.Changes {
		changes[c.Path+" "+c.Detail] = c.Part
	}
	text := strings.Join(keys(changes), "\n")
	for _, want := range []string{"variables removed: EXTRA", "variables changed: OPENAI_API_KEY, TRADING_MODE", "config/new.yaml not in the backup", "config/settings.yaml changed", "100 trades"} {
		if !strings.Contains(text, want) {
			t.Errorf("dry-run changes lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "sk-backup-time") || strings.Contains(text, "live") && strings.Contains(text, "TRADING_MODE=") {
		t.Errorf("change summary leaks .env values:\n%s", text)
	}

	// Unconfirmed: refused.
	o.DryRun = false
	if _, err := backup.Restore(context.Background(), o); !errors.Is(err, backup.ErrNotConfirmed) {
		t.Fatalf("unconfirmed restore: %v", err)
	}
	assertUnchanged(t, live, before)

	o.Confirmed = true
	res, err = backup.Restore(context.Background(), o)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !res.BackupTime.Equal(taken) || res.Kind != "drbook" || res.Source != out.ArchivePath {
		t.Errorf("result: %+v", res)
	}
	db := filepath.Join(live, "data", "quantai.db")
	if got := MustMarker(t, db); got != "backup-time" {
		t.Errorf("live marker after restore %q", got)
	}
	if got := Integrity(t, db); got != "ok" {
		t.Errorf("integrity %q", got)
	}
	if MustRead(t, filepath.Join(live, ".env")) != MustRead(t, filepath.Join(src, ".env")) {
		t.Error(".env not restored")
	}
	if exists(filepath.Join(live, "config", "new.yaml")) {
		t.Error("config/new.yaml should have moved aside with the old config")
	}
	// Originals are kept aside, intact.
	stamp := "20260105T090000Z"
	if got := MustMarker(t, db+".pre-restore-"+stamp); got != "live-now" {
		t.Errorf("kept-aside database marker %q", got)
	}
	if !strings.Contains(MustRead(t, filepath.Join(live, ".env.pre-restore-"+stamp)), "EXTRA=1") {
		t.Error("old .env not kept aside")
	}
	if !exists(filepath.Join(live, "config.pre-restore-"+stamp, "new.yaml")) {
		t.Error("old config not kept aside")
	}
	if MustRead(t, filepath.Join(live, "logs", "quantai.log")) != "started live-now\n" {
		t.Error("logs restored without being asked")
	}
	// No staging left behind.
	des, _ := os.ReadDir(live)
	for _, d := range des {
		if strings.HasPrefix(d.Name(), ".drbook-restore") {
			t.Errorf("staging left: %s", d.Name())
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestRestoreOnlyDB(t *testing.T) {
	src := MustRoot(t, "b", 5)
	dir := t.TempDir()
	out := MustBackup(t, src, dir, 1, time.Now())
	live := MustRoot(t, "l", 5)
	envBefore := MustRead(t, filepath.Join(live, ".env"))
	o := restoreOpts(live, out.ArchivePath)
	o.Only = []string{"db"}
	if _, err := backup.Restore(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if MustMarker(t, filepath.Join(live, "data", "quantai.db")) != "b" || MustRead(t, filepath.Join(live, ".env")) != envBefore {
		t.Error("--only db restored the wrong parts")
	}
}

// TestRestoreRefusesBadInput: every damaged or hostile input gets its own
// clear error and leaves the live system exactly as it was.
func TestRestoreRefusesBadInput(t *testing.T) {
	src := MustRoot(t, "b", 300)
	dir := t.TempDir()
	out := MustBackup(t, src, dir, 2, time.Now())
	good, _ := os.ReadFile(out.ArchivePath)
	manifest, _ := os.ReadFile(out.ManifestPath)

	type tc struct {
		name    string
		archive func(t *testing.T, path string) // writes a bad archive at path (+ manifest)
		pass    string
		want    error
		msg     string
	}
	withManifest := func(data []byte) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			os.WriteFile(p, data, 0o600)
			os.WriteFile(p+backup.ManifestSuffix, manifest, 0o600)
		}
	}
	rng := rand.New(rand.NewSource(1))
	cases := []tc{
		{name: "wrong passphrase", archive: withManifest(good), pass: "wrong", want: backup.ErrWrongPassphrase, msg: "wrong passphrase"},
		{name: "truncated", archive: withManifest(good[:len(good)*2/3]), want: backup.ErrCorrupt, msg: "manifest says"},
		{name: "truncated no manifest", archive: func(t *testing.T, p string) { os.WriteFile(p, good[:len(good)/2], 0o600) }, want: backup.ErrCorrupt, msg: "truncated"},
		{name: "trailing garbage no manifest", archive: func(t *testing.T, p string) { os.WriteFile(p, append(append([]byte{}, good...), "junk"...), 0o600) }, want: backup.ErrCorrupt, msg: "unexpected bytes"},
		{name: "manifest disagrees", archive: func(t *testing.T, p string) {
			os.WriteFile(p, good, 0o600)
			os.WriteFile(p+backup.ManifestSuffix, bytes.Replace(manifest, []byte(out.Manifest.Files[1].SHA256), []byte(strings.Repeat("0", 64)), 1), 0o600)
		}, want: backup.ErrCorrupt, msg: "manifest says"},
		{name: "manifest understates the size", archive: func(t *testing.T, p string) {
			os.WriteFile(p, good, 0o600)
			m := *out.Manifest
			m.Files = append([]backup.FileEntry(nil), m.Files...)
			m.Files[0].Size = 10
			b, _ := json.Marshal(m)
			os.WriteFile(p+backup.ManifestSuffix, b, 0o600)
		}, want: backup.ErrUnsafeArchive, msg: "exceed"},
		{name: "garbage manifest", archive: func(t *testing.T, p string) {
			os.WriteFile(p, good, 0o600)
			os.WriteFile(p+backup.ManifestSuffix, []byte("{not json"), 0o600)
		}, want: backup.ErrCorrupt, msg: "manifest"},
	}
	for i := 0; i < 12; i++ {
		off := rng.Intn(len(good))
		bit := byte(1 << rng.Intn(8))
		bad := append([]byte{}, good...)
		bad[off] ^= bit
		cases = append(cases, tc{name: "bit flip with manifest", archive: withManifest(bad), want: backup.ErrCorrupt, msg: "SHA-256"})
		cases = append(cases, tc{name: "bit flip without manifest", archive: func(t *testing.T, p string) { os.WriteFile(p, bad, 0o600) }, want: nil})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			live := MustRoot(t, "live", 3)
			before := snapshotTree(t, live)
			p := filepath.Join(t.TempDir(), "quantai_20260104T103000Z_t2.tar.gz.gpg")
			c.archive(t, p)
			o := restoreOpts(live, p)
			if c.pass != "" {
				o.Passphrase = []byte(c.pass)
			}
			_, err := backup.Restore(context.Background(), o)
			if err == nil {
				t.Fatal("restore of a bad archive succeeded")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
			if c.want == nil && !errors.Is(err, backup.ErrCorrupt) && !errors.Is(err, backup.ErrWrongPassphrase) {
				t.Errorf("error %v is neither corrupt nor wrong passphrase", err)
			}
			if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q lacks %q", err, c.msg)
			}
			if c.want == backup.ErrWrongPassphrase && errors.Is(err, backup.ErrCorrupt) {
				t.Errorf("wrong passphrase reported as corruption: %v", err)
			}
			assertUnchanged(t, live, before)
		})
	}
}

// hostileArchive builds an encrypted tar.gz with the given entries.
func hostileArchive(t *testing.T, path string, entries []*tar.Header) {
	t.Helper()
	var buf bytes.Buffer
	enc, err := openpgp.SymmetricallyEncrypt(&buf, []byte(testPass), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(enc)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte("A"), int(h.Size)))
		}
	}
	tw.Close()
	gz.Close()
	enc.Close()
	os.WriteFile(path, buf.Bytes(), 0o600)
}

func TestRestoreRefusesHostileTar(t *testing.T) {
	db := func(name string) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Size: 4, Mode: 0o600}
	}
	cases := []struct {
		name    string
		entries []*tar.Header
		msg     string
	}{
		{"dot-dot", []*tar.Header{db("x/data/quantai.db"), db("../x")}, "escapes"},
		{"dot-dot inside", []*tar.Header{db("x/../../x")}, "escapes"},
		{"absolute", []*tar.Header{db("/etc/x")}, "absolute"},
		{"symlink then file through it", []*tar.Header{{Name: "x/data", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}, db("x/data/quantai.db")}, "symbolic link"},
		{"hardlink", []*tar.Header{db("x/a"), {Name: "x/data/quantai.db", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}, "hard link"},
		{"char device", []*tar.Header{{Name: "x/dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}, "device"},
		{"block device", []*tar.Header{{Name: "x/sda", Typeflag: tar.TypeBlock}}, "device"},
		{"fifo", []*tar.Header{{Name: "x/p", Typeflag: tar.TypeFifo}}, "pipe"},
		{"duplicate", []*tar.Header{db("x/data/quantai.db"), db("x/data/quantai.db")}, "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			live := MustRoot(t, "live", 3)
			before := snapshotTree(t, live)
			outside := t.TempDir()
			p := filepath.Join(outside, "evil.tar.gz.gpg")
			hostileArchive(t, p, c.entries)
			_, err := backup.Restore(context.Background(), restoreOpts(live, p))
			if !errors.Is(err, backup.ErrUnsafeArchive) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want unsafe archive (%s)", err, c.msg)
			}
			assertUnchanged(t, live, before)
			if exists("/etc/x") || exists(filepath.Join(filepath.Dir(live), "x")) {
				t.Error("an entry escaped")
			}
		})
	}
}

// TestRestorePlanScriptArchive runs the plan's own backup script (section
// 1.3, paths adapted to a temp dir) with real sqlite3, tar and gpg, and
// restores what it made.
func TestRestorePlanScriptArchive(t *testing.T) {
	for _, bin := range []string{"gpg", "tar", "sqlite3"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	sys := MustRoot(t, "plan-script", 120)
	work := t.TempDir()
	pf := filepath.Join(work, "pass")
	MustWrite(t, pf, testPass)
	os.Mkdir(filepath.Join(work, "gnupg"), 0o700)
	script := `set -e
cd "$SYS"
BACKUP_DATE=$(date +%Y%m%d_%H%M%S)
BACKUP_DIR="$BACKUPS/$BACKUP_DATE"
mkdir -p "$BACKUP_DIR"
sqlite3 data/quantai.db ".backup $BACKUP_DIR/quantai_$BACKUP_DATE.db"
cp -r config/ "$BACKUP_DIR/config/"
cp .env "$BACKUP_DIR/env_$BACKUP_DATE"
cp -r logs/ "$BACKUP_DIR/logs/"
tar -czf "$BACKUP_DIR.tar.gz" "$BACKUP_DIR" 2>/dev/null
gpg --homedir "$GNUPGHOME" --batch --pinentry-mode loopback --passphrase-file "$PF" \
    --cipher-algo AES256 --compress-algo 1 --symmetric \
    --output "$BACKUP_DIR.tar.gz.gpg" "$BACKUP_DIR.tar.gz"
echo "$BACKUP_DIR.tar.gz.gpg"
`
	backups := filepath.Join(work, "backups", "quantai")
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "SYS="+sys, "BACKUPS="+backups, "GNUPGHOME="+filepath.Join(work, "gnupg"), "PF="+pf)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("plan script: %v", err)
	}
	archive := strings.TrimSpace(string(b))

	// Never "latest": it has no manifest.
	entries, err := backup.List(context.Background(), backup.Source{Dir: backups})
	if err != nil || len(entries) != 1 || entries[0].Counts() || entries[0].Kind != "plan-script" {
		t.Fatalf("list: %+v %v", entries, err)
	}
	if _, err := backup.Latest(entries); !errors.Is(err, backup.ErrNoBackup) {
		t.Errorf("plan-script archive taken as latest")
	}

	live := MustRoot(t, "live", 3)
	res, err := backup.Restore(context.Background(), restoreOpts(live, archive))
	if err != nil {
		t.Fatalf("restore plan archive: %v", err)
	}
	if res.Kind != "plan-script" || !strings.Contains(res.Verified, "no manifest") || res.BackupTime.IsZero() {
		t.Errorf("result %+v", res)
	}
	if time.Since(res.BackupTime) > time.Hour || time.Since(res.BackupTime) < 0 {
		t.Errorf("backup time %v is not the script's stamp", res.BackupTime)
	}
	db := filepath.Join(live, "data", "quantai.db")
	if MustMarker(t, db) != "plan-script" || Integrity(t, db) != "ok" {
		t.Error("database not restored from the plan's archive")
	}
	if MustRead(t, filepath.Join(live, ".env")) != MustRead(t, filepath.Join(sys, ".env")) {
		t.Error(".env not restored from env_<stamp>")
	}
	if MustRead(t, filepath.Join(live, "config", "settings.yaml")) != MustRead(t, filepath.Join(sys, "config", "settings.yaml")) {
		t.Error("config not restored")
	}

	// The wrong passphrase on an archive with no manifest: still its own error.
	o := restoreOpts(live, archive)
	o.Passphrase = []byte("nope")
	if _, err := backup.Restore(context.Background(), o); !errors.Is(err, backup.ErrWrongPassphrase) {
		t.Errorf("wrong passphrase on plan archive: %v", err)
	}
}

func TestRestoreFromSQLiteFile(t *testing.T) {
	src := MustRoot(t, "plain", 10)
	live := MustRoot(t, "live", 3)
	o := restoreOpts(live, filepath.Join(src, "data", "quantai.db"))
	o.Only = []string{"db"}
	res, err := backup.Restore(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != "sqlite-file" || MustMarker(t, filepath.Join(live, "data", "quantai.db")) != "plain" {
		t.Errorf("result %+v", res)
	}
}

// TestRestoreKeepsOwnership: run as root, restored files belong to the
// owner of the files they replace, not to root.
func TestRestoreKeepsOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change owners")
	}
	src := MustRoot(t, "b", 5)
	out := MustBackup(t, src, t.TempDir(), 1, time.Now())
	live := MustRoot(t, "l", 5)
	const uid, gid = 4242, 4343
	filepath.Walk(live, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, gid) })
	if _, err := backup.Restore(context.Background(), restoreOpts(live, out.ArchivePath)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"data/quantai.db", "config/settings.yaml", "config/agents/momentum.json", ".env"} {
		fi, err := os.Stat(filepath.Join(live, p))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
}

// TestRestoreTwiceInOneSecond: the second restore keeps its originals
// under a new name instead of failing or overwriting the first ones.
func TestRestoreTwiceInOneSecond(t *testing.T) {
	src := MustRoot(t, "b", 5)
	out := MustBackup(t, src, t.TempDir(), 1, time.Now())
	live := MustRoot(t, "first", 5)
	for i := 0; i < 2; i++ {
		if _, err := backup.Restore(context.Background(), restoreOpts(live, out.ArchivePath)); err != nil {
			t.Fatalf("restore %d: %v", i+1, err)
		}
	}
	db := filepath.Join(live, "data", "quantai.db")
	if MustMarker(t, db+".pre-restore-20260105T090000Z") != "first" || MustMarker(t, db+".pre-restore-20260105T090000Z-2") != "b" {
		t.Error("originals of the two restores not both kept")
	}
}
