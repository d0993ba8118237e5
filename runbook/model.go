// Package runbook is drbook's document model: a disaster-recovery runbook
// written in Markdown, parsed into phases, steps and executable blocks.
//
// The model knows nothing about how an action runs (that is package steps)
// or how it is shown (package ui); it only says what the document asks for.
package runbook

import "time"

// Kind says how a step is carried out.
type Kind string

// Step kinds. A manual step is acknowledged by the operator; shell and sql
// steps run their block; an action step runs a built-in action named in a
// drbook block; a reference step shows code drbook does not run.
const (
	KindManual    Kind = "manual"
	KindShell     Kind = "shell"
	KindSQL       Kind = "sql"
	KindAction    Kind = "action"
	KindReference Kind = "reference"
)

// DrillMode says what a block does when the incident is a drill.
type DrillMode string

// Drill modes. The zero value means "the action's own default".
const (
	DrillDefault  DrillMode = ""
	DrillRun      DrillMode = "run"
	DrillSkip     DrillMode = "skip"
	DrillSimulate DrillMode = "simulate"
)

// Runbook is one parsed Markdown runbook.
type Runbook struct {
	ID       string // stable identifier: front matter id, else derived from the file name
	Title    string
	Source   string // the name given to Parse: a path, or "embedded:NAME.md"
	SHA256   string // hex SHA-256 of the bytes given to Parse: which text was followed
	Severity int    // default severity (1..3), 0 when unset

	Objectives Objectives
	// RTOPhase is the ID of the phase whose completion stops the RTO clock;
	// empty means the last phase with a window that ends at or before the RTO.
	RTOPhase string
	// Response maps a severity (1, 2, 3) to its response time (plan 2.1).
	Response map[int]time.Duration
	Vars     []Var
	Phases   []*Phase

	// Contacts is the Markdown of an "Emergency Contacts" section, if any.
	Contacts string
	// Sections holds other named Markdown sections worth showing on demand
	// (for example "Communication Templates"), keyed by heading text.
	Sections map[string]string

	Line int // line of the title heading, or 1

	// problems found while parsing that do not stop the parse (unknown
	// attributes, bad values); Validate reports them with the rest.
	problems Problems
}

// Objectives are the recovery objectives the clocks run against.
// A zero duration means the runbook does not set it.
type Objectives struct {
	RTO time.Duration // recovery time objective
	RPO time.Duration // recovery point objective
	MTD time.Duration // maximum tolerable downtime
}

// Var is a variable the runbook's blocks may use as $NAME or ${NAME}.
type Var struct {
	Name    string
	Prompt  string
	Default string
	Secret  bool // never recorded or exported; shown as [REDACTED]
}

// Window is a phase's time window relative to the incident's start.
type Window struct {
	Start, End time.Duration
	Set        bool // false when the phase has no window
	// Deadline is true for a window written as "< N": done within N of the
	// start. Alternatives (automatic or manual failover) may share a
	// deadline, so deadlines are not checked for overlap.
	Deadline bool
}

// Phase is a stage of recovery, such as "Immediate Actions (0-15 minutes)".
type Phase struct {
	ID     string // stable: derived from the title, unique in the runbook
	Title  string
	Window Window
	Detail string // Markdown under the phase that is not a step
	Steps  []*Step
	Line   int
	// Group is the heading the phase sits under when phases are written as
	// an ordered list ("Complete System Recovery"), or the parent heading
	// of a heading phase; windows only overlap within a group.
	Group string
}

// Step is one thing to do inside a phase.
type Step struct {
	ID     string // stable: derived from phase and text, unique in the runbook
	Title  string // the list item's first line, or the block's name
	Kind   Kind
	Detail string // the step's Markdown, nested text and blocks included
	Block  *Block // the executable or reference block; nil for manual steps
	Line   int
}

// Destructive reports whether running the step changes data and so needs
// the operator's explicit confirmation.
func (s *Step) Destructive() bool { return s.Block != nil && s.Block.Attrs.Confirm }

// Block is a fenced code block.
type Block struct {
	Lang string // the info string's language, lower case: sh, bash, sql, drbook, python...
	Code string // the block's text; for drbook blocks, everything after the action line
	Line int    // line of the opening fence

	Attrs Attrs

	// Action and Params are set for drbook blocks: the first line names the
	// action, the following "key: value" lines are its parameters.
	Action string
	Params map[string]string
}

// Attrs are a block's attributes, written after the language in Runme's
// syntax: {name=restore-db confirm=true} or {"name":"restore-db"}.
type Attrs struct {
	Name        string        // name= or id=
	Confirm     bool          // destructive: needs explicit confirmation
	Timeout     time.Duration // 0: the action's default
	Expect      int           // expected exit code of a shell block
	Drill       DrillMode     // what the block does in a drill
	Cwd         string        // working directory, relative to the system root
	Write       bool          // SQL that changes data
	Interpreter string        // shell interpreter, default "bash -euo pipefail"
	// Diagnostic marks a step that looks and reports, such as an integrity
	// check while assessing the damage: when it finds problems (a Result
	// with StatusFailed and no error) the step is done, its findings being
	// what it was for. An error carrying it out still fails the step.
	Diagnostic bool
	// Raw holds every attribute as written, known or not, for display and
	// for validation of unknown names.
	Raw map[string]string
}
