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
	"slices"
	"strings"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/runbook/hint"
	"github.com/drbook/drbook/runbook/incident"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/sandbox"
)

// Options describe a drill to start.
type Options struct {
	ID      string // incident id; "" generates one
	Runbook *runbook.Runbook
	// Scenario is the fault to inject, or several in order separated by
	// commas ("corrupt-db,bad-config,missing-env"); "" for none.
	Scenario string
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
	// S3 is where the baseline backup is also uploaded, when the scenario
	// has host-lost or the runbook declares the variable BACKUP_S3: under
	// S3.URL/drills/STAMP-HEX, a prefix of the drill's own that no
	// "latest" of the live system lists. Start then sets the runbook
	// variables BACKUP_S3 (that prefix) and BACKUP_S3_ENDPOINT unless
	// given. The host-lost scenario needs it: it rebuilds from S3 alone.
	S3 S3
}

// S3 is an S3 (or S3-compatible) location for a drill's baseline backup.
type S3 struct {
	URL      string // s3://bucket/prefix
	Endpoint string // an S3-compatible server; "" for AWS
	Region   string
}

// ErrScenario is wrapped by the errors of a scenario that cannot be
// injected as given (an unknown fault, a stack in an impossible order). It
// and ErrNoS3 are bad input (hint.IsInput).
var ErrScenario = hint.NewInput("bad drill scenario")

// ErrNoS3 is returned for a host-lost drill with no S3 location: a
// rebuild from S3 alone cannot be rehearsed without one.
var ErrNoS3 = hint.NewInput("the host-lost scenario rebuilds from S3 alone and needs an S3 location: set backup.s3 in the site configuration, or $DRBOOK_S3 (and $DRBOOK_S3_ENDPOINT for an S3-compatible server)")

// HostLost is the fault after which a drill also deletes its local
// backups: only the S3 copy is left to recover from.
const HostLost = "host-lost"

// Faults splits a scenario into its faults: comma-separated names, blanks
// trimmed; "" and "none" are no fault.
func Faults(scenario string) []string {
	var out []string
	for _, f := range strings.Split(scenario, ",") {
		if f = strings.TrimSpace(f); f != "" && f != "none" {
			out = append(out, f)
		}
	}
	return out
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
	faults := Faults(o.Scenario)
	for _, f := range faults {
		if !knownFault(f) {
			return nil, fmt.Errorf("drill: %w: %w: %q (known: %s)", ErrScenario, sandbox.ErrUnknownFault, f, strings.Join(faultNames(), ", "))
		}
	}
	if err := sandbox.CheckFaults(nil, false, faults); err != nil {
		return nil, fmt.Errorf("drill: %w: %w", ErrScenario, err)
	}
	o.Scenario = strings.Join(faults, ",")
	hostLost := slices.Contains(faults, HostLost)
	if hostLost && o.S3.URL == "" {
		return nil, fmt.Errorf("drill: %w", ErrNoS3)
	}
	var s3URL string
	if o.S3.URL != "" && (hostLost || declares(o.Runbook, "BACKUP_S3")) {
		var b [3]byte
		_, _ = rand.Read(b[:])
		s3URL = strings.TrimRight(o.S3.URL, "/") + "/drills/" + clockNow(o.Clock).UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
		vars := map[string]string{"BACKUP_S3": s3URL, "BACKUP_S3_ENDPOINT": o.S3.Endpoint}
		for k, v := range o.Vars {
			vars[k] = v
		}
		o.Vars = vars
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
		params := map[string]string{}
		if s3URL != "" {
			params["s3"], params["s3-endpoint"], params["s3-region"] = s3URL, o.S3.Endpoint, o.S3.Region
			progress("copying the baseline backup to " + s3URL)
		}
		res, err := a.Run(ctx, steps.Request{Env: benv, Params: params}, nil)
		if err != nil {
			return nil, fmt.Errorf("drill: baseline backup: %w", err)
		}
		if res.Status == steps.StatusFailed {
			return nil, fmt.Errorf("drill: baseline backup failed: %s", res.Summary)
		}
	}
	for _, f := range faults {
		progress("injecting the fault: " + f)
		if err := sandbox.Inject(root, f); err != nil {
			return nil, fmt.Errorf("drill: inject %s: %w", f, err)
		}
	}
	if hostLost {
		progress("deleting the drill's local backups (" + env.BackupDir + "): the lost host had them")
		if err := os.RemoveAll(env.BackupDir); err != nil {
			return nil, fmt.Errorf("drill: host-lost: %w", err)
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
	denv.Vars, denv.StateDir = o.Vars, o.StateDir
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

// declares reports whether the runbook has a variable called name.
func declares(rb *runbook.Runbook, name string) bool {
	for _, v := range rb.Vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

// clockNow reads c, or the system clock when c is nil.
func clockNow(c incident.Clock) time.Time {
	if c == nil {
		return time.Now()
	}
	return c.Now()
}

// DefaultScenario is the fault a drill of the runbook injects unless told
// otherwise: the damage the runbook exists to repair, so that a drill
// rehearses something real (a configuration runbook against a corrupted
// database would pass without touching it). Several faults are separated
// by commas; "" is none.
func DefaultScenario(runbookID string) string {
	switch runbookID {
	case "configuration-recovery":
		return "bad-config"
	case "trading-platform-failover":
		return "position-drift"
	case "site-failover", "site-failover-manual":
		// The primary site is lost: its database is gone.
		return "delete-db"
	case "single-agent-failure":
		return "agent-down"
	case "cross-platform-recovery":
		return HostLost
	case "full-dr-simulation":
		return "corrupt-db,bad-config,missing-env"
	case "compliance-validation":
		return "" // an audit of a healthy system: its findings are the point
	}
	return "corrupt-db"
}
