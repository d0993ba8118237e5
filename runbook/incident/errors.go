package incident

import (
	"errors"
	"fmt"

	"github.com/drbook/drbook/runbook/hint"
)

// Sentinel errors callers test with errors.Is. They usually arrive wrapped
// in an *Error that carries a hint for the operator. Those made with
// hint.NewInput are bad input (a wrong id, step or state file: the command
// line exits 2); the others are findings.
var (
	ErrNotFound       = hint.NewInput("no such incident")
	ErrClosed         = errors.New("incident is closed")
	ErrUnknownStep    = hint.NewInput("no such step")
	ErrUnknownPhase   = hint.NewInput("no such phase")
	ErrTransition     = errors.New("step cannot do that now")
	ErrReasonRequired = hint.NewInput("a reason is required")
	ErrNoRunbook      = errors.New("incident was opened without its runbook")
	ErrNotRunnable    = errors.New("step has nothing to run")
	ErrNewerSchema    = hint.NewInput("state database is from a newer drbook")
	ErrLocked         = hint.NewInput("state database is locked")
	ErrReadOnly       = hint.NewInput("state database is read-only")
	ErrNotDatabase    = hint.NewInput("state file is not a drbook state database")
	ErrAmbiguous      = hint.NewInput("incident id prefix is ambiguous")
	ErrNotSandbox     = errors.New("a drill runs actions only against a drbook sandbox")
)

// ErrNoOpen: no incident is open (and none was named). It is also
// ErrNotFound, for callers that only test that.
var ErrNoOpen error = noOpen{}

type noOpen struct{}

func (noOpen) Error() string        { return "no open incident" }
func (noOpen) Is(target error) bool { return target == ErrNotFound }
func (noOpen) InputError() bool     { return true }

// Error is an incident error with what the operator should do about it.
// The advice is not part of Error(): hint.Of finds it, and the command line
// prints it once, on its own line (hint.Message puts both on one line).
type Error struct {
	Err    error  // one of the sentinels above, for errors.Is
	Detail string // what, precisely: an id, a path, a step
	Advice string // what to do next; may be empty
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.Detail != "" {
		s = e.Detail + ": " + s
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Hint returns the advice; it makes *Error a hint.Hinter.
func (e *Error) Hint() string { return e.Advice }

var _ hint.Hinter = (*Error)(nil)

func newErr(sentinel error, advice, format string, args ...any) *Error {
	return &Error{Err: sentinel, Detail: fmt.Sprintf(format, args...), Advice: advice}
}
