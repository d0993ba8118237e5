package steps

import (
	"time"

	"github.com/drbook/drbook/runbook"
)

// Names of the actions that run shell and SQL blocks. They are registered
// like the others but chosen by a block's language, not by a drbook block.
const (
	ShellAction = "shell"
	SQLAction   = "sql"
)

// Builtins declares every action drbook knows, implemented or not, so that a
// runbook can be validated before its actions exist.
var Builtins = []Spec{
	{
		Name:    "kill-switch",
		Summary: "Halt all automated trading: set the halt flag, write data/KILL_SWITCH, cancel open and pending orders.",
		Params: []Param{
			{Name: "mode", Doc: "on (engage), off (release) or status", Default: "on"},
			{Name: "reason", Doc: "why; required to release"},
			{Name: "brokers", Doc: "comma-separated brokers to ask to cancel open orders (alpaca, ibkr)"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
	},
	{
		Name:    "backup",
		Summary: "Take a consistent, compressed, AES-256 encrypted, verified backup of the system.",
		Params: []Param{
			{Name: "tier", Doc: "1, 2 or 3 (plan 1.1)", Default: "1"},
			{Name: "to", Doc: "local backup directory"},
			{Name: "s3", Doc: "s3://bucket/prefix to copy the backup to"},
			{Name: "s3-endpoint", Doc: "S3-compatible endpoint URL; empty for AWS"},
			{Name: "s3-region", Doc: "S3 region"},
		},
		Drill:   runbook.DrillRun,
		Timeout: 2 * time.Hour,
	},
	{
		Name:    "restore",
		Summary: "Restore the system from a verified backup, keeping the current files aside.",
		Params: []Param{
			{Name: "from", Doc: "latest, a path, or s3://...", Default: "latest"},
			{Name: "only", Doc: "comma-separated parts: db, config, env, logs"},
			{Name: "s3", Doc: "s3://bucket/prefix searched too for latest"},
			{Name: "s3-endpoint", Doc: "S3-compatible endpoint URL; empty for AWS"},
			{Name: "s3-region", Doc: "S3 region"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
		Timeout:     2 * time.Hour,
	},
	{
		Name:    "integrity-check",
		Summary: "Check the system database: quick_check (or integrity_check with full: true) and foreign keys.",
		Params: []Param{
			{Name: "full", Doc: "true for a full integrity_check", Default: "false"},
		},
		Drill: runbook.DrillRun,
	},
	{
		Name:    "validate-data",
		Summary: "Run the plan's data validation queries: orphaned trades, negative balances, audit-trail gaps, pending trades.",
		Drill:   runbook.DrillRun,
	},
	{
		Name:    "validate-config",
		Summary: "Check required .env variables and that every agent configuration parses.",
		Drill:   runbook.DrillRun,
	},
	{
		Name:    "restore-config",
		Summary: "Restore config/ and .env from a backup, keeping the current files aside.",
		Params: []Param{
			{Name: "from", Doc: "latest, a path, or s3://...", Default: "latest"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
	},
	{
		Name:    "reconcile",
		Summary: "Compare database positions with broker statements and with filled trades.",
		Params: []Param{
			{Name: "broker", Doc: "comma-separated statement files, alpaca-api or ibkr-api; default: the statements under the root"},
			{Name: "format", Doc: "ibkr-csv or alpaca-json; detected when omitted"},
			{Name: "tolerance", Doc: "quantity difference ignored (fractional shares)", Default: "0.0001"},
			{Name: "evidence", Doc: "directory to keep the statements read in; default within an incident: STATE_DIR/evidence/ID"},
		},
		Drill: runbook.DrillRun,
	},
	{
		Name:    "adopt-positions",
		Summary: "Set positions where the broker's statement and the filled trades agree against the database to that quantity, one audit_trail row each; leave every other break for review.",
		Params: []Param{
			{Name: "broker", Doc: "comma-separated statement files, alpaca-api or ibkr-api; default: the statements under the root"},
			{Name: "format", Doc: "ibkr-csv or alpaca-json; detected when omitted"},
			{Name: "tolerance", Doc: "quantity difference ignored (fractional shares)", Default: "0.0001"},
		},
		Destructive: true,
		Drill:       runbook.DrillRun,
	},
	{
		Name:    "compliance-check",
		Summary: "Check every scheduled test ran within its period with verified evidence, the plan's review date and the contacts' verification; changes nothing.",
		Params: []Param{
			{Name: "state-dir", Doc: "drbook's state directory; default: the incident's"},
			{Name: "site", Doc: "site configuration file; default: the one drbook finds"},
		},
		Drill: runbook.DrillRun,
	},
	{
		Name:    "failover-plan",
		Summary: "Write a reviewable plan to move positions from one broker to another; sends no orders.",
		Params: []Param{
			{Name: "from", Doc: "broker to leave", Default: "ibkr"},
			{Name: "to", Doc: "broker to move to", Default: "alpaca"},
			{Name: "output", Doc: "file for the plan"},
		},
		Drill: runbook.DrillRun,
	},
	{
		Name:    "notify",
		Summary: "Fill a communication template (plan 5.2) and record it.",
		Params: []Param{
			{Name: "template", Doc: "notification or update", Default: "notification"},
			{Name: "to", Doc: "who is told"},
		},
		Drill: runbook.DrillRun,
	},
	{
		Name:    ShellAction,
		Summary: "Run a shell block.",
		Drill:   runbook.DrillRun,
		Timeout: 30 * time.Minute,
	},
	{
		Name:    SQLAction,
		Summary: "Run a SQL block against the system database.",
		Drill:   runbook.DrillRun,
		Timeout: 30 * time.Minute,
	},
}
