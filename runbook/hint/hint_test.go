package hint_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/drbook/drbook/runbook/hint"
)

type hinted struct {
	err    error
	advice string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }
func (e *hinted) Hint() string  { return e.advice }

func TestOfAndIsInput(t *testing.T) {
	errInput := hint.NewInput("wrong passphrase")
	errFinding := hint.NewFinding("the database fails its checks")
	plain := errors.New("disk on fire")
	for _, tc := range []struct {
		name  string
		err   error
		hint  string
		input bool
		is    error
	}{
		{"nil", nil, "", false, nil},
		{"plain", plain, "", false, plain},
		{"input sentinel wrapped twice", fmt.Errorf("restore: %w", fmt.Errorf("open: %w", errInput)), "", true, errInput},
		{"hint around input", fmt.Errorf("restore: %w", &hinted{fmt.Errorf("decrypt: %w", errInput), "check the passphrase"}), "check the passphrase", true, errInput},
		{"empty hint skipped", &hinted{&hinted{plain, "the inner one"}, ""}, "the inner one", false, plain},
		{"outer hint first", &hinted{&hinted{plain, "inner"}, "outer"}, "outer", false, plain},
		{"finding before input decides", fmt.Errorf("backup: %w: %w", errFinding, errInput), "", false, errFinding},
		{"input before finding decides", fmt.Errorf("backup: %w: %w", errInput, errFinding), "", true, errFinding},
		{"Input marks one error", fmt.Errorf("verify: %w", hint.Input(&hinted{plain, "name it"})), "name it", true, plain},
		{"joined", errors.Join(plain, fmt.Errorf("x: %w", &hinted{errInput, "in the second"})), "in the second", true, errInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hint.Of(tc.err); got != tc.hint {
				t.Errorf("Of = %q, want %q", got, tc.hint)
			}
			if got := hint.IsInput(tc.err); got != tc.input {
				t.Errorf("IsInput = %v, want %v", got, tc.input)
			}
			if tc.is != nil && !errors.Is(tc.err, tc.is) {
				t.Errorf("errors.Is lost the chain")
			}
		})
	}
}

func TestSentinelsAreDistinct(t *testing.T) {
	a, b := hint.NewInput("same text"), hint.NewInput("same text")
	if errors.Is(a, b) || !errors.Is(fmt.Errorf("w: %w", a), a) {
		t.Error("sentinels with the same text must stay distinct, like errors.New")
	}
	if hint.Input(nil) != nil {
		t.Error("Input(nil) is not nil")
	}
}

func TestMessage(t *testing.T) {
	if got := hint.Message(nil); got != "" {
		t.Errorf("Message(nil) = %q", got)
	}
	if got := hint.Message(errors.New("no open incident")); got != "no open incident" {
		t.Errorf("without a hint: %q", got)
	}
	err := fmt.Errorf("resume: %w", &hinted{errors.New("no open incident"), "run 'drbook incidents'"})
	if got, want := hint.Message(err), "resume: no open incident (hint: run 'drbook incidents')"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

// TestLeafPackage: hint imports only the standard library, so runbook,
// steps and checks can all use it without importing one another.
func TestLeafPackage(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "github.com/drbook/drbook/runbook/hint" {
		t.Errorf("hint depends on more than the standard library:\n%s", got)
	}
}
