package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/steps"
)

// DrillPassphrase encrypts backups taken inside a drill when no passphrase
// is configured. It is public on purpose: drill backups hold only the
// generated sandbox, never real data.
const DrillPassphrase = "drbook-drill"

// Deps are what the backup actions need from the rest of the program.
type Deps struct {
	// Checker runs integrity checks in a child process (see Checker).
	Checker Checker
	// KillSwitch re-applies an engaged kill switch after a restore.
	KillSwitch KillSwitch
	// Tool names the program in a backup's manifest ("drbook v1.2");
	// "" is "drbook".
	Tool string
}

// Register adds backup, restore and restore-config to r.
func Register(r *steps.Registry, d Deps) {
	r.Register(backupAction{d})
	r.Register(restoreAction{name: "restore", deps: d})
	r.Register(restoreAction{name: "restore-config", deps: d})
}

// Passphrase finds the backup passphrase for an action: the runbook
// variable or environment variable DRBOOK_PASSPHRASE, else the file named
// by DRBOOK_PASSPHRASE_FILE, else DrillPassphrase in a drill. It never
// comes from a step parameter, which would be recorded.
func Passphrase(env steps.Env) ([]byte, error) {
	get := func(k string) string {
		if v := env.Vars[k]; v != "" {
			return v
		}
		return os.Getenv(k)
	}
	if p := get("DRBOOK_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	if f := get("DRBOOK_PASSPHRASE_FILE"); f != "" {
		return ReadPassphraseFile(f)
	}
	if env.Drill {
		return []byte(DrillPassphrase), nil
	}
	return nil, &Error{Err: ErrNoPassphrase, Advice: "set DRBOOK_PASSPHRASE or DRBOOK_PASSPHRASE_FILE (a file readable only by you)"}
}

// ReadPassphraseFile reads a passphrase from its first line.
func ReadPassphraseFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return nil, &Error{Err: fmt.Errorf("passphrase file %s: %w: it is empty", path, ErrNoPassphrase)}
	}
	return []byte(line), nil
}

// BackupDir picks the local backup directory for an action: the step's
// "to" parameter, the environment's BackupDir, a drill's <root>/backups,
// $DRBOOK_BACKUP_DIR, then DefaultDir.
func BackupDir(env steps.Env, param string) string {
	switch {
	case param != "":
		return param
	case env.BackupDir != "":
		return env.BackupDir
	case env.Drill:
		return filepath.Join(env.Root, "backups")
	case os.Getenv("DRBOOK_BACKUP_DIR") != "":
		return os.Getenv("DRBOOK_BACKUP_DIR")
	}
	return DefaultDir
}

// S3FromParams reads s3, s3-endpoint and s3-region parameters.
func S3FromParams(p map[string]string) *S3Config {
	if p["s3"] == "" {
		return nil
	}
	return &S3Config{URL: p["s3"], Endpoint: p["s3-endpoint"], Region: p["s3-region"]}
}

// s3Params reads the S3 parameters of a backup or restore: s3 (else from,
// when a restore names an s3:// object), s3-endpoint, s3-region and
// s3-path-style (true or false; empty lets the endpoint decide).
func s3Params(p map[string]string, from string) (*S3Config, error) {
	c := S3FromParams(p)
	if c == nil && strings.HasPrefix(from, "s3://") {
		c = &S3Config{URL: from, Endpoint: p["s3-endpoint"], Region: p["s3-region"]}
	}
	if c == nil {
		return nil, nil
	}
	if v := strings.TrimSpace(p["s3-path-style"]); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("s3-path-style %q: want true or false", v)
		}
		c.PathStyle = &b
	}
	return c, nil
}

// passphrase is the request's passphrase: its provider's, else the
// environment's (see Passphrase).
func passphrase(req steps.Request) ([]byte, error) {
	if req.Passphrase != nil {
		return req.Passphrase()
	}
	return Passphrase(req.Env)
}

