package checkaction

import (
	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
)

// specs declares the check actions.
var specs = map[string]steps.Spec{
	"integrity-check": steps.Spec{
		Name:    "integrity-check",
		Summary: "Check the system database: quick_check (or integrity_check with full: true) and foreign keys.",
		Params: []steps.Param{
			{Name: "full", Doc: "true for a full integrity_check", Default: "false"},
		},
		Drill: runbook.DrillRun,
	},
	"validate-data": steps.Spec{
		Name:    "validate-data",
		Summary: "Run the plan's data validation queries: orphaned trades, negative balances, audit-trail gaps, pending trades.",
		Drill:   runbook.DrillRun,
	},
	"validate-config": steps.Spec{
		Name:    "validate-config",
		Summary: "Check required .env variables and that every agent configuration parses.",
		Drill:   runbook.DrillRun,
	},
}
