package killswitch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/drbook/drbook/steps"
)

// Register adds the kill-switch action to r.
func Register(r *steps.Registry) {
	r.Register(Action{})
}

// Action is the kill-switch action: mode on (engage), off (release) or
// status.
type Action struct{}

// Spec implements steps.Action.
func (Action) Spec() steps.Spec {
	return spec
}

// Run implements steps.Action. Engaging with problems (database not
// updated, a broker failed) is StatusFailed: the halt holds, but someone
// has to look. A damaged database left untouched while the flag file holds
// the halt is done with findings (see Outcome). Only a halt that did not
// happen at all is an error.
func (a Action) Run(ctx context.Context, req steps.Request, emit steps.Emit) (steps.Result, error) {
	if emit == nil {
		emit = func(steps.Event) {}
	}
	env := req.Env
	mode := strings.ToLower(strings.TrimSpace(req.Params["mode"]))
	if mode == "" {
		mode = "on"
	}
	cfg := newConfig(env.Root, env.Vars, nil)
	brokers := req.Params["brokers"]
	if brokers == "" {
		brokers = cfg.get(KeyBrokers)
	}
	o := Options{
		Root: env.Root, Operator: env.Operator, Reason: req.Params["reason"], IncidentID: env.IncidentID,
		Brokers: SplitBrokers(brokers), Vars: env.Vars, Drill: env.Drill, DryRun: req.DryRun, Now: env.Now, Secrets: env.Secrets,
		Log: func(s string) { emit(steps.Event{Time: env.Clock(), Stream: steps.Info, Line: s}) },
	}
	switch mode {
	case "status":
		st, err := Status(ctx, env.Root)
		if err != nil {
			return steps.Result{Status: steps.StatusFailed, Summary: "kill switch status: " + err.Error()}, fmt.Errorf("kill switch status: %w", err)
		}
		for _, l := range Describe(st) {
			emit(steps.Event{Time: env.Clock(), Stream: steps.Stdout, Line: l})
		}
		return steps.Result{Status: steps.StatusOK, Summary: StatusLine(st), Data: st}, nil
	case "on", "engage":
		if !req.Confirmed && !req.DryRun {
			return steps.Result{Status: steps.StatusFailed, Summary: "kill switch: engaging needs confirmation"}, fmt.Errorf("kill switch: %w", steps.ErrNotConfirmed)
		}
		st, err := Engage(ctx, o)
		res := steps.Result{Data: st, Summary: EngageLine(st)}
		switch {
		case err != nil:
			res.Status = steps.StatusFailed
			res.Summary = err.Error()
			return res, err
		case req.DryRun:
			res.Status = steps.StatusSimulated
		default:
			res.Status, res.Findings = Outcome(st)
		}
		return res, nil
	case "off", "release":
		if !req.Confirmed && !req.DryRun {
			return steps.Result{Status: steps.StatusFailed, Summary: "kill switch: releasing needs confirmation"}, fmt.Errorf("kill switch: %w", steps.ErrNotConfirmed)
		}
		st, err := Release(ctx, o)
		if err != nil {
			res := steps.Result{Status: steps.StatusFailed, Summary: "kill switch release: " + err.Error(), Data: st}
			if errors.Is(err, ErrNoReason) {
				return res, err
			}
			return res, nil
		}
		res := steps.Result{Status: steps.StatusOK, Summary: "trading resumed: " + o.Reason, Data: st}
		if req.DryRun {
			res.Status = steps.StatusSimulated
			res.Summary = strings.Join(st.Changed, "; ")
		}
		return res, nil
	default:
		return steps.Result{Status: steps.StatusFailed, Summary: "kill switch: unknown mode " + mode},
			fmt.Errorf("kill switch: unknown mode %q (on, off or status)", mode)
	}
}

// Outcome is the status of an engage that returned no error, and its
// findings. The kill switch's job is the halt, so an engage whose only
// problems are findings (the flag file written, a damaged database
// deliberately left untouched) is StatusOK with findings: done, with
// something to look at. Any other problem (the flag file not written, a
// database write that failed, a broker not called or failing) is
// StatusFailed, the halt holding only in part.
func Outcome(st State) (steps.Status, []string) {
	if len(st.Problems) == 0 {
		return steps.StatusOK, nil
	}
	if st.Flag == nil || !st.Engaged {
		return steps.StatusFailed, nil
	}
	finding := make(map[string]bool, len(st.Findings))
	for _, f := range st.Findings {
		finding[f] = true
	}
	for _, p := range st.Problems {
		if !finding[p] {
			return steps.StatusFailed, nil
		}
	}
	return steps.StatusOK, append([]string(nil), st.Findings...)
}

