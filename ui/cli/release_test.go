package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/drbook/drbook/ui/cli"
)

// releaseScript is .ci/release, from this package's directory.
var releaseScript = filepath.Join("..", "..", ".ci", "release")

// mustRun runs a command and returns its standard output; it fails the
// test with both outputs when the command fails.
func mustRun(tb testing.TB, env []string, dir, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// throwawayKey makes a GNUPGHOME holding a new signing key without a
// passphrase, and stops its agent when the test ends.
func throwawayKey(t *testing.T) (home, uid string) {
	t.Helper()
	// A short path: the agent's socket path has a length limit.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"GNUPGHOME=" + home}
	t.Cleanup(func() {
		_ = exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		os.RemoveAll(home)
	})
	uid = "drbook release test <release@drbook.invalid>"
	mustRun(t, env, "", "gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	return home, uid
}

// TestReleaseScript runs .ci/release as a release would: it builds the
// binaries (only the host's under -short; those DRBOOK_RELEASE_TARGETS
// names when it is set; both Linux targets otherwise), each under
// 40 MB, writes SHA256SUMS that sha256sum -c accepts, signs it with a
// throwaway key so that gpg --verify accepts the signature and refuses it
// for a changed SHA256SUMS, and the host's binary reports the stamped
// version, commit, date and Go version.
func TestReleaseScript(t *testing.T) {
	for _, bin := range []string{"bash", "go", "gpg", "sha256sum"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found: %v", bin, err)
		}
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	// The three release platforms; under -short only the host's.
	targets := "linux/amd64 linux/arm64 darwin/arm64"
	switch {
	case os.Getenv("DRBOOK_RELEASE_TARGETS") != "":
		targets = os.Getenv("DRBOOK_RELEASE_TARGETS")
	case testing.Short():
		targets = host
	}
	if !strings.Contains(targets, host) {
		t.Skipf("host %s is not a release platform", host)
	}
	home, uid := throwawayKey(t)
	out := t.TempDir()
	env := []string{"GNUPGHOME=" + home, "DRBOOK_RELEASE_TARGETS=" + targets, "SOURCE_DATE_EPOCH=1764662400"}
	log := mustRun(t, env, "", "bash", releaseScript, "--out", out, "--version", "v9.8.7-test", "--key", uid)

	var names []string
	for _, tg := range strings.Fields(targets) {
		name := "drbook-" + strings.ReplaceAll(tg, "/", "-")
		names = append(names, name)
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, log)
		}
		if st.Size() >= 40_000_000 {
			t.Errorf("%s is %d bytes, not under 40 MB", name, st.Size())
		}
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(sums), "\n"); got != len(names) {
		t.Errorf("SHA256SUMS has %d lines, want %d:\n%s", got, len(names), sums)
	}
	for _, n := range names {
		if !strings.Contains(string(sums), "  "+n+"\n") {
			t.Errorf("SHA256SUMS does not list %s:\n%s", n, sums)
		}
	}
	mustRun(t, nil, out, "sha256sum", "-c", "--strict", "SHA256SUMS")
	gpgEnv := append(os.Environ(), "GNUPGHOME="+home)
	verify := exec.Command("gpg", "--batch", "--verify", "SHA256SUMS.asc", "SHA256SUMS")
	verify.Dir, verify.Env = out, gpgEnv
	if b, err := verify.CombinedOutput(); err != nil || !strings.Contains(string(b), "Good signature") {
		t.Fatalf("gpg --verify: %v\n%s", err, b)
	}

	// A changed SHA256SUMS fails both checks.
	bad := bytes.Replace(sums, []byte(names[0]), []byte(names[0]+"x"), 1)
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	verify = exec.Command("gpg", "--batch", "--verify", "SHA256SUMS.asc", "SHA256SUMS")
	verify.Dir, verify.Env = out, gpgEnv
	if b, err := verify.CombinedOutput(); err == nil {
		t.Errorf("gpg --verify accepted a changed SHA256SUMS:\n%s", b)
	}

	// The host binary reports what was stamped.
	hostBin := filepath.Join(out, "drbook-"+strings.ReplaceAll(host, "/", "-"))
	var b cli.BuildInfo
	if err := json.Unmarshal([]byte(mustRun(t, nil, "", hostBin, "version", "--json")), &b); err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(mustRun(t, nil, "", "git", "rev-parse", "HEAD"))
	if b.Version != "v9.8.7-test" || b.Commit != commit || b.Date != "2025-12-02T08:00:00Z" || b.Source != "stamped" ||
		b.GoVersion != runtime.Version() || b.Platform != host {
		t.Errorf("version --json: %+v, want v9.8.7-test, commit %s, date 2025-12-02T08:00:00Z, %s, %s", b, commit, runtime.Version(), host)
	}
	if _, err := time.Parse(time.RFC3339, b.Date); err != nil {
		t.Errorf("date %q: %v", b.Date, err)
	}
	// Static: no dynamic loader is named in a Linux binary.
	if runtime.GOOS == "linux" {
		data, err := os.ReadFile(hostBin)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("/lib64/ld-linux")) || bytes.Contains(data, []byte("/lib/ld-linux")) {
			t.Error("the binary names a dynamic loader: not static")
		}
	}
}

// TestReleaseScriptRefusesLargeBinaries: the size limit is checked, and a
// binary over it fails the release with a message saying so.
func TestReleaseScriptRefusesLargeBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", releaseScript, "--out", out, "--version", "v0-test")
	cmd.Env = append(os.Environ(), "DRBOOK_RELEASE_TARGETS="+runtime.GOOS+"/"+runtime.GOARCH,
		"DRBOOK_RELEASE_MAX_BYTES=1000000", "DRBOOK_SIGNING_KEY=")
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(b), "not under the 1000000-byte limit") {
		t.Fatalf("release with a 1 MB limit: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(out, "SHA256SUMS")); err == nil {
		t.Error("SHA256SUMS written for a refused release")
	}
}

// TestVersionFromVCS: a binary built without stamping reports the commit
// and time the Go toolchain recorded from git, as go version -m shows
// them. The toolchain records nothing in a git worktree or with
// -buildvcs=false; the test is skipped then.
func TestVersionFromVCS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	bin := filepath.Join(t.TempDir(), "drbook")
	mustRun(t, nil, filepath.Join("..", ".."), "go", "build", "-buildvcs=auto", "-o", bin, ".")
	recorded := map[string]string{}
	for _, l := range strings.Split(mustRun(t, nil, "", "go", "version", "-m", bin), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "build" {
			if k, v, ok := strings.Cut(f[1], "="); ok {
				recorded[k] = v
			}
		}
	}
	if recorded["vcs.revision"] == "" {
		t.Skip("the toolchain recorded no git information (a git worktree, or GOFLAGS=-buildvcs=false)")
	}
	var b cli.BuildInfo
	if err := json.Unmarshal([]byte(mustRun(t, nil, "", bin, "version", "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.Commit != recorded["vcs.revision"] || b.Date != recorded["vcs.time"] || b.Modified != (recorded["vcs.modified"] == "true") ||
		b.Source != "vcs" || b.GoVersion != runtime.Version() {
		t.Errorf("version --json: %+v, want what go version -m shows: %v", b, recorded)
	}
}
