package killswitch

import (
	"context"

	"github.com/drbook/drbook/steps/redact"
)

// Engage halts trading. It returns ErrNotHalted only when neither the flag
// file nor the database could be set; a state with Problems means the halt
// holds but something else (orders, a broker) needs attention.
//
// Nothing it logs, returns or writes (the flag file, the audit trail's
// reason) holds a secret: the values of the root's .env (every value
// unless its key is allowlisted, see package redact), the broker keys and
// o.Secrets are replaced by [REDACTED], in their common encodings too.
func Engage(ctx context.Context, o Options) (State, error) {
	red := o.redact()
	st, err := engage(ctx, o)
	return redactState(st, red), red.Error(err)
}

// Release lifts the halt. It needs a reason. The database is updated first;
// if that fails the flag file stays and trading stays halted. The flag file
// is kept, renamed with the release time, as the record of the halt. It
// redacts like Engage.
func Release(ctx context.Context, o Options) (State, error) {
	red := o.redact()
	st, err := release(ctx, o)
	return redactState(st, red), red.Error(err)
}

// Status reads the kill switch without changing anything. The switch is
// engaged when either the flag file exists or the database says halted.
// The secrets of the root's .env are redacted from what it returns, so a
// flag file written before a value became secret does not show it.
func Status(ctx context.Context, root string) (State, error) {
	red := newConfig(root, nil, func(string) string { return "" }).redactor(nil)
	st, err := status(ctx, root)
	return redactState(st, red), red.Error(err)
}

// redact prepares o for an operation: its redactor, its reason (it goes
// into the flag file and the audit trail) and its log redacted.
func (o *Options) redact() *redact.Redactor {
	red := newConfig(o.Root, o.Vars, o.Getenv).redactor(o.Secrets)
	o.red = red
	o.Reason = red.String(o.Reason)
	if log := o.Log; log != nil {
		o.Log = func(s string) { log(red.String(s)) }
	}
	return red
}

func (c *config) redactor(more []string) *redact.Redactor {
	return redact.New(append(c.secrets(), more...)...)
}

func redactFlag(f Flag, red *redact.Redactor) Flag {
	f.Who, f.Why, f.IncidentID, f.DBError = red.String(f.Who), red.String(f.Why), red.String(f.IncidentID), red.String(f.DBError)
	f.ReleasedBy, f.ReleaseWhy = red.String(f.ReleasedBy), red.String(f.ReleaseWhy)
	f.Brokers = append([]BrokerResult(nil), f.Brokers...)
	for i := range f.Brokers {
		f.Brokers[i].Detail = red.String(f.Brokers[i].Detail)
	}
	return f
}

func redactState(st State, red *redact.Redactor) State {
	if st.Flag != nil {
		f := redactFlag(*st.Flag, red)
		st.Flag = &f
	}
	st.DB.Error, st.DB.UpdatedBy = red.String(st.DB.Error), red.String(st.DB.UpdatedBy)
	st.Changed = red.Strings(append([]string(nil), st.Changed...))
	st.Problems = red.Strings(append([]string(nil), st.Problems...))
	return st
}
