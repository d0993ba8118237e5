package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps/backup"
	"github.com/drbook/drbook/steps/notify"
	"github.com/drbook/drbook/steps/reconcile"
)

// deepWrap wraps err the way commands and actions do, a few layers deep.
func deepWrap(err error) error {
	return fmt.Errorf("cmd: %w", fmt.Errorf("step restore-db: %w", fmt.Errorf("run: %w", err)))
}

// TestExitCodeOfDomainErrors: the one mapper turns real errors from each
// domain package into the exit codes the commands document, however deep
// they are wrapped, and finds their hint.
func TestExitCodeOfDomainErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	_, rbErr := runbook.Load("no-such-runbook", []string{dir})

	store, err := incident.OpenStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, notFound := store.Resolve(ctx, "INC-NOPE")
	_, noOpen := store.Resolve(ctx, "")
	junkState := filepath.Join(dir, "junk")
	if err := os.MkdirAll(junkState, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(junkState, incident.DBName), []byte("positions,qty\nAAPL,100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, notDB := incident.OpenStore(junkState)

	junk := filepath.Join(dir, "backup-2026.tar.gz.gpg")
	if err := os.WriteFile(junk, []byte("-----BEGIN PGP MESSAGE-----\nnot really\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, corrupt := backup.Verify(ctx, backup.VerifyOptions{From: junk, Dir: dir, Passphrase: []byte("pw"), Scratch: t.TempDir()})
	_, noBackup := backup.Verify(ctx, backup.VerifyOptions{From: "latest", Dir: t.TempDir(), Passphrase: []byte("pw"), Scratch: t.TempDir()})
	_, missing := backup.Verify(ctx, backup.VerifyOptions{From: filepath.Join(dir, "gone.tar.gz.gpg"), Dir: dir, Passphrase: []byte("pw"), Scratch: t.TempDir()})

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message": "request is not authorized"}`)
	}))
	defer srv.Close()
	_, apiErr := reconcile.FetchAlpaca(ctx, reconcile.APIOptions{AlpacaURL: srv.URL, AlpacaKeyID: "PKTEST", AlpacaSecret: "secret"})

	for _, tc := range []struct {
		name string
		err  error
		is   error // the condition the error must still be
		code int
		hint string // a part of the hint; "" means none
	}{
		{"nil", nil, nil, ExitOK, ""},
		{"help", errHelpShown, nil, ExitOK, ""},
		{"interrupted", deepWrap(context.Canceled), context.Canceled, ExitCanceled, ""},
		{"exit error keeps its code", deepWrap(failed(deepWrap(notFound))), incident.ErrNotFound, ExitFailure, "drbook incidents"},
		{"usage error", usageErr("list: unexpected argument %q", "x"), nil, ExitUsage, ""},
		{"runbook not found", deepWrap(rbErr), runbook.ErrNotFound, ExitUsage, "known runbooks"},
		{"incident not found", deepWrap(notFound), incident.ErrNotFound, ExitUsage, "drbook incidents"},
		{"no open incident", deepWrap(noOpen), incident.ErrNoOpen, ExitUsage, "drbook drill"},
		{"state file not a database", deepWrap(notDB), incident.ErrNotDatabase, ExitUsage, "untouched"},
		{"corrupt archive", deepWrap(corrupt), backup.ErrCorrupt, ExitUsage, ""},
		{"no backup", deepWrap(noBackup), backup.ErrNoBackup, ExitUsage, ""},
		{"missing archive, through backupErr", backupErr("verify", deepWrap(missing)), os.ErrNotExist, ExitUsage, "drbook backups"},
		{"damaged source is a finding", deepWrap(&backup.Error{Err: fmt.Errorf("backup: %w: %w", backup.ErrDamagedSource, backup.ErrCorrupt), Advice: "repair it"}),
			backup.ErrDamagedSource, ExitFailure, "repair it"},
		{"broker refused the keys", deepWrap(apiErr), reconcile.ErrBrokerAPI, ExitFailure, "ALPACA_API_KEY"},
		{"message not delivered", deepWrap(&notify.Error{Channel: "slack", Offline: true, Reason: "no network"}), nil, ExitFailure, "by phone"},
		{"plain failure", deepWrap(errors.New("disk on fire")), nil, ExitFailure, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "nil" && tc.name != "help" && tc.err == nil {
				t.Fatal("the domain call returned no error")
			}
			if tc.is != nil && !errors.Is(tc.err, tc.is) {
				t.Fatalf("%v is not %v", tc.err, tc.is)
			}
			if got := ExitCode(tc.err); got != tc.code {
				t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.code)
			}
			h := hint.Of(tc.err)
			if tc.hint == "" && tc.is != backup.ErrCorrupt && tc.is != backup.ErrNoBackup && h != "" {
				t.Errorf("hint %q, want none", h)
			}
			if !strings.Contains(h, tc.hint) {
				t.Errorf("hint %q, want it to mention %q", h, tc.hint)
			}
			if h != "" && strings.Contains(tc.err.Error(), h) {
				t.Errorf("the hint is part of the message %q: it would print twice", tc.err)
			}
		})
	}
}

// TestMainPrintsHintOnceAfterError: the error line comes first, then its
// hint on a line of its own, once.
func TestMainPrintsHintOnceAfterError(t *testing.T) {
	for _, args := range [][]string{
		{"timeline", "--state-dir", t.TempDir(), "INC-NOPE"},
		{"show", "no-such-runbook"},
	} {
		var out, errOut bytes.Buffer
		iox := &IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
		if code := Main(context.Background(), args, iox); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %q", args, code, ExitUsage, errOut.String())
		}
		lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "drbook: "+args[0]+": ") || !strings.HasPrefix(lines[1], "hint: ") ||
			strings.Count(errOut.String(), "hint") != 1 {
			t.Errorf("%v: stderr %q, want the error line then one hint line", args, errOut.String())
		}
	}
}
