// Package steps holds drbook's actions: the things a runbook step can do
// that change the world (kill switch, backup, restore, reconcile, shell and
// SQL blocks...). Each action is a small type behind the Action interface,
// registered by name, so a runbook can bind a step to it and any front end
// can run every action the same way.
//
// Implementations live in sub-packages, each with a Register function; the
// composition root (the command line, through steps/all) registers every
// one explicitly in Default, the registry the incident engine looks
// actions up in. No package registers anything from an init function.
package steps

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps/system"
)

// ErrNotImplemented is returned for an action this program has not
// registered. It is never reported as done.
var ErrNotImplemented = errors.New("action not implemented in this build")

// ErrNeedsIncident is returned by the notify action run outside an
// incident: it fills its template from the incident, which carries it out.
var ErrNeedsIncident = errors.New("notify fills its template from an incident: run it as a step of one (or use 'drbook comms ID --record')")

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
	// StateDir is drbook's state directory, where an action keeps the
	// evidence of an incident (STATE_DIR/evidence/ID); "" for the default
	// (system.StateDir).
	StateDir string
	Now      func() time.Time // clock; nil means time.Now
}

// DBPath is the system database, data/quantai.db under the root.
func (e Env) DBPath() string { return system.DB(e.Root) }

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
	// Confirm, when Confirmed is false, lets a destructive action that
	// checks before it changes anything (the restore) ask the operator
	// mid-way: it is called once, with the action's own account of what
	// would change (a restore's *backup.RestoreResult), and the action
	// goes on only if it returns true. Nil means no one can be asked.
	Confirm func(preview any) bool
	// Passphrase, when set, gives the backup passphrase (the command line
	// reads it from a file or a no-echo prompt); nil lets the action find
	// it in the environment. A secret is never a parameter: parameters
	// are recorded in the timeline.
	Passphrase func() ([]byte, error)
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
	// Findings are what the operator must look at in an action that did
	// its job: a result with StatusOK and findings is "done with
	// findings", recorded with the step, its timeline and its report, and
	// never shown as a failure. The kill switch, for one, reports a
	// damaged database it deliberately left untouched while the flag file
	// holds the halt.
	Findings []string
}

// WithFindings reports whether r is done with findings: the action did
// its job and left something to look at.
func (r Result) WithFindings() bool { return r.Status == StatusOK && len(r.Findings) > 0 }

// Action is a built-in action.
type Action interface {
	Spec() Spec
	// Run carries out the action, streaming output through emit. A failure
	// of the thing being checked or run is a Result with StatusFailed; an
	// error means the action itself could not be carried out.
	Run(ctx context.Context, req Request, emit Emit) (Result, error)
}

// Registry holds the actions a program can run, by name.
type Registry struct {
	mu      sync.RWMutex
	actions map[string]Action
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{actions: map[string]Action{}} }

// Default is the registry the composition root fills (steps/all.Register)
// and the package-level Lookup and Implemented read.
var Default = NewRegistry()

// Register adds an action, declared by its own Spec. It panics on a
// second registration of a name, or on an action with no name.
func (r *Registry) Register(a Action) {
	name := a.Spec().Name
	if name == "" {
		panic("steps: an action with no name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.actions[name]; ok {
		panic(fmt.Sprintf("steps: action %q registered twice", name))
	}
	r.actions[name] = a
}

// Lookup returns the action registered under name.
func (r *Registry) Lookup(name string) (Action, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok := r.actions[name]
	return a, ok
}

// Specs lists the declarations of the registered actions, sorted by name.
func (r *Registry) Specs() []Spec {
	r.mu.RLock()
	out := make([]Spec, 0, len(r.actions))
	for _, a := range r.actions {
		out = append(out, a.Spec())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Spec returns the declaration of the action registered under name.
func (r *Registry) Spec(name string) (Spec, bool) {
	a, ok := r.Lookup(name)
	if !ok {
		return Spec{}, false
	}
	return a.Spec(), true
}

// Implemented reports whether name has a real implementation registered.
func (r *Registry) Implemented(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.actions[name]
	return ok
}

// Register adds an implementation to Default.
func Register(a Action) { Default.Register(a) }

// Lookup returns the action registered under name in Default.
func Lookup(name string) (Action, bool) { return Default.Lookup(name) }

// Implemented reports whether name has an implementation in Default.
func Implemented(name string) bool { return Default.Implemented(name) }

// Specs lists the declarations of the actions registered in Default.
func Specs() []Spec { return Default.Specs() }

// Catalog is the action catalogue for runbook validation: the
// declarations of the actions registered in Registry (Default when nil),
// so that validation knows exactly the actions this program can run.
type Catalog struct {
	Registry *Registry
}

func (c Catalog) registry() *Registry {
	if c.Registry != nil {
		return c.Registry
	}
	return Default
}

// LookupAction implements runbook.Catalog. Shell and sql are block kinds,
// not names a drbook block may use, so they are not found here.
func (c Catalog) LookupAction(name string) (runbook.ActionInfo, bool) {
	s, ok := c.registry().Spec(name)
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
func (c Catalog) ActionNames() []string {
	var out []string
	for _, s := range c.registry().Specs() {
		if s.Name != ShellAction && s.Name != SQLAction {
			out = append(out, s.Name)
		}
	}
	return out
}

var _ runbook.ActionLister = Catalog{}
