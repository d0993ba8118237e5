package standby_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
	"github.com/drbook/drbook/steps/standby"
)

func TestSecondaryRootNeverThePrimary(t *testing.T) {
	env := steps.Env{Root: "/srv/quantai"}
	for _, p := range []string{"/srv/quantai", "/srv/quantai/standby", "/srv", ""} {
		if s, err := standby.SecondaryRoot(env, p); err == nil {
			t.Errorf("secondary %q accepted as %s", p, s)
		}
	}
	if s, err := standby.SecondaryRoot(env, "quantai-b"); err != nil || s != "/srv/quantai-b" {
		t.Errorf("relative secondary: %q, %v", s, err)
	}
	env.Drill = true
	if s, err := standby.SecondaryRoot(env, ""); err != nil || s != "/srv/secondary" {
		t.Errorf("drill default: %q, %v", s, err)
	}
}

// A drill promotes into a sandbox it makes beside the primary; with no
// backup the promotion fails, says so, and the primary is untouched.
func TestPromoteInADrill(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	primary := filepath.Join(dir, "sandbox")
	if err := sandbox.Create(ctx, primary, sandbox.Options{Trades: sandbox.MinTrades}); err != nil {
		t.Fatal(err)
	}
	env := steps.Env{Root: primary, Drill: true, BackupDir: filepath.Join(dir, "backups")}
	res, err := standby.Promote{}.Run(ctx, steps.Request{Env: env, Params: map[string]string{}, Confirmed: true}, nil)
	if err == nil || res.Status != steps.StatusFailed || !strings.Contains(res.Summary, "no verified backup") {
		t.Fatalf("promote with no backup: %+v, %v", res, err)
	}
	if !sandbox.IsSandbox(filepath.Join(dir, standby.DrillSecondary)) {
		t.Fatal("the drill's secondary sandbox was not made")
	}
	if _, err := (standby.Promote{}).Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, nil); !errors.Is(err, steps.ErrNotConfirmed) {
		t.Fatalf("unconfirmed: %v", err)
	}

	b, _ := steps.Lookup("backup")
	if r, err := b.Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, nil); err != nil || r.Status != steps.StatusOK {
		t.Fatalf("backup: %+v, %v", r, err)
	}
	res, err = standby.Promote{}.Run(ctx, steps.Request{Env: env, Params: map[string]string{}, Confirmed: true}, nil)
	if err != nil || res.Status != steps.StatusOK || res.BackupTime.IsZero() || !strings.Contains(res.Summary, "integrity and data checks pass") {
		t.Fatalf("promote: %+v, %v", res, err)
	}
	v, err := standby.Verify{}.Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, nil)
	if err != nil || v.Status != steps.StatusOK {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	// A secondary that is not a sandbox is never touched by a drill.
	real := filepath.Join(dir, "real")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := (standby.Promote{}).Run(ctx, steps.Request{Env: env, Params: map[string]string{"secondary": real}, Confirmed: true}, nil); !errors.Is(err, standby.ErrNotSandbox) {
		t.Fatalf("drill into a non-sandbox: %v", err)
	}
	// Verify finds a broken secondary.
	if err := sandbox.Inject(filepath.Join(dir, standby.DrillSecondary), "corrupt-db"); err != nil {
		t.Fatal(err)
	}
	v, err = standby.Verify{}.Run(ctx, steps.Request{Env: env, Params: map[string]string{}}, nil)
	if err != nil || v.Status != steps.StatusFailed {
		t.Fatalf("verify a corrupt secondary: %+v, %v", v, err)
	}
}
