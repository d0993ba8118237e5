package notifystep

import (
	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// spec declares the notify action.
var spec = steps.Spec{
	Name:    "notify",
	Summary: "Fill a communication template (plan 5.2) and record it.",
	Params: []steps.Param{
		{Name: "template", Doc: "notification or update", Default: "notification"},
		{Name: "to", Doc: "who is told"},
	},
	Drill: runbook.DrillRun,
}
