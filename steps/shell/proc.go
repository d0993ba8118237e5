package shell

import (
	"context"

	"github.com/drbook/drbook/steps"
	"github.com/drbook/drbook/steps/proc"
)

// A shell block runs through package proc, the floor every action that runs
// a program shares; these names keep the block runner's API.
type (
	// Command is one process run by Exec.
	Command = proc.Command
	// Output is what a shell block's run records.
	Output = proc.Output
)

// Limits on what a block's output may cost (see package proc).
const (
	TailLines   = proc.TailLines
	StreamLines = proc.StreamLines
	MaxLine     = proc.MaxLine
	KillGrace   = proc.KillGrace
	PipeGrace   = proc.PipeGrace
)

// Exec runs c in its own process group (see proc.Exec).
func Exec(ctx context.Context, c Command, emit steps.Emit) (Output, error) {
	return proc.Exec(ctx, c, emit)
}

// Redact replaces every secret value in line with [REDACTED] (see
// proc.Redact).
func Redact(line string, secrets []string) string { return proc.Redact(line, secrets) }