// BackupReport is the backup action's Result.Data: the fields the
// timeline records and, for the command line (--json), the whole outcome
// with its manifest, which is not recorded (its file list can be long).
type BackupReport struct {
	Archive  string    `json:"archive"`
	Manifest string    `json:"manifest"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Tier     int       `json:"tier"`
	Created  time.Time `json:"created"`
	Files    int       `json:"files"`
	S3       string    `json:"s3"`
	Status   Status    `json:"status"`
	// Outcome is what Backup returned.
	Outcome *Outcome `json:"-"`
}

type backupAction struct{ deps Deps }

func (backupAction) Spec() steps.Spec { return spec("backup") }

func (a backupAction) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	tier := 1
	if t := req.Params["tier"]; t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 3 {
			return steps.Result{Status: steps.StatusFailed, Summary: "backup: tier must be 1, 2 or 3"}, fmt.Errorf("backup: tier %q: want 1, 2 or 3", t)
		}
		tier = n
	}
	s3, err := s3Params(req.Params, "")
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: "backup: " + err.Error()}, fmt.Errorf("backup: %w", err)
	}
	pass, err := passphrase(req)
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: "backup: no passphrase"}, err
	}
	dir := BackupDir(req.Env, req.Params["to"])
	tool := a.deps.Tool
	if tool == "" {
		tool = "drbook"
	}
	o := Options{Root: req.Env.Root, Tier: tier, Dir: dir, S3: s3, Passphrase: pass,
		Now: req.Env.Now, Emit: emit, Tool: tool, Checker: a.deps.Checker}
	if req.DryRun {
		return steps.Result{Status: steps.StatusOK, Summary: fmt.Sprintf("dry run: would back up %s (tier %d) to %s", req.Env.Root, tier, dir)}, nil
	}
	out, err := Backup(ctx, o)
	if out == nil {
		return steps.Result{Status: steps.StatusFailed, Summary: "backup failed: " + oneLine(err)}, err
	}
	m := out.Manifest
	st := out.Status()
	sum := fmt.Sprintf("backup %s %s (tier %d, %d files, %s) in %s", m.Archive, st, m.Tier, len(m.Files), FormatSize(m.ArchiveSize), dir)
	if out.S3URL != "" {
		sum += "; copied to " + out.S3URL
	}
	data := BackupReport{Archive: out.ArchivePath, Manifest: out.ManifestPath, SHA256: m.ArchiveSHA256,
		Size: m.ArchiveSize, Tier: m.Tier, Created: m.Created, Files: len(m.Files), S3: out.S3URL, Status: st, Outcome: out}
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: sum + "; " + oneLine(err), Data: data}, err
	}
	return steps.Result{Status: steps.StatusOK, Summary: sum, Data: data}, nil
}

type restoreAction struct {
	name string
	deps Deps
}

func (a restoreAction) Spec() steps.Spec { return spec(a.name) }

func (a restoreAction) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if !req.Confirmed && !req.DryRun && req.Confirm == nil {
		return steps.Result{Status: steps.StatusFailed, Summary: a.name + ": not confirmed; nothing changed"}, fmt.Errorf("%s: %w", a.name, steps.ErrNotConfirmed)
	}
	only := []string(nil)
	if a.name == "restore-config" {
		only = []string{PartConfig, PartEnv}
	} else if s := req.Params["only"]; s != "" {
		for _, p := range strings.Split(s, ",") {
			only = append(only, strings.TrimSpace(p))
		}
	}
	bad := func(err error) (steps.Result, error) {
		return steps.Result{Status: steps.StatusFailed, Summary: a.name + ": " + err.Error() + "; nothing changed"}, fmt.Errorf("%s: %w", a.name, err)
	}
	var expand Expansion
	if v := strings.TrimSpace(req.Params["max-expand"]); v != "" {
		e, err := ParseExpansion(v)
		if err != nil {
			return bad(err)
		}
		expand = e
	}
	from := req.Params["from"]
	s3, err := s3Params(req.Params, from)
	if err != nil {
		return bad(err)
	}
	pass, err := passphrase(req)
	if err != nil && !isPlainDB(from) {
		return steps.Result{Status: steps.StatusFailed, Summary: a.name + ": no passphrase"}, err
	}
	o := RestoreOptions{Root: req.Env.Root, From: from, Only: only, Dir: BackupDir(req.Env, req.Params["to"]),
		S3: s3, Passphrase: pass, DryRun: req.DryRun, Confirmed: req.Confirmed, MaxExpand: expand,
		Now: req.Env.Now, Emit: emit, Operator: req.Env.Operator, IncidentID: req.Env.IncidentID,
		Checker: a.deps.Checker, KillSwitch: a.deps.KillSwitch}
	if !req.Confirmed && !req.DryRun {
		// Asked after staging and checking, with what would change.
		o.Confirm = func(res *RestoreResult) bool { return req.Confirm(res) }
	}
	res, err := Restore(ctx, o)
	if err != nil {
		r := steps.Result{Status: steps.StatusFailed, Summary: a.name + " failed: " + oneLine(err) + "; live data unchanged"}
		if res != nil { // failed after the swap began: say where the originals are
			r.Summary = a.name + " failed: " + oneLine(err) + "; originals kept at " + strings.Join(res.Aside, ", ")
			r.Data = res
		}
		if res != nil && errors.Is(err, ErrPostCheckNotRun) { // restored; only the check after it could not run
			r.Summary, r.BackupTime = oneLine(err), res.BackupTime
		}
		if h := hint.Of(err); h != "" {
			emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Stdout, Line: "hint: " + h})
		}
		return r, err
	}
	verb := "restored"
	if res.DryRun {
		verb = "dry run: would restore"
	}
	sum := fmt.Sprintf("%s %s from %s (backup taken %s)", verb, strings.Join(res.Parts, ", "), filepath.Base(res.Source), res.BackupTime.Format(time.RFC3339))
	// The report (what changed, a failure's hint) goes to Stdout: what
	// the action did, for the timeline, where its commentary is Info. A
	// command that prints the report itself from Result.Data leaves
	// these lines out.
	for _, c := range res.Changes {
		emit(steps.Event{Time: req.Env.Clock(), Stream: steps.Stdout, Line: fmt.Sprintf("%s: %s", c.Path, c.Detail)})
	}
	return steps.Result{Status: steps.StatusOK, Summary: sum, BackupTime: res.BackupTime, Data: res}, nil
}

func isPlainDB(from string) bool { return from != "" && from != "latest" && IsSQLite(from) }

func spec(name string) steps.Spec {
	return specs[name]
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	return firstLine(err.Error())
}