// SplitBrokers parses "alpaca, ibkr".
func SplitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.ToLower(strings.TrimSpace(b)); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// EngageLine is a one-line account of an engage.
func EngageLine(st State) string {
	var b strings.Builder
	b.WriteString("trading HALTED")
	if st.Flag != nil {
		fmt.Fprintf(&b, " by %s since %s", orUnknown(st.Flag.Who), st.Flag.When.Format("2006-01-02 15:04:05Z"))
	}
	fmt.Fprintf(&b, "; %d orders cancelled now", len(st.Cancelled))
	if len(st.Problems) > 0 {
		if status, findings := Outcome(st); status == steps.StatusOK && len(findings) > 0 {
			b.WriteString("; FINDINGS: " + strings.Join(findings, "; "))
		} else {
			b.WriteString("; PROBLEMS: " + strings.Join(st.Problems, "; "))
		}
	}
	return b.String()
}

// StatusLine is a one-line account of the kill switch.
func StatusLine(st State) string {
	if !st.Engaged {
		s := "kill switch not engaged: trading allowed"
		if len(st.Problems) > 0 {
			s += "; " + strings.Join(st.Problems, "; ")
		}
		return s
	}
	s := "kill switch ENGAGED"
	if f := st.Flag; f != nil && !f.When.IsZero() {
		s += fmt.Sprintf(" by %s since %s (%s)", orUnknown(f.Who), f.When.Format("2006-01-02 15:04:05Z"), f.Why)
	} else if st.DB.Halted {
		s += fmt.Sprintf(" by %s since %s (database only)", orUnknown(st.DB.UpdatedBy), st.DB.UpdatedAt)
	}
	if len(st.Problems) > 0 {
		s += "; " + strings.Join(st.Problems, "; ")
	}
	return s
}

// Describe renders a state as lines for a terminal.
func Describe(st State) []string {
	var out []string
	if st.Engaged {
		out = append(out, "Kill switch: ENGAGED (trading halted)")
	} else {
		out = append(out, "Kill switch: not engaged (trading allowed)")
	}
	if f := st.Flag; f != nil {
		if !f.When.IsZero() {
			out = append(out, fmt.Sprintf("  by:        %s", orUnknown(f.Who)),
				fmt.Sprintf("  since:     %s", f.When.Format("2006-01-02 15:04:05Z")),
				fmt.Sprintf("  why:       %s", f.Why))
		}
		if f.IncidentID != "" {
			out = append(out, "  incident:  "+f.IncidentID)
		}
		out = append(out, fmt.Sprintf("  orders cancelled: %d", f.OrdersCancelled))
		for _, r := range f.Brokers {
			mark := "ok"
			switch {
			case r.Skipped:
				mark = "skipped"
			case !r.OK:
				mark = "FAILED"
			}
			out = append(out, fmt.Sprintf("  broker %-7s %-7s %s", r.Broker, mark, r.Detail))
		}
	}
	switch {
	case strings.HasPrefix(st.DB.Error, ErrDatabaseDamaged.Error()):
		out = append(out, "  database:  DAMAGED, not written: "+strings.TrimPrefix(st.DB.Error, ErrDatabaseDamaged.Error()+": "))
	case st.DB.Error != "":
		out = append(out, "  database:  unreadable: "+st.DB.Error)
	case st.DB.Halted:
		out = append(out, fmt.Sprintf("  database:  %s=1 (set by %s, %s)", ControlKey, orUnknown(st.DB.UpdatedBy), shortTime(st.DB.UpdatedAt)),
			fmt.Sprintf("  orders:    %d open or pending in the database", st.DB.OpenOrders))
	default:
		out = append(out, fmt.Sprintf("  database:  %s not set", ControlKey),
			fmt.Sprintf("  orders:    %d open or pending in the database", st.DB.OpenOrders))
	}
	for _, c := range st.Changed {
		out = append(out, "  done:      "+c)
	}
	for _, p := range st.Problems {
		out = append(out, "  PROBLEM:   "+p)
	}
	return out
}

// shortTime renders a database timestamp (TimeLayout) to the second, as
// the flag file's times are shown; anything else is shown as it is.
func shortTime(s string) string {
	if t, err := time.Parse(TimeLayout, s); err == nil {
		return t.Format("2006-01-02 15:04:05Z")
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
