package incident

import (
	"errors"
	"fmt"
)

// Sentinel errors callers test with errors.Is. They usually arrive wrapped
// in an *Error that carries a hint for the operator.
var (
	ErrNotFound       = errors.New("no such incident")
	ErrClosed         = errors.New("incident is closed")
	ErrUnknownStep    = errors.New("no such step")
	ErrUnknownPhase   = errors.New("no such phase")
	ErrTransition     = errors.New("step cannot do that now")
	ErrReasonRequired = errors.New("a reason is required")
	ErrNoRunbook      = errors.New("incident was opened without its runbook")
	ErrNotRunnable    = errors.New("step has nothing to run")
	ErrNewerSchema    = errors.New("state database is from a newer drbook")
	ErrLocked         = errors.New("state database is locked")
	ErrReadOnly       = errors.New("state database is read-only")
	ErrNotDatabase    = errors.New("state file is not a drbook state database")
	ErrAmbiguous      = errors.New("incident id prefix is ambiguous")
	ErrNotSandbox     = errors.New("a drill runs actions only against a drbook sandbox")
)

// ErrNoOpen: no incident is open (and none was named). It is also
// ErrNotFound, for callers that only test that.
var ErrNoOpen error = noOpen{}

type noOpen struct{}

func (noOpen) Error() string        { return "no open incident" }
func (noOpen) Is(target error) bool { return target == ErrNotFound }

// Error is an incident error with what the operator should do about it.
type Error struct {
	Err    error  // one of the sentinels above, for errors.Is
	Detail string // what, precisely: an id, a path, a step
	Hint   string // what to do next; may be empty
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.Detail != "" {
		s = e.Detail + ": " + s
	}
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func newErr(sentinel error, hint, format string, args ...any) *Error {
	return &Error{Err: sentinel, Detail: fmt.Sprintf(format, args...), Hint: hint}
}
