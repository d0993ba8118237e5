package failover

import (
	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// spec declares the failover-plan action.
var spec = steps.Spec{
	Name:    "failover-plan",
	Summary: "Write a reviewable plan to move positions from one broker to another; sends no orders.",
	Params: []steps.Param{
		{Name: "from", Doc: "broker to leave", Default: "ibkr"},
		{Name: "to", Doc: "broker to move to", Default: "alpaca"},
		{Name: "output", Doc: "file for the plan"},
	},
	Drill: runbook.DrillRun,
}
