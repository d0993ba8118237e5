package incident

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
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

// UpdateInterval is how soon the next communication is due, by severity.
var UpdateInterval = map[int]time.Duration{1: 30 * time.Minute, 2: time.Hour, 3: 4 * time.Hour}

// CommsStatus is the template's status word: INVESTIGATING until recovery
// work starts (a phase after the first two, or for short runbooks a closed
// step), then RESOLVING, then RESOLVED (or ABANDONED). While a recovery
// step (a phase after the first two; any step of a short runbook) stands
// failed it is RECOVERY FAILED: an update must not say "resolving" when
// the recovery did not work.
func CommsStatus(st *State) string {
	switch st.Status {
	case StatusResolved:
		return "RESOLVED"
	case StatusAbandoned:
		return "ABANDONED"
	}
	recovery := st.Phases
	if len(recovery) >= 3 {
		recovery = recovery[2:]
	}
	for _, p := range recovery {
		for _, s := range p.Steps {
			if s.Status == StepFailed {
				return "RECOVERY FAILED"
			}
		}
	}
	if len(st.Phases) >= 3 {
		for _, p := range st.Phases[2:] {
			if !p.StartedAt.IsZero() {
				return "RESOLVING"
			}
		}
		return "INVESTIGATING"
	}
	if closed, _ := st.Progress(); closed > 0 {
		return "RESOLVING"
	}
	return "INVESTIGATING"
}

// Comms fills the plan's "Incident Notification" or "Recovery Status
// Update" template from st at incident time now. Progress is the share of
// steps done or skipped.
func Comms(st *State, template string, now time.Time) (Message, error) {
	d := st.Declaration
	c := st.Clocks(now)
	status := CommsStatus(st)
	next := "none (incident closed)"
	if st.Status == StatusOpen {
		next = FormatTime(now.Add(UpdateInterval[st.Severity]))
	}
	var done, skipped, remaining []string
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			switch s.Status {
			case StepDone:
				done = append(done, s.Title)
			case StepSkipped:
				skipped = append(skipped, s.Title+" (skipped: "+s.Reason+")")
			default:
				r := s.Title
				if s.Status != StepPending {
					r += " (" + string(s.Status) + ")"
				}
				remaining = append(remaining, r)
			}
		}
	}
	drill := ""
	if d.Mode == Drill {
		drill = "[DRILL] "
	}
	var b strings.Builder
	msg := Message{Template: template, At: now}
	switch template {
	case "notification":
		msg.Subject = fmt.Sprintf("%s[URGENT] QuantAI System Incident - Severity %d", drill, st.Severity)
		desc := d.Title
		if d.Mode == Drill {
			desc += " (drill"
			if d.Scenario != "" {
				desc += ", scenario: " + d.Scenario
			}
			desc += ")"
		}
		impact := d.Impact
		if impact == "" {
			impact = "Under assessment."
		}
		actions := "None yet."
		if len(done)+len(skipped) > 0 {
			actions = strings.Join(append(append([]string(nil), done...), skipped...), "; ") + "."
		}
		fmt.Fprintf(&b, "SUBJECT: %s\n\n", msg.Subject)
		fmt.Fprintf(&b, "Incident ID: %s\nTime: %s\nSeverity: %d\nStatus: %s\n\n", st.ID, FormatTime(d.DetectedAt), st.Severity, status)
		fmt.Fprintf(&b, "Description: %s\n\nImpact: %s\n\nActions Taken: %s\n\nNext Update: %s\n\nContact: %s\n",
			desc, impact, actions, next, d.Operator.String())
	case "update":
		msg.Subject = fmt.Sprintf("%sQuantAI Recovery Update - %s", drill, status)
		pct := 0
		if c.StepsTotal > 0 {
			pct = 100 * c.StepsClosed / c.StepsTotal
		}
		eta := "unknown (no step completed yet)"
		switch {
		case st.Status != StatusOpen:
			eta = "completed " + FormatTime(st.ClosedAt)
		case !c.Projected.IsZero():
			eta = FormatTime(c.Projected)
			if c.ProjectedVerdict == Missed {
				if c.RTO.Verdict == Running {
					eta += " (after the RTO deadline " + FormatTime(c.RTO.Deadline) + ")"
				} else {
					eta += " (after the MTD deadline " + FormatTime(c.MTD.Deadline) + ")"
				}
			}
		}
		fmt.Fprintf(&b, "SUBJECT: %s\n\n", msg.Subject)
		fmt.Fprintf(&b, "Incident ID: %s\nRecovery Progress: %d%%\nEstimated Completion: %s\n\n", st.ID, pct, eta)
		fmt.Fprintf(&b, "Current Status: %s\n\n", currentStatus(st, c))
		b.WriteString("Completed Actions:\n")
		writeList(&b, append(append([]string(nil), done...), skipped...), "None yet.")
		b.WriteString("\nRemaining Actions:\n")
		writeList(&b, remaining, "None.")
		fmt.Fprintf(&b, "\nNext Update: %s\n", next)
	default:
		return Message{}, fmt.Errorf("comms: unknown template %q (want notification or update)", template)
	}
	msg.Body = b.String()
	return redactMessage(d.Root, msg), nil
}

