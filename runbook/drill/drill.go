// Package drill runs tabletop drills: it builds a sandbox QuantAI system,
// takes the baseline backup a real system would have, breaks the sandbox
// with a fault scenario and declares a drill incident against it. Auto then
// plays the whole runbook unattended, as the plan's monthly recovery test
// fit for cron.
//
// The package is domain only: the TUI and the CLI are views on it.
package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
)

// Options describe a drill to start.
type Options struct {
	ID       string // incident id; "" generates one
	Runbook  *runbook.Runbook
	Scenario string // fault to inject; "" for none
	Speed    float64
	// Dir is the drill's directory: the sandbox goes in Dir/sandbox and
	// its backups in Dir/backups. "" makes a new one under StateDir/drills.
	Dir      string
	StateDir string
	Store    *incident.Store
	Operator incident.Operator
	Severity int
	Title    string
	// DetectedAgo backdates the incident: the outage began this long ago.
	DetectedAgo time.Duration
	// BackupAge stamps the baseline backup as taken this long before the
	// detection, as the plan's 15-minute snapshots would be, so that the
	// RPO achieved of a drill means something. The baseline always
	// precedes the detection, however far that is backdated.
	BackupAge time.Duration
	Clock     incident.Clock // nil: the system clock
	Trades    int            // sandbox size; 0: the sandbox default
	// Progress receives one line per preparation stage; may be nil.
	Progress func(string)
	// Vars are the runbook variables' values (secret ones are never
	// recorded; they reach the actions through Drill.Env.Vars).
	Vars map[string]string
}

// Drill is a started drill.
type Drill struct {
	Incident *incident.Incident
	Dir      string
	Env      steps.Env // what the drill's actions run against
}

// Layout of a drill directory.
const (
	SandboxDir = "sandbox"
	BackupsDir = "backups"
)

// EnvFor returns the action environment of a drill whose directory is dir.
func EnvFor(dir string, in *incident.Incident, operator string) steps.Env {
	return steps.Env{
		Root:       filepath.Join(dir, SandboxDir),
		Drill:      true,
		IncidentID: in.ID(),
		Operator:   operator,
		BackupDir:  filepath.Join(dir, BackupsDir),
		Now:        in.Now,
	}
}

// DirOf returns the drill directory of a sandbox root made by Start, or
// "" if root is not one.
func DirOf(root string) string {
	if filepath.Base(root) != SandboxDir {
		return ""
	}
	return filepath.Dir(root)
}

// Start prepares the sandbox and declares the drill.
func Start(ctx context.Context, o Options) (*Drill, error) {
	if o.Runbook == nil {
		return nil, errors.New("drill: no runbook")
	}
	if o.Store == nil {
		return nil, errors.New("drill: no state store")
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if o.Scenario != "" && !knownFault(o.Scenario) {
		return nil, fmt.Errorf("drill: %w: %q (known: %s)", sandbox.ErrUnknownFault, o.Scenario, strings.Join(faultNames(), ", "))
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = newDir(filepath.Join(o.StateDir, "drills")); err != nil {
			return nil, err
		}
	}
	root := filepath.Join(dir, SandboxDir)
	progress("creating the sandbox QuantAI system in " + root)
	if err := sandbox.Create(ctx, root, sandbox.Options{Trades: o.Trades}); err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	clock := o.Clock
	if clock == nil {
		clock = incident.SystemClock{}
	}
	env := steps.Env{Root: root, Drill: true, BackupDir: filepath.Join(dir, BackupsDir), Operator: o.Operator.Name}
	if steps.Implemented("backup") {
		progress("taking the baseline backup (the plan's latest 15-minute snapshot)")
		a, _ := steps.Lookup("backup")
		benv := env
		if back := o.DetectedAgo + o.BackupAge; back > 0 {
			taken := clock.Now().Add(-back)
			benv.Now = func() time.Time { return taken }
		}
		res, err := a.Run(ctx, steps.Request{Env: benv, Params: map[string]string{}}, nil)
		if err != nil {
			return nil, fmt.Errorf("drill: baseline backup: %w", err)
		}
		if res.Status == steps.StatusFailed {
			return nil, fmt.Errorf("drill: baseline backup failed: %s", res.Summary)
		}
	}
	if o.Scenario != "" {
		progress("injecting the fault: " + o.Scenario)
		if err := sandbox.Inject(root, o.Scenario); err != nil {
			return nil, fmt.Errorf("drill: inject %s: %w", o.Scenario, err)
		}
	}
	var detected time.Time
	if o.DetectedAgo > 0 {
		detected = clock.Now().Add(-o.DetectedAgo)
	}
	progress("declaring the drill")
	in, err := incident.Declare(ctx, o.Store, o.Runbook, incident.DeclareOptions{
		ID:         o.ID,
		Severity:   o.Severity,
		Mode:       incident.Drill,
		Title:      o.Title,
		Operator:   o.Operator,
		DetectedAt: detected,
		Root:       root,
		Scenario:   o.Scenario,
		Speed:      o.Speed,
		Vars:       o.Vars,
	}, clock)
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	denv := EnvFor(dir, in, o.Operator.Name)
	denv.Vars = o.Vars
	return &Drill{Incident: in, Dir: dir, Env: denv}, nil
}

func knownFault(name string) bool {
	for _, f := range sandbox.Faults() {
		if f.Name == name {
			return true
		}
	}
	return false
}

func faultNames() []string {
	var out []string
	for _, f := range sandbox.Faults() {
		out = append(out, f.Name)
	}
	return out
}

// newDir makes a fresh, uniquely named drill directory under parent.
func newDir(parent string) (string, error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", fmt.Errorf("drill: %w", err)
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(parent, time.Now().UTC().Format("20060102-150405")+"-"+hex.EncodeToString(b[:]))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("drill: %w", err)
	}
	return dir, nil
}

// DefaultScenario is the fault a drill of the runbook injects unless told
// otherwise: the damage the runbook exists to repair, so that a drill
// rehearses something real (a configuration runbook against a corrupted
// database would pass without touching it).
func DefaultScenario(runbookID string) string {
	switch runbookID {
	case "configuration-recovery":
		return "bad-config"
	case "trading-platform-failover":
		return "position-drift"
	case "site-failover", "site-failover-manual":
		// The primary site is lost: its database is gone.
		return "delete-db"
	}
	return "corrupt-db"
}
