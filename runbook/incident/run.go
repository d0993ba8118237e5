package incident

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/notify"
	"github.com/drbook/drbook/steps/system"
)

// OutputCap is how much of one action's output the timeline keeps: the
// first OutputCap-outputTail bytes and the last outputTail bytes, with the
// number of bytes dropped in between recorded.
const OutputCap = 64 << 10

const (
	outputTail    = 16 << 10
	flushInterval = time.Second
)

// StepOutcome is a step's run as it was recorded: what the action
// reported (its Status and Summary, redacted like the timeline) and where
// that left the step. A check that found problems reports
// steps.StatusFailed yet leaves a diagnostic step StepDone, with its
// findings; front ends show Step, not the action's status alone.
type StepOutcome struct {
	steps.Result
	// Step is the step's status as recorded: StepDone, StepSkipped,
	// StepFailed or StepInterrupted (cancelled while it ran); "" when the
	// incident was closed while the action ran and the step was left as
	// it was.
	Step StepStatus
	// Note is the recorded note (done) or reason (skipped, failed).
	Note string
}

// DoneWithFindings reports whether the step is done and left something
// to read: a check that found problems closed its diagnostic step with
// them, or an action did its job with findings (a kill switch that halted
// trading but left a damaged database untouched).
func (o StepOutcome) DoneWithFindings() bool {
	return o.Step == StepDone && (o.Status == steps.StatusFailed || o.WithFindings())
}