const maxListed = 12

func writeList(b *strings.Builder, items []string, empty string) {
	if len(items) == 0 {
		b.WriteString("- " + empty + "\n")
		return
	}
	for i, it := range items {
		if i == maxListed {
			fmt.Fprintf(b, "- ... and %d more\n", len(items)-maxListed)
			break
		}
		b.WriteString("- " + it + "\n")
	}
}

func currentStatus(st *State, c Clocks) string {
	var parts []string
	if st.Status != StatusOpen {
		parts = append(parts, "Incident "+string(st.Status)+".")
	} else if c.Phase.ID != "" {
		idx := 0
		for i, p := range st.Phases {
			if p.ID == c.Phase.ID {
				idx = i + 1
			}
		}
		s := fmt.Sprintf("Phase %d of %d, %s: %s", idx, len(st.Phases), c.Phase.Title, c.Phase.Status)
		if c.Phase.Window.Set {
			if c.Phase.Left >= 0 {
				s += ", " + FormatDuration(c.Phase.Left) + " left in its window"
			} else {
				s += ", " + FormatDuration(-c.Phase.Left) + " past its window"
			}
		}
		parts = append(parts, s+".")
	}
	switch c.RTO.Verdict {
	case Running:
		parts = append(parts, "RTO "+FormatDuration(c.RTO.Objective)+": "+FormatDuration(c.RTO.Remaining)+" remaining.")
	case Met, Missed:
		parts = append(parts, "RTO "+string(c.RTO.Verdict)+".")
	}
	done, skipped, failed := 0, 0, 0
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			switch s.Status {
			case StepDone:
				done++
			case StepSkipped:
				skipped++
			case StepFailed:
				failed++
			}
		}
	}
	parts = append(parts, fmt.Sprintf("Steps: %d of %d done, %d skipped, %d failed.", done, c.StepsTotal, skipped, failed))
	return strings.Join(parts, " ")
}

// WriteTimelineJSON writes events as a JSON array, each with a one-line
// description in "text".
func WriteTimelineJSON(w io.Writer, events []Event) error {
	type row struct {
		Event
		Text string `json:"text"`
	}
	events = redactExport(events)
	rows := make([]row, len(events))
	for i, ev := range events {
		rows[i] = row{ev, Describe(ev)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// WriteTimelineCSV writes events as CSV: seq, at, kind, phase, step, actor,
// text (a one-line description), data (JSON), hash.
func WriteTimelineCSV(w io.Writer, events []Event) error {
	events = redactExport(events)
	cw := csv.NewWriter(w)
	cw.Write([]string{"seq", "at", "kind", "phase", "step", "actor", "text", "data", "hash"})
	for _, ev := range events {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return err
		}
		cw.Write([]string{strconv.FormatInt(ev.Seq, 10), fmtTime(ev.At), string(ev.Kind), ev.Phase, ev.Step, ev.Actor,
			Describe(ev), string(data), ev.Hash})
	}
	cw.Flush()
	return cw.Error()
}

// WriteTimelineText writes events for an 80-column terminal: a heading
// line whenever the day or the actor changes ("-- 2026-03-02 UTC, alice
// (10.0.0.5)"), then one entry per event, its sequence number and time,
// and its description wrapped under itself.
func WriteTimelineText(w io.Writer, events []Event) error {
	events = redactExport(events)
	var b strings.Builder
	if len(events) > 0 && events[0].Data.Declared != nil && events[0].Data.Declared.Speed > 1 {
		f := events[0].Data.Declared.Speed
		b.WriteString(wrapText(fmt.Sprintf("-- drill clock at %gx: times below are drill time, %g times faster than the wall clock while attended (stopped between sessions)",
			f, f), textWidth, "   ") + "\n")
	}
	day, actor := "", "\x00"
	for _, ev := range events {
		at := ev.At.UTC()
		if d := at.Format("2006-01-02"); d != day || ev.Actor != actor {
			day, actor = d, ev.Actor
			fmt.Fprintf(&b, "-- %s UTC, %s\n", d, orNobody(ev.Actor))
		}
		prefix := fmt.Sprintf("%5d  %s  ", ev.Seq, at.Format("15:04:05"))
		b.WriteString(prefix + wrapText(oneLine(Describe(ev)), textWidth-len(prefix), strings.Repeat(" ", len(prefix))) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// textWidth is the width of the text timeline: an 80-column terminal.
const textWidth = 80

func orNobody(actor string) string {
	if actor == "" {
		return "drbook"
	}
	return actor
}

// wrapText breaks s at spaces into lines of at most width runes, the
// continuation lines starting with indent. A word longer than width stays
// whole.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		l := len([]rune(word))
		switch {
		case i == 0:
		case n+1+l > width:
			b.WriteString("\n" + indent)
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += l
	}
	return b.String()
}
