package incident

import (
	"io"
	"time"
)

// Message is a filled communication template (plan 5.2).
type Message struct {
	Template string    `json:"template"` // notification or update
	To       string    `json:"to,omitempty"`
	At       time.Time `json:"at"`
	Subject  string    `json:"subject"`
	Body     string    `json:"body"` // the whole message, SUBJECT line included
}

// Templates are the communication templates Comms fills.
var Templates = []string{"notification", "update"}

// Comms fills the plan's "Incident Notification" or "Recovery Status
// Update" template from st at incident time now.
func Comms(st *State, template string, now time.Time) (Message, error) { return Message{}, errTODO }

// WriteTimelineJSON writes events as a JSON array.
func WriteTimelineJSON(w io.Writer, events []Event) error { return errTODO }

// WriteTimelineCSV writes events as CSV: seq, at, kind, phase, step, actor,
// text (a one-line description), data (JSON), hash.
func WriteTimelineCSV(w io.Writer, events []Event) error { return errTODO }

// Report is the post-incident report of plan section 6, as data; it
// marshals to the report's JSON form and Markdown renders it.
type Report struct{}

// BuildReport assembles the report of st, with its timeline, at incident
// time now (for an open incident).
func BuildReport(st *State, events []Event, now time.Time) *Report { return &Report{} }

// Markdown writes the report as Markdown.
func (r *Report) Markdown(w io.Writer) error { return errTODO }
