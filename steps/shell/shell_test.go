package shell_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/shell"
)

// recorder collects events; safe for the concurrent stdout/stderr readers.
type recorder struct {
	mu     sync.Mutex
	events []steps.Event
	notify chan steps.Event
}

func (r *recorder) emit(e steps.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.notify != nil {
		select {
		case r.notify <- e:
		default:
		}
	}
}

func (r *recorder) lines(stream steps.Stream) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Stream == stream {
			out = append(out, e.Line)
		}
	}
	return out
}

func runBlock(t *testing.T, ctx context.Context, env steps.Env, code string, attrs runbook.Attrs) (steps.Result, *recorder, error) {
	t.Helper()
	a, ok := steps.Lookup(steps.ShellAction)
	if !ok || !steps.Implemented(steps.ShellAction) {
		t.Fatal("shell action not registered")
	}
	rec := &recorder{}
	res, err := a.Run(ctx, steps.Request{Env: env, Block: &runbook.Block{Lang: "bash", Code: code, Attrs: attrs}}, rec.emit)
	return res, rec, err
}

func TestShellRuns(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	env := steps.Env{Root: root, IncidentID: "INC-1", Vars: map[string]string{"BACKUP_NAME": "nightly"}, Now: func() time.Time { return clock }}
	tests := []struct {
		name       string
		code       string
		attrs      runbook.Attrs
		status     steps.Status
		exit       int
		wantStdout []string
		wantStderr []string
	}{
		{"ok", "echo hello\necho oops >&2\n", runbook.Attrs{}, steps.StatusOK, 0, []string{"hello"}, []string{"oops"}},
		{"failure stops the block", "echo one\nfalse\necho never\n", runbook.Attrs{}, steps.StatusFailed, 1, []string{"one"}, nil},
		{"pipefail", "false | true\necho never\n", runbook.Attrs{}, steps.StatusFailed, 1, nil, nil},
		{"unset variable", "echo $NOT_SET_ANYWHERE\n", runbook.Attrs{}, steps.StatusFailed, 1, nil, nil},
		{"expected exit", "exit 3\n", runbook.Attrs{Expect: 3}, steps.StatusOK, 3, nil, nil},
		{"unexpected exit", "exit 3\n", runbook.Attrs{}, steps.StatusFailed, 3, nil, nil},
		{"vars and root", `echo "$BACKUP_NAME $DRBOOK_INCIDENT $(basename "$DRBOOK_ROOT") $(basename "$PWD")"`, runbook.Attrs{}, steps.StatusOK, 0, []string{"nightly INC-1 " + filepath.Base(root) + " " + filepath.Base(root)}, nil},
		{"cwd", `basename "$PWD"`, runbook.Attrs{Cwd: "data"}, steps.StatusOK, 0, []string{"data"}, nil},
		{"own session", `test "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" && echo leader`, runbook.Attrs{}, steps.StatusOK, 0, []string{"leader"}, nil},
		{"carriage returns", `printf '10%%\r50%%\r100%%\n'`, runbook.Attrs{}, steps.StatusOK, 0, []string{"100%"}, nil},
		{"interpreter", "echo $0 | grep -q sh && echo plain", runbook.Attrs{Interpreter: "sh"}, steps.StatusOK, 0, []string{"plain"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec, err := runBlock(t, context.Background(), env, tt.code, tt.attrs)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Status != tt.status || res.ExitCode != tt.exit {
				t.Fatalf("status %s exit %d, want %s %d (%s)", res.Status, res.ExitCode, tt.status, tt.exit, res.Summary)
			}
			if got := rec.lines(steps.Stdout); tt.wantStdout != nil && strings.Join(got, "|") != strings.Join(tt.wantStdout, "|") {
				t.Errorf("stdout %q, want %q", got, tt.wantStdout)
			}
			if got := rec.lines(steps.Stderr); tt.wantStderr != nil && strings.Join(got, "|") != strings.Join(tt.wantStderr, "|") {
				t.Errorf("stderr %q, want %q", got, tt.wantStderr)
			}
			for _, e := range rec.events {
				if !e.Time.Equal(clock) {
					t.Errorf("event %q not stamped by the env clock: %v", e.Line, e.Time)
				}
			}
		})
	}
}

