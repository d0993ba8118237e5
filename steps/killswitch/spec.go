package killswitch

import (
	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// spec declares the kill-switch action: its parameters, that it is
// destructive, and that a drill runs it against the sandbox.
var spec = steps.Spec{
	Name:    "kill-switch",
	Summary: "Halt all automated trading: set the halt flag, write data/KILL_SWITCH, cancel open and pending orders.",
	Params: []steps.Param{
		{Name: "mode", Doc: "on (engage), off (release) or status", Default: "on"},
		{Name: "reason", Doc: "why; required to release"},
		{Name: "brokers", Doc: "comma-separated brokers to ask to cancel open orders (alpaca, ibkr)"},
	},
	Destructive: true,
	Drill:       runbook.DrillRun,
}
