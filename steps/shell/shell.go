// Package shell runs a runbook's shell and SQL blocks: shell blocks in their
// own process group with a timeout, streamed output and redacted secrets;
// SQL blocks against the system database, read-only unless the block says
// otherwise.
package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/system"
)

// Register adds the shell and sql block runners to r.
func Register(r *steps.Registry) {
	r.Register(Shell{})
	r.Register(SQL{})
}

// DefaultInterpreter runs a block when it declares none: errors, unset
// variables and failed pipeline stages stop it.
const DefaultInterpreter = "bash -euo pipefail"

// SandboxMarker is the file a drbook sandbox has at its root. A shell or
// SQL block of a drill refuses to run in a root without it.
const SandboxMarker = system.MarkerFile

// ErrLiveRootInDrill is returned when a drill's block would run against a
// root that is not a sandbox.
var ErrLiveRootInDrill = errors.New("drill refuses to run against a root that is not a drbook sandbox")

// Error is a problem with a block that the operator can fix, with advice
// saying how. The advice is not part of Error(): hint.Of finds it, and a
// failed Result's summary shows both (hint.Message).
type Error struct {
	Err    error
	Advice string // what to do next; may be empty
}

func (e *Error) Error() string { return e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Hint returns the advice; it makes *Error a hint.Hinter.
func (e *Error) Hint() string { return e.Advice }

var _ hint.Hinter = (*Error)(nil)

// Shell is the action that runs shell blocks.
type Shell struct{}

// Spec implements steps.Action.
func (Shell) Spec() steps.Spec {
	return shellSpec
}

// Run implements steps.Action: it runs req.Block.Code with the block's
// interpreter in its own process group.
func (a Shell) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	b := req.Block
	if b == nil {
		return steps.Result{Status: steps.StatusFailed, Summary: "shell: no block to run"}, errors.New("shell: no block to run")
	}
	if r, ok := drillShortcut(req); ok {
		return r, nil
	}
	dir, err := workDir(req.Env, b.Attrs.Cwd)
	if err != nil {
		return failedResult("shell", err)
	}
	if err := drillGuard(req.Env, b.Code); err != nil {
		return failedResult("shell", err)
	}
	if err := drillEscape(req.Env.Root, dir, b.Code, req.Env.Drill); err != nil {
		return failedResult("shell", err)
	}
	interp := strings.Fields(b.Attrs.Interpreter)
	if len(interp) == 0 {
		interp = strings.Fields(DefaultInterpreter)
	}
	if _, err := exec.LookPath(interp[0]); err != nil {
		return failedResult("shell", &Error{Err: fmt.Errorf("interpreter %s: %w", interp[0], err), Advice: "install it or set interpreter= on the block"})
	}
	if b.Attrs.Confirm && !req.Confirmed {
		return steps.Result{Status: steps.StatusFailed, Summary: "shell: block needs confirmation (confirm=true)"},
			fmt.Errorf("shell: %w", steps.ErrNotConfirmed)
	}
	if req.DryRun {
		return steps.Result{Status: steps.StatusSimulated, Summary: fmt.Sprintf("dry run: would run %d lines with %s in %s", lineCount(b.Code), strings.Join(interp, " "), dir)}, nil
	}
	timeout := b.Attrs.Timeout
	if timeout == 0 {
		timeout = a.Spec().Timeout
	}
	env := blockEnv(req.Env)
	if req.Env.Drill {
		if env, err = drillEnv(env, req.Env.Root, dir); err != nil {
			return failedResult("shell", err)
		}
		emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Info, Line: DrillGuardNote})
	}
	out, err := Exec(ctx, Command{
		Interpreter: interp,
		Code:        b.Code,
		Dir:         dir,
		Env:         env,
		Timeout:     timeout,
		Secrets:     req.Env.SecretValues(),
		Now:         req.Env.Clock,
	}, emit)
	out.Expect = b.Attrs.Expect
	res := steps.Result{ExitCode: out.ExitCode, Data: out}
	switch {
	case err != nil && ctx.Err() != nil:
		res.Status = steps.StatusFailed
		res.Summary = "shell: canceled; process group killed"
		return res, fmt.Errorf("shell: %w", ctx.Err())
	case err != nil:
		res.Status = steps.StatusFailed
		res.Summary = "shell: " + hint.Message(err)
		return res, fmt.Errorf("shell: %w", err)
	case out.TimedOut:
		res.Status = steps.StatusFailed
		res.Summary = fmt.Sprintf("shell: timed out after %s; process group killed", timeout)
	case out.ExitCode != out.Expect:
		res.Status = steps.StatusFailed
		res.Summary = fmt.Sprintf("shell: exit status %d, expected %d", out.ExitCode, out.Expect)
		if last := lastLine(out.Tail); last != "" {
			res.Summary += ": " + last
		}
	default:
		res.Status = steps.StatusOK
		res.Summary = fmt.Sprintf("shell: exit status %d as expected, %s of output", out.ExitCode, count(out.Lines, "line"))
	}
	if out.Capped {
		res.Summary += fmt.Sprintf(" (output capped: kept the last %d of %d lines)", len(out.Tail), out.Lines)
	}
	return res, nil
}

