package incident

import (
	"encoding/json"
	"time"
)

// Kind names what an event records.
type Kind string

// Event kinds. The timeline is append-only: a later event never changes an
// earlier one, it only adds to the story.
const (
	KindDeclared          Kind = "declared"           // Data.Declared holds the incident and its runbook snapshot
	KindResumed           Kind = "resumed"            // a process reopened the incident
	KindSeverity          Kind = "severity_changed"   // Data.Severity, Data.Reason
	KindPhaseStarted      Kind = "phase_started"      // Phase
	KindPhaseCompleted    Kind = "phase_completed"    // Phase
	KindRTOStopped        Kind = "rto_stopped"        // Data.Met: the RTO phase completed (or the incident was resolved)
	KindStepStarted       Kind = "step_started"       // Step
	KindStepDone          Kind = "step_done"          // Step, Data.Text: optional note, Data.Findings
	KindStepSkipped       Kind = "step_skipped"       // Step, Data.Reason
	KindStepFailed        Kind = "step_failed"        // Step, Data.Reason
	KindNote              Kind = "note"               // Data.Text
	KindActionStarted     Kind = "action_started"     // Step, Data.Action, Data.Mode, Data.Params
	KindActionOutput      Kind = "action_output"      // Step, Data.Output (a chunk), Data.Truncated
	KindActionFinished    Kind = "action_finished"    // Step, Data.Status, Summary, ExitCode, Duration, Error, BackupTime, Result, Findings
	KindActionInterrupted Kind = "action_interrupted" // Step: its process died (or, Data.Status "cancelled", it was cancelled); it is not re-run
	KindComms             Kind = "comms"              // Data.Comms: a filled communication template
	KindClosed            Kind = "closed"             // Data.Outcome, Data.Text: the summary
	KindFinding           Kind = "finding"            // Data.Finding: a remediation item with an owner and a due date
	KindSignoff           Kind = "signoff"            // Data.Signoff: someone signed the record off
	KindDelivery          Kind = "delivery"           // Data.Delivery: one attempt to send a message through one channel
)

// Event is one row of an incident's timeline.
type Event struct {
	Incident string    `json:"incident"`
	Seq      int64     `json:"seq"` // 1, 2, 3... within the incident
	At       time.Time `json:"at"`  // incident time (a drill's speed factor applies)
	Kind     Kind      `json:"kind"`
	Phase    string    `json:"phase,omitempty"`
	Step     string    `json:"step,omitempty"`
	Actor    string    `json:"actor,omitempty"` // operator, "name (addr)"
	Data     EventData `json:"data"`
	PrevHash string    `json:"prev_hash"` // hex SHA-256 of the previous event; "" for the first
	Hash     string    `json:"hash"`      // hex SHA-256 of PrevHash and this event's canonical content
}

// EventData is an event's payload; which fields are set depends on Kind.
type EventData struct {
	Text     string  `json:"text,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	Severity int     `json:"severity,omitempty"`
	Outcome  Outcome `json:"outcome,omitempty"`
	Met      *bool   `json:"met,omitempty"`

	// Actions.
	Action     string            `json:"action,omitempty"`
	Mode       string            `json:"mode,omitempty"` // run, simulate, skip
	Params     map[string]string `json:"params,omitempty"`
	Output     string            `json:"output,omitempty"`
	Truncated  int64             `json:"truncated,omitempty"` // bytes of output not kept (cap reached)
	Status     string            `json:"status,omitempty"`
	Summary    string            `json:"summary,omitempty"`
	ExitCode   int               `json:"exit_code,omitempty"`
	DurationMS int64             `json:"duration_ms,omitempty"`
	Error      string            `json:"error,omitempty"`
	BackupTime *time.Time        `json:"backup_time,omitempty"`
	Result     json.RawMessage   `json:"result,omitempty"`
	// Findings, on action_finished and step_done, are what an action
	// that did its job left for the operator to look at: the step is done
	// with findings, not failed.
	Findings []string `json:"findings,omitempty"`

	// Process that wrote a resumed or action_started event.
	Host string `json:"host,omitempty"`
	PID  int    `json:"pid,omitempty"`
	// ClockReal, on the resumed event of a sped-up drill, is the real
	// instant at which the drill clock restarted from the event's time.
	ClockReal *time.Time `json:"clock_real,omitempty"`

	Declared *Declaration   `json:"declared,omitempty"`
	Comms    *Message       `json:"comms,omitempty"`
	Finding  *Finding       `json:"finding,omitempty"`
	Signoff  *Signoff       `json:"signoff,omitempty"`
	Delivery *DeliveryEntry `json:"delivery,omitempty"`
}

// Finding is a remediation item raised by a drill or an incident: what
// must change, who owns it and by when (the plan's section 6 action items;
// regulators ask for remediation with an owner and a date).
type Finding struct {
	ID    int    `json:"id"` // 1, 2, 3... within the incident
	Text  string `json:"text"`
	Owner string `json:"owner"`
	Due   string `json:"due"` // YYYY-MM-DD
}

// Signoff records that someone reviewed and accepted the record.
type Signoff struct {
	By        string `json:"by"`
	Role      string `json:"role,omitempty"`
	Statement string `json:"statement,omitempty"`
}

// Declaration is the payload of the declared event: everything about the
// incident that does not change, including a snapshot of the runbook's
// structure so that State, Report and Comms never need the runbook file.
type Declaration struct {
	Title      string            `json:"title"`
	Severity   int               `json:"severity"`
	Mode       Mode              `json:"mode"`
	Operator   Operator          `json:"operator"`
	DeclaredAt time.Time         `json:"declared_at"`
	DetectedAt time.Time         `json:"detected_at"` // == DeclaredAt unless backdated
	Root       string            `json:"root,omitempty"`
	Scenario   string            `json:"scenario,omitempty"`   // drill: the injected fault
	DrillTest  string            `json:"drill_test,omitempty"` // drill: which scheduled test (Tests)
	Speed      float64           `json:"speed,omitempty"`      // drill speed factor; 0 or 1 is real time
	Impact     string            `json:"impact,omitempty"`
	Vars       map[string]string `json:"vars,omitempty"` // secrets already [REDACTED]
	Runbook    RunbookSnapshot   `json:"runbook"`
}

// RunbookSnapshot is the part of a runbook an incident's clocks and
// exports need, recorded at declaration.
type RunbookSnapshot struct {
	ID       string                `json:"id"`
	Title    string                `json:"title"`
	Source   string                `json:"source"`
	SHA256   string                `json:"sha256,omitempty"` // of the runbook file as read
	RTO      time.Duration         `json:"rto"`
	RPO      time.Duration         `json:"rpo"`
	MTD      time.Duration         `json:"mtd"`
	RTOPhase string                `json:"rto_phase,omitempty"`
	Response map[int]time.Duration `json:"response,omitempty"` // severity -> response time
	Phases   []PhaseSnapshot       `json:"phases"`
}

// PhaseSnapshot is a phase as declared.
type PhaseSnapshot struct {
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Start     time.Duration  `json:"start,omitempty"`
	End       time.Duration  `json:"end,omitempty"`
	HasWindow bool           `json:"has_window,omitempty"`
	Steps     []StepSnapshot `json:"steps"`
}

// StepSnapshot is a step as declared.
type StepSnapshot struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Kind        string `json:"kind"`
	Action      string `json:"action,omitempty"` // shell, sql or the drbook block's action
	Destructive bool   `json:"destructive,omitempty"`
}
