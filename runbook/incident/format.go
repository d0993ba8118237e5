package incident

import (
	"fmt"
	"strings"
	"time"
)

// FormatDuration writes d for people: "45s", "14m30s", "2h05m", "-12m00s".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// FormatTime writes t in UTC to the second: "2026-11-26 10:27:31 UTC".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatWindow(w Window) string {
	if !w.Set {
		return "-"
	}
	return shortDuration(w.Start) + " - " + shortDuration(w.End)
}

// shortDuration writes a planned duration compactly: "0", "15m", "1h",
// "1h30m".
func shortDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Describe is a one-line description of an event for timelines.
func Describe(ev Event) string {
	d := ev.Data
	withReason := func(s, r string) string {
		if r != "" {
			return s + ": " + r
		}
		return s
	}
	switch ev.Kind {
	case KindRebased:
		return withReason("rebased", d.Text)
	case KindDeclared:
		if dc := d.Declared; dc != nil {
			s := fmt.Sprintf("declared %s, severity %d, runbook %s: %s", dc.Mode, dc.Severity, dc.Runbook.ID, dc.Title)
			if !dc.DetectedAt.Equal(dc.DeclaredAt) {
				s += ", detected " + FormatTime(dc.DetectedAt)
			}
			return s
		}
	case KindResumed:
		return withReason(fmt.Sprintf("resumed (pid %d on %s)", d.PID, d.Host), d.Reason)
	case KindSeverity:
		return withReason(fmt.Sprintf("severity changed to %d", d.Severity), d.Reason)
	case KindPhaseStarted:
		return "phase " + ev.Phase + " started"
	case KindPhaseCompleted:
		return "phase " + ev.Phase + " completed"
	case KindRTOStopped:
		s := "RTO clock stopped"
		if d.Met != nil {
			s += map[bool]string{true: ": RTO met", false: ": RTO missed"}[*d.Met]
		}
		if d.Reason != "" {
			s += " (" + d.Reason + ")"
		}
		return s
	case KindStepStarted:
		return "step " + ev.Step + " started"
	case KindStepDone:
		return withReason("step "+ev.Step+" done", d.Text)
	case KindStepSkipped:
		return withReason("step "+ev.Step+" skipped", d.Reason)
	case KindStepFailed:
		return withReason("step "+ev.Step+" failed", d.Reason)
	case KindNote:
		return "note: " + d.Text
	case KindActionStarted:
		return fmt.Sprintf("action %s started (%s)", d.Action, d.Mode)
	case KindActionOutput:
		s := fmt.Sprintf("output: %d bytes", len(d.Output))
		if d.Truncated > 0 {
			s += fmt.Sprintf(", %d bytes not kept (cap %d)", d.Truncated, OutputCap)
		}
		return s
	case KindActionFinished:
		s := fmt.Sprintf("action %s %s in %s", d.Action, RunStatus(d.Status, d.Findings), FormatDuration(time.Duration(d.DurationMS)*time.Millisecond))
		if d.Summary != "" {
			s += ": " + d.Summary
		}
		if d.Error != "" {
			s += " (error: " + d.Error + ")"
		}
		for _, f := range d.Findings {
			s += "; FINDING: " + f
		}
		return s
	case KindActionInterrupted:
		return withReason("action "+d.Action+" interrupted", d.Reason)
	case KindComms:
		if c := d.Comms; c != nil {
			s := c.Template + " recorded: " + c.Subject
			if c.To != "" {
				s += " (to " + c.To + ")"
			}
			return s
		}
	case KindClosed:
		return withReason("closed as "+string(d.Outcome), d.Text)
	case KindFinding:
		if f := d.Finding; f != nil {
			return fmt.Sprintf("finding %d: %s (owner %s, due %s)", f.ID, f.Text, f.Owner, f.Due)
		}
	case KindDelivery:
		if dl := d.Delivery; dl != nil {
			return dl.Template + " " + dl.Delivery.String()
		}
	case KindSignoff:
		if so := d.Signoff; so != nil {
			s := "signed off by " + so.By
			if so.Role != "" {
				s += " (" + so.Role + ")"
			}
			return withReason(s, so.Statement)
		}
	}
	return string(ev.Kind)
}

// RunStatus is an action run's status word for people: "ok with
// findings" for an ok run that left findings, the status otherwise.
func RunStatus(status string, findings []string) string {
	if status == "ok" && len(findings) > 0 {
		return "ok with findings"
	}
	return status
}

// oneLine flattens s for a table cell.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