func TestShellRefusesBadCwd(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	for _, cwd := range []string{"..", "../x", "/tmp", "link"} {
		t.Run(cwd, func(t *testing.T) {
			res, rec, err := runBlock(t, context.Background(), steps.Env{Root: root}, "touch ran\n", runbook.Attrs{Cwd: cwd})
			if err == nil || res.Status != steps.StatusFailed {
				t.Fatalf("cwd=%s ran: %v %+v", cwd, err, res)
			}
			if len(rec.events) != 0 {
				t.Errorf("events from a refused block: %v", rec.events)
			}
			for _, d := range []string{root, outside} {
				if _, err := os.Stat(filepath.Join(d, "ran")); err == nil {
					t.Errorf("block ran in %s", d)
				}
			}
		})
	}
}

func TestShellRedactsSecrets(t *testing.T) {
	root := t.TempDir()
	env := steps.Env{Root: root, Vars: map[string]string{"ALPACA_API_KEY": "PKSECRET123"}, Secrets: []string{"PKSECRET123", ""}}
	res, rec, err := runBlock(t, context.Background(), env, `echo "key=$ALPACA_API_KEY"; echo "again PKSECRET123" >&2`, runbook.Attrs{})
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("Run: %v %+v", err, res)
	}
	all := strings.Join(append(rec.lines(steps.Stdout), rec.lines(steps.Stderr)...), "\n")
	out := res.Data.(shell.Output)
	kept := strings.Join(out.Tail, "\n")
	for _, s := range []string{all, kept, res.Summary} {
		if strings.Contains(s, "PKSECRET123") {
			t.Errorf("secret leaked: %q", s)
		}
	}
	if !strings.Contains(all, "key=[REDACTED]") || !strings.Contains(kept, "again [REDACTED]") {
		t.Errorf("redaction marker missing: %q / %q", all, kept)
	}
}

func TestShellCapsFlood(t *testing.T) {
	res, rec, err := runBlock(t, context.Background(), steps.Env{Root: t.TempDir()}, "seq 1 20000\n", runbook.Attrs{})
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("Run: %v %+v", err, res)
	}
	out := res.Data.(shell.Output)
	if out.Lines != 20000 || !out.Capped || len(out.Tail) != shell.TailLines {
		t.Fatalf("lines %d capped %v tail %d", out.Lines, out.Capped, len(out.Tail))
	}
	if out.Tail[len(out.Tail)-1] != "stdout: 20000" || out.Tail[0] != fmt.Sprintf("stdout: %d", 20000-shell.TailLines+1) {
		t.Errorf("tail is not the last lines: %q .. %q", out.Tail[0], out.Tail[len(out.Tail)-1])
	}
	if !strings.Contains(res.Summary, "output capped") {
		t.Errorf("summary does not say the output was capped: %s", res.Summary)
	}
	if n := len(rec.lines(steps.Stdout)); n != shell.StreamLines {
		t.Errorf("streamed %d lines, want %d", n, shell.StreamLines)
	}
	if info := strings.Join(rec.lines(steps.Info), "\n"); !strings.Contains(info, "output flood") {
		t.Errorf("no flood notice: %q", info)
	}
}

func TestShellLongLine(t *testing.T) {
	res, _, err := runBlock(t, context.Background(), steps.Env{Root: t.TempDir()}, "head -c 100000 /dev/zero | tr '\\0' x; echo; echo after\n", runbook.Attrs{})
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("Run: %v %+v", err, res)
	}
	out := res.Data.(shell.Output)
	if out.Lines != 2 || !strings.HasSuffix(out.Tail[0], "[line cut]") || out.Tail[1] != "stdout: after" {
		t.Errorf("lines %d tail %q", out.Lines, out.Tail[1])
	}
}

// grandchildBlock starts a grandchild sleep (bash -> bash -> sleep) and
// records its pid, then waits forever.
const grandchildBlock = `bash -c 'echo $$ > grandchild.pid; exec sleep 300' &
while [ ! -s grandchild.pid ]; do sleep 0.05; done
echo started
wait
`