func failedResult(name string, err error) (steps.Result, error) {
	return steps.Result{Status: steps.StatusFailed, Summary: name + ": " + hint.Message(err)}, fmt.Errorf("%s: %w", name, err)
}

// drillShortcut applies a block's drill= attribute when the engine has not:
// simulate describes the block, skip skips it.
func drillShortcut(req steps.Request) (steps.Result, bool) {
	if !req.Env.Drill || req.Block == nil {
		return steps.Result{}, false
	}
	switch req.Block.Attrs.Drill {
	case runbook.DrillSimulate:
		return steps.Result{Status: steps.StatusSimulated, Summary: fmt.Sprintf("drill: simulated %s block of %d lines (not run)", req.Block.Lang, lineCount(req.Block.Code))}, true
	case runbook.DrillSkip:
		return steps.Result{Status: steps.StatusSkipped, Summary: "drill: skipped (drill=skip)"}, true
	}
	return steps.Result{}, false
}

// IsSandbox reports whether root is a drbook sandbox (see
// system.IsSandbox: the one rule, shared with the sandbox generator).
func IsSandbox(root string) bool { return system.IsSandbox(root) }

// drillGuard refuses a drill's block that would run against a live root or
// that names absolute paths outside the sandbox it cannot be trusted with.
func drillGuard(env steps.Env, code string) error {
	if !env.Drill {
		return nil
	}
	if env.Root == "" || !IsSandbox(env.Root) {
		return &Error{Err: fmt.Errorf("%w: %s", ErrLiveRootInDrill, env.Root), Advice: "drills run in a sandbox made by 'drbook demo' or 'drbook drill'"}
	}
	if p := outsidePath(env.Root, code); p != "" {
		return &Error{
			Err:    fmt.Errorf("drill: block names %s, outside the sandbox", p),
			Advice: "use paths relative to the root or $DRBOOK_ROOT, or mark the block drill=simulate",
		}
	}
	return nil
}

var absPath = regexp.MustCompile(`(?:^|[\s"'=:(>])(/[A-Za-z0-9._\-/]+)`)

// systemPrefixes are absolute paths a drill's block may read: programs and
// devices, not anybody's data.
var systemPrefixes = []string{"/dev/", "/usr/", "/bin/", "/sbin/", "/lib", "/proc/", "/etc/", "/opt/", "/tmp/"}

// urlPattern finds URLs in a block's text: a scheme, "://" and what
// follows up to white space, a quote or a shell operator.
var urlPattern = regexp.MustCompile("(?i)\\b[a-z][a-z0-9+.\\-]*://[^\\s\"'<>|;&()`]*")

// maskURLs blanks out the URLs of a line that name another machine
// (https://hooks.example/services/..., s3://bucket/key): a URL is not a
// path, and its path is on the server. A URL that names a local file keeps
// its path where it was, for the guard to read: file:// URLs (of any
// host, file://localhost/... included, and git+file://) and any URL with
// an empty authority (sqlite:///home/x.db, unix:///run/x.sock). So is
// any URL with a ".." component: to a program that takes it for a file
// name, x://host/../../y is a relative path that climbs out.
func maskURLs(line string) string {
	return urlPattern.ReplaceAllStringFunc(line, func(u string) string {
		scheme, rest, _ := strings.Cut(u, "://")
		if slices.Contains(strings.Split(rest, "/"), "..") {
			return u
		}
		authority, path, hasPath := strings.Cut(rest, "/")
		s := strings.ToLower(scheme)
		if s != "file" && !strings.HasSuffix(s, "+file") && authority != "" {
			return strings.Repeat(" ", len(u))
		}
		if !hasPath {
			return strings.Repeat(" ", len(u))
		}
		return strings.Repeat(" ", len(u)-len(path)-1) + "/" + path
	})
}

// outsidePath returns the first absolute path in code that is not under
// root and not a system path, or "". URLs of other machines are not paths
// (maskURLs); file:// URLs are.
func outsidePath(root, code string) string {
	absRoot, _ := filepath.Abs(root)
	for _, line := range strings.Split(code, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") {
			continue
		}
		line = maskURLs(line)
		for _, m := range absPath.FindAllStringSubmatch(line, -1) {
			p := filepath.Clean(m[1])
			if p == "/" || p == "/dev" || p == "/tmp" {
				continue
			}
			if absRoot != "" && (p == absRoot || strings.HasPrefix(p, absRoot+"/")) {
				continue
			}
			sys := false
			for _, s := range systemPrefixes {
				if strings.HasPrefix(p+"/", s) || strings.HasPrefix(p, s) {
					sys = true
					break
				}
			}
			if !sys {
				return p
			}
		}
	}
	return ""
}

