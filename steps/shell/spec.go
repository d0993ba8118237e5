package shell

import (
	"github.com/drbook/drbook/runbook"
	"github.com/drbook/drbook/steps"
	"time"
)

// Declarations of the block runners.
var (
	shellSpec = steps.Spec{
		Name:    steps.ShellAction,
		Summary: "Run a shell block.",
		Drill:   runbook.DrillRun,
		Timeout: 30 * time.Minute,
	}
	sqlSpec = steps.Spec{
		Name:    steps.SQLAction,
		Summary: "Run a SQL block against the system database.",
		Drill:   runbook.DrillRun,
		Timeout: 30 * time.Minute,
	}
)