func grandchildPid(t *testing.T, root string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "grandchild.pid"))
	if err != nil {
		t.Fatalf("grandchild pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// assertGone waits until pid no longer runs (a zombie awaiting its reaper
// counts as gone: it runs nothing).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if !alive(pid) {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d still running after the block was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestShellTimeoutKillsProcessGroup(t *testing.T) {
	root := t.TempDir()
	res, rec, err := runBlock(t, context.Background(), steps.Env{Root: root}, grandchildBlock, runbook.Attrs{Timeout: time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := res.Data.(shell.Output)
	if res.Status != steps.StatusFailed || !out.TimedOut || !out.Killed || !strings.Contains(res.Summary, "timed out") {
		t.Fatalf("want a timeout, got %+v %+v", res, out)
	}
	if got := rec.lines(steps.Stdout); len(got) != 1 || got[0] != "started" {
		t.Errorf("stdout %q", got)
	}
	assertGone(t, grandchildPid(t, root))
}

// TestShellContextDeadline: the incident engine puts the block's timeout
// on the context as well; its deadline is a timeout, not a cancel.
func TestShellContextDeadline(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, _, err := runBlock(t, ctx, steps.Env{Root: root}, grandchildBlock, runbook.Attrs{})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if out := res.Data.(shell.Output); res.Status != steps.StatusFailed || !out.TimedOut || !out.Killed {
		t.Fatalf("want a timeout, got %+v", res)
	}
	assertGone(t, grandchildPid(t, root))
}

func TestShellCancelKillsProcessGroup(t *testing.T) {
	root := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{notify: make(chan steps.Event, 16)}
	go func() {
		for e := range rec.notify {
			if e.Line == "started" {
				cancel()
				return
			}
		}
	}()
	a, _ := steps.Lookup(steps.ShellAction)
	res, err := a.Run(ctx, steps.Request{Env: steps.Env{Root: root}, Block: &runbook.Block{Lang: "bash", Code: grandchildBlock}}, rec.emit)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled (%+v)", err, res)
	}
	if res.Status != steps.StatusFailed || !res.Data.(shell.Output).Killed {
		t.Errorf("result %+v", res)
	}
	assertGone(t, grandchildPid(t, root))
}

func TestShellBackgroundProcessHoldingOutput(t *testing.T) {
	root := t.TempDir()
	res, _, err := runBlock(t, context.Background(), steps.Env{Root: root},
		"bash -c 'echo $$ > grandchild.pid; exec sleep 60' &\nwhile [ ! -s grandchild.pid ]; do sleep 0.05; done\necho done\n", runbook.Attrs{})
	pid := grandchildPid(t, root)
	defer syscall.Kill(pid, syscall.SIGKILL)
	if err != nil || res.Status != steps.StatusOK {
		t.Fatalf("Run: %v %+v", err, res)
	}
	if out := res.Data.(shell.Output); !strings.Contains(out.Note, "background") {
		t.Errorf("no note about the background process: %+v", out)
	}
}

func TestShellDrillGuard(t *testing.T) {
	live := t.TempDir()
	sandbox := t.TempDir()
	if err := os.WriteFile(filepath.Join(sandbox, shell.SandboxMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		root  string
		code  string
		attrs runbook.Attrs
		want  steps.Status
	}{
		{"live root", live, "touch ran", runbook.Attrs{}, steps.StatusFailed},
		{"outside path", sandbox, "cp /backups/quantai/latest/config/* config/ && touch ran", runbook.Attrs{}, steps.StatusFailed},
		{"sandbox", sandbox, `touch "$DRBOOK_ROOT/ran" && ls /usr/bin >/dev/null && [ "$DRBOOK_DRILL" = 1 ]`, runbook.Attrs{}, steps.StatusOK},
		{"climbs out with ..", sandbox, "cd ../../.. && touch ran", runbook.Attrs{}, steps.StatusFailed},
		{"climbs out of a cwd", sandbox, "mkdir -p data && touch ran && cp x ../../x", runbook.Attrs{Cwd: "."}, steps.StatusFailed},
		{"climbs out from the root variable", sandbox, `touch ran; cat "${DRBOOK_ROOT}/../secret"`, runbook.Attrs{}, steps.StatusFailed},
		{"climbs out from home", sandbox, `touch ran; ls ~/../../..`, runbook.Attrs{}, steps.StatusFailed},
		{"absolute with ..", sandbox, `touch ran; ls /tmp/../home`, runbook.Attrs{}, steps.StatusFailed},
		{".. that stays inside", sandbox, `mkdir -p data && ls data/.. >/dev/null && echo loading... {1..3} && touch "$DRBOOK_ROOT/data/../ran"`, runbook.Attrs{}, steps.StatusOK},
		{"home, tmpdir and pwd inside", sandbox, `for d in "$HOME" "$TMPDIR" "$PWD" "$(mktemp)"; do case "$d" in "$DRBOOK_ROOT"/*|"$DRBOOK_ROOT") ;; *) echo "outside: $d"; exit 1;; esac; done; touch ran`, runbook.Attrs{}, steps.StatusOK},
		{"a URL is not a path", sandbox, `: curl -fsS https://hooks.example/services/T000/B000/xyz; echo "see http://localhost:8080/x and s3://bucket/home/key"; touch ran`, runbook.Attrs{}, steps.StatusOK},
		{"a URL that climbs is a path", sandbox, `touch ran; cat x://host/../../../home/q/secret`, runbook.Attrs{}, steps.StatusFailed},
		{"file URL outside", sandbox, `touch ran; curl -s file:///home/someone/.ssh/id_rsa`, runbook.Attrs{}, steps.StatusFailed},
		{"file URL with a host", sandbox, `touch ran; curl -s "FILE://localhost/srv/quantai/.env"`, runbook.Attrs{}, steps.StatusFailed},
		{"file URL climbing out", sandbox, `touch ran; curl -s file:///tmp/../home/x`, runbook.Attrs{}, steps.StatusFailed},
		{"empty authority is local", sandbox, `touch ran; echo sqlite:///home/q/live.db`, runbook.Attrs{}, steps.StatusFailed},
		{"a path after a URL", sandbox, `touch ran; curl -s https://hooks.example/x -o /home/q/out`, runbook.Attrs{}, steps.StatusFailed},
		{"a path glued to a URL by a redirect", sandbox, `touch ran; echo https://hooks.example/x>/home/q/out`, runbook.Attrs{}, steps.StatusFailed},
		{"simulate", live, "touch ran", runbook.Attrs{Drill: runbook.DrillSimulate}, steps.StatusSimulated},
		{"skip", live, "touch ran", runbook.Attrs{Drill: runbook.DrillSkip}, steps.StatusSkipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(tt.root, "ran"))
			res, rec, err := runBlock(t, context.Background(), steps.Env{Root: tt.root, Drill: true}, tt.code, tt.attrs)
			if res.Status != tt.want {
				t.Fatalf("status %s, want %s: %s (%v) %q", res.Status, tt.want, res.Summary, err, rec.lines(steps.Stdout))
			}
			if tt.want == steps.StatusOK && !slices.Contains(rec.lines(steps.Info), shell.DrillGuardNote) {
				t.Errorf("no guard note in %q", rec.lines(steps.Info))
			}
			_, statErr := os.Stat(filepath.Join(tt.root, "ran"))
			if ran := statErr == nil; ran != (tt.want == steps.StatusOK) {
				t.Errorf("ran=%v", ran)
			}
			if tt.name == "live root" && !errors.Is(err, shell.ErrLiveRootInDrill) {
				t.Errorf("err %v, want ErrLiveRootInDrill", err)
			}
		})
	}
}

func TestShellNeedsConfirmation(t *testing.T) {
	root := t.TempDir()
	res, _, err := runBlock(t, context.Background(), steps.Env{Root: root}, "touch ran", runbook.Attrs{Confirm: true})
	if !errors.Is(err, steps.ErrNotConfirmed) || res.Status != steps.StatusFailed {
		t.Fatalf("ran unconfirmed: %v %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(root, "ran")); err == nil {
		t.Error("an unconfirmed destructive block ran")
	}
}