// RunStep runs a step's block: shell and sql steps through steps.ShellAction
// and steps.SQLAction, action steps through their drbook block's action
// (steps.Lookup); the notify action is handled here and records a comms
// event. It records step_started, action_started, the output (redacted,
// capped, flushed about once a second), action_finished and step_done or
// step_failed, and a restore's backup time for the RPO achieved.
//
// In a drill the block's drill= mode, else the action's default, decides:
// run (against env.Root, the sandbox), simulate or skip; simulated and
// skipped actions are recorded, not run. A destructive step is refused
// with steps.ErrNotConfirmed unless confirmed, and nothing is recorded.
// emit (may be nil) receives the action's events with secrets redacted;
// the returned Result's Summary and error are redacted too.
//
// env.IncidentID, env.Operator and env.Drill are filled in; env.Root
// defaults to the incident's root; the values of secret runbook variables
// in env.Vars, env.Secrets and the root's .env are redacted from then on.
//
// RunStep blocks until the action ends; call it from a goroutine (a
// tea.Cmd). It returns the step's recorded outcome. An error means the
// action could not be carried out (it is recorded as a failure); a step
// whose action ran and failed returns a Result with StatusFailed and a
// nil error.
func (in *Incident) RunStep(ctx context.Context, stepID string, env steps.Env, confirmed bool, emit steps.Emit) (StepOutcome, error) {
	if in.rb == nil {
		return StepOutcome{}, &Error{Err: ErrNoRunbook, Detail: "run " + stepID, Advice: "open the incident with its runbook"}
	}
	step := findRunbookStep(in.rb, stepID)
	st := in.State()
	ss := st.Step(stepID)
	if step == nil || ss == nil {
		return StepOutcome{}, &Error{Err: ErrUnknownStep, Detail: stepID}
	}
	if err := checkOpen(st); err != nil {
		return StepOutcome{}, err
	}
	switch ss.Status {
	case StepDone, StepSkipped:
		return StepOutcome{}, &Error{Err: ErrTransition, Detail: fmt.Sprintf("step %s is already %s", stepID, ss.Status)}
	}
	if st.openRun(stepID) != nil {
		return StepOutcome{}, &Error{Err: ErrTransition, Detail: fmt.Sprintf("step %s: its action is already running", stepID)}
	}
	name := actionName(step)
	if name == "" || step.Block == nil {
		return StepOutcome{}, &Error{Err: ErrNotRunnable, Detail: fmt.Sprintf("step %s is %s", stepID, step.Kind),
			Advice: "mark it done, skipped or failed"}
	}
	act, ok := steps.Lookup(name)
	if !ok {
		return StepOutcome{}, fmt.Errorf("run %s: unknown action %q", stepID, name)
	}
	spec := act.Spec()
	drill := st.Declaration.Mode == Drill
	mode := runbook.DrillRun
	if drill {
		mode = step.Block.Attrs.Drill
		if mode == runbook.DrillDefault {
			mode = spec.Drill
		}
		if mode == runbook.DrillDefault {
			mode = runbook.DrillRun
		}
	}
	if mode == runbook.DrillRun && (step.Destructive() || spec.Destructive) && !confirmed {
		return StepOutcome{}, fmt.Errorf("run %s (%s): %w", stepID, name, steps.ErrNotConfirmed)
	}
	// A drill never acts on a real system: whatever root it was declared
	// with, an action runs only in a sandbox (notify touches no system).
	if root := cmp.Or(env.Root, st.Declaration.Root); drill && mode == runbook.DrillRun && name != "notify" && !system.IsSandbox(root) {
		return StepOutcome{}, &Error{Err: ErrNotSandbox, Detail: root,
			Advice: "drills run against a sandbox: start one with 'drbook drill', or make one with 'drbook demo --root DIR'"}
	}

	// Secrets first: nothing below may record them.
	secret := map[string]bool{}
	for _, v := range in.rb.Vars {
		secret[v.Name] = v.Secret
	}
	if env.Root == "" {
		env.Root = st.Declaration.Root
	}
	for k, v := range env.Vars {
		if secret[k] && v != "" {
			env.Secrets = append(env.Secrets, v)
		}
	}
	// A secret variable not given in env.Vars reaches a shell block from
	// drbook's own environment (PAGER_TOKEN=... drbook drill): redact that
	// value too.
	for name, isSecret := range secret {
		if v := os.Getenv(name); isSecret && env.Vars[name] == "" && v != "" {
			env.Secrets = append(env.Secrets, v)
		}
	}
	env.Secrets = append(env.Secrets, EnvSecrets(env.Root)...)
	env.Secrets = append(env.Secrets, PassphraseSecrets(env.Vars, os.Getenv)...)
	in.redact.add(env.Secrets...) // and the action redacts them too
	env.IncidentID, env.Drill = st.ID, drill
	if env.Operator == "" {
		env.Operator = in.actor.String()
	}
	if env.Now == nil {
		env.Now = in.base.Now
	}

	host, _ := os.Hostname()
	vars := map[string]string{}
	for _, v := range in.rb.Vars {
		if v.Default != "" {
			vars[v.Name] = v.Default
		}
	}
	for k, v := range st.Declaration.Vars { // as declared; secrets were not recorded
		if v != Redacted {
			vars[k] = v
		}
	}
	for k, v := range env.Vars {
		vars[k] = v
	}
	env.Vars = vars
	params := step.Block.ExpandParams(vars)
	start := in.clock.Now()
	err := in.record(ctx, func(st *State) ([]Event, error) {
		if err := checkOpen(st); err != nil {
			return nil, err
		}
		s := st.Step(stepID)
		if s.Status.Closed() || st.openRun(stepID) != nil { // another goroutine or process got there first
			return nil, &Error{Err: ErrTransition, Detail: fmt.Sprintf("step %s is %s", stepID, s.Status)}
		}
		var evs []Event
		if s.Status != StepRunning {
			evs = append(evs, Event{Kind: KindStepStarted, At: start, Step: stepID})
		}
		return append(evs, Event{Kind: KindActionStarted, At: start, Step: stepID,
			Data: EventData{Action: name, Mode: string(mode), Params: params, Host: host, PID: os.Getpid()}}), nil
	})
	if err != nil {
		return StepOutcome{}, err
	}

	var res steps.Result
	var runErr error
	switch {
	case mode == runbook.DrillSkip:
		res = steps.Result{Status: steps.StatusSkipped, Summary: "drill: " + name + " skipped (drill=skip), not run"}
	case mode == runbook.DrillSimulate:
		res = steps.Result{Status: steps.StatusSimulated, Summary: "drill: simulated, not run: " + describeAction(name, params)}
	case name == "notify":
		res, runErr = in.notifyAction(ctx, params)
	default:
		res, runErr = in.runAction(ctx, act, spec, step, stepID, env, params, confirmed, emit)
	}
	canceled := errors.Is(ctx.Err(), context.Canceled)
	out, err := in.finish(stepID, name, step.Block.Attrs.Diagnostic, start, res, runErr, canceled)
	// What the caller prints (drbook drill --auto, the TUI) is as redacted
	// as what was recorded.
	res.Summary = in.redact.string(res.Summary)
	out.Result, out.Note = res, in.redact.string(out.Note)
	return out, in.redact.err(err)
}

