package incident

import (
	"time"
)

// Mode says whether an incident is real or a drill.
type Mode string

// Modes.
const (
	Live  Mode = "live"
	Drill Mode = "drill"
)

// Status is an incident's overall status.
type Status string

// Statuses. An incident is open until closed as resolved or abandoned.
const (
	StatusOpen      Status = "open"
	StatusResolved  Status = "resolved"
	StatusAbandoned Status = "abandoned"
)

// Outcome is how an incident was closed.
type Outcome = Status

// StepStatus is where a step stands.
type StepStatus string

// Step statuses. A step moves pending -> running -> done | skipped | failed;
// a failed or interrupted step may be started again.
const (
	StepPending     StepStatus = "pending"
	StepRunning     StepStatus = "running"
	StepDone        StepStatus = "done"
	StepSkipped     StepStatus = "skipped"
	StepFailed      StepStatus = "failed"
	StepInterrupted StepStatus = "interrupted" // its action was running when drbook died
)

// Closed reports whether the step needs nothing more: done or skipped.
func (s StepStatus) Closed() bool { return s == StepDone || s == StepSkipped }

// Operator is who is at the keyboard.
type Operator struct {
	Name string `json:"name"`
	Addr string `json:"addr,omitempty"` // SSH client address, when over SSH
}

// String returns "name" or "name (addr)".
func (o Operator) String() string {
	if o.Addr == "" {
		return o.Name
	}
	return o.Name + " (" + o.Addr + ")"
}

// State is an incident rebuilt from its timeline. It is a snapshot: the
// caller owns it and may keep it while the incident moves on.
type State struct {
	ID          string
	Declaration Declaration // the declared event's payload: runbook snapshot, mode, operator...
	Severity    int         // current severity
	Status      Status
	ClosedAt    time.Time
	Summary     string // the closing summary

	Phases []PhaseState
	Notes  []Note
	Runs   []ActionRun // every action run, in order
	Comms  []Message   // every communication recorded (notify)
	// Findings and Signoffs may follow the close: the review comes after.
	Findings []FindingEntry
	Signoffs []SignoffEntry
	// Deliveries are every attempt to send a message, in order.
	Deliveries []DeliveryEntry

	// FirstAck is when the first step or action was acknowledged (started,
	// done, skipped or failed); it meets or misses the response time.
	FirstAck time.Time
	// RTOStopped is when the RTO clock stopped (the RTO phase completed, or
	// the incident was resolved first); zero while it runs.
	RTOStopped time.Time
	// BackupTime is when the most recently restored backup was taken; zero
	// until a restore records it. RPO achieved is DetectedAt minus it.
	BackupTime time.Time

	Resumes   int
	LastEvent time.Time
	// ClockAt and ClockReal anchor a sped-up drill's clock after a resume:
	// drill time ClockAt was real time ClockReal. Zero until a resume.
	ClockAt, ClockReal time.Time

	// The process that started each run (index into Runs), for resume.
	runProc map[int]int
	runHost map[int]string

	LastSeq int64
	// LastHash is the hash of event LastSeq: a state built before a
	// replication rebase re-sequenced the timeline is caught by it.
	LastHash string
	Events   int
}

// PhaseState is a phase and its steps.
type PhaseState struct {
	PhaseSnapshot
	StartedAt   time.Time // zero until started (explicitly or by a step)
	CompletedAt time.Time // zero until completed (explicitly or when every step is done or skipped)
	Steps       []StepState
}

// StepState is one step's status and history.
type StepState struct {
	StepSnapshot
	Phase  string
	Status StepStatus
	Reason string // why skipped or failed; the note given when done
	// Findings are what the action that did the step left to look at: the
	// step is done with findings.
	Findings  []string
	StartedAt time.Time
	EndedAt   time.Time
	Runs      []int // indexes into State.Runs
}

// FindingEntry is a finding as recorded.
type FindingEntry struct {
	Finding
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
}

// SignoffEntry is a sign-off as recorded.
type SignoffEntry struct {
	Signoff
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
}

// Note is an operator's note.
type Note struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	Text  string    `json:"text"`
}

// ActionRun is one run of a step's action.
type ActionRun struct {
	Step       string
	Action     string
	Mode       string // run, simulate or skip
	Params     map[string]string
	StartedAt  time.Time
	By         string    // who started it (the action_started event's actor)
	FinishedAt time.Time // zero while running or when interrupted
	Duration   time.Duration
	Status     string // ok, failed, simulated, skipped, interrupted; "" while running
	Summary    string
	ExitCode   int
	Error      string
	Output     string // redacted, capped
	Truncated  int64  // bytes of output dropped by the cap
	BackupTime time.Time
	Findings   []string // an ok run's findings: done with findings
}

// Step returns the step with the given id, or nil.
func (s *State) Step(id string) *StepState {
	for i := range s.Phases {
		for j := range s.Phases[i].Steps {
			if s.Phases[i].Steps[j].ID == id {
				return &s.Phases[i].Steps[j]
			}
		}
	}
	return nil
}

// Phase returns the phase with the given id, or nil.
func (s *State) Phase(id string) *PhaseState {
	for i := range s.Phases {
		if s.Phases[i].ID == id {
			return &s.Phases[i]
		}
	}
	return nil
}

// Start is when the clocks start: the detection time (declared time unless
// backdated).
func (s *State) Start() time.Time { return s.Declaration.DetectedAt }

// Progress returns the steps that need nothing more (done or skipped) and
// the total number of steps.
func (s *State) Progress() (closed, total int) {
	for _, p := range s.Phases {
		for _, st := range p.Steps {
			total++
			if st.Status.Closed() {
				closed++
			}
		}
	}
	return closed, total
}

// CurrentPhase returns the first phase not completed, or nil when every
// phase is.
func (s *State) CurrentPhase() *PhaseState {
	for i := range s.Phases {
		if s.Phases[i].CompletedAt.IsZero() {
			return &s.Phases[i]
		}
	}
	return nil
}
