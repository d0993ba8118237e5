package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestEveryCommandHasHelp runs --help on drbook itself and on every command
// in the table: it exits 0, prints its usage once, states the exit codes,
// and fits 80 columns.
func TestEveryCommandHasHelp(t *testing.T) {
	invocations := [][]string{{"--help"}, {"help"}}
	for _, c := range commands {
		invocations = append(invocations, []string{c.name, "--help"})
	}
	for _, args := range invocations {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			iox := &IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
			if code := Main(context.Background(), args, iox); code != ExitOK {
				t.Fatalf("exit %d, stderr %q", code, errOut.String())
			}
			text := out.String()
			if n := strings.Count(text, "Usage:"); n != 1 {
				t.Errorf("usage printed %d times:\n%s", n, text)
			}
			if !strings.Contains(text, "Exit codes:") {
				t.Errorf("help does not state exit codes:\n%s", text)
			}
			for i, line := range strings.Split(text, "\n") {
				if w := len([]rune(line)); w > 80 {
					t.Errorf("line %d is %d columns wide: %q", i+1, w, line)
				}
			}
		})
	}
}

func TestUnknownCommandAndFlag(t *testing.T) {
	for _, args := range [][]string{{"bakup"}, {"list", "--no-such-flag"}, {"--no-such-flag"}} {
		var out, errOut bytes.Buffer
		iox := &IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
		if code := Main(context.Background(), args, iox); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
		msg := errOut.String()
		if !strings.HasPrefix(msg, "drbook: ") || strings.Count(msg, "drbook:") != 1 {
			t.Errorf("%v: message %q should start with one 'drbook: '", args, msg)
		}
		if !strings.Contains(msg, "--help") && !strings.Contains(msg, "did you mean") {
			t.Errorf("%v: no hint in %q", args, msg)
		}
	}
}