// DrillGuardNote is said at the start of every shell block run in a
// drill, so nobody mistakes the guard for isolation.
const DrillGuardNote = "drill guard is a safety net, not a sandbox: the block runs as you"

// drillEnv points HOME, TMPDIR and PWD into the sandbox, so that a block's
// ~/, mktemp and $PWD stay there.
func drillEnv(env []string, root, dir string) ([]string, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	home := filepath.Join(absRoot, ".drill", "home")
	tmp := filepath.Join(absRoot, ".drill", "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("drill: %w", err)
		}
	}
	set := map[string]string{"HOME": home, "TMPDIR": tmp, "PWD": dir}
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range []string{"HOME", "PWD", "TMPDIR"} {
		out = append(out, k+"="+set[k])
	}
	sort.Strings(out)
	return out, nil
}

// pathField splits a line into the words a shell would see as paths.
var pathField = regexp.MustCompile("[^\\s\"'=:(<>;|&`]+")

// drillEscape refuses a drill's block whose text climbs out of the sandbox
// with "..": each word with a ".." component is resolved against the
// block's working directory ($DRBOOK_ROOT, ${DRBOOK_ROOT} and ~ against
// the root) and must stay inside the root. It reads text, so it is a net
// for mistakes, not a wall against a block that means to escape.
func drillEscape(root, dir, code string, drill bool) error {
	if !drill {
		return nil
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	for _, line := range strings.Split(code, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "#") {
			continue
		}
		line = maskURLs(line)
		for _, w := range pathField.FindAllString(line, -1) {
			if !slices.Contains(strings.Split(w, "/"), "..") {
				continue
			}
			base, rest := dir, w
			for _, v := range []string{"$DRBOOK_ROOT", "${DRBOOK_ROOT}", "~"} {
				if r, ok := strings.CutPrefix(w, v); ok && (r == "" || r[0] == '/') {
					base, rest = absRoot, "."+r
				}
			}
			if strings.HasPrefix(rest, "$") {
				continue // another variable: unknown here
			}
			p := rest
			if !filepath.IsAbs(p) {
				p = filepath.Join(base, p)
			}
			p = filepath.Clean(p)
			if p == absRoot || strings.HasPrefix(p, absRoot+"/") || filepath.IsAbs(rest) && outsidePath(absRoot, p) == "" {
				continue
			}
			return &Error{
				Err:    fmt.Errorf("drill: block climbs out of the sandbox with %s (to %s)", w, p),
				Advice: "keep paths inside the root, or mark the block drill=simulate",
			}
		}
	}
	return nil
}

// workDir resolves a block's cwd= against the root and refuses escapes.
func workDir(env steps.Env, cwd string) (string, error) {
	root := env.Root
	if root == "" {
		root = "."
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return "", fmt.Errorf("root: %w", err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("root %s is not a directory", root)
	}
	if cwd == "" {
		return root, nil
	}
	if filepath.IsAbs(cwd) {
		return "", &Error{Err: fmt.Errorf("cwd=%s is absolute", cwd), Advice: "cwd= is relative to the system root"}
	}
	dir := filepath.Join(root, cwd)
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &Error{Err: fmt.Errorf("cwd=%s leaves the system root", cwd), Advice: "cwd= must stay inside the root"}
	}
	// A symlink inside the root may still point out of it.
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("cwd=%s: %w", cwd, err)
	}
	if rel, err := filepath.Rel(realRoot, realDir); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &Error{Err: fmt.Errorf("cwd=%s resolves to %s, outside the system root", cwd, realDir), Advice: "cwd= must stay inside the root"}
	}
	return dir, nil
}

// blockEnv is the environment a block runs with: drbook's own, the
// runbook's variables, and DRBOOK_* names for the incident.
func blockEnv(env steps.Env) []string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	for k, v := range env.Vars {
		m[k] = v
	}
	root, _ := filepath.Abs(env.Root)
	m["DRBOOK_ROOT"] = root
	m["DRBOOK_DB"] = system.DB(root)
	m["DRBOOK_INCIDENT"] = env.IncidentID
	m["DRBOOK_OPERATOR"] = env.Operator
	if env.Drill {
		m["DRBOOK_DRILL"] = "1"
	} else {
		m["DRBOOK_DRILL"] = "0"
	}
	if env.BackupDir != "" {
		m["DRBOOK_BACKUP_DIR"] = env.BackupDir
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func lineCount(s string) int {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}

func lastLine(tail []string) string {
	for i := len(tail) - 1; i >= 0; i-- {
		if t := strings.TrimSpace(tail[i]); t != "" {
			if len(t) > 200 {
				t = t[:200] + "..."
			}
			return t
		}
	}
	return ""
}
