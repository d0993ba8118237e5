// Package standby keeps the secondary site warm and promotes it (plan 2.3,
// "Primary → Secondary system failover": the secondary system activates).
// A sync restores the newest counted backup into the secondary's root and
// says how far behind the primary it is; a promotion is a sync followed by
// the database integrity and data validation checks on the secondary.
//
// It composes the registered restore, integrity-check, validate-data and
// validate-config actions through the steps registry rather than
// importing their packages, so it stays one action package among equals.
package standby

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
)

// DrillSecondary is the secondary a drill makes next to its sandbox when
// none is named: DIR/secondary beside DIR/sandbox.
const DrillSecondary = "secondary"

// Errors callers test for.
var (
	ErrNoSecondary  = errors.New("no secondary root")
	ErrSameRoot     = errors.New("the secondary is the primary")
	ErrNotSandbox   = errors.New("a drill promotes only a sandbox secondary")
	ErrChecksFailed = errors.New("the secondary fails its checks")
)

// SyncResult is what a sync or promotion did.
type SyncResult struct {
	Secondary  string        `json:"secondary"`
	Source     string        `json:"source"`
	BackupTime time.Time     `json:"backup_time"`
	Behind     time.Duration `json:"behind_ns"` // the backup's age when synced
	Restore    string        `json:"restore"`   // the restore's summary
	Checks     []string      `json:"checks,omitempty"`
	Failed     []string      `json:"failed,omitempty"` // checks that failed
}

// SecondaryRoot resolves the secondary root from a parameter: absolute,
// or relative to the primary's parent. In a drill an empty one is
// DrillSecondary beside the sandbox; live, it is an error.
func SecondaryRoot(env steps.Env, param string) (string, error) {
	s := strings.TrimSpace(param)
	if s == "" {
		if !env.Drill {
			return "", fmt.Errorf("standby: %w: set failover.secondary in the site configuration or give secondary:", ErrNoSecondary)
		}
		s = DrillSecondary
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(filepath.Dir(filepath.Clean(env.Root)), s)
	}
	s = filepath.Clean(s)
	if p, err := filepath.Abs(env.Root); err == nil && env.Root != "" {
		if p == s || strings.HasPrefix(s, p+string(filepath.Separator)) || strings.HasPrefix(p, s+string(filepath.Separator)) {
			return "", fmt.Errorf("standby: secondary %s and primary %s overlap: %w", s, p, ErrSameRoot)
		}
	}
	return s, nil
}

// Sync restores the backup named by params["from"] (latest: the newest
// counted one, from params["backups"] or env.BackupDir, or params["s3"])
// into secondary. The caller has confirmed the change. In a drill the
// secondary must be a sandbox; a missing drill secondary is created.
func Sync(ctx context.Context, env steps.Env, secondary string, params map[string]string, emit steps.Emit) (SyncResult, error) {
	res := SyncResult{Secondary: secondary}
	if emit == nil {
		emit = func(steps.Event) {}
	}
	if env.Drill {
		if _, err := os.Stat(secondary); errors.Is(err, os.ErrNotExist) {
			emit(steps.Event{Time: env.Clock(), Stream: steps.Info, Line: "drill: creating the secondary sandbox " + secondary})
			if err := sandbox.Create(ctx, secondary, sandbox.Options{Trades: sandbox.MinTrades}); err != nil {
				return res, fmt.Errorf("standby: %w", err)
			}
		}
		if !sandbox.IsSandbox(secondary) {
			return res, fmt.Errorf("standby: %s: %w", secondary, ErrNotSandbox)
		}
	}
	if fi, err := os.Stat(secondary); err != nil || !fi.IsDir() {
		return res, fmt.Errorf("standby: secondary %s is not a directory", secondary)
	}
	restore, ok := steps.Lookup("restore")
	if !ok {
		return res, errors.New("standby: no restore action in this build")
	}
	renv := env
	renv.Root = secondary
	switch d := strings.TrimSpace(params["backups"]); {
	case d != "":
		renv.BackupDir = d
	case renv.BackupDir == "" && env.Drill && env.Root != "":
		// The primary's backups, where a drill keeps them (the restore
		// would otherwise look under the secondary).
		renv.BackupDir = filepath.Join(env.Root, "backups")
	}
	from := strings.TrimSpace(params["from"])
	if from == "" {
		from = "latest"
	}
	rp := map[string]string{"from": from}
	for _, k := range []string{"s3", "s3-endpoint", "s3-region"} {
		if v := params[k]; v != "" {
			rp[k] = v
		}
	}
	if renv.BackupDir != "" {
		rp["to"] = renv.BackupDir
	}
	r, err := restore.Run(ctx, steps.Request{Env: renv, Params: rp, Confirmed: true}, emit)
	res.Restore = r.Summary
	if err != nil {
		return res, fmt.Errorf("standby: restore into %s: %w", secondary, err)
	}
	if r.Status != steps.StatusOK {
		return res, fmt.Errorf("standby: restore into %s: %s", secondary, r.Summary)
	}
	res.BackupTime = r.BackupTime
	if !r.BackupTime.IsZero() {
		res.Behind = env.Clock().Sub(r.BackupTime)
	}
	// The restore's result names its source; read it through its JSON
	// form rather than import the backup package.
	var src struct {
		Source string `json:"source"`
	}
	if b, err := json.Marshal(r.Data); err == nil && json.Unmarshal(b, &src) == nil {
		res.Source = src.Source
	}
	return res, nil
}

// Check runs the named check actions on the secondary and returns which
// ran and which failed, with their summaries.
func Check(ctx context.Context, env steps.Env, secondary string, names []string, emit steps.Emit) (ran, failed []string, err error) {
	cenv := env
	cenv.Root = secondary
	for _, n := range names {
		a, ok := steps.Lookup(n)
		if !ok {
			return ran, failed, fmt.Errorf("standby: no %s action in this build", n)
		}
		r, err := a.Run(ctx, steps.Request{Env: cenv, Params: map[string]string{}}, emit)
		if err != nil {
			return ran, failed, fmt.Errorf("standby: %s on %s: %w", n, secondary, err)
		}
		ran = append(ran, n+": "+r.Summary)
		if r.Status == steps.StatusFailed {
			failed = append(failed, n+": "+r.Summary)
		}
	}
	return ran, failed, nil
}

// Behind formats how far behind the primary a sync leaves the secondary.
func Behind(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
