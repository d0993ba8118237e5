// Package hint is the one contract between drbook's domain errors and the
// command line: what the operator should do next, and whether an error is
// about bad input or is a finding.
//
// A domain package's error type says what to do next by implementing
// Hinter; the hint is not part of Error(), so whoever shows the error
// (the command line, the TUI, a recorded timeline) prints it once, in its
// own place. Of finds it anywhere in a wrapped chain.
//
// An error is bad input (exit 2: bad arguments, an unreadable or wrong
// file, a wrong passphrase) when the first error in its chain that
// implements Classifier says so; anything else is a finding (exit 1: the
// command ran and something is wrong). A package marks a condition once,
// where it declares it, with NewInput instead of errors.New, so that every
// wrapping of that sentinel carries the mark and the command line never
// lists sentinels; Input marks one error at a call site, and NewFinding
// declares a condition that stays a finding even when it wraps bad input.
//
// The package imports only the standard library, so runbook, steps and
// checks can all use it.
package hint

import "errors"

// Hinter is an error that says what the operator should do next.
type Hinter interface {
	error
	// Hint is one short sentence for the operator; "" means none.
	Hint() string
}

// Classifier is an error that says whether it is bad input.
type Classifier interface {
	error
	// InputError reports whether the error is about the input (arguments,
	// files, passphrases) rather than a finding about the system.
	InputError() bool
}

// Of returns the first non-empty hint in err's chain, or "".
func Of(err error) string {
	h := ""
	walk(err, func(e error) bool {
		if x, ok := e.(Hinter); ok && x.Hint() != "" {
			h = x.Hint()
			return true
		}
		return false
	})
	return h
}

// IsInput reports whether err is bad input: the first Classifier in its
// chain decides, and an error with none is a finding.
func IsInput(err error) bool {
	var c Classifier
	return errors.As(err, &c) && c.InputError()
}

// Message is err's text followed by its hint, "TEXT (hint: HINT)", for
// places that show an error on one line. It is "" for a nil err.
func Message(err error) string {
	if err == nil {
		return ""
	}
	if h := Of(err); h != "" {
		return err.Error() + " (hint: " + h + ")"
	}
	return err.Error()
}

// NewInput returns a sentinel error, like errors.New, that is bad input
// wherever it is wrapped.
func NewInput(text string) error { return &sentinel{text: text, input: true} }

// NewFinding returns a sentinel error, like errors.New, that is a finding
// wherever it is wrapped, even around bad input further down the chain.
func NewFinding(text string) error { return &sentinel{text: text} }

type sentinel struct {
	text  string
	input bool
}

func (s *sentinel) Error() string    { return s.text }
func (s *sentinel) InputError() bool { return s.input }

// Input marks err as bad input; its text, hint and chain are err's. A nil
// err stays nil.
func Input(err error) error {
	if err == nil {
		return nil
	}
	return &inputErr{err}
}

type inputErr struct{ err error }

func (e *inputErr) Error() string    { return e.err.Error() }
func (e *inputErr) Unwrap() error    { return e.err }
func (e *inputErr) InputError() bool { return true }

// walk calls f on err and each error it wraps, depth first in the order
// errors.Is uses, until f returns true.
func walk(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walk(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