// runAction runs a real action, streaming its redacted output to emit and,
// about once a second, to the timeline.
func (in *Incident) runAction(ctx context.Context, act steps.Action, spec steps.Spec, step *runbook.Step, stepID string,
	env steps.Env, params map[string]string, confirmed bool, emit steps.Emit) (steps.Result, error) {
	timeout := step.Block.Attrs.Timeout
	if timeout == 0 {
		timeout = spec.Timeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	out := &outputBuffer{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(flushInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				in.flushOutput(stepID, out.takeHead())
			}
		}
	}()
	redEmit := func(ev steps.Event) {
		ev.Line = in.redact.string(ev.Line)
		if ev.Line != "" || ev.Progress == nil {
			out.write(outputLine(ev) + "\n")
		}
		if emit != nil {
			emit(ev)
		}
	}
	req := steps.Request{Env: env, Params: params, Block: step.Block, Confirmed: confirmed}
	res, err := act.Run(ctx, req, redEmit)
	close(done)
	wg.Wait()
	head, tail, dropped := out.final()
	if dropped > 0 {
		head += fmt.Sprintf("[... %d bytes of output not kept: the timeline keeps %d bytes per action ...]\n", dropped, OutputCap)
	}
	in.flushOutputFinal(stepID, head+tail, dropped)
	if err != nil && res.Status == "" {
		res.Status = steps.StatusFailed
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && err != nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return res, err
}

func (in *Incident) flushOutput(stepID, chunk string) {
	if chunk == "" {
		return
	}
	in.flushOutputFinal(stepID, chunk, 0)
}

func (in *Incident) flushOutputFinal(stepID, chunk string, dropped int64) {
	if chunk == "" && dropped == 0 {
		return
	}
	// An output chunk is recorded even after a concurrent close: it
	// belongs to an action that started while the incident was open.
	_ = in.record(context.Background(), func(*State) ([]Event, error) {
		return []Event{{Kind: KindActionOutput, At: in.clock.Now(), Step: stepID, Data: EventData{Output: chunk, Truncated: dropped}}}, nil
	})
}

// finish records the action's end and the step's outcome. An action
// cancelled by the operator (or a hang-up) is recorded as interrupted, like
// one whose process died; a diagnostic step whose check ran and found
// problems is done, with its findings, since finding them was its job.
func (in *Incident) finish(stepID, name string, diagnostic bool, start time.Time, res steps.Result, runErr error, canceled bool) (StepOutcome, error) {
	end := in.clock.Now()
	if canceled {
		reason := "cancelled while it ran"
		if runErr != nil {
			reason += ": " + runErr.Error()
		}
		reason += "; check its effect, then run, skip or fail the step"
		err := in.record(context.Background(), func(st *State) ([]Event, error) {
			return []Event{{Kind: KindActionInterrupted, At: end, Step: stepID, Data: EventData{Action: name, Reason: reason,
				Status: "cancelled", Summary: res.Summary, DurationMS: end.Sub(start).Milliseconds()}}}, nil
		})
		out := StepOutcome{Step: StepInterrupted, Note: reason}
		if err != nil {
			return out, errors.Join(runErr, fmt.Errorf("record the interruption of %s: %w", stepID, err))
		}
		return out, runErr
	}
	d := finishedData(name, res, runErr, end.Sub(start))
	step := Event{At: end, Step: stepID}
	switch steps.Status(d.Status) {
	case steps.StatusOK, steps.StatusSimulated:
		step.Kind, step.Data.Text = KindStepDone, res.Summary
		if len(d.Findings) > 0 {
			step.Data.Text = "findings: " + strings.Join(d.Findings, "; ")
			step.Data.Findings = d.Findings
		}
	case steps.StatusSkipped:
		step.Kind, step.Data.Reason = KindStepSkipped, res.Summary
	case steps.StatusFailed:
		if diagnostic && runErr == nil {
			step.Kind, step.Data.Text = KindStepDone, "findings: "+res.Summary
			step.Data.Findings = []string{res.Summary}
			break
		}
		fallthrough
	default:
		step.Kind, step.Data.Reason = KindStepFailed, res.Summary
		if runErr != nil {
			if step.Data.Reason != "" {
				step.Data.Reason += ": "
			}
			step.Data.Reason += runErr.Error()
		}
		if step.Data.Reason == "" {
			step.Data.Reason = name + " failed"
		}
	}
	var out StepOutcome
	err := in.record(context.Background(), func(st *State) ([]Event, error) {
		evs := []Event{{Kind: KindActionFinished, At: end, Step: stepID, Data: d}}
		out = StepOutcome{}
		if st.Status == StatusOpen {
			evs = append(evs, step)
			out.Note = step.Data.Text + step.Data.Reason
			switch step.Kind {
			case KindStepDone:
				out.Step = StepDone
			case KindStepSkipped:
				out.Step = StepSkipped
			default:
				out.Step = StepFailed
			}
		}
		return evs, nil
	})
	if err != nil {
		return out, errors.Join(runErr, fmt.Errorf("record the end of %s: %w", stepID, err))
	}
	return out, runErr
}

// finishedData is the action_finished record of an action, from a step
// or from a command: its status (ok, or failed when it could not be
// carried out, if the action said nothing), summary, error, a restore's
// backup time and the structured result.
func finishedData(name string, res steps.Result, runErr error, took time.Duration) EventData {
	d := EventData{Action: name, Status: string(res.Status), Summary: res.Summary, ExitCode: res.ExitCode,
		DurationMS: took.Milliseconds()}
	if d.Status == "" {
		d.Status = string(steps.StatusOK)
		if runErr != nil {
			d.Status = string(steps.StatusFailed)
		}
	}
	if runErr != nil {
		d.Error = runErr.Error()
	}
	if !res.BackupTime.IsZero() {
		bt := res.BackupTime.UTC()
		d.BackupTime = &bt
	}
	if res.Data != nil {
		if b, err := json.Marshal(res.Data); err == nil {
			d.Result = b
		}
	}
	if res.WithFindings() && runErr == nil {
		d.Findings = append([]string(nil), res.Findings...)
	}
	return d
}

// notifyAction fills the block's template, records it and sends it
// through the site's channels. A message that could not be sent does not
// fail the step: the incident goes on, and the summary says NOT SENT and
// whom to phone ('drbook comms ID --retry' sends it again).
func (in *Incident) notifyAction(ctx context.Context, params map[string]string) (steps.Result, error) {
	tmpl := params["template"]
	if tmpl == "" {
		tmpl = "notification"
	}
	msg, ds, err := in.Send(ctx, tmpl, params["to"])
	if err != nil {
		return steps.Result{Status: steps.StatusFailed, Summary: "notify: " + err.Error()}, err
	}
	sum := tmpl + ": " + msg.Subject
	if msg.To != "" {
		sum += " (to " + msg.To + ")"
	}
	sum += ": " + DeliverySummary(ds)
	return steps.Result{Status: steps.StatusOK, Summary: sum, Data: struct {
		Message    Message           `json:"message"`
		Deliveries []notify.Delivery `json:"deliveries"`
	}{msg, ds}}, nil
}

func describeAction(name string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := name
	for _, k := range keys {
		s += " " + k + "=" + params[k]
	}
	return s
}

func findRunbookStep(rb *runbook.Runbook, id string) *runbook.Step {
	for _, p := range rb.Phases {
		for _, s := range p.Steps {
			if s.ID == id {
				return s
			}
		}
	}
	return nil
}

// outputBuffer keeps the head of an action's output for the timeline (in
// chunks taken by the flusher) and a rolling tail once the head is full.
type outputBuffer struct {
	mu      sync.Mutex
	pending strings.Builder // head bytes not yet flushed
	headLen int             // head bytes accepted so far
	tail    []byte          // last outputTail bytes after the head filled
	dropped int64
}

func (o *outputBuffer) write(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := OutputCap - outputTail - o.headLen; room > 0 {
		n := min(room, len(s))
		o.pending.WriteString(s[:n])
		o.headLen += n
		s = s[n:]
	}
	if s == "" {
		return
	}
	o.tail = append(o.tail, s...)
	if over := len(o.tail) - outputTail; over > 0 {
		o.dropped += int64(over)
		o.tail = append(o.tail[:0], o.tail[over:]...)
	}
}

func (o *outputBuffer) takeHead() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.pending.String()
	o.pending.Reset()
	return s
}

func (o *outputBuffer) final() (head, tail string, dropped int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	head = o.pending.String()
	o.pending.Reset()
	return head, string(o.tail), o.dropped
}
