package cli_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/drbook/drbook/ui/cli"
)

func authorizedLine(t *testing.T, opts string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return opts + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(p))) + " someone@laptop\n"
}

func TestServeRefusesBadInput(t *testing.T) {
	state := t.TempDir()
	env := map[string]string{"DRBOOK_STATE_DIR": state}
	if out, _, code := runCLI(t, env, "serve", "--help"); code != 0 || !strings.Contains(out, "Exit codes") {
		t.Fatalf("serve --help: %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, env, "serve"); code != 2 || !strings.Contains(errOut, "--authorized-keys") {
		t.Errorf("no keys: %d %q", code, errOut)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte(authorizedLine(t, "")+authorizedLine(t, `environment="DRBOOK_ROLE=root" `)), 0o600)
	if _, errOut, code := runCLI(t, env, "serve", "--authorized-keys", bad); code != 2 || !strings.Contains(errOut, "line 2") {
		t.Errorf("a bad role: %d %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, env, "serve", "--authorized-keys", filepath.Join(dir, "missing")); code != 2 {
		t.Errorf("a missing keys file: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(state, "serve_host_ed25519_key")); err == nil {
		t.Error("refused input made a host key")
	}
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(authorizedLine(t, `environment="DRBOOK_ROLE=operator" `)), 0o600)
	open := filepath.Join(dir, "open_key")
	os.WriteFile(open, []byte("not even a key"), 0o644)
	if _, errOut, code := runCLI(t, env, "serve", "--authorized-keys", good, "--host-key", open); code != 2 || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("a readable host key: %d %q", code, errOut)
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeStartsAndStops starts drbook serve on a free port, waits for
// it to print its fingerprint, then cancels it as SIGTERM does: exit 0,
// the host key kept with mode 0600, the stop recorded in serve.log.
func TestServeStartsAndStops(t *testing.T) {
	state := t.TempDir()
	keys := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(keys, []byte(authorizedLine(t, `environment="DRBOOK_ROLE=operator" `)+authorizedLine(t, "")), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuf
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--authorized-keys", keys},
			&cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
				Getenv: func(k string) string { return map[string]string{"DRBOOK_STATE_DIR": state}[k] }})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "host key fingerprint: SHA256:") {
		if time.Now().After(deadline) {
			t.Fatalf("drbook serve never printed its fingerprint; out %q err %q", out.String(), errb.String())
		}
		select {
		case code := <-done:
			t.Fatalf("drbook serve exited %d: %q", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !strings.Contains(out.String(), "keys: 1 operator, 1 observer") {
		t.Errorf("start-up lines: %q", out.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("stopped: exit %d, %q", code, errb.String())
	}
	fi, err := os.Stat(filepath.Join(state, "serve_host_ed25519_key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("host key: %v %v", fi, err)
	}
	log, err := os.ReadFile(filepath.Join(state, "serve.log"))
	if err != nil || !strings.Contains(string(log), "drbook serve stopped; connected: nobody") {
		t.Fatalf("serve.log %q %v", log, err)
	}
}
