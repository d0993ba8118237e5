package runbook

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a runbook, found by Parse or Validate.
type Problem struct {
	File string
	Line int
	Msg  string // what is wrong
	Hint string // what to do about it; may be empty
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	if p.Hint != "" {
		s += " (hint: " + p.Hint + ")"
	}
	return s
}

// Problems is a list of problems; as an error it reports them all.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ActionInfo is what validation needs to know about a built-in action.
type ActionInfo struct {
	Name        string
	Params      []string // accepted parameter names
	Required    []string // parameters that must be given
	Destructive bool     // a block naming it must say confirm=true
}

// Catalog looks up built-in actions by name. Package steps provides one;
// Validate skips action checks when the catalog is nil.
type Catalog interface {
	LookupAction(name string) (ActionInfo, bool)
}

// ActionLister is implemented by a Catalog that can list its actions;
// Validate then names them, and the nearest one, for an unknown action.
type ActionLister interface {
	ActionNames() []string
}
