package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/drbook/drbook/steps"
)

// ModeCommand is the mode of an action run from the command line with
// --incident rather than from one of the runbook's steps.
const ModeCommand = "command"

// ActionRecord is an action that ran outside the incident's steps: a
// command such as 'drbook killswitch on --incident ID' or 'drbook restore
// --incident ID', recorded when it ends.
type ActionRecord struct {
	Action   string            // the action's name: kill-switch, restore, reconcile...
	Params   map[string]string // what it was asked to do (redacted before recording)
	Root     string            // the system root it ran against: its .env values are redacted
	Duration time.Duration     // wall time it took
	Result   steps.Result      // Status, Summary, BackupTime (a restore's: the RPO achieved), Data
	Err      error             // the action could not be carried out
	Output   string            // what it printed, capped at OutputCap like a step's output
}

// RecordAction records an action that ran outside the incident's steps as
// action_started, its output and action_finished, appended together so
// that the records of two processes never interleave. Like a step's action
// it acknowledges the incident (the response clock), shows in the report's
// actions, and a restore's backup time gives the RPO achieved. It is
// refused on a closed incident.
func (in *Incident) RecordAction(ctx context.Context, a ActionRecord) error {
	if strings.TrimSpace(a.Action) == "" {
		return errors.New("record action: no action name")
	}
	if a.Root != "" {
		in.redact.add(EnvSecrets(a.Root)...)
	}
	in.redact.add(PassphraseSecrets(nil, os.Getenv)...)
	host, _ := os.Hostname()
	return in.record(ctx, func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		end := in.clock.Now()
		took := a.Duration
		if f := st.Declaration.Speed; f > 1 {
			took = time.Duration(float64(took) * f)
		}
		start := end.Add(-took)
		if !st.LastEvent.IsZero() && start.Before(st.LastEvent) {
			start = st.LastEvent // keep the timeline in order
		}
		evs := []Event{{Kind: KindActionStarted, At: start,
			Data: EventData{Action: a.Action, Mode: ModeCommand, Params: a.Params, Host: host, PID: os.Getpid()}}}
		// Redacted before it is capped: a cut must never leave half a
		// secret behind.
		if out := in.redact.string(a.Output); out != "" {
			var dropped int64
			if len(out) > OutputCap {
				dropped = int64(len(out) - OutputCap)
				out = out[:OutputCap-outputTail] +
					fmt.Sprintf("[... %d bytes of output not kept: the timeline keeps %d bytes per action ...]\n", dropped, OutputCap) +
					out[len(out)-outputTail:]
			}
			evs = append(evs, Event{Kind: KindActionOutput, At: end, Data: EventData{Output: out, Truncated: dropped}})
		}
		d := EventData{Action: a.Action, Status: string(a.Result.Status), Summary: a.Result.Summary,
			ExitCode: a.Result.ExitCode, DurationMS: took.Milliseconds()}
		if d.Status == "" {
			d.Status = string(steps.StatusOK)
			if a.Err != nil {
				d.Status = string(steps.StatusFailed)
			}
		}
		if a.Err != nil {
			d.Error = a.Err.Error()
		}
		if !a.Result.BackupTime.IsZero() {
			bt := a.Result.BackupTime.UTC()
			d.BackupTime = &bt
		}
		if a.Result.Data != nil {
			if b, err := json.Marshal(a.Result.Data); err == nil {
				d.Result = b
			}
		}
		if a.Result.WithFindings() && a.Err == nil {
			d.Findings = append([]string(nil), a.Result.Findings...)
		}
		return append(evs, Event{Kind: KindActionFinished, At: end, Data: d}), nil
	})
}
