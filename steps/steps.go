// Package steps holds drbook's actions: the things a runbook step can do
// that change the world (kill switch, backup, restore, reconcile, shell and
// SQL blocks...). Each action is a small type behind the Action interface,
// registered by name, so a runbook can bind a step to it and any front end
// can run every action the same way.
//
// Implementations live in sub-packages and register themselves with
// Register from an init function; import steps/all to get every one.
package steps

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/drbook/drbook/runbook"
)

// ErrNotImplemented is returned by an action that is declared but has no
// implementation in this build. It is never reported as done.
var ErrNotImplemented = errors.New("action not implemented in this build")

// ErrNotConfirmed is returned by a destructive action run without the
// operator's explicit confirmation.
var ErrNotConfirmed = errors.New("destructive action needs explicit confirmation")

// Param describes one parameter of an action.
type Param struct {
	Name     string
	Doc      string
	Required bool
	Default  string
}

// Spec declares an action: its name, parameters, whether it is destructive
// and what it does in a drill.
type Spec struct {
	Name        string
	Summary     string
	Params      []Param
	Destructive bool
	// Drill is what the action does by default when the incident is a drill:
	// run (against the sandbox), simulate (describe, change nothing) or skip.
	Drill runbook.DrillMode
	// Timeout is the default time limit; 0 means none.
	Timeout time.Duration
}

// Env is the system an action runs against and the incident around it.
type Env struct {
	Root       string // system root: holds data/quantai.db, config/, .env, logs/
	Drill      bool   // the incident is a drill; Root is a sandbox
	IncidentID string
	Operator   string
	Vars       map[string]string // runbook variables, secrets included
	Secrets    []string          // values to redact from anything recorded
	BackupDir  string            // local backup directory; "" for the default
	StateDir   string            // drbook's state directory (incidents, evidence); "" when unknown
	Now        func() time.Time  // clock; nil means time.Now
}

// DBPath is the system database, data/quantai.db under the root.
func (e Env) DBPath() string { return filepath.Join(e.Root, "data", "quantai.db") }

// Clock returns the current time from the environment's clock.
func (e Env) Clock() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Request is one run of an action.
type Request struct {
	Env    Env
	Params map[string]string // drbook block parameters, or flags from the CLI
	Block  *runbook.Block    // the block being run, if any (shell and sql read Code)
	// Confirmed is true once the operator has explicitly confirmed a
	// destructive action. Destructive actions refuse to run without it.
	Confirmed bool
	// DryRun asks the action to do everything up to changing data and to
	// report what it would change.
	DryRun bool
}

// Stream names where an event's line came from.
type Stream string

// Streams of action output.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
	Info   Stream = "info" // drbook's own commentary on the action
)

// Event is one piece of streamed output or progress from a running action.
type Event struct {
	Time     time.Time
	Stream   Stream
	Line     string    // one line of output, without the newline
	Progress *Progress // set for progress updates; Line may be empty
}

// Progress reports how far a long action has come.
type Progress struct {
	Phase string // "snapshot", "encrypt", "upload"...
	Done  int64
	Total int64 // 0 when unknown
	Unit  string
}

// Emit receives an action's events. It must not block for long.
type Emit func(Event)

// Status is an action's outcome.
type Status string

// Outcomes. Simulated and skipped happen only in drills.
const (
	StatusOK        Status = "ok"
	StatusFailed    Status = "failed"
	StatusSimulated Status = "simulated"
	StatusSkipped   Status = "skipped"
)

// Result is what an action reports when it ends.
type Result struct {
	Status   Status
	Summary  string // one line for the timeline
	ExitCode int    // shell blocks; 0 otherwise
	// BackupTime is set by a restore: the time the restored backup was
	// taken, from which the incident computes the RPO achieved.
	BackupTime time.Time
	// Data is the action's structured result (findings, breaks, file lists),
	// recorded in the timeline as JSON.
	Data any
}

// Action is a built-in action.
type Action interface {
	Spec() Spec
	// Run carries out the action, streaming output through emit. A failure
	// of the thing being checked or run is a Result with StatusFailed; an
	// error means the action itself could not be carried out.
	Run(ctx context.Context, req Request, emit Emit) (Result, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Action{}
)

// Register adds an implementation. It panics on a second registration of a
// name, or on a name that is not declared in Builtins.
func Register(a Action) {
	name := a.Spec().Name
	mu.Lock()
	defer mu.Unlock()
	if _, ok := registry[name]; ok {
		panic(fmt.Sprintf("steps: action %q registered twice", name))
	}
	if _, ok := Declared(name); !ok {
		panic(fmt.Sprintf("steps: action %q is not declared in Builtins", name))
	}
	registry[name] = a
}

// Lookup returns the action registered under name. A declared action with
// no implementation yet returns one that fails with ErrNotImplemented.
func Lookup(name string) (Action, bool) {
	mu.RLock()
	a, ok := registry[name]
	mu.RUnlock()
	if ok {
		return a, true
	}
	if s, ok := Declared(name); ok {
		return notImplemented{s}, true
	}
	return nil, false
}

// Implemented reports whether name has a real implementation linked in.
func Implemented(name string) bool {
	mu.RLock()
	defer mu.RUnlock()
	_, ok := registry[name]
	return ok
}

// Specs lists every declared action, sorted by name.
func Specs() []Spec {
	out := append([]Spec(nil), Builtins...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Declared returns the declaration of the action called name in Builtins.
// Implementations return it from their Spec method; Register has already
// refused any name that is not declared.
func Declared(name string) (Spec, bool) {
	for _, s := range Builtins {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

type notImplemented struct{ spec Spec }

func (n notImplemented) Spec() Spec { return n.spec }

func (n notImplemented) Run(context.Context, Request, Emit) (Result, error) {
	return Result{Status: StatusFailed, Summary: n.spec.Name + ": not implemented in this build"},
		fmt.Errorf("%s: %w", n.spec.Name, ErrNotImplemented)
}

// Catalog is the action catalogue for runbook validation.
type Catalog struct{}

// LookupAction implements runbook.Catalog. Shell and sql are block kinds,
// not names a drbook block may use, so they are not found here.
func (Catalog) LookupAction(name string) (runbook.ActionInfo, bool) {
	s, ok := Declared(name)
	if !ok || s.Name == ShellAction || s.Name == SQLAction {
		return runbook.ActionInfo{}, false
	}
	info := runbook.ActionInfo{Name: s.Name, Destructive: s.Destructive}
	for _, p := range s.Params {
		info.Params = append(info.Params, p.Name)
		if p.Required {
			info.Required = append(info.Required, p.Name)
		}
	}
	return info, true
}

var _ runbook.Catalog = Catalog{}

// ActionNames lists, sorted, the names a drbook block may use, so that
// validation can suggest the nearest one for a misspelt action.
func (Catalog) ActionNames() []string {
	var out []string
	for _, s := range Specs() {
		if s.Name != ShellAction && s.Name != SQLAction {
			out = append(out, s.Name)
		}
	}
	return out
}

var _ runbook.ActionLister = Catalog{}
